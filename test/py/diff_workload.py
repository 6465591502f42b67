"""The differential workload of test/differential.bats.

usage: diff_workload.py prepare SRC_URI TGT_URI DB STATE_DIR SEED
       diff_workload.py run SRC_URI DB SEED CHANGES
       diff_workload.py run-staged SRC_URI TGT_URI DB SEED CHANGES
       diff_workload.py compare SRC_URI TGT_URI DB SEED

prepare: seeded documents on SRC DB.c, the token file for "now" in
STATE_DIR, the same documents byte for byte on TGT DB.c with a restore
marker whose dump end is that moment (what dump-wrap restore leaves).
run: CHANGES seeded random writes on SRC DB.c: operator updates ($set
$unset $inc $mul $min $max $rename $currentDate $push with $each $slice
$position $sort, $pull, $pop, $addToSet, array-index paths, also past an
array's end), positional updates ($, $[], $[<identifier>] with
arrayFilters), pipeline
updates ($set/$unset/$replaceWith with $setField, $concatArrays, $slice,
$mergeObjects, $literal), replaces, deletes, inserts; documents hold nested
objects and arrays, numeric field names, dotted and '$' names (written as
MongoDB 5.0+ allows: inserts and $setField). Prints how many the source
accepted; exits 1 below 80 %. run-staged: the same, read from a change
stream opened by hand with showExpandedEvents (events as a 6.1+ source
sends them through a libmongoc that can ask for it) and staged on TGT as
cdc-capture would. compare: every document byte-identical.
Every failure message names the seed (CSM_DIFF_SEED reruns it).

Dotted names ("d.x", "e.f.g") never share a first component with a plain
name, and pipelines never reorder existing fields: an update description
cannot say either apart (docs/DESIGN.md, "Replay rules", "What an update
description cannot say").
"""
import datetime
import random
import sys

import bson
import pymongo
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument
from bson.son import SON
from pymongo.errors import OperationFailure, WriteError

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import capture_util  # noqa: E402

RAW = CodecOptions(document_class=RawBSONDocument)
PLAIN = ["a", "b", "c", "k", "m", "n", "0", "1", "12"]
DOTTED = ["d.x", "e.f.g", "h.", ".i"]
DOLLAR = ["$t", "$u"]
DOCS = 60


def raw(doc):
    return RawBSONDocument(bson.BSON.encode(doc))


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.next_id = DOCS + 1

    def scalar(self):
        r = self.r
        x = r.random()
        if x < 0.3:
            return r.randrange(-50, 50)
        if x < 0.45:
            return Int64(r.randrange(1 << 40))
        if x < 0.6:
            return r.random() * 100
        if x < 0.8:
            return "s%d" % r.randrange(1000)
        if x < 0.9:
            return r.random() < 0.5
        return None

    def value(self, depth=0):
        r = self.r
        x = r.random()
        if depth < 3 and x < 0.2:
            return self.obj(depth + 1)
        if depth < 3 and x < 0.35:
            return [self.value(depth + 1) for _ in range(r.randrange(0, 5))]
        return self.scalar()

    def obj(self, depth=0, names=None):
        r = self.r
        d = SON()
        for name in r.sample(names or PLAIN, r.randrange(1, 4)):
            d[name] = self.value(depth)
        if depth > 0 and r.random() < 0.15:
            d[r.choice(DOTTED)] = self.value(depth + 1)
        if depth > 0 and r.random() < 0.1:
            d[r.choice(DOLLAR)] = self.scalar()
        return d

    def doc(self, _id):
        r = self.r
        d = SON([("_id", _id)])
        d.update(self.obj(1, PLAIN))
        d["arr"] = [self.value(2) for _ in range(r.randrange(0, 6))]
        d["nums"] = [r.randrange(100) for _ in range(r.randrange(0, 6))]
        d["o"] = self.obj(1)
        if r.random() < 0.2:
            d[r.choice(DOTTED)] = self.value(1)
        if r.random() < 0.1:
            d[r.choice(DOLLAR)] = self.scalar()
        return d

    def path(self):
        """A plain path, sometimes into o or an array element."""
        r = self.r
        x = r.random()
        if x < 0.4:
            return r.choice(PLAIN)
        if x < 0.7:
            return "o." + r.choice(PLAIN)
        if x < 0.85:
            return "arr.%d" % r.randrange(0, 4)
        return "o.%s.%s" % (r.choice(PLAIN), r.choice(PLAIN))

    def operator_update(self):
        r = self.r
        ops = [
            lambda: {"$set": SON((self.path(), self.value(1)) for _ in range(r.randrange(1, 4)))},
            lambda: {"$unset": {self.path(): ""}},
            lambda: {"$inc": {"nums.%d" % r.randrange(0, 3): r.randrange(1, 9)}},
            lambda: {"$mul": {"nums.0": r.choice([2, 3, 0.5])}},
            lambda: {"$min": {"o." + r.choice(PLAIN): r.randrange(-20, 20)}},
            lambda: {"$max": {r.choice(PLAIN): r.randrange(-20, 20)}},
            lambda: {"$rename": {r.choice(PLAIN[:6]): r.choice(["z", "y", "o.r"])}},
            lambda: {"$currentDate": {"o.when": True}},
            lambda: {"$push": {"nums": {"$each": [r.randrange(100) for _ in range(3)],
                                        "$slice": r.choice([-5, 5, 8]),
                                        "$position": r.randrange(0, 3)}}},
            lambda: {"$push": {"nums": {"$each": [r.randrange(100)], "$sort": 1}}},
            lambda: {"$push": {"arr": self.value(2)}},
            lambda: {"$pull": {"nums": {"$lt": r.randrange(50)}}},
            lambda: {"$pop": {"arr": r.choice([1, -1])}},
            lambda: {"$addToSet": {"nums": {"$each": [1, 2, r.randrange(10)]}}},
            lambda: {"$set": {"nums.%d" % r.randrange(0, 6): r.randrange(100)}},
        ]
        return r.choice(ops)()

    def positional_update(self, _id):
        """(filter, update, arrayFilters): $ (the element the filter
        matched), $[] and $[<identifier>], on the number array and on the
        documents of arr."""
        r = self.r
        t = r.randrange(100)
        ops = [
            lambda: ({"_id": _id, "nums": {"$gte": t}}, {"$inc": {"nums.$": r.randrange(1, 9)}},
                     None),
            lambda: ({"_id": _id, "nums": t}, {"$set": {"nums.$": self.value(2)}}, None),
            lambda: ({"_id": _id, "arr.k": {"$exists": True}},
                     {"$set": {"arr.$.k": self.value(2)}}, None),
            lambda: ({"_id": _id}, {"$inc": {"nums.$[]": r.randrange(1, 9)}}, None),
            lambda: ({"_id": _id}, {"$mul": {"nums.$[x]": r.choice([2, 0.5])}},
                     [{"x": {"$lt": t}}]),
            lambda: ({"_id": _id}, {"$set": SON([("nums.$[x]", t), ("nums.$[y]", -t)])},
                     [{"x": {"$gte": 50}}, {"y": {"$lt": 10}}]),
            lambda: ({"_id": _id}, {"$set": {"arr.$[e].k": self.value(2)}},
                     [{"e.k": {"$exists": True}}]),
            lambda: ({"_id": _id}, {"$unset": {"arr.$[e].m": ""}}, [{"e.m": {"$exists": True}}]),
            lambda: ({"_id": _id}, {"$set": {"arr.$[e]": self.value(1)}},
                     [{"e": {"$type": "number"}}]),
        ]
        return r.choice(ops)()

    def pipeline_update(self):
        r = self.r
        name = r.choice(DOTTED + DOLLAR)
        field = {"$literal": name} if name.startswith("$") else name
        ops = [
            lambda: [{"$set": SON([(r.choice(["z", "y", "w"]), self.value(1)),
                                   (r.choice(["q", "p"]), self.value(1))])}],
            lambda: [{"$set": {"nums": {"$concatArrays": [{"$ifNull": ["$nums", []]},
                                                          [r.randrange(100)]]}}}],
            lambda: [{"$set": {"nums": {"$slice": [{"$ifNull": ["$nums", []]},
                                                   r.randrange(0, 4)]}}}],
            lambda: [{"$unset": [r.choice(PLAIN)]}],
            lambda: [{"$replaceWith": {"$setField": {"field": field, "input": "$$ROOT",
                                                     "value": {"$literal": self.value(1)}}}}],
            lambda: [{"$replaceWith": {"$setField": {"field": field, "input": "$$ROOT",
                                                     "value": "$$REMOVE"}}}],
            lambda: [{"$set": {"o": {"$setField": {
                "field": field, "input": {"$ifNull": ["$o", {}]},
                "value": {"$literal": self.value(2)}}}}}],
            lambda: [{"$replaceWith": {"$mergeObjects": ["$$ROOT", {
                r.choice(["w", "v"]): {"$literal": self.value(1)}}]}}],
            lambda: [{"$set": {"arr": {"$concatArrays": [
                {"$slice": [{"$ifNull": ["$arr", []]}, 1]}, [{"$literal": self.value(2)}],
                {"$slice": [{"$ifNull": ["$arr", []]}, 2, 100]}]}}}],
        ]
        return r.choice(ops)()

    def change(self, coll):
        r = self.r
        x = r.random()
        _id = r.randrange(1, self.next_id)
        if x < 0.08:
            coll.insert_one(raw(self.doc(self.next_id)))
            self.next_id += 1
        elif x < 0.14:
            coll.replace_one({"_id": _id}, raw(self.obj(1)))
        elif x < 0.18:
            coll.delete_one({"_id": _id})
        elif x < 0.5:
            update = self.operator_update()
            coll.update_one({"_id": _id}, update)
        elif x < 0.6:
            flt, update, filters = self.positional_update(_id)
            coll.update_one(flt, update, array_filters=filters)
        else:
            coll.update_one({"_id": _id}, self.pipeline_update())


def prepare(src_uri, tgt_uri, db, state_dir, seed):
    gen = Gen(int(seed))
    src = capture_util.connect(src_uri)
    tgt = capture_util.connect(tgt_uri)
    for _id in range(1, DOCS + 1):
        src[db]["c"].insert_one(raw(gen.doc(_id)))
    capture_util.write_token_file(src_uri, db, "c", "%s/%s.c.token" % (state_dir, db))
    dump_end = src[db].command("ping")["operationTime"]
    for doc in src[db]["c"].with_options(codec_options=RAW).find({}, sort=[("_id", 1)]):
        tgt[db]["c"].insert_one(doc)
    tgt[db]["cdc_meta"].insert_one(SON([
        ("_id", "restore:%s.c" % db), ("ns", "%s.c" % db),
        ("completedAt", datetime.datetime.utcnow()), ("documents", Int64(DOCS)),
        ("dumpEndTime", dump_end), ("deferredIndexes", [])]))
    print("ok prepared %d documents (seed %s)" % (DOCS, seed))


def run(src_uri, db, seed, changes):
    # The prepare step drew the documents from the same seed first.
    gen = Gen(int(seed))
    for _id in range(1, DOCS + 1):
        gen.doc(_id)
    coll = capture_util.connect(src_uri)[db]["c"]
    accepted = 0
    refused = {}
    for _ in range(int(changes)):
        try:
            gen.change(coll)
            accepted += 1
        except (OperationFailure, WriteError) as e:
            refused[e.code] = refused.get(e.code, 0) + 1
    ratio = accepted / int(changes)
    print("ok %d of %d changes accepted (%.0f%%), refused by code: %s (seed %s)" %
          (accepted, int(changes), 100 * ratio, refused, seed))
    if ratio < 0.8:
        sys.exit("the source accepted only %.0f%% of the changes (seed %s)" % (100 * ratio, seed))


def run_staged(src_uri, tgt_uri, db, seed, changes):
    import replay_events
    src = capture_util.connect(src_uri)[db]
    spec = SON([("showExpandedEvents", True)])
    reply = src.command(SON([("aggregate", "c"), ("pipeline", [{"$changeStream": spec}]),
                             ("cursor", {})]), codec_options=RAW)
    cursor_id = reply["cursor"]["id"]
    events = list(reply["cursor"]["firstBatch"])
    run(src_uri, db, seed, changes)
    while True:
        more = src.command(SON([("getMore", cursor_id), ("collection", "c"),
                                ("maxTimeMS", 300)]), codec_options=RAW)
        batch = list(more["cursor"]["nextBatch"])
        if not batch:
            break
        events.extend(batch)
    replay_events.stage(capture_util.connect(tgt_uri), db, db + ".c", events)
    print("ok staged %d events with disambiguatedPaths (seed %s)" % (len(events), seed))


def compare(src_uri, tgt_uri, db, seed):
    def docs(uri):
        c = capture_util.connect(uri)[db]["c"].with_options(codec_options=RAW)
        return {bson.BSON(d.raw).decode()["_id"]: d.raw for d in c.find({})}
    want, got = docs(src_uri), docs(tgt_uri)
    differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    for k in differ[:5]:
        print("differs _id %r:\n  source %s\n  target %s" % (
            k, want.get(k) and bson.BSON(want[k]).decode(),
            got.get(k) and bson.BSON(got[k]).decode()))
    if differ:
        sys.exit("%d of %d documents differ byte-wise (seed %s)" % (len(differ), len(want), seed))
    print("ok %d documents byte-identical (seed %s)" % (len(want), seed))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"prepare": prepare, "run": run, "run-staged": run_staged,
     "compare": compare}[cmd](*args)


if __name__ == "__main__":
    main()
