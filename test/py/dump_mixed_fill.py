"""Fill a collection whose _ids are of many BSON types, so that an _id order
walk crosses every type bracket (numbers, strings, objects, binData,
ObjectIds, booleans, dates).

usage: dump_mixed_fill.py URI DB COLL COUNT [--pad BYTES]

Documents are deterministic: _id from i (its type cycles with i), a field
"i" and a padding string of --pad bytes (default 4000), inserted in
unordered batches.
"""
import argparse
import datetime

import pymongo
from bson import Binary, Decimal128, Int64, ObjectId


def make_id(i):
    kind = i % 8
    if kind == 0:
        return i
    if kind == 1:
        return Int64(i) if i % 16 == 1 else float(i) + 0.5
    if kind == 2:
        return Decimal128("%d.25" % i)
    if kind == 3:
        return "s%08d" % i
    if kind == 4:
        return {"k": i, "t": "o"}
    if kind == 5:
        return Binary(i.to_bytes(4, "big"), 0)
    if kind == 6:
        return ObjectId(b"%012d" % i)
    return datetime.datetime(2000, 1, 1) + datetime.timedelta(seconds=i)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("db")
    parser.add_argument("coll")
    parser.add_argument("count", type=int)
    parser.add_argument("--pad", type=int, default=4000)
    args = parser.parse_args()
    coll = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=10000)[args.db][args.coll]
    batch = []
    for i in range(args.count):
        batch.append({"_id": make_id(i), "i": i, "pad": "x" * args.pad})
        if len(batch) == 2000:
            coll.insert_many(batch, ordered=False)
            batch = []
    if batch:
        coll.insert_many(batch, ordered=False)
    # One of each bracket the cycle has not: booleans sort after ObjectIds.
    coll.insert_many([{"_id": False, "pad": "f"}, {"_id": True, "pad": "t"}], ordered=False)


if __name__ == "__main__":
    main()
