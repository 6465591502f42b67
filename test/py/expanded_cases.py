"""The source-side steps and checks of test/expanded-capture.bats.

usage: expanded_cases.py CASE ARGS...

  dotted SRC DB            expanded_update_description.js's document (_id "edu")
                           into DB.c and its updates, on the source
  staged-dotted TGT DB     waits until they are staged, then checks that each
                           staged update holds the disambiguatedPaths that
                           file expects
  ddl SRC DB               indexes built and dropped, a TTL and a validator
                           modify on DB.c (ddl_create_drop_index_events.js,
                           ddl_coll_mod_event.js), then a document "after"
  staged-ddl TGT DB        waits for "after", checks the staged DDL events
  target-ddl TGT DB        the target's indexes and options after replay
  create SRC DB COLL       COLL created with a validator and a collation
                           (ddl_create_event.js), then 3 documents
  options SRC TGT DB COLL  COLL has the same options on both
  old-source SRC DB        as a 5.0 source: showExpandedEvents refused (40415),
                           then a dotted document updated
  staged-old TGT DB        staged events: no DDL event, no disambiguatedPaths
Each prints "ok ..." or why not (exit 1).
"""
import sys
import time

import bson
import pymongo
from bson.raw_bson import RawBSONDocument
from pymongo.errors import OperationFailure

LARGE = "*" * 128


def connect(uri):
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)


def raw(doc):
    return RawBSONDocument(bson.BSON.encode(doc))


def staged(tgt, db, query, want, timeout=30):
    """The staged events (sorted by seq) matching query, once there are want."""
    deadline = time.time() + timeout
    while True:
        docs = list(connect(tgt)[db].cdc.find(query, sort=[("seq", 1)]))
        if len(docs) >= want or time.time() > deadline:
            return [d["event"] for d in docs]
        time.sleep(0.05)


# jstests/change_streams/expanded_update_description.js: the document and
# its updates, each with the disambiguatedPaths it expects.
EDU_DOC = {
    "_id": "edu",
    "topLevelArray": [{"subArray": [0, [0, [{"bottomArray": [1, 2, LARGE]}]], 2, 3, LARGE]}],
    "arrayForReplacement": [0, 1, 2, 3],
    "arrayForResize": [LARGE, 1],
    "obj": {"sub.obj": {"d.o.t.t.e.d.a.r.r.a.y..": [[{"a": {"b.c": 1, "field": LARGE}},
                                                     "truncated"]]}},
    "d.o.t.t.e.d.o.b.j.": {"sub.obj": {"b.c": 2}},
    "objectWithNumericField": {"0": {"1": "numeric", "field": LARGE}},
    "arrayWithNumericField": [[{"0": "numeric", "a": {"b.c": 1}, "field": LARGE}]],
    "arrayWithDotted.AndNumericFields": [[{"0": [{"1.2": {"a.b": None, "c": LARGE}}]}]],
}
EDU_UPDATES = [
    ({"$set": {"a": 2, "topLevelArray.0.subArray.1.1.0.bottomArray.2": 3,
               "arrayForReplacement": [0]}}, {}),
    ({"$set": {"arrayWithNumericField.0.0.1": {"b.c": 1}}},
     {"arrayWithNumericField.0.0.1": ["arrayWithNumericField", 0, 0, "1"]}),
    ({"$set": {"objectWithNumericField.0.1": "updated"}},
     {"objectWithNumericField.0.1": ["objectWithNumericField", "0", "1"]}),
    ([{"$unset": ["arrayForReplacement"]}], {}),
    ([{"$replaceWith": {"$setField": {"field": "arrayForResize", "input": "$$ROOT",
                                      "value": [LARGE]}}}], {}),
    ([{"$replaceWith": {"$setField": {"field": "d.o.t.t.e.d.o.b.j.", "input": "$$ROOT",
                                      "value": {"subObj": 1}}}},
      {"$replaceWith": {"$setField": {"field": "new.Field.", "input": "$$ROOT", "value": 1}}}],
     {"d.o.t.t.e.d.o.b.j.": ["d.o.t.t.e.d.o.b.j."], "new.Field.": ["new.Field."]}),
    ([{"$set": {"obj": {"$setField": {
        "field": "sub.obj", "input": "$obj",
        "value": {"$literal": {"d.o.t.t.e.d.a.r.r.a.y..": [[{"a": {"b.c": 2,
                                                                  "field": LARGE}}]]}}}}}}],
     {"obj.sub.obj.d.o.t.t.e.d.a.r.r.a.y...0": ["obj", "sub.obj", "d.o.t.t.e.d.a.r.r.a.y..", 0],
      "obj.sub.obj.d.o.t.t.e.d.a.r.r.a.y...0.0.a.b.c":
          ["obj", "sub.obj", "d.o.t.t.e.d.a.r.r.a.y..", 0, 0, "a", "b.c"]}),
    ([{"$replaceWith": {"$setField": {
        "field": "arrayWithDotted.AndNumericFields", "input": "$$ROOT",
        "value": {"$literal": [[{"0": [{"1.2": {"a.b": True, "c": LARGE}}]}]]}}}}],
     {"arrayWithDotted.AndNumericFields.0.0.0.0.1.2.a.b":
          ["arrayWithDotted.AndNumericFields", 0, 0, "0", 0, "1.2", "a.b"]}),
]


def dotted(src, db):
    c = connect(src)[db].c
    c.insert_one(raw(EDU_DOC))
    for update, _ in EDU_UPDATES:
        c.update_one({"_id": "edu"}, update)
    print("ok %d updates of _id 'edu'" % len(EDU_UPDATES))


def staged_dotted(tgt, db):
    evs = staged(tgt, db, {"event.documentKey._id": "edu"}, 1 + len(EDU_UPDATES))
    ups = [e for e in evs if e["operationType"] == "update"]
    if len(ups) != len(EDU_UPDATES):
        sys.exit("staged %d updates of _id 'edu', want %d" % (len(ups), len(EDU_UPDATES)))
    for i, (ev, (_, want)) in enumerate(zip(ups, EDU_UPDATES)):
        got = ev["updateDescription"].get("disambiguatedPaths")
        if got != want:
            sys.exit("update %d: disambiguatedPaths %r, want %r" % (i, got, want))
    print("ok %d staged updates with their disambiguatedPaths" % len(ups))


def ddl(src, db):
    d = connect(src)[db]
    d.c.create_index([("p", 1)], name="p_1")
    d.c.create_index([("_id", 1), ("u", 1)], name="u_1", unique=True)
    d.c.create_index([("t", 1)], name="t_1", expireAfterSeconds=3600)
    d.c.create_index([("q", -1)], name="q_1")
    d.c.drop_index("q_1")
    d.command("collMod", "c", index={"name": "t_1", "expireAfterSeconds": 60})
    d.command("collMod", "c", validator={"_id": {"$exists": True}})
    d.c.insert_one({"_id": "after"})
    print("ok")


def staged_ddl(tgt, db):
    staged(tgt, db, {"event.documentKey._id": "after"}, 1)
    ops = [e["operationType"] for e in staged(tgt, db, {"operationType": {"$in": [
        "createIndexes", "dropIndexes", "modify"]}}, 7)]
    want = ["createIndexes"] * 4 + ["dropIndexes", "modify", "modify"]
    if ops != want:
        sys.exit("staged DDL events %r, want %r" % (ops, want))
    print("ok")


def target_ddl(tgt, db):
    c = connect(tgt)[db].c
    info = c.index_information()
    if sorted(info) != ["_id_", "p_1", "t_1", "u_1"]:
        sys.exit("target indexes %r" % sorted(info))
    if not info["u_1"].get("unique") or info["t_1"].get("expireAfterSeconds") != 60:
        sys.exit("target indexes %r" % info)
    if c.options().get("validator") != {"_id": {"$exists": True}}:
        sys.exit("target options %r" % c.options())
    print("ok")


def create(src, db, coll):
    d = connect(src)[db]
    d.create_collection(coll, validator={"v": {"$type": "int"}},
                        collation={"locale": "fr", "strength": 2})
    d[coll].insert_many([{"_id": i, "v": i} for i in range(3)])
    print("ok")


def options(src, tgt, db, coll):
    want = connect(src)[db][coll].options()
    got = connect(tgt)[db][coll].options()
    if not want or got != want:
        sys.exit("target options %r, source %r" % (got, want))
    print("ok %r" % got)


def old_source(src, db):
    d = connect(src)[db]
    try:
        d.command("aggregate", "c", pipeline=[{"$changeStream": {"showExpandedEvents": True}}],
                  cursor={})
        sys.exit("a 5.0 source took showExpandedEvents")
    except OperationFailure as e:
        if e.code != 40415:
            sys.exit("showExpandedEvents refused with %s, want 40415" % e.code)
    d.c.insert_one(raw({"_id": 1, "o": {"0": {"1": 0}}}))
    d.c.update_one({"_id": 1}, {"$set": {"o.0.1": 2}})
    d.c.create_index([("o", 1)], name="o_1")
    d.c.insert_one({"_id": "after"})
    print("ok")


def staged_old(tgt, db):
    staged(tgt, db, {"event.documentKey._id": "after"}, 1)
    evs = staged(tgt, db, {}, 3)
    ops = [e["operationType"] for e in evs]
    if ops != ["insert", "update", "insert"]:
        sys.exit("staged %r" % ops)
    if "disambiguatedPaths" in evs[1]["updateDescription"]:
        sys.exit("a 5.0 source's update with disambiguatedPaths: %r" % evs[1])
    print("ok")


def main(argv):
    cases = {"dotted": dotted, "staged-dotted": staged_dotted, "ddl": ddl,
             "staged-ddl": staged_ddl, "target-ddl": target_ddl, "create": create,
             "options": options, "old-source": old_source, "staged-old": staged_old}
    cases[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
