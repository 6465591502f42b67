"""A write workload on source collections, for the end-to-end tests and demo.

usage: e2e_workload.py [options] URI DB COLL [COLL...]

Runs until --seconds pass, --ops operations are done, or --stop-file exists,
then prints one JSON line of counts. Each collection is assumed to hold the
documents e2e_load.py loaded (_id 0..--existing-1) and no other writer.

Operations, picked at random (seeded): inserts, $set / $unset / $push / $inc
updates, whole-document replaces, deletes; with --grow, a few documents grow
past 1 MiB by $push of 128 KiB strings; with --unique-swaps, values of the
unique field "u" move between documents (three writes, like a swap through a
temporary value); with --ttl, documents carry "expireAt" dates an hour ahead;
with --shard-key FIELD (a collection sharded on FIELD, through mongos),
documents carry FIELD ("t0".."t96", as e2e_load.py's "tag"), replaces keep
it, and some updates change it (a retryable write whose filter holds the
whole shard key, as mongos requires).

Every operation is retried on errors (injected faults, elections): the source
is the truth, so a retried write that had landed is harmless; a duplicate
_id on a retried insert means it had landed.
"""
import argparse
import datetime
import json
import os
import random
import sys
import time

import pymongo
from pymongo.errors import DuplicateKeyError, PyMongoError

BIG_CHUNK = "g" * (128 * 1024)


class Coll:
    def __init__(self, coll, existing, first_new_id, unique, ttl, shard_key=None):
        self.coll = coll
        self.shard_key = shard_key
        self.live = list(range(existing))
        self.live_set = set(self.live)
        self.next_id = first_new_id
        self.unique = unique
        self.ttl = ttl
        self.grown = {}
        self.next_unique = 10_000_000

    def new_doc(self, rng, _id):
        doc = {"_id": _id, "n": rng.randint(0, 1 << 30), "s": "w" * rng.randint(1, 64),
               "arr": [rng.randint(0, 9)], "sub": {"a": rng.randint(0, 5)}}
        if self.unique:
            doc["u"] = self.fresh_unique()
        if self.ttl:
            doc["expireAt"] = expire_at()
        if self.shard_key:
            doc[self.shard_key] = "t%d" % rng.randint(0, 96)
        return doc

    def fresh_unique(self):
        self.next_unique += 1
        return self.next_unique

    def pick(self, rng):
        if not self.live:
            return None
        return self.live[rng.randrange(len(self.live))]

    def forget(self, _id):
        if _id in self.live_set:
            self.live_set.discard(_id)
            self.live.remove(_id)

    def remember(self, _id):
        if _id not in self.live_set:
            self.live_set.add(_id)
            self.live.append(_id)


def expire_at():
    return datetime.datetime.utcnow().replace(microsecond=0) + datetime.timedelta(hours=1)


def retry(fn, deadline):
    """Runs fn until it succeeds; gives up (raises) at deadline."""
    delay = 0.01
    while True:
        try:
            return fn()
        except DuplicateKeyError:
            raise
        except PyMongoError:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def one_op(c, rng, counts, args, give_up):
    r = rng.random()
    _id = c.pick(rng)
    if r < 0.25 or _id is None:
        new_id = c.next_id
        c.next_id += 1
        doc = c.new_doc(rng, new_id)
        try:
            retry(lambda: c.coll.insert_one(doc), give_up)
        except DuplicateKeyError:
            pass  # a retried insert that had landed
        c.remember(new_id)
        counts["insert"] += 1
    elif r < 0.45:
        upd = {"$set": {"n": rng.randint(0, 1 << 30), "f%d" % rng.randint(0, 4): rng.random()}}
        retry(lambda: c.coll.update_one({"_id": _id}, upd), give_up)
        counts["set"] += 1
    elif r < 0.52:
        upd = {"$unset": {"f%d" % rng.randint(0, 4): "", "sub.a": ""}}
        retry(lambda: c.coll.update_one({"_id": _id}, upd), give_up)
        counts["unset"] += 1
    elif r < 0.62:
        upd = {"$push": {"arr": rng.randint(0, 99)}, "$inc": {"pushes": 1}}
        retry(lambda: c.coll.update_one({"_id": _id}, upd), give_up)
        counts["push"] += 1
    elif r < 0.72:
        doc = c.new_doc(rng, _id)
        doc["replaced"] = True
        if c.unique:
            # Keep the document's unique value: a replace must not collide.
            del doc["u"]
            old = retry(lambda: c.coll.find_one({"_id": _id}, {"u": 1}), give_up)
            doc["u"] = old["u"] if old and "u" in old else c.fresh_unique()
        if c.shard_key:
            # A replace by _id may not change the shard key value.
            old = retry(lambda: c.coll.find_one({"_id": _id}, {c.shard_key: 1}), give_up)
            doc.pop(c.shard_key)
            if old and c.shard_key in old:
                doc[c.shard_key] = old[c.shard_key]
        retry(lambda: c.coll.replace_one({"_id": _id}, doc), give_up)
        counts["replace"] += 1
    elif r < 0.82:
        retry(lambda: c.coll.delete_one({"_id": _id}), give_up)
        c.forget(_id)
        c.grown.pop(_id, None)
        counts["delete"] += 1
    elif r < 0.86 and args.grow:
        # Grow one of a few documents past 1 MiB (9 pushes of 128 KiB).
        if len(c.grown) < 3:
            c.grown.setdefault(_id, 0)
        _id = rng.choice(sorted(c.grown))
        if c.grown[_id] < 9:
            upd = {"$push": {"blob": BIG_CHUNK}}
            retry(lambda: c.coll.update_one({"_id": _id}, upd), give_up)
            c.grown[_id] += 1
            counts["grow"] += 1
    elif args.unique_swaps and len(c.live) > 2:
        other = c.pick(rng)
        if other == _id:
            return
        a = retry(lambda: c.coll.find_one({"_id": _id}, {"u": 1}), give_up)
        b = retry(lambda: c.coll.find_one({"_id": other}, {"u": 1}), give_up)
        if not a or not b or "u" not in a or "u" not in b:
            return
        tmp = c.fresh_unique()
        retry(lambda: c.coll.update_one({"_id": _id}, {"$set": {"u": tmp}}), give_up)
        retry(lambda: c.coll.update_one({"_id": other}, {"$set": {"u": a["u"]}}), give_up)
        retry(lambda: c.coll.update_one({"_id": _id}, {"$set": {"u": b["u"]}}), give_up)
        counts["swap"] += 1
    elif c.shard_key and r < 0.95:
        old = retry(lambda: c.coll.find_one({"_id": _id}, {c.shard_key: 1}), give_up)
        if not old:
            return
        key = {"_id": _id, c.shard_key: old.get(c.shard_key)}
        upd = {"$set": {c.shard_key: "t%d" % rng.randint(0, 96)}}
        retry(lambda: c.coll.update_one(key, upd), give_up)
        counts["move"] += 1
    else:
        upd = {"$set": {"sub.b": rng.randint(0, 9), "s": "v" * rng.randint(1, 64)}}
        retry(lambda: c.coll.update_one({"_id": _id}, upd), give_up)
        counts["set"] += 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("uri")
    p.add_argument("db")
    p.add_argument("colls", nargs="+")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--ops", type=int, default=0, help="stop after this many (0: no limit)")
    p.add_argument("--rate", type=float, default=400.0, help="operations per second at most")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--existing", type=int, default=0, help="_ids 0..N-1 exist at start")
    p.add_argument("--first-new-id", type=int, default=10_000_000)
    p.add_argument("--stop-file", default=None)
    p.add_argument("--ready-file", default=None, help="touched after the first operation")
    p.add_argument("--grow", action="store_true")
    p.add_argument("--unique-swaps", action="store_true")
    p.add_argument("--ttl", action="store_true")
    p.add_argument("--shard-key", default=None, help="the field the collections are sharded on")
    args = p.parse_args()

    rng = random.Random(args.seed)
    client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=20000, retryWrites=True)
    db = client[args.db]
    colls = [Coll(db[name], args.existing, args.first_new_id, args.unique_swaps, args.ttl,
                  args.shard_key)
             for name in args.colls]
    counts = {k: 0 for k in ("insert", "set", "unset", "push", "replace", "delete", "grow",
                             "swap", "move")}
    start = time.monotonic()
    end = start + args.seconds
    done = 0
    while time.monotonic() < end:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        if args.ops and done >= args.ops:
            break
        c = colls[rng.randrange(len(colls))]
        one_op(c, rng, counts, args, give_up=time.monotonic() + 60)
        done += 1
        if done == 1 and args.ready_file:
            open(args.ready_file, "w").close()
        # Pace to --rate without busy waiting.
        ahead = start + done / args.rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    counts["total"] = done
    counts["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
