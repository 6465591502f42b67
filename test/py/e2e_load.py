"""Load a collection with COUNT documents {_id: i, n: i, s: <pad>} in batches.

usage: e2e_load.py URI DB COLL COUNT [START] [PAD_BYTES]

The documents are deterministic, so two collections loaded with the same
arguments are byte-equal. insert_many batches of 10,000, unordered.
"""
import sys

import pymongo


def docs(start, count, pad):
    filler = "x" * pad
    for i in range(start, start + count):
        yield {"_id": i, "n": i, "s": filler, "tag": "t%d" % (i % 97)}


def load(coll, count, start=0, pad=32, batch=10000):
    buf = []
    for doc in docs(start, count, pad):
        buf.append(doc)
        if len(buf) == batch:
            coll.insert_many(buf, ordered=False)
            buf = []
    if buf:
        coll.insert_many(buf, ordered=False)


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 64
    uri, db, name, count = argv[1], argv[2], argv[3], int(argv[4])
    start = int(argv[5]) if len(argv) > 5 else 0
    pad = int(argv[6]) if len(argv) > 6 else 32
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    load(client[db][name], count, start, pad)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
