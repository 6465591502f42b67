"""Fill a collection with deterministic documents of mixed BSON types and sizes.

usage: dump_fill.py URI DB COLL COUNT [--avg-size BYTES] [--start N]

_id is an int from START; field "u" is unique (a string derived from _id) so a
unique index can be built on it. Sizes vary from ~0.2x to ~1.8x of
--avg-size (default 1024). Inserts go in unordered batches of 5,000.
"""
import argparse
import datetime
import random

import pymongo
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp


def make_doc(i, avg, rng):
    doc = {
        "_id": i,
        "u": "u%08d" % i,
        "i32": rng.randint(-2**31, 2**31 - 1),
        "i64": Int64(rng.randint(-2**62, 2**62)),
        "dbl": rng.random() * 1e6,
        "flag": bool(i & 1),
        "none": None,
        "when": datetime.datetime(2020, 1, 1) + datetime.timedelta(seconds=i),
        "oid": ObjectId(b"%012d" % (i % 10**12)),
        "nested": {"a": [i, str(i), {"b": i % 7}], "c": {"d": float(i) / 3}},
        "dec": Decimal128("%d.%02d" % (i, i % 100)),
    }
    kind = i % 10
    if kind == 0:
        doc["bin"] = Binary(bytes(rng.getrandbits(8) for _ in range(16)), 4)
    elif kind == 1:
        doc["re"] = Regex("^a.*b$", "i")
    elif kind == 2:
        doc["ts"] = Timestamp(1700000000 + i, 1)
    elif kind == 3:
        doc["code"] = Code("function () { return %d; }" % i)
    elif kind == 4:
        doc["keys"] = [MinKey(), MaxKey()]
    # Pad to a size spread around avg (the base above is ~330 bytes).
    target = int(avg * (0.2 + 1.6 * rng.random()))
    pad = max(0, target - 330)
    doc["pad"] = "x" * pad
    return doc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("db")
    parser.add_argument("coll")
    parser.add_argument("count", type=int)
    parser.add_argument("--avg-size", type=int, default=1024)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=10000)
    coll = client[args.db][args.coll]
    rng = random.Random(args.start * 7919 + args.count)
    batch = []
    for i in range(args.start, args.start + args.count):
        batch.append(make_doc(i, args.avg_size, rng))
        if len(batch) == 5000:
            coll.insert_many(batch, ordered=False)
            batch = []
    if batch:
        coll.insert_many(batch, ordered=False)


if __name__ == "__main__":
    main()
