"""mongod-lite's $set/$unset fast path (test/mongod-lite/update_fast.c)
against its general update path, and against MongoDB's documented
behaviour of top-level $set and $unset.

Usage: mlfastpath_cases.py CASE URI DB

The fast path takes updates made only of $set and $unset of top-level
names; the same update with an empty `$max: {}` added goes the general way
(an empty modifier is a no-op since MongoDB 5.0: "mongod no longer raises an
error when you use an update operator like $set with an empty operand
expression", docs: reference/operator/update/set). On a real server both
forms are one update, so every check here holds there too. Prints "ok" or
exits non-zero naming the first difference.
"""
import datetime
import sys

import bson
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument
from bson.son import SON

from mlite_check import check, client_for, eq
from mlstream_cases import RawStream

WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5)

# (document, update): the document is inserted into both collections, the
# update applied to it by _id in each.
CASES = [
    ({"a": 1, "b": "x"}, {"$set": {"a": 2}}),                      # existing field, in place
    ({"a": 1}, {"$set": {"z": 1, "b": 2, "10": 3, "9": 4, "01": 5}}),  # new fields: path order
    ({"a": 1, "b": 2}, {"$set": {"a": 1}}),                        # same value: not modified
    ({"a": 1, "b": 2}, {"$set": {"a": 1, "b": 3}}),                # only b logged
    ({"a": 1}, {"$set": {"a": 1.0}}),                              # int 1 -> double 1.0: modified
    ({"a": 0.0}, {"$set": {"a": -0.0}}),                           # bytes differ: modified
    ({"a": Int64(5)}, {"$set": {"a": Int64(5)}}),                  # same Int64
    ({"a": Decimal128("1.0")}, {"$set": {"a": Decimal128("1.0")}}),
    ({"a": "pending", "s": 1}, {"$set": {"a": "done", "t": WHEN}}),  # the mark's shape
    ({"a": 1, "b": 2, "c": 3}, {"$unset": {"b": ""}}),            # removed
    ({"a": 1}, {"$unset": {"q": 1}}),                             # missing: not modified
    ({"a": 1, "b": 2}, {"$unset": {"a": 1}, "$set": {"b": 3, "c": {"d": [1, {"$x": 1}]}}}),
    ({"a": {"b": 1}}, {"$set": {"a": [1, 2]}}),                    # document -> array
    ({"a": [1, 2]}, {"$set": {"a": [1, 2]}}),                      # same array
    ({"a": 1}, {"$set": {}}),                                     # empty $set
    ({"s": 1, "u": 1}, {"$set": {"s": 2, "u": 11}}),               # indexed fields move
    ({"u": 7}, {"$set": {"u": 7}}),                                # holds u: 7
    ({"s": 3, "u": 2}, {"$set": {"u": 7}}),                        # unique clash with it
    ({"a": 1}, {"$set": {"a": 2}, "$unset": {"a": 1}}),            # 40: one path twice
    ({"a": 1}, {"$set": {"_id": 0}}),                              # _id unchanged: allowed
    ({"a": 1}, {"$set": {"_id": 99}}),                             # 66: _id changed
]


def general(u):
    g = SON(u)
    g["$max"] = {}
    return g


def outcome(coll, _id, u):
    reply = coll.database.command(
        "update", coll.name, updates=[{"q": {"_id": _id}, "u": u}])
    errors = [(e["code"], e.get("keyPattern"), e.get("keyValue")) for e in reply.get("writeErrors", [])]
    return reply["n"], reply["nModified"], errors


def stored(coll, _id):
    raw = coll.with_options(codec_options=coll.codec_options.with_options(
        document_class=RawBSONDocument)).find_one({"_id": _id})
    return raw.raw if raw is not None else None


def events(stream, count):
    out = []
    for ev in stream.take(count):
        out.append((ev["operationType"], ev["documentKey"],
                    bson.encode(ev.get("updateDescription", {})),
                    ev.get("fullDocumentBeforeChange")))
    return out


def prepare(db, name):
    db.drop_collection(name)
    db.command("create", name, changeStreamPreAndPostImages={"enabled": True})
    db[name].create_index("s", name="s_1")
    db[name].create_index("u", name="u_1", unique=True, sparse=True)


def case_differential(uri, dbname):
    """Each case on twin documents: the reply, the stored bytes, the
    indexes and the change events (updateDescription with
    disambiguatedPaths, pre-images) agree between the two paths."""
    db = client_for(uri, document_class=SON)[dbname]
    for name in ("fast", "general"):
        prepare(db, name)
    streams = {name: RawStream(db, name, {"showExpandedEvents": True,
                                          "fullDocumentBeforeChange": "whenAvailable"})
               for name in ("fast", "general")}
    modified = 0
    for i, (doc, u) in enumerate(CASES):
        for name in ("fast", "general"):
            db[name].insert_one(SON([("_id", i)] + list(doc.items())))
        got = outcome(db.fast, i, u)
        want = outcome(db.general, i, general(u))
        eq(got, want, "case %d %r: n, nModified, writeErrors" % (i, u))
        modified += got[1]
        eq(stored(db.fast, i), stored(db.general, i), "case %d %r: stored bytes" % (i, u))
    for v in (1, 2, 3, None):
        eq(sorted(d["_id"] for d in db.fast.find({"s": v})),
           sorted(d["_id"] for d in db.general.find({"s": v})), "documents with s %r" % v)
    for v in (1, 2, 7, 11):
        eq(sorted(d["_id"] for d in db.fast.find({"u": v})),
           sorted(d["_id"] for d in db.general.find({"u": v})), "documents with u %r" % v)
    # A replacement with _id first is stored as sent; with _id last it is
    # rebuilt field by field: the same document either way, upserted or
    # replacing one.
    for j, fields in enumerate([[("a", 1), ("b", [1])], [("x", None)]]):
        _id = 100 + j
        for extra in ([], [("c", 2)]):
            for name, body in (("fast", SON([("_id", _id)] + fields + extra)),
                               ("general", SON(fields + extra + [("_id", _id)]))):
                reply = db.command("update", name, updates=[{"q": {"_id": _id}, "u": body,
                                                             "upsert": True}])
                eq(reply["n"], 1, "replacement %r in %s" % (body, name))
            eq(stored(db.fast, _id), stored(db.general, _id), "replacement %r" % (fields + extra))
            modified += 1
    count = len(CASES) + modified
    eq(events(streams["fast"], count), events(streams["general"], count), "change events")
    eq(streams["fast"].get_more(), [], "no more events")
    print("ok")


def case_expected(uri, dbname):
    """What MongoDB documents for these shapes, checked by value."""
    db = client_for(uri, document_class=SON)[dbname]
    prepare(db, "c")
    c = db.c
    stream = RawStream(db, "c", {"showExpandedEvents": True})
    c.insert_one(SON([("_id", 1), ("a", 1), ("b", "x"), ("s", 1), ("u", 1)]))
    # Fields in place; new ones appended "in lexicographic order. Fields
    # with numeric names are processed in numeric order" (5.0+, docs:
    # reference/operator/update, Behavior).
    eq(outcome(c, 1, {"$set": {"b": "y", "z": 1, "10": 2, "9": 3, "01": 4}}), (1, 1, []),
       "set existing and new")
    eq(list(c.find_one({"_id": 1}).keys()), ["_id", "a", "b", "s", "u", "01", "9", "10", "z"],
       "field order")
    ev = stream.take(2)[1]
    eq(ev["updateDescription"], {"updatedFields": {"b": "y", "01": 4, "9": 3, "10": 2, "z": 1},
                                 "removedFields": [], "truncatedArrays": [],
                                 "disambiguatedPaths": {}}, "updateDescription")
    # "If the update operation results in no change to the document, such
    # as setting the value of the field to its current value, nModified can
    # be less than n" (docs: reference/command/update): no event either.
    eq(outcome(c, 1, {"$set": {"a": 1}, "$unset": {"nothere": 1}}), (1, 0, []),
       "same value, missing field")
    # A value of another type is a change even when it compares equal.
    eq(outcome(c, 1, {"$set": {"a": 1.0}, "$unset": {"z": 1}}), (1, 1, []), "int to double")
    ev = stream.take(1)[0]
    eq((ev["updateDescription"]["updatedFields"], ev["updateDescription"]["removedFields"]),
       ({"a": 1.0}, ["z"]), "int to double logged, z removed")
    check(isinstance(c.find_one({"_id": 1})["a"], float), "a is a double now")
    # Indexed fields: the unique index holds the new value and lets the old
    # one go; a clash leaves the document as it was.
    eq(outcome(c, 1, {"$set": {"s": 2, "u": 11}}), (1, 1, []), "indexed fields")
    eq([d["_id"] for d in c.find({"s": 2})], [1], "s: 2 found")
    eq([d["_id"] for d in c.find({"s": 1})], [], "s: 1 gone")
    c.insert_one({"_id": 2, "u": 1})  # u: 1 is free again
    before = stored(c, 2)
    eq(outcome(c, 2, {"$set": {"u": 11, "w": 1}}), (0, 0, [(11000, {"u": 1}, {"u": 11})]),
       "unique clash")
    eq(stored(c, 2), before, "document after the clash")
    stream.take(2)  # the indexed update and the insert
    eq(stream.get_more(), [], "no event for the clash")
    print("ok")


# Filters an index walk's bounds may or may not stand for: each is run on
# a collection with the index {a: 1, b: 1} (and _id) and on one with none,
# where every document goes through the filter.
FILTERS = [
    {"a": 1}, {"a": 1.0}, {"a": Int64(1)}, {"a": 1, "b": "x"}, {"a": 1, "b": {"$gte": "x"}},
    {"a": 1, "b": {"$gt": 1, "$lt": 9}}, {"a": 1, "b": {"$gte": 2, "$ne": 5}},
    {"a": 1, "b": {"$gt": 1, "$gte": "a"}}, {"a": 1, "b": {"$lte": None}}, {"a": None},
    {"a": float("nan")}, {"a": 1, "c": 1}, {"a": {"$eq": 2}}, {"a": 2, "b": {"$in": [1, 3]}},
    {"_id": 3}, {"_id": {"$gt": 2, "$lte": 5}}, {"_id": 3, "a": 9}, {"a.x": 1},
    {"a": {"x": 1}}, {"b": {"$gt": 0}}, {"a": 1, "b": {"$exists": False}},
]


def case_plan_exact(uri, dbname):
    """The same filter finds the same documents with and without an index
    (an index walk skips the filter only where its bounds say it all)."""
    db = client_for(uri, document_class=SON)[dbname]
    docs = [{"_id": 1, "a": 1, "b": "x"}, {"_id": 2, "a": 1.0, "b": 5}, {"_id": 3, "a": Int64(1), "b": 2},
            {"_id": 4, "a": 1}, {"_id": 5, "a": None, "b": 3}, {"_id": 6, "b": 1},
            {"_id": 7, "a": float("nan")}, {"_id": 8, "a": 1, "b": None, "c": 1},
            {"_id": 9, "a": {"x": 1}}, {"_id": 10, "a": 2, "b": 3}, {"_id": 11, "a": 1, "b": "y"},
            {"_id": 12, "a": 1, "b": 9}]
    for name in ("plain", "indexed"):
        db.drop_collection(name)
        db[name].insert_many(docs)
    db.indexed.create_index([("a", 1), ("b", 1)])
    for f in FILTERS:
        want = sorted(d["_id"] for d in db.plain.find(f))
        eq(sorted(d["_id"] for d in db.indexed.find(f)), want, "find %r" % f)
        reply = db.command("update", "indexed", updates=[{"q": f, "u": {"$set": {"m": 1}}, "multi": True}])
        eq(reply["n"], len(want), "update_many %r: n" % f)
        db.indexed.update_many({}, {"$unset": {"m": 1}})
    print("ok")


if __name__ == "__main__":
    globals()["case_" + sys.argv[1].replace("-", "_")](*sys.argv[2:])
