"""Two versions of every document, for the single-writer tests of
test/lease.bats: replays racing on one collection corrupt it unless only
one writes.

usage: lease_race.py stage URI DB COLL N
       lease_race.py check URI DB COLL N

stage: the target DB.COLL gets N documents {_id: i, v: 0, pad}, as a
restore would leave them, and the staging collection DB.cdc update events
(replay_events.py's shape), 100 documents at a time: those documents to
v=1, then the same documents to v=2, in two consecutive batches of 100
(the replays run with --batch-size 100).

check: every document is byte for byte {_id: i, v: 2, pad}, there are
exactly N, and every staged event of DB.COLL is done. Exit 0, or 1 with
what differs.
"""

import sys

import bson
import pymongo
from bson.raw_bson import RawBSONDocument
from bson.son import SON

import replay_events as rev

PAD = "p" * 40
# The replays' --batch-size: each batch of v=1 events is followed by the
# batch of v=2 events of the same documents, so a replay that applies a
# batch it read before another replay marked it and went on past the next
# one leaves those documents at v=1.
BATCH = 100


def doc(i, v):
    return SON([("_id", i), ("v", v), ("pad", PAD)])


def stage(client, db, coll, n):
    client[db][coll].insert_many([doc(i, 0) for i in range(n)])
    sim = rev.SimSource(db, coll)
    events = []
    for first in range(0, n, BATCH):
        for v in (1, 2):
            for i in range(first, min(first + BATCH, n)):
                desc = SON([("updatedFields", SON([("v", v)])), ("removedFields", []),
                            ("truncatedArrays", [])])
                events.append(sim.event("update", SON([("_id", i)]), updateDescription=desc))
    rev.stage(client, db, "%s.%s" % (db, coll), events, chunk=5000)


def check(client, db, coll, n):
    raw = client[db].get_collection(
        coll, codec_options=bson.CodecOptions(document_class=RawBSONDocument))
    failures = []
    seen = 0
    stale = 0
    for got in raw.find().sort("_id", 1):
        seen += 1
        i = got["_id"]
        if got.raw != bson.encode(doc(i, 2)):
            stale += 1
            if len(failures) < 5:
                failures.append("_id %r is %r" % (i, bson.decode(got.raw)))
    if stale:
        failures.append("%d of %d documents are not {v: 2} byte for byte" % (stale, n))
    if seen != n:
        failures.append("%d documents, expected %d" % (seen, n))
    ns = "%s.%s" % (db, coll)
    pending = client[db]["cdc"].count_documents({"ns": ns, "status": {"$ne": "done"}})
    if pending:
        failures.append("%d staged events not done" % pending)
    for f in failures:
        print(f)
    return not failures


def main():
    what, uri, db, coll, n = sys.argv[1:6]
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    if what == "stage":
        stage(client, db, coll, int(n))
    elif not check(client, db, coll, int(n)):
        sys.exit(1)


if __name__ == "__main__":
    main()
