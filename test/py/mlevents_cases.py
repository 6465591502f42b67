"""Change events of mongod-lite held to MongoDB 7.0's own tests.

Usage: mlevents_cases.py CASE URI DB [ARGS...]

Each case replays one case of a MongoDB jstest (named in its docstring)
and asserts the event MongoDB's test expects; it prints "ok" or exits
non-zero naming the first difference.
"""
import sys
import uuid

from bson import Binary, Timestamp
from bson.codec_options import CodecOptions
from bson.son import SON
from pymongo.errors import OperationFailure

from mlite_check import check, client_for, eq, fail
from mlstream_cases import RawStream, expect_error

OPTS = CodecOptions(document_class=SON, uuid_representation=4)


def database(uri, dbname):
    return client_for(uri, document_class=SON)[dbname]


def insert(db, coll, *docs):
    """Inserts through the command, so that pymongo 3 does not refuse
    dotted and $-prefixed names."""
    db.command("insert", coll, documents=list(docs))


def update(db, coll, q, u, **kw):
    reply = db.command("update", coll, updates=[dict(q=q, u=u, **kw)])
    errors = reply.get("writeErrors")
    if errors:
        raise OperationFailure(errors[0]["errmsg"], errors[0]["code"])
    return reply


def ud(ev):
    return ev["updateDescription"]


def plain(v):
    """SON -> dict recursively (order kept in dicts, compared unordered)."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


# ------------------------------------------------ expanded_update_description.js

L128 = "*" * 128
EUD_DOC = SON([
    ("_id", 100),
    ("topLevelArray", [{"subArray": [0, [0, [{"bottomArray": [1, 2, L128]}]], 2, 3, L128]}]),
    ("arrayForReplacement", [0, 1, 2, 3]),
    ("arrayForResize", [L128, 1]),
    ("obj", {"sub.obj": {"d.o.t.t.e.d.a.r.r.a.y..": [[{"a": {"b.c": 1, "field": L128}}, "truncated"]]}}),
    ("d.o.t.t.e.d.o.b.j.", {"sub.obj": {"b.c": 2}}),
    ("objectWithNumericField", {"0": {"1": "numeric", "field": L128}}),
    ("arrayWithNumericField", [[{"0": "numeric", "a": {"b.c": 1}, "field": L128}]]),
    ("arrayWithDotted.AndNumericFields", [[{"0": [{"1.2": {"a.b": None, "c": L128}}]}]]),
])


def set_field(field, value, input="$$ROOT"):
    return {"$setField": {"field": field, "input": input, "value": value}}


# (update, expected updateDescription) in the order of the jstest
EUD_STEPS = [
    ({"$set": SON([("a", 2), ("topLevelArray.0.subArray.1.1.0.bottomArray.2", 3),
                   ("arrayForReplacement", [0])])},
     SON([("updatedFields", SON([("arrayForReplacement", [0]), ("a", 2),
                                 ("topLevelArray.0.subArray.1.1.0.bottomArray.2", 3)])),
          ("removedFields", []), ("truncatedArrays", []), ("disambiguatedPaths", {})])),
    ({"$set": {"arrayWithNumericField.0.0.1": {"b.c": 1}}},
     {"updatedFields": {"arrayWithNumericField.0.0.1": {"b.c": 1}}, "removedFields": [],
      "truncatedArrays": [],
      "disambiguatedPaths": {"arrayWithNumericField.0.0.1": ["arrayWithNumericField", 0, 0, "1"]}}),
    ({"$set": {"objectWithNumericField.0.1": "updated"}},
     {"updatedFields": {"objectWithNumericField.0.1": "updated"}, "removedFields": [],
      "truncatedArrays": [],
      "disambiguatedPaths": {"objectWithNumericField.0.1": ["objectWithNumericField", "0", "1"]}}),
    ([{"$unset": ["arrayForReplacement"]}],
     {"updatedFields": {}, "removedFields": ["arrayForReplacement"], "truncatedArrays": [],
      "disambiguatedPaths": {}}),
    ([{"$replaceWith": set_field("arrayForResize", [L128])}],
     {"updatedFields": {}, "removedFields": [],
      "truncatedArrays": [{"field": "arrayForResize", "newSize": 1}], "disambiguatedPaths": {}}),
    ([{"$replaceWith": set_field("d.o.t.t.e.d.o.b.j.", {"subObj": 1})},
      {"$replaceWith": set_field("new.Field.", 1)}],
     {"updatedFields": {"d.o.t.t.e.d.o.b.j.": {"subObj": 1}, "new.Field.": 1}, "removedFields": [],
      "truncatedArrays": [],
      "disambiguatedPaths": {"d.o.t.t.e.d.o.b.j.": ["d.o.t.t.e.d.o.b.j."], "new.Field.": ["new.Field."]}}),
    ([{"$set": {"obj": set_field("sub.obj", {"$literal": {
        "d.o.t.t.e.d.a.r.r.a.y..": [[{"a": {"b.c": 2, "field": L128}}]]}}, "$obj")}}],
     {"updatedFields": {"obj.sub.obj.d.o.t.t.e.d.a.r.r.a.y...0.0.a.b.c": 2}, "removedFields": [],
      "truncatedArrays": [{"field": "obj.sub.obj.d.o.t.t.e.d.a.r.r.a.y...0", "newSize": 1}],
      "disambiguatedPaths": {
          "obj.sub.obj.d.o.t.t.e.d.a.r.r.a.y...0": ["obj", "sub.obj", "d.o.t.t.e.d.a.r.r.a.y..", 0],
          "obj.sub.obj.d.o.t.t.e.d.a.r.r.a.y...0.0.a.b.c":
              ["obj", "sub.obj", "d.o.t.t.e.d.a.r.r.a.y..", 0, 0, "a", "b.c"]}}),
    ([{"$replaceWith": set_field("arrayWithDotted.AndNumericFields",
                                 {"$literal": [[{"0": [{"1.2": {"a.b": True, "c": L128}}]}]]})}],
     {"updatedFields": {"arrayWithDotted.AndNumericFields.0.0.0.0.1.2.a.b": True}, "removedFields": [],
      "truncatedArrays": [],
      "disambiguatedPaths": {"arrayWithDotted.AndNumericFields.0.0.0.0.1.2.a.b":
                             ["arrayWithDotted.AndNumericFields", 0, 0, "0", 0, "1.2", "a.b"]}}),
]


def run_steps(db, coll, doc, steps, n, spec=None):
    """Inserts doc, applies steps[0..n-2] unchecked, returns the event of
    step n (1-based)."""
    insert(db, coll, doc)
    s = RawStream(db, coll, spec or {})
    for u, _ in steps[:n]:
        update(db, coll, {"_id": doc["_id"]}, u)
    return s.take(n)[n - 1]


def case_eud(uri, dbname, step):
    """jstests/change_streams/expanded_update_description.js, step-th
    update (1-based): updatedFields in MongoDB's order (updates, then
    inserts, then sub-levels) and disambiguatedPaths."""
    db = database(uri, dbname)
    n = int(step)
    ev = run_steps(db, "coll", EUD_DOC, EUD_STEPS, n, {"showExpandedEvents": True})
    eq(ev["operationType"], "update", "operationType")
    want = EUD_STEPS[n - 1][1]
    eq(list(ud(ev).keys()), ["updatedFields", "removedFields", "truncatedArrays", "disambiguatedPaths"],
       "updateDescription fields")
    eq(plain(ud(ev)), plain(want), "updateDescription")
    if n == 1:
        eq(list(ud(ev)["updatedFields"].keys()), list(want["updatedFields"].keys()), "updatedFields order")
    print("ok")


def case_no_disambiguated(uri, dbname):
    """disambiguatedPaths only with showExpandedEvents (6.1+), as
    jstests/change_streams/change_stream.js's default events show."""
    db = database(uri, dbname)
    insert(db, "c", {"_id": 1, "o": {"0": 1}})
    s = RawStream(db, "c")
    update(db, "c", {"_id": 1}, {"$set": {"o.0": 2}})
    ev = s.take(1)[0]
    eq(plain(ud(ev)), {"updatedFields": {"o.0": 2}, "removedFields": [], "truncatedArrays": []},
       "default updateDescription")
    print("ok")


def case_cs(uri, dbname, which):
    """jstests/change_streams/change_stream.js: 'Testing update' (a
    replacement-style update is a replace event), 'Testing upsert' (an
    upsert that inserts is an insert event), 'Testing partial update with
    $inc' (an update event of just the field)."""
    db = database(uri, dbname)
    insert(db, "t1", {"_id": 0, "a": 1}, {"_id": 3, "a": 5, "b": 1})
    s = RawStream(db, "t1")
    if which == "update":
        update(db, "t1", {"_id": 0}, {"a": 3})
        ev = s.take(1)[0]
        eq((ev["operationType"], plain(ev["fullDocument"])), ("replace", {"_id": 0, "a": 3}), "event")
    elif which == "upsert":
        update(db, "t1", {"_id": 2}, {"a": 4}, upsert=True)
        ev = s.take(1)[0]
        eq((ev["operationType"], plain(ev["fullDocument"])), ("insert", {"_id": 2, "a": 4}), "event")
    else:
        update(db, "t1", {"_id": 3}, {"$inc": {"b": 2}})
        ev = s.take(1)[0]
        eq((ev["operationType"], plain(ud(ev))), ("update", {"updatedFields": {"b": 3}, "removedFields": [],
                                                             "truncatedArrays": []}), "event")
    eq(ev["documentKey"], {"_id": {"update": 0, "upsert": 2}.get(which, 3)}, "documentKey")
    print("ok")


# ------------------------------------------------ pipeline_style_updates*.js

L512 = "*" * 512
PSU_DOC = SON([("_id", 100), ("a", 1), ("b", 2), ("obj", SON([("a", 1), ("b", 2), ("str", L512)]))])
PSU_STEPS = [
    ([{"$set": {"a": 2}}], {"updatedFields": {"a": 2}, "removedFields": [], "truncatedArrays": []}),
    ([{"$unset": ["a"]}], {"updatedFields": {}, "removedFields": ["a"], "truncatedArrays": []}),
    ([{"$replaceRoot": {"newRoot": SON([("_id", 100), ("b", 2),
                                        ("obj", SON([("a", 2), ("b", 2), ("str", L512)]))])}}],
     {"updatedFields": {"obj.a": 2}, "removedFields": [], "truncatedArrays": []}),
]


def case_psu(uri, dbname, step):
    """jstests/change_streams/pipeline_style_updates.js ($v:2 enabled
    part), step-th pipeline update."""
    db = database(uri, dbname)
    n = int(step)
    ev = run_steps(db, "t1", PSU_DOC, PSU_STEPS, n)
    eq(ev["operationType"], "update", "operationType")
    eq(plain(ud(ev)), PSU_STEPS[n - 1][1], "updateDescription")
    print("ok")


GIANT, MEDIUM, SMALL = "*" * 1024, "*" * 128, "*" * 32
V2_DOC = SON([("_id", 100), ("a", 1), ("b", 2), ("arrayForSubdiff", [GIANT, {"a": MEDIUM}, 1, 2, 3]),
              ("arrayForReplacement", [0, 1, 2, 3]), ("giantStr", GIANT)])
V2_STEPS = [
    ([{"$set": SON([("a", 2), ("arrayForSubdiff", [GIANT, SON([("a", MEDIUM), ("b", 3)])]),
                    ("arrayForReplacement", [0]), ("c", 3)])}],
     {"updatedFields": {"a": 2, "c": 3, "arrayForReplacement": [0], "arrayForSubdiff.1.b": 3},
      "removedFields": [], "truncatedArrays": [{"field": "arrayForSubdiff", "newSize": 2}]}),
    ([{"$unset": ["a"]}], {"updatedFields": {}, "removedFields": ["a"], "truncatedArrays": []}),
    ([{"$replaceRoot": {"newRoot": SON([("_id", 100), ("giantStr", GIANT)])}}],
     {"updatedFields": {}, "removedFields": ["c", "arrayForReplacement", "arrayForSubdiff", "b"],
      "truncatedArrays": []}),
    ([{"$replaceRoot": {"newRoot": SON([
        ("_id", 100), ("giantStr", GIANT), ("arr", [SON([("x", 1), ("y", SMALL)]), MEDIUM]),
        ("arr_a", [1, MEDIUM]), ("arr_b", [[1, SMALL], MEDIUM]), ("arr_c", [[SMALL, 1, 2, 3], MEDIUM]),
        ("obj", {"x": SON([("a", 1), ("b", 1), ("c", [MEDIUM, 1, 2, 3]), ("str", MEDIUM)])})])}},
      {"$addFields": SON([("a", "updated"), ("b", 2), ("doc", {"a": {"0": "foo"}})])},
      {"$project": SON([(k, True) for k in ("a", "giantStr", "doc", "arr", "arr_a", "arr_b", "arr_c", "obj")])}],
     {"updatedFields": {"a": "updated", "doc": {"a": {"0": "foo"}}, "arr": [{"x": 1, "y": SMALL}, MEDIUM],
                        "arr_a": [1, MEDIUM], "arr_b": [[1, SMALL], MEDIUM], "arr_c": [[SMALL, 1, 2, 3], MEDIUM],
                        "obj": {"x": {"a": 1, "b": 1, "c": [MEDIUM, 1, 2, 3], "str": MEDIUM}}},
      "removedFields": [], "truncatedArrays": []}),
    ([{"$replaceRoot": {"newRoot": SON([
        ("_id", 100), ("giantStr", GIANT), ("arr", [{"y": SMALL}, MEDIUM]), ("arr_a", [2, MEDIUM]),
        ("arr_b", [[2, SMALL], MEDIUM]), ("arr_c", [[SMALL], MEDIUM]),
        ("obj", {"x": SON([("b", 2), ("c", [MEDIUM]), ("str", MEDIUM)])})])}}],
     {"updatedFields": {"arr_a.0": 2, "arr_b.0.0": 2, "obj.x.b": 2},
      "removedFields": ["a", "doc", "arr.0.x", "obj.x.a"],
      "truncatedArrays": [{"field": "arr_c.0", "newSize": 1}, {"field": "obj.x.c", "newSize": 1}]}),
]


def case_v2(uri, dbname, step):
    """jstests/change_streams/pipeline_style_updates_v2_oplog_entries.js,
    step-th pipeline update (the jstest compares fields and arrays
    unordered: so do we)."""
    db = database(uri, dbname)
    n = int(step)
    ev = run_steps(db, "t1", V2_DOC, V2_STEPS, n)
    eq(ev["operationType"], "update", "operationType")
    got, want = plain(ud(ev)), V2_STEPS[n - 1][1]
    eq(got["updatedFields"], want["updatedFields"], "updatedFields")
    eq(sorted(got["removedFields"]), sorted(want["removedFields"]), "removedFields")
    eq(sorted(map(repr, got["truncatedArrays"])), sorted(map(repr, want["truncatedArrays"])),
       "truncatedArrays")
    print("ok")


def case_replace_when_not_smaller(uri, dbname):
    """A pipeline update whose diff is not smaller than the document is
    logged as a replacement (document_diff_calculator.cpp computeOplogDiff,
    pipeline_executor.cpp falls back to makeReplacementOplogEntry): a
    'replace' event; an operator update never is."""
    db = database(uri, dbname)
    insert(db, "c", {"_id": 1, "a": 1})
    s = RawStream(db, "c")
    update(db, "c", {"_id": 1}, [{"$set": {"a": 2}}])
    update(db, "c", {"_id": 1}, {"$set": {"a": 3}})
    rep, upd = s.take(2)
    eq(rep["operationType"], "replace", "small pipeline update")
    eq(rep["fullDocument"], {"_id": 1, "a": 2}, "replace fullDocument")
    check("updateDescription" not in rep, "replace event with an updateDescription")
    eq(upd["operationType"], "update", "operator update")
    eq(plain(ud(upd))["updatedFields"], {"a": 3}, "operator updatedFields")
    print("ok")


def case_diff_rules(uri, dbname):
    """src/mongo/db/update/document_diff_calculator_test.cpp, through
    pipeline updates: DeletesRecordedInAscendingOrderOfFieldNames (trailing
    deletes in document order, then the others by name), FieldOrder (a
    moved field is an insert in its sub-diff), LargeDelta (a replace)."""
    db = database(uri, dbname)
    cases = [
        (SON([("_id", 1), ("b", 1), ("a", 2), ("c", "value"), ("d", "value"), ("e", "value"), ("g", 1), ("f", 1)]),
         SON([("_id", 1), ("c", "value"), ("d", "value"), ("e", "value")]),
         {"updatedFields": {}, "removedFields": ["g", "f", "a", "b"], "truncatedArrays": []}),
        (SON([("_id", 2), ("a", 1), ("b", 2), ("c", SON([("p", 1), ("q", 1), ("s", 1), ("r", 2)])), ("d", 4)]),
         SON([("_id", 2), ("a", 1), ("b", 2), ("c", SON([("p", 1), ("q", 1), ("r", 2), ("s", 1)])), ("d", 4)]),
         {"updatedFields": {"c.s": 1}, "removedFields": [], "truncatedArrays": []}),
        (SON([("_id", 3), ("a", 1), ("b", 2), ("c", 3)]), SON([("_id", 3), ("A", 1), ("B", 2), ("C", 3)]), None),
    ]
    s = RawStream(db, "c")
    for pre, _, _ in cases:
        insert(db, "c", pre)
    for pre, post, _ in cases:
        update(db, "c", {"_id": pre["_id"]}, [{"$replaceWith": {"$literal": post}}])
    evs = s.take(2 * len(cases))[len(cases):]
    for ev, (pre, post, want) in zip(evs, cases):
        if want is None:
            eq(ev["operationType"], "replace", "large delta of %r" % pre["_id"])
            continue
        eq(ev["operationType"], "update", "operationType of %r" % pre["_id"])
        eq(plain(ud(ev)), want, "updateDescription of %r" % pre["_id"])
        eq(list(db.c.find_one({"_id": pre["_id"]}).keys()), list(post.keys()), "stored field order")
    print("ok")


def case_pipeline_errors(uri, dbname):
    """Stages and expressions MongoDB refuses in an update pipeline, with
    its codes (pipeline_executor.cpp: InvalidOptions; unknown expression:
    InvalidPipelineOperator)."""
    db = database(uri, dbname)
    insert(db, "c", {"_id": 1, "a": 1})
    expect_error(72, lambda: update(db, "c", {"_id": 1}, [{"$match": {"a": 1}}]), "$match in update")
    expect_error(40324, lambda: update(db, "c", {"_id": 1}, [{"$nosuch": {}}]), "unknown stage")
    expect_error(168, lambda: update(db, "c", {"_id": 1}, [{"$set": {"a": {"$nosuch": 1}}}]),
                 "unknown expression")
    expect_error(40228, lambda: update(db, "c", {"_id": 1}, [{"$replaceWith": "$a"}]),
                 "$replaceWith of a number")
    expect_error(40400, lambda: update(db, "c", {"_id": 1}, [{"$set": {"m": {"$mergeObjects": [1]}}}]),
                 "$mergeObjects of a number")
    expect_error(66, lambda: update(db, "c", {"_id": 1}, [{"$set": {"_id": 2}}]), "pipeline changes _id")
    # the expressions MongoDB documents, on one document
    update(db, "c", {"_id": 1}, [{"$set": SON([
        ("m", {"$mergeObjects": [{"x": 1, "y": 1}, None, {"y": 2}]}),
        ("ca", {"$concatArrays": [[1], [2, 3]]}),
        ("sl", {"$slice": [[1, 2, 3, 4], -2]}),
        ("el", {"$arrayElemAt": [[1, 2, 3], 1]}),
        ("n", {"$ifNull": ["$missing", "dflt"]}),
        ("cd", {"$cond": [{"$gt": ["$a", 0]}, "pos", "neg"]}),
        ("g", {"$getField": "a"}),
        ("gone", "$$REMOVE"),
    ])}, {"$replaceWith": {"$unsetField": {"field": "a", "input": "$$ROOT"}}}])
    got = db.c.find_one({"_id": 1})
    eq(plain(got), {"_id": 1, "m": {"x": 1, "y": 2}, "ca": [1, 2, 3], "sl": [3, 4], "el": 2, "n": "dflt",
                    "cd": "pos", "g": 1}, "document after the pipeline")
    print("ok")


# ------------------------------------------------ operator updates (5.0+)

def case_lexicographic(uri, dbname):
    """Operator updates process fields in lexicographic order, numeric
    names in numeric order (MongoDB 5.0 release notes; update_object_node
    keeps its children in pathsupport::cmpPathsAndArrayIndexes order)."""
    db = database(uri, dbname)
    insert(db, "c", {"_id": 1, "x": {}})
    update(db, "c", {"_id": 1}, SON([("$set", SON([("c", 1), ("b", 1), ("x.10", 1), ("x.9", 1), ("x.a", 1)])),
                                    ("$inc", {"a": 1})]))
    got = db.c.find_one({"_id": 1})
    eq(list(got.keys()), ["_id", "x", "a", "b", "c"], "top-level field order")
    eq(list(got["x"].keys()), ["9", "10", "a"], "numeric names in numeric order")
    print("ok")


def case_push_shapes(uri, dbname):
    """$push onto an empty array logs the whole array (push_node.cpp: an
    empty array is kNormalUpdate), onto a non-empty one only the appended
    element (kArrayAppendUpdate); $pull logs the whole array."""
    db = database(uri, dbname)
    insert(db, "c", {"_id": 1, "a": [], "b": [1], "p": [1, 2, 3]})
    s = RawStream(db, "c")
    update(db, "c", {"_id": 1}, {"$push": {"a": 1}})
    update(db, "c", {"_id": 1}, {"$push": {"b": 2}})
    update(db, "c", {"_id": 1}, {"$pull": {"p": 2}})
    a, b, p = s.take(3)
    eq(plain(ud(a))["updatedFields"], {"a": [1]}, "$push onto []")
    eq(plain(ud(b))["updatedFields"], {"b.1": 2}, "$push onto [1]")
    eq(plain(ud(p))["updatedFields"], {"p": [1, 3]}, "$pull")
    print("ok")


# ------------------------------------------------ field_name_validation.js

def case_field_names(uri, dbname):
    """jstests/core/field_name_validation.js: dotted and $-prefixed names
    are stored and returned as inserted; _id may not hold $-prefixed
    names (52); a replacement may not have top-level $ names; a pipeline
    with $literal/$setField may write them."""
    db = database(uri, dbname)
    c = "field_name_validation"
    for doc in ({"_id": 1, "a.b": 1}, {"_id": 2, "a": {"a.b": 1}}, {"_id": 3, "a": {"$b": 1}},
                {"_id": 4, "$a": 1}, SON([("_id", 5), ("valid", 1), ("$a", 1)]),
                SON([("_id", 7), ("$valid", 1), ("a", 1)])):
        insert(db, c, doc)
        eq(plain(db[c].find_one({"_id": doc["_id"]})), plain(doc), "stored %r" % doc)
    eq(db[c].count_documents({"a.$b": 1}), 1, "find on a.$b")
    insert(db, c, {"_id": 6, "$ref": 1})  # pymongo would read it back as a DBRef
    eq(db[c].count_documents({"_id": 6}), 1, "insert of a top-level $ref")

    def bad_insert(doc):
        reply = db.command("insert", c, documents=[doc])
        errors = reply.get("writeErrors")
        if errors:
            raise OperationFailure(errors[0]["errmsg"], errors[0]["code"])
    expect_error(52, lambda: bad_insert({"_id": {"$b": 1}}), "_id with a $-prefixed name")
    expect_error(52, lambda: bad_insert({"_id": SON([("a", 1), ("$b", 1)])}), "_id with a $-prefixed name")
    expect_error(9, lambda: update(db, c, {"_id": 1}, {"$c": 1}), "replacement {$c: 1}")
    expect_error(52, lambda: update(db, c, {"_id": 1}, SON([("_id", 1), ("$invalid", 1)])),
                 "replacement with a top-level $ name")
    expect_error(52, lambda: update(db, c, {"_id": 1}, {"$set": {"$invalid": 1}}), "$set of a $ name")
    expect_error(52, lambda: update(db, c, {"x": 1}, {"_id": {"$invalid": 1}}, upsert=True),
                 "upsert of a $-prefixed _id")
    update(db, c, {"_id": 1}, {"foo": {"$c": 1, "bar": {"$d": 4}}})
    update(db, c, {"_id": 2}, [{"$replaceWith": {"$literal": {"$a": 1}}}])
    eq(plain(db[c].find_one({"_id": 2})), {"_id": 2, "$a": 1}, "$replaceWith $literal")
    update(db, c, {"_id": 3}, [{"$replaceWith": {"$literal": {"_id": 3, "a.b.c": 3}}}])
    eq(plain(db[c].find_one({"_id": 3})), {"_id": 3, "a.b.c": 3}, "dotted name through $literal")
    expect_error(16412, lambda: update(db, c, {"_id": 3}, [{"$replaceWith": {"_id": 3, "a.b.c": 3}}]),
                 "dotted name without $literal")
    print("ok")


# ------------------------------------------------ change_streams_oplog_rollover.js

def case_rollover(uri, dbname, max_entries):
    """jstests/noPassthrough/change_streams_oplog_rollover.js: a stream
    from the dawn of time works while nothing fell off; once the oplog
    rolled over its getMore fails with CappedPositionLost (136), while
    resumeAfter and startAtOperationTime fail with ChangeStreamHistoryLost
    (286)."""
    db = database(uri, dbname)
    insert(db, "c", {"_id": 1})
    s = RawStream(db, "c", batch_size=0)
    update(db, "c", {"_id": 1}, {"$set": {"updated": True}})
    token = s.take(1)[0]["_id"]
    dawn = RawStream(db, "c", {"startAtOperationTime": Timestamp(1, 1)}, batch_size=0)
    first = dawn.take(1)[0]
    eq((first["operationType"], first["documentKey"]), ("insert", {"_id": 1}), "dawn-of-time stream")
    after = db.command("ping")["operationTime"]
    for k in range(int(max_entries) + 5):
        insert(db, "other", {"_id": k})
    expect_error(136, lambda: dawn.get_more(), "getMore of an overtaken stream")
    expect_error(286, lambda: RawStream(db, "c", {"resumeAfter": token}), "resumeAfter a lost token")
    expect_error(286, lambda: RawStream(db, "c", {"startAtOperationTime": after}),
                 "startAtOperationTime a lost time")
    expect_error(286, lambda: RawStream(db, "c", {"startAtOperationTime": Timestamp(1, 1)}),
                 "the dawn of time once the oplog rolled over")
    print("ok")


# ------------------------------------------------ lookup_pit_pre_and_post_image.js

def case_post_image(uri, dbname, mode):
    """jstests/change_streams/lookup_pit_pre_and_post_image.js with
    fullDocument: mode ('whenAvailable' or 'required'): an update made
    before changeStreamPreAndPostImages was enabled has no post-image
    (null, or NoMatchingDocument 47 when required), one made after has
    the document as of the event, a replace its document."""
    db = database(uri, dbname)
    db.command("create", "test")
    s = RawStream(db, "test", {"fullDocument": mode})
    insert(db, "test", {"_id": 1, "x": 1})
    update(db, "test", {"_id": 1, "x": 1}, {"$inc": {"x": 2}})
    eq(s.take(1)[0]["operationType"], "insert", "first event")
    if mode == "required":
        expect_error(47, lambda: s.take(1), "required post-image of an update made before enabling")
        s = None
    else:
        ev = s.take(1)[0]
        eq(ev["fullDocument"], None, "whenAvailable post-image before enabling")
    db.command("collMod", "test", changeStreamPreAndPostImages={"enabled": True})
    if s is None:
        s = RawStream(db, "test", {"fullDocument": mode})
    update(db, "test", {"_id": 1, "x": 3}, {"$inc": {"x": 2}})
    update(db, "test", {"_id": 1}, {"$set": {"x": 7}})  # later: not in the earlier event's image
    update(db, "test", {"_id": 1, "x": 7}, {"_id": 1, "z": 1})
    upd, _, rep = s.take(3)
    eq(plain(upd["fullDocument"]), {"_id": 1, "x": 5}, "post-image as of the event")
    eq(rep["operationType"], "replace", "replace event")
    eq(plain(rep["fullDocument"]), {"_id": 1, "z": 1}, "replace post-image")
    print("ok")


# ------------------------------------------------ show_expanded_events.js, ddl_*.js

def coll_uuid(db, name):
    infos = list(db.list_collections(filter={"name": name}))
    check(infos, "no collection %s" % name)
    return infos[0]["info"]["uuid"]


def same_uuid(got, want, what):
    g = got.as_uuid(4) if isinstance(got, Binary) else got
    w = want.as_uuid(4) if isinstance(want, Binary) else want
    eq(g, w, what)


def case_expanded_crud(uri, dbname):
    """jstests/change_streams/show_expanded_events.js: with
    showExpandedEvents every event but dropDatabase carries the
    collection's UUID; rename describes its target."""
    db = database(uri, dbname)
    db.command("create", "enriched_events")
    u = coll_uuid(db, "enriched_events")
    s = RawStream(db, 1, {"showExpandedEvents": True})
    insert(db, "enriched_events", {"_id": 0, "a": 1})
    update(db, "enriched_events", {"_id": 0}, {"_id": 0, "a": 2})
    update(db, "enriched_events", {"_id": 0}, {"$inc": {"a": 1}})
    db.command("delete", "enriched_events", deletes=[{"q": {"_id": 0}, "limit": 1}])
    db.client.admin.command("renameCollection", dbname + ".enriched_events",
                            to=dbname + ".enriched_events_renamed")
    evs = s.take(5)
    eq([e["operationType"] for e in evs], ["insert", "replace", "update", "delete", "rename"], "events")
    for e in evs:
        same_uuid(e.get("collectionUUID"), u, "%s collectionUUID" % e["operationType"])
        eq(list(e.keys())[:5], ["_id", "operationType", "clusterTime", "collectionUUID", "wallTime"],
           "%s head fields" % e["operationType"])
    eq(plain(ud(evs[2])), {"updatedFields": {"a": 3}, "removedFields": [], "truncatedArrays": [],
                           "disambiguatedPaths": {}}, "update description")
    eq(plain(evs[4]["operationDescription"]), {"to": {"db": dbname, "coll": "enriched_events_renamed"}},
       "rename operationDescription")
    db.client.drop_database(dbname)
    rest = s.take(2)
    eq([e["operationType"] for e in rest], ["drop", "dropDatabase"], "drops")
    check("collectionUUID" not in rest[1], "dropDatabase with a collectionUUID")
    print("ok")


def case_expanded_create(uri, dbname):
    """jstests/change_streams/ddl_create_event.js: create, explicit and
    implicit, with idIndex and the command's options; nsType collection."""
    db = database(uri, dbname)
    s = RawStream(db, 1, {"showExpandedEvents": True})
    plain_stream = RawStream(db, 1)
    db.command("create", "ddl", validator={"a": 1}, validationLevel="off", validationAction="warn")
    insert(db, "implicit", {"_id": 0})
    ev, ev2, ins = s.take(3)
    eq(ev["operationType"], "create", "create event")
    same_uuid(ev["collectionUUID"], coll_uuid(db, "ddl"), "create collectionUUID")
    eq(plain(ev["operationDescription"]), {"idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                                           "validator": {"a": 1}, "validationLevel": "off",
                                           "validationAction": "warn"}, "operationDescription")
    eq(ev["nsType"], "collection", "nsType")
    eq((ev2["operationType"], ev2["ns"]["coll"]), ("create", "implicit"), "implicit create")
    eq(ins["operationType"], "insert", "insert after implicit create")
    eq(plain_stream.take(1)[0]["operationType"], "insert", "create without showExpandedEvents")
    print("ok")


def case_expanded_indexes(uri, dbname):
    """jstests/change_streams/ddl_create_drop_index_events.js:
    createIndexes and dropIndexes describe the index spec; dropIndexes
    '*' is one event per index."""
    db = database(uri, dbname)
    coll = "ddl_create_drop_index_events"
    db.command("create", coll)
    s = RawStream(db, coll, {"showExpandedEvents": True})
    db[coll].create_index([("a", 1)], hidden=True, expireAfterSeconds=86400)
    db.command("dropIndexes", coll, index=["a_1"])
    db.command("createIndexes", coll, indexes=[{"key": {"b": 1, "c": -1}, "name": "b_1_c_-1", "sparse": True},
                                               {"key": {"d": "hashed"}, "name": "d_hashed", "sparse": True}])
    db.command("dropIndexes", coll, index="*")
    evs = s.take(6)
    spec = {"v": 2, "key": {"a": 1}, "name": "a_1", "hidden": True, "expireAfterSeconds": 86400}
    eq([e["operationType"] for e in evs], ["createIndexes", "dropIndexes", "createIndexes",
                                          "createIndexes", "dropIndexes", "dropIndexes"], "events")
    eq(plain(evs[0]["operationDescription"]), {"indexes": [spec]}, "createIndexes description")
    eq(plain(evs[1]["operationDescription"]), {"indexes": [spec]}, "dropIndexes description")
    names = sorted(e["operationDescription"]["indexes"][0]["name"] for e in evs[4:])
    eq(names, ["b_1_c_-1", "d_hashed"], "dropIndexes '*' events")
    print("ok")


def case_expanded_modify(uri, dbname):
    """jstests/change_streams/ddl_coll_mod_event.js testCollModValidator:
    modify carries the collMod options and the options before it."""
    db = database(uri, dbname)
    coll = "ddl_coll_mod_event"
    db.command("create", coll)
    u = coll_uuid(db, coll)
    s = RawStream(db, coll, {"showExpandedEvents": True})
    validator = {"$jsonSchema": {"bsonType": "object"}}
    db.command("collMod", coll, validator=validator)
    db.command("collMod", coll, validationLevel="off")
    first, second = s.take(2)
    eq(first["operationType"], "modify", "modify event")
    eq(plain(first["operationDescription"]), {"validator": validator}, "operationDescription")
    before = first["stateBeforeChange"]["collectionOptions"]
    same_uuid(before["uuid"], u, "stateBeforeChange uuid")
    eq(plain(second["operationDescription"]), {"validationLevel": "off"}, "second description")
    eq(plain(second["stateBeforeChange"]["collectionOptions"]).get("validator"), validator,
       "second stateBeforeChange validator")
    print("ok")


def main():
    fn = globals().get("case_" + sys.argv[1].replace("-", "_"))
    if fn is None:
        fail("unknown case %r" % sys.argv[1])
    fn(*sys.argv[2:])


if __name__ == "__main__":
    main()
