"""Exact replay cases for test/replay-exact.bats.

usage: exact_cases.py stage SCENARIO SRC_URI TGT_URI DB expanded|old
       exact_cases.py compare SRC_URI TGT_URI DB [COLL]

stage: inserts the scenario's documents on SRC DB.c and copies them, byte
for byte, to TGT DB.c (the dump); opens a change stream by hand (aggregate
and getMore, so that showExpandedEvents reaches the $changeStream stage:
"expanded" as a 6.1+ source sends its events, "old" as 5.0 does), runs the
scenario's writes on SRC and stages every event in TGT DB.cdc as cdc-capture
would. compare: every document of SRC and TGT DB.c is the same BSON, byte
for byte (field order and numeric types included).

The writes come from MongoDB's own tests, cited per scenario.
"""
import datetime
import sys

import bson
import pymongo
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument
from bson.son import SON

import replay_events as rev

RAW = CodecOptions(document_class=RawBSONDocument)
LARGE = "*" * 128


def raw(doc):
    return RawBSONDocument(bson.BSON.encode(doc))


def expanded_update_description(c):
    """jstests/change_streams/expanded_update_description.js, every update
    of the file in order, on its document."""
    c.insert_one(raw(SON([
        ("_id", 100),
        ("topLevelArray", [{"subArray": [0, [0, [{"bottomArray": [1, 2, LARGE]}]], 2, 3,
                                         LARGE]}]),
        ("arrayForReplacement", [0, 1, 2, 3]),
        ("arrayForResize", [LARGE, 1]),
        ("obj", {"sub.obj": {"d.o.t.t.e.d.a.r.r.a.y..": [[{"a": {"b.c": 1, "field": LARGE}},
                                                          "truncated"]]}}),
        ("d.o.t.t.e.d.o.b.j.", {"sub.obj": {"b.c": 2}}),
        ("objectWithNumericField", {"0": {"1": "numeric", "field": LARGE}}),
        ("arrayWithNumericField", [[{"0": "numeric", "a": {"b.c": 1}, "field": LARGE}]]),
        ("arrayWithDotted.AndNumericFields", [[{"0": [{"1.2": {"a.b": None, "c": LARGE}}]}]]),
    ])))

    def writes():
        k = {"_id": 100}
        c.update_one(k, {"$set": SON([("a", 2),
                                      ("topLevelArray.0.subArray.1.1.0.bottomArray.2", 3),
                                      ("arrayForReplacement", [0])])})
        c.update_one(k, {"$set": {"arrayWithNumericField.0.0.1": raw({"b.c": 1})}})
        c.update_one(k, {"$set": {"objectWithNumericField.0.1": "updated"}})
        c.update_one(k, [{"$unset": ["arrayForReplacement"]}])
        c.update_one(k, [{"$replaceWith": {"$setField": {
            "field": "arrayForResize", "input": "$$ROOT", "value": [LARGE]}}}])
        c.update_one(k, [
            {"$replaceWith": {"$setField": {"field": "d.o.t.t.e.d.o.b.j.", "input": "$$ROOT",
                                            "value": {"subObj": 1}}}},
            {"$replaceWith": {"$setField": {"field": "new.Field.", "input": "$$ROOT",
                                            "value": 1}}}])
        c.update_one(k, [{"$set": {"obj": {"$setField": {
            "field": "sub.obj", "input": "$obj",
            "value": {"$literal": raw({"d.o.t.t.e.d.a.r.r.a.y..": [[{"a": raw(SON([
                ("b.c", 2), ("field", LARGE)]))}]]})}}}}}])
        c.update_one(k, [{"$replaceWith": {"$setField": {
            "field": "arrayWithDotted.AndNumericFields", "input": "$$ROOT",
            "value": {"$literal": [[raw({"0": [raw({"1.2": raw(SON([("a.b", True),
                                                                    ("c", LARGE)]))})]})]]}}}}])
    return writes


def pipeline_updates(c):
    """jstests/change_streams/pipeline_style_updates.js: $set/$unset/
    $replaceRoot stages that change a field, add fields out of their
    lexicographic order, grow and shrink arrays; and the 5.0+ names of
    field_name_validation.js written through $setField."""
    c.insert_one(SON([("_id", 1), ("a", 1), ("b", SON([("c", 1), ("d", [1, 2, 3, LARGE])])),
                      ("e", "x"), ("arrayForSubdiff", [LARGE, {"a": 1}]),
                      ("arrayForReplacement", [0, 1, 2, 3])]))

    def writes():
        k = {"_id": 1}
        # New fields in written order, not sorted: z before y.
        c.update_one(k, [{"$set": SON([("z", 1), ("y", 2)])}])
        c.update_one(k, [{"$set": {"b.d": {"$concatArrays": ["$b.d", [4]]}}}])
        c.update_one(k, [{"$set": {"arrayForSubdiff": [LARGE, {"a": 2, "b": 3}]}}])
        c.update_one(k, [{"$set": {"arrayForReplacement": {"$slice": ["$arrayForReplacement",
                                                                       2]}}}])
        c.update_one(k, [{"$unset": ["e"]}])
        c.update_one(k, [{"$replaceWith": {"$setField": {
            "field": {"$literal": "$price"}, "input": "$$ROOT", "value": 5}}}])
        c.update_one(k, [{"$set": {"b.c": {"$literal": raw({"x.y": 1, "$z": 2})}}}])
        c.update_one(k, [{"$replaceRoot": {"newRoot": {"$mergeObjects": [
            "$$ROOT", SON([("w", 1), ("v", {"n": 1})])]}}}])
        c.update_one(k, {"$push": {"b.d": {"$each": [0], "$position": 0}}})
        c.update_one(k, {"$set": {"empty": []}})
        c.update_one(k, {"$push": {"empty": 1}})
        c.update_one(k, {"$set": SON([("q", 1), ("p", 1)])})
        c.update_one(k, {"$unset": {"v.n": ""}, "$inc": {"a": 1}})
    return writes


def dollar_documents(c):
    """jstests/core/field_name_validation.js (5.0+): a top-level '$' field
    is stored by an insert and by $replaceWith with $literal; replay must
    insert and replace such documents."""
    c.insert_one(SON([("_id", 0), ("keep", 1)]))

    def writes():
        c.insert_one(raw(SON([("_id", 1), ("$t", 1), ("n", raw({"$u": 2}))])))
        c.update_one({"_id": 1}, [{"$replaceWith": {"$literal": raw(SON([
            ("_id", 1), ("$t", 3), ("k", LARGE)]))}}])
        c.update_one({"_id": 0}, [{"$replaceWith": {"$literal": raw(SON([
            ("_id", 0), ("$x", LARGE), ("keep", 2)]))}}])
        c.delete_one({"_id": 1})
        c.insert_one(raw(SON([("_id", 1), ("$t", "again")])))
    return writes


def old_ambiguous(c):
    """A document holding both "p" {q} and the literal "p.q": an old event's
    "p.q" has two readings."""
    c.insert_one(raw(SON([("_id", 1), ("p", {"q": 1}), ("p.q", 2)])))
    c.insert_one(SON([("_id", 2), ("v", 1)]))

    def writes():
        c.update_one({"_id": 2}, {"$set": {"v": 2}})
        c.update_one({"_id": 1}, [{"$replaceWith": {"$setField": {
            "field": "p.q", "input": "$$ROOT", "value": 5}}}])
        c.update_one({"_id": 2}, {"$set": {"v": 3}})
    return writes


def indexes(c):
    """jstests/change_streams/ddl_create_drop_index_events.js: createIndexes
    and dropIndexes between writes (showExpandedEvents)."""
    c.insert_one({"_id": 1, "b": 1, "c": 1, "t": 1})

    def writes():
        c.create_index([("b", 1)], name="b_1")
        c.update_one({"_id": 1}, {"$set": {"b": 2}})
        c.create_index([("c", -1), ("b", 1)], name="c_b", sparse=True)
        c.create_index([("c", 1)], name="u_1", unique=True)
        c.create_index([("t", 1)], name="t_1", expireAfterSeconds=3600)
        c.drop_index("b_1")
        c.insert_one({"_id": 2, "c": 2})
    return writes


def modify(c):
    """jstests/change_streams/ddl_coll_mod_event.js: collMod of
    a TTL index's expireAfterSeconds and of the validator between writes;
    the TTL index t_1 is there before the stream (the test builds it on the
    target as restore would)."""
    c.insert_one({"_id": 1, "a": 1, "t": 1})
    c.create_index([("t", 1)], name="t_1", expireAfterSeconds=3600)
    db = c.database

    def writes():
        c.update_one({"_id": 1}, {"$set": {"a": 2}})
        db.command("collMod", "c", index={"name": "t_1", "expireAfterSeconds": 60})
        db.command("collMod", "c", validator={"a": {"$exists": True}},
                   validationLevel="moderate", validationAction="warn")
        db.command("collMod", "c", changeStreamPreAndPostImages={"enabled": True})
        c.insert_one({"_id": 2, "a": 3})
    return writes


SCENARIOS = {
    "indexes": indexes,
    "modify": modify,
    "expanded_update_description": expanded_update_description,
    "pipeline_updates": pipeline_updates,
    "dollar_documents": dollar_documents,
    "old_ambiguous": old_ambiguous,
}


def copy_to_target(src_coll, tgt_coll):
    for doc in src_coll.with_options(codec_options=RAW).find({}, sort=[("_id", 1)]):
        tgt_coll.insert_one(doc)


def read_events(db, coll, spec):
    reply = db.command(SON([("aggregate", coll), ("pipeline", [{"$changeStream": spec}]),
                            ("cursor", {})]), codec_options=RAW)
    return reply["cursor"]["id"], list(reply["cursor"]["firstBatch"]), reply["operationTime"]


def more_events(db, coll, cursor_id):
    events = []
    while True:
        reply = db.command(SON([("getMore", cursor_id), ("collection", coll),
                                ("maxTimeMS", 300)]), codec_options=RAW)
        batch = list(reply["cursor"]["nextBatch"])
        if not batch:
            return events
        events.extend(batch)


def stage(name, src_uri, tgt_uri, db_name, shape):
    src = pymongo.MongoClient(src_uri)
    tgt = pymongo.MongoClient(tgt_uri)
    writes = SCENARIOS[name](src[db_name]["c"])
    copy_to_target(src[db_name]["c"], tgt[db_name]["c"])
    spec = SON([("showExpandedEvents", True)]) if shape == "expanded" else SON()
    cursor_id, events, op_time = read_events(src[db_name], "c", spec)
    # The dump ends before the first event: past it the target holds what
    # the source held (the restore marker of dump-wrap restore).
    tgt[db_name]["cdc_meta"].insert_one(SON([
        ("_id", "restore:%s.c" % db_name), ("ns", "%s.c" % db_name),
        ("completedAt", datetime.datetime.utcnow()), ("documents", Int64(1)),
        ("dumpEndTime", op_time), ("deferredIndexes", [])]))
    writes()
    events += more_events(src[db_name], "c", cursor_id)
    for ev in events:
        desc = ev.get("updateDescription")
        has_dp = desc is not None and "disambiguatedPaths" in desc
        if desc is not None and has_dp != (shape == "expanded"):
            sys.exit("event %s: disambiguatedPaths %s in a %s stream" %
                     (ev["operationType"], has_dp, shape))
    rev.stage(tgt, db_name, db_name + ".c", events)
    print("ok staged %d events" % len(events))


def compare(src_uri, tgt_uri, db_name, coll="c"):
    def docs(uri):
        c = pymongo.MongoClient(uri)[db_name][coll].with_options(codec_options=RAW)
        return [d.raw for d in c.find({}, sort=[("_id", 1)])]
    want, got = docs(src_uri), docs(tgt_uri)
    if want != got:
        for w, g in zip(want, got):
            if w != g:
                print("differs:\n  source %s\n  target %s" % (bson.BSON(w).decode(),
                                                              bson.BSON(g).decode()))
        sys.exit("%d source documents, %d target documents, not byte-identical" %
                 (len(want), len(got)))
    print("ok %d documents byte-identical" % len(want))


def main():
    if sys.argv[1] == "stage":
        stage(*sys.argv[2:7])
    elif sys.argv[1] == "compare":
        compare(*sys.argv[2:])
    else:
        sys.exit("unknown command %s" % sys.argv[1])


if __name__ == "__main__":
    main()
