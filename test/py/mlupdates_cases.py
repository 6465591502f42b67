"""Positional updates and their change events in mongod-lite, held to
MongoDB 7.0's own tests and source.

Usage: mlupdates_cases.py CASE URI DB

Each case replays cases of one MongoDB jstest (or the behaviour of one
MongoDB source file, named in its docstring); it prints "ok" or exits
non-zero naming the first difference.
"""
import sys

from bson.son import SON
from pymongo import UpdateMany, UpdateOne
from pymongo.errors import OperationFailure

from mlite_check import check, client_for, eq, fail
from mlstream_cases import RawStream, expect_error


def database(uri, dbname):
    return client_for(uri, document_class=SON)[dbname]


def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def update(db, q, u, coll="c", **kw):
    reply = db.command("update", coll, updates=[dict(q=q, u=u, **kw)])
    errors = reply.get("writeErrors")
    if errors:
        raise OperationFailure(errors[0]["errmsg"], errors[0]["code"])
    return reply


def fresh(db, *docs, coll="c"):
    db.drop_collection(coll)
    db.command("create", coll)
    if docs:
        db.command("insert", coll, documents=list(docs))


def one(db, _id=0, coll="c"):
    return plain(db[coll].find_one({"_id": _id}))


def fails(db, code, q, u, what, text=None, **kw):
    exc = expect_error(code, lambda: update(db, q, u, **kw), what)
    if text is not None:
        check(text in str(exc), "%s: message %r lacks %r" % (what, str(exc), text))
    return exc


# ------------------------------------------------ update_arrayFilters.js

def case_af_parse(uri, dbname):
    """jstests/core/write/update/update_arrayFilters.js 'Tests for update':
    a non-array arrayFilters and a non-object filter are 14; two names in
    one filter, one name twice, an unused one and a filter without a name
    are 9 FailedToParse; $expr in a filter 224; a good one succeeds. And
    update_driver.cpp: arrayFilters with a pipeline update is 9."""
    db = database(uri, dbname)
    fresh(db)
    u = {"$set": {"a.$[i]": 5}}
    fails(db, 14, {"_id": 0}, u, "non-array arrayFilters", arrayFilters={"i": 0})
    fails(db, 14, {"_id": 0}, u, "non-object filter", arrayFilters=["bad"])
    fails(db, 9, {"_id": 0}, u, "two names", "Expected a single top-level field name",
          arrayFilters=[{"i": 0, "j": 0}])
    fails(db, 9, {"_id": 0}, {"$set": {"a.$[i]": 5, "a.$[j]": 6}}, "same name twice",
          "Found multiple array filters with the same top-level field name",
          arrayFilters=[{"i": 0}, {"j": 0}, {"i": 1}])
    fails(db, 9, {"_id": 0}, {"$set": {"a.$[i]": 5.0}}, "unused filter",
          "The array filter for identifier 'j' was not used in the update { $set: { a.$[i]: 5.0 } }",
          arrayFilters=[{"i": 0}, {"j": 0}])
    fails(db, 9, {"_id": 0}, u, "no top-level name",
          "Cannot use an expression without a top-level field name in arrayFilters",
          arrayFilters=[{}])
    fails(db, 224, {"_id": 0}, u, "$expr", arrayFilters=[{"$expr": {"$eq": ["$foo", "$bar"]}}])
    update(db, {"_id": 0}, {"$set": {"a.$[i]": 5, "a.$[j]": 6}}, arrayFilters=[{"i": 0}, {"j": 0}])
    update(db, {"_id": 0}, u, arrayFilters=[{"$or": [{"i": 0}, {"$and": [{}]}]}])
    fails(db, 9, {"_id": 0}, [{"$set": {"a": 1}}], "pipeline with arrayFilters",
          "arrayFilters may not be specified for pipeline-style updates", arrayFilters=[{"i": 0}])
    print("ok")


def case_af_find_and_modify(uri, dbname):
    """update_arrayFilters.js 'Tests for findAndModify': the same parse
    errors, arrayFilters with remove=true refused, a good one answers
    null on an empty collection; 'Tests for the bulk API' and 'CRUD API':
    bulkWrite updateOne/updateMany with arrayFilters."""
    db = database(uri, dbname)
    fresh(db)

    def fam(**kw):
        return db.command("findAndModify", "c", query={"_id": 0}, **kw)

    u = {"$set": {"a.$[i]": 5}}
    expect_error(14, lambda: fam(update=u, arrayFilters={"i": 0}), "non-array")
    expect_error(14, lambda: fam(update=u, arrayFilters=["bad"]), "non-object")
    expect_error(9, lambda: fam(remove=True, arrayFilters=[{"i": 0}]), "remove=true")
    expect_error(9, lambda: fam(update=u, arrayFilters=[{"i": 0, "j": 0}]), "two names")
    expect_error(9, lambda: fam(update={"$set": {"a.$[i]": 5, "a.$[j]": 6}},
                                arrayFilters=[{"i": 0}, {"j": 0}, {"i": 1}]), "same name twice")
    expect_error(9, lambda: fam(update=u, arrayFilters=[{"i": 0}, {"j": 0}]), "unused")
    eq(fam(update={"$set": {"a.$[i]": 5, "a.$[j]": 6}},
           arrayFilters=[{"i": 0}, {"j": 0}]).get("value"), None, "good findAndModify")
    fresh(db, {"_id": 0, "a": [0, 1, 0]})
    reply = fam(update=u, arrayFilters=[{"i": 0}], new=True)
    eq(plain(reply["value"]), {"_id": 0, "a": [5, 1, 5]}, "findAndModify new document")
    res = db.c.bulk_write([UpdateOne({"_id": 0}, {"$set": {"a.$[i]": 7}}, array_filters=[{"i": 1}]),
                           UpdateMany({}, {"$inc": {"a.$[]": 1}})])
    eq(res.modified_count, 2, "bulkWrite modified")
    eq(one(db), {"_id": 0, "a": [6, 8, 6]}, "after bulkWrite")
    print("ok")


# (initial array, update, arrayFilters or None, expected array), in the
# order of update_arrayFilters.js 'Tests for individual update modifiers'
MODIFIERS = [
    ([0, 1, 0, 1], {"$set": {"a.$[i]": 2}}, [{"i": 0}], [2, 1, 2, 1]),
    ([2, 1, 2, 1], {"$set": {"a.$[]": 3}}, None, [3, 3, 3, 3]),
    ([0, 1, 0, 1], {"$unset": {"a.$[i]": True}}, [{"i": 0}], [None, 1, None, 1]),
    ([None, 1, None, 1], {"$unset": {"a.$[]": True}}, None, [None, None, None, None]),
    ([0, 1, 0, 1], {"$inc": {"a.$[i]": 1}}, [{"i": 1}], [0, 2, 0, 2]),
    ([0, 1, 0, 1], {"$inc": {"a.$[]": 1}}, None, [1, 2, 1, 2]),
    ([0, 2, 0, 2], {"$mul": {"a.$[i]": 3}}, [{"i": 2}], [0, 6, 0, 6]),
    ([1, 2, 1, 2], {"$mul": {"a.$[]": 3}}, None, [3, 6, 3, 6]),
    ([{"b": 0, "c": 1}, {"b": 0, "c": -1}, {"b": 1, "c": 1}], {"$min": {"a.$[i].c": 0}},
     [{"i.b": 0}], [{"b": 0, "c": 0}, {"b": 0, "c": -1}, {"b": 1, "c": 1}]),
    ([{"b": 0, "c": 0}, {"b": 0, "c": -1}, {"b": 1, "c": 1}], {"$min": {"a.$[].c": 0}}, None,
     [{"b": 0, "c": 0}, {"b": 0, "c": -1}, {"b": 1, "c": 0}]),
    ([{"b": 0, "c": 1}, {"b": 0, "c": -1}, {"b": 1, "c": -1}], {"$max": {"a.$[i].c": 0}},
     [{"i.b": 0}], [{"b": 0, "c": 1}, {"b": 0, "c": 0}, {"b": 1, "c": -1}]),
    ([[0], [1]], {"$addToSet": {"a.$[i]": 2}}, [{"i": 0}], [[0, 2], [1]]),
    ([[0], [1]], {"$addToSet": {"a.$[]": 2}}, None, [[0, 2], [1, 2]]),
    ([[0, 1], [1, 2]], {"$pop": {"a.$[i]": 1}}, [{"i": 0}], [[0], [1, 2]]),
    ([[0]], {"$pop": {"a.$[]": 1}}, None, [[]]),
    ([[0, 1, 2, 3], [1, 2, 3, 4]], {"$pullAll": {"a.$[i]": [0, 2]}}, [{"i": 0}],
     [[1, 3], [1, 2, 3, 4]]),
    ([[0, 1, 2, 3], [1, 2, 3, 4]], {"$pullAll": {"a.$[]": [0, 2]}}, None, [[1, 3], [1, 3, 4]]),
    ([[0, 1], [1, 2]], {"$pull": {"a.$[i]": 1}}, [{"i": 2}], [[0, 1], [2]]),
    ([[0, 1], [1, 2]], {"$pull": {"a.$[]": 1}}, None, [[0], [2]]),
    ([[0, 1], [2, 3]], {"$push": {"a.$[i]": 4}}, [{"i": 0}], [[0, 1, 4], [2, 3]]),
    ([[0, 1], [2, 3]], {"$push": {"a.$[]": 4}}, None, [[0, 1, 4], [2, 3, 4]]),
]


def case_af_modifiers(uri, dbname):
    """update_arrayFilters.js 'Tests for individual update modifiers':
    each modifier on $[<id>] and on $[]."""
    db = database(uri, dbname)
    for before, u, filters, after in MODIFIERS:
        fresh(db, {"_id": 0, "a": before})
        kw = {"arrayFilters": filters} if filters else {}
        update(db, {"_id": 0}, u, **kw)
        eq(one(db), {"_id": 0, "a": after}, "%r" % (u,))
    fresh(db, {"_id": 0, "a": [0, 1]})
    update(db, {"_id": 0}, {"$currentDate": {"a.$[i]": True}}, arrayFilters=[{"i": 0}])
    doc = one(db)
    check(type(doc["a"][0]).__name__ == "datetime" and doc["a"][1] == 1, "$currentDate %r" % doc)
    print("ok")


def case_af_rename_upsert(uri, dbname):
    """update_arrayFilters.js '$rename' (a dynamic source or destination
    is 2; an unused filter with $rename 9) and '$setOnInsert' (an upsert
    applies $[<id>] and $[] to the array the query seeds)."""
    db = database(uri, dbname)
    fresh(db, {"_id": 0, "a": [1, 2, 3, 4]})
    fails(db, 2, {"_id": 0}, {"$rename": {"a.$[i]": "b"}}, "dynamic source",
          "The source field for $rename may not be dynamic: a.$[i]", arrayFilters=[{"i": 0}])
    fails(db, 9, {"id": 0}, {"$rename": {"a": "b"}}, "unused with $rename",
          "The array filter for identifier 'i' was not used in the update { $rename: { a: \"b\" } }",
          arrayFilters=[{"i": 0}])
    fresh(db, {"_id": 0, "a": [0], "b": [1]})
    fails(db, 2, {"_id": 0}, {"$rename": {"a.$[]": "b"}}, "dynamic source $[]",
          "The source field for $rename may not be dynamic: a.$[]")
    fails(db, 2, {"_id": 0}, {"$rename": {"a": "b.$[]"}}, "dynamic destination",
          "The destination field for $rename may not be dynamic: b.$[]")
    update(db, {"_id": 0}, {"$rename": {"a": "b"}})
    eq(one(db), {"_id": 0, "b": [0]}, "$rename")
    fresh(db)
    update(db, {"_id": 0, "a": [0]}, {"$setOnInsert": {"a.$[i]": 1}}, arrayFilters=[{"i": 0}],
           upsert=True)
    eq(one(db), {"_id": 0, "a": [1]}, "$setOnInsert $[i] upsert")
    fresh(db)
    update(db, {"_id": 0, "a": [0]}, {"$setOnInsert": {"a.$[]": 1}}, upsert=True)
    eq(one(db), {"_id": 0, "a": [1]}, "$setOnInsert $[] upsert")
    print("ok")


def case_af_multi_examples(uri, dbname):
    """update_arrayFilters.js 'Multi update tests' and 'Examples': nested
    $[]/$[<id>], filters on sub-documents, $or in a filter."""
    db = database(uri, dbname)
    fresh(db, {"_id": 0, "a": [0, 1, 0, 1]}, {"_id": 1, "a": [0, 2, 0, 2]})
    update(db, {}, {"$set": {"a.$[i]": 3}}, multi=True, arrayFilters=[{"i": 0}])
    eq(one(db, 0), {"_id": 0, "a": [3, 1, 3, 1]}, "multi 0")
    eq(one(db, 1), {"_id": 1, "a": [3, 2, 3, 2]}, "multi 1")
    examples = [
        ({"a": [{"b": 0}, {"b": 1}]}, {"$set": {"a.$[].b": 2}}, None, {"a": [{"b": 2}, {"b": 2}]}),
        ({"a": [{"b": 0}, {"b": 1}]}, {"$set": {"a.$[i].b": 2}}, [{"i.b": 0}],
         {"a": [{"b": 2}, {"b": 1}]}),
        ({"a": [[0, 1], [0, 1]]}, {"$set": {"a.$[].$[j]": 2}}, [{"j": 0}], {"a": [[2, 1], [2, 1]]}),
        ({"a": [{"b": 0, "c": [{"d": 0}, {"d": 1}]}, {"b": 1, "c": [{"d": 0}, {"d": 1}]}]},
         {"$set": {"a.$[i].c.$[j].d": 2}}, [{"i.b": 0}, {"j.d": 0}],
         {"a": [{"b": 0, "c": [{"d": 2}, {"d": 1}]}, {"b": 1, "c": [{"d": 0}, {"d": 1}]}]}),
        ({"a": [0, 1, 3]}, {"$set": {"a.$[i]": 2}}, [{"$or": [{"i": 0}, {"i": 3}]}],
         {"a": [2, 1, 2]}),
    ]
    for before, u, filters, after in examples:
        fresh(db, dict(_id=0, **before))
        kw = {"arrayFilters": filters} if filters else {}
        update(db, {"_id": 0}, u, **kw)
        eq(one(db), dict(_id=0, **after), "%r" % (u,))
    print("ok")


def case_af_errors(uri, dbname):
    """update_arrayFilters.js 'Error cases' and 'Nested array update
    conflict detection'."""
    db = database(uri, dbname)
    fresh(db)
    fails(db, 2, {"_id": 0}, {"$set": {"a.$[i]": 0}}, "no filter",
          "No array filter found for identifier 'i' in path 'a.$[i]'")
    for other in ["a.$", "a.0", "a.b"]:
        fails(db, 40, {"_id": 0}, {"$set": SON([("a.$[i]", 0), (other, 0)])}, other,
              "Updating the path '%s' would create a conflict at 'a'" % other,
              arrayFilters=[{"i": 0}])
    fresh(db, {"_id": 0, "a": [{"b": 0}]})
    fails(db, 28, {"_id": 0}, {"$set": {"a.b": 1}}, "implicit traversal", "Cannot create field 'b'")
    fails(db, 2, {"_id": 0}, {"$set": {"a.$[$i]": 1}}, "$-prefixed name",
          "unknown top level operator: $i", arrayFilters=[{"$i": 0}])
    exc = fails(db, 2, {"_id": 0}, {"$set": {"a.$[I]": 1}}, "capital name", arrayFilters=[{"I": 0}])
    check(str(exc).startswith("Error parsing array filter") and str(exc).endswith(
        "The top-level field name must be an alphanumeric string beginning with a lowercase "
        "letter, found 'I'"), "capital name message %r" % str(exc))
    fresh(db, {"_id": 0, "a": [{"x": 0, "b": [{"y": 0, "c": 0, "d": 0}]}]})
    update(db, {"_id": 0}, {"$set": {"a.$[i].b.$[k].c": 1, "a.$[j].b.$[k].d": 1}},
           arrayFilters=[{"i.x": 0}, {"j.x": 0}, {"k.y": 0}])
    eq(one(db), {"_id": 0, "a": [{"x": 0, "b": [{"y": 0, "c": 1, "d": 1}]}]}, "no conflict")
    fresh(db, {"_id": 0, "a": [{"x": 0, "b": [{"y": 0, "c": 0}]},
                               {"x": 1, "b": [{"y": 0, "c": 0}, {"y": 1, "c": 0}]}]})
    fails(db, 40, {"_id": 0}, {"$set": {"a.$[i].b.$[k].c": 1, "a.$[j].b.$[m].c": 2}},
          "k and m intersect", "Update created a conflict at 'a.0.b.0.c'",
          arrayFilters=[{"i.x": 0}, {"j.x": 0}, {"k.y": 0}, {"m.y": 0}])
    update(db, {"_id": 0}, {"$set": {"a.$[i].b.$[k].c": 1, "a.$[j].b.$[m].c": 2}},
           arrayFilters=[{"i.x": 1}, {"j.x": 1}, {"k.y": 0}, {"m.y": 1}])
    eq(one(db), {"_id": 0, "a": [{"x": 0, "b": [{"y": 0, "c": 0}]},
                                 {"x": 1, "b": [{"y": 0, "c": 1}, {"y": 1, "c": 2}]}]},
       "disjoint")
    fresh(db, {"_id": 0, "a": 1})
    fails(db, 2, {"_id": 0}, {"$set": {"a.$[]": 2}}, "non-array",
          "Cannot apply array updates to non-array element a: 1")
    fresh(db, {"_id": 0})
    fails(db, 2, {"_id": 0}, {"$set": {"a.$[]": 2}}, "missing array",
          "The path 'a' must exist in the document in order to apply array updates.")
    print("ok")


# ------------------------------------------------ positional $

def case_positional(uri, dbname):
    """jstests/core/update_arraymatch2.js ($ is the element the query
    matched, in another array too), find_and_modify_server6588.js
    (update and findAndModify), update_arraymatch8.js ($ at the end and
    before a field), updatel.js (no match: 2, nothing written or
    upserted; two $ refused)."""
    db = database(uri, dbname)
    fresh(db, {"_id": 0}, {"_id": 1, "x": [1, 2, 3]}, {"_id": 2, "x": 99})
    update(db, {"x": 2}, {"$inc": {"x.$": 1}}, multi=True)
    eq(one(db, 1)["x"], [1, 3, 3], "update_arraymatch2 A1")
    fresh(db, {"_id": 3, "x": {"y": [8, 7, 6]}}, {"_id": 4, "x": [90, 91, 92], "y": ["a", "b", "c"]})
    update(db, {"x.y": 7}, {"$inc": {"x.y.$": 1}}, multi=True)
    eq(one(db, 3)["x"]["y"], [8, 8, 6], "update_arraymatch2 B1")
    update(db, {"x": 92}, {"$set": {"y.$": "z"}}, multi=True)
    eq(one(db, 4)["y"], ["a", "b", "z"], "update_arraymatch2 B2")
    initial = {"_id": 1, "a": [{"b": 1}], "z": 1}
    correct = {"_id": 1, "a": [{"b": 2}], "z": 1}
    for q in [{"_id": 1, "a.b": 1}, {"z": 1, "a.b": 1}]:
        fresh(db, initial)
        db.command("findAndModify", "c", query=q, update={"$set": {"a.$.b": 2}})
        eq(one(db, 1), correct, "find_and_modify_server6588 %r" % q)
    fresh(db, {"_id": 0, "array": [{"name": "old"}]})
    update(db, {"array.name": "old"}, {"$set": {"array.$": {"name": "new"}}})
    eq(one(db), {"_id": 0, "array": [{"name": "new"}]}, "update_arraymatch8 array.$")
    update(db, {"array": {"$elemMatch": {"name": "new"}}}, {"$set": {"array.$.name": "newer"}})
    eq(one(db), {"_id": 0, "array": [{"name": "newer"}]}, "$elemMatch")
    fresh(db)
    msg = "The positional operator did not find the match needed from the query."
    fails(db, 2, {}, {"$set": {"a.$.b": 1}}, "updatel upsert", msg, upsert=True)
    eq(db.c.count_documents({}), 0, "updatel: no upsert")
    fresh(db, {"_id": 0})
    fails(db, 2, {}, {"$set": {"a.$.b": 1}}, "updatel no array match", msg)
    fails(db, 2, {"_id": 0}, {"$set": {"a.$.b": 1}}, "updatel by _id", msg)
    fresh(db, {"_id": 0, "a": [{"b": {"c": 1}}]})
    fails(db, 2, {"a.b.c": 1}, {"$set": {"a.$.b.$.c": 2}}, "updatel two $",
          "Too many positional (i.e. '$') elements found in path 'a.$.b.$.c'")
    fails(db, 2, {"a.b.c": 1}, {"$set": {"$.x": 2}}, "$ first",
          "Cannot have positional (i.e. '$') element in the first position in path '$.x'")
    eq(one(db), {"_id": 0, "a": [{"b": {"c": 1}}]}, "updatel: nothing written")
    print("ok")


# ------------------------------------------------ the events

def events(db, doc, steps):
    """Inserts doc, runs steps [(q, u, kw)], returns their events."""
    fresh(db, doc)
    s = RawStream(db, "c", {})
    for q, u, kw in steps:
        update(db, q, u, **kw)
    return s.take(len(steps))


def fields(ev):
    eq(ev["operationType"], "update", "operationType")
    return plain(ev["updateDescription"]["updatedFields"])


def case_array_events(uri, dbname):
    """update_array_node.cpp apply(): when a $[...] level reaches at most
    one element, the modifier below logs itself ("a.1": 2, "a.0.b": 2);
    when it reaches several, the array logs for them: the changed element
    when one changed, the whole array when more did. A $ path logs as
    the concrete path it resolves to (update_object_node.cpp)."""
    db = database(uri, dbname)
    got = events(db, {"_id": 0, "a": [0, 1, 3, 5]}, [
        ({"_id": 0}, {"$set": {"a.$[i]": 2}}, {"arrayFilters": [{"i": 0}]}),
        ({"_id": 0}, {"$set": {"a.$[i]": 4, "a.$[j]": 6}}, {"arrayFilters": [{"i": 1}, {"j": 3}]}),
        ({"_id": 0}, {"$set": {"a.$[i]": 9}}, {"arrayFilters": [{"i": {"$gte": 5}}]}),
        ({"_id": 0}, {"$max": {"a.$[]": 3}}, {}),
    ])
    eq(fields(got[0]), {"a.0": 2}, "one element matched")
    eq(fields(got[1]), {"a": [2, 4, 6, 5]}, "two filters, one element each: the array logs")
    eq(fields(got[2]), {"a": [2, 4, 9, 9]}, "two matched, two changed")
    eq(fields(got[3]), {"a.0": 3}, "four matched, one changed")
    got = events(db, {"_id": 0, "a": [{"b": 0, "c": [1, 2]}, {"b": 1, "c": [1]}]}, [
        ({"_id": 0}, {"$set": {"a.$[i].b": 5}}, {"arrayFilters": [{"i.b": 0}]}),
        ({"_id": 0}, {"$set": {"a.$[i].c.$[]": 0}}, {"arrayFilters": [{"i.b": 1}]}),
        ({"_id": 0}, {"$set": {"a.$[].n": 1}}, {}),
        ({"a.b": 1}, {"$set": {"a.$.b": 7}}, {}),
    ])
    eq(fields(got[0]), {"a.0.b": 5}, "$[i].b, one element")
    eq(fields(got[1]), {"a.1.c.0": 0}, "nested, one element each")
    eq(fields(got[2]), {"a": [{"b": 5, "c": [1, 2], "n": 1}, {"b": 1, "c": [0], "n": 1}]},
       "$[].n on two elements")
    eq(fields(got[3]), {"a.1.b": 7}, "positional $")
    print("ok")


def case_pad_events(uri, dbname):
    """v2_log_builder.cpp: a $set past an array's end pads it with nulls
    and logs only the created element ({"arr.1": x}, an array diff of
    'u1'); {$set: {"a.0.c": 1}} on {a: []} creates the element as a
    document (its comment's own example) and logs {"a.0": {c: 1}}."""
    db = database(uri, dbname)
    got = events(db, {"_id": 0, "arr": [], "a": [], "b": [1]}, [
        ({"_id": 0}, {"$set": {"arr.1": "x"}}, {}),
        ({"_id": 0}, {"$set": {"a.0.c": 1}}, {}),
        ({"_id": 0}, {"$set": {"b.3.c.d": 1}}, {}),
    ])
    eq(fields(got[0]), {"arr.1": "x"}, "$set arr.1 on []")
    eq(fields(got[1]), {"a.0": {"c": 1}}, "$set a.0.c on []")
    eq(fields(got[2]), {"b.3": {"c": {"d": 1}}}, "$set b.3.c.d on [1]")
    eq(one(db), {"_id": 0, "arr": [None, "x"], "a": [{"c": 1}], "b": [1, None, None, {"c": {"d": 1}}]},
       "document")
    print("ok")


def case_index_modify(uri, dbname):
    """jstests/change_streams/ddl_coll_mod_event.js testCollModIndex:
    toggling an index's hidden (by name, and by keyPattern) and changing
    its expireAfterSeconds give modify events whose stateBeforeChange
    holds indexOptions, the changed options' values before."""
    db = database(uri, dbname)
    coll = "ddl_coll_mod_event"
    fresh(db, {"_id": 0, "a": 1, "b": 1, "c": 1}, coll=coll)
    db[coll].create_index([("a", 1)])
    db[coll].create_index([("c", 1)], expireAfterSeconds=100000)
    s = RawStream(db, coll, {"showExpandedEvents": True})
    db.command("collMod", coll, index={"name": "a_1", "hidden": True})
    db.command("collMod", coll, index={"keyPattern": {"a": 1}, "hidden": False})
    db.command("collMod", coll, index={"name": "c_1", "expireAfterSeconds": 200})
    got = s.take(3)
    want = [({"index": {"name": "a_1", "hidden": True}}, {"hidden": False}),
            ({"index": {"keyPattern": {"a": 1}, "hidden": False}}, {"hidden": True}),
            ({"index": {"name": "c_1", "expireAfterSeconds": 200}}, {"expireAfterSeconds": 100000})]
    for ev, (desc, before) in zip(got, want):
        eq(ev["operationType"], "modify", "operationType")
        eq(plain(ev["operationDescription"]), desc, "operationDescription")
        state = ev["stateBeforeChange"]
        eq(list(state.keys()), ["collectionOptions", "indexOptions"], "stateBeforeChange fields")
        eq(plain(state["indexOptions"]), before, "indexOptions")
    print("ok")


# ------------------------------------------------ replayed

def positional_writes(c):
    """The exact_cases.py scenario of this file's updates: positional
    paths, an array set past its end with a value only a pipeline writes
    exactly (a dotted name inside), and a nested one created as a
    document."""
    c.insert_one(SON([("_id", 1), ("arr", [1]), ("nums", [5, 1, 7]),
                      ("docs", [{"k": 1}, {"k": 2}, {"k": 1}])]))

    def writes():
        k = {"_id": 1}
        c.update_one(k, {"$set": {"arr.3": {"x.y": 1}}})
        c.update_one(k, {"$set": {"arr.5.c": {"x.y": 2}}})
        c.update_one({"_id": 1, "nums": {"$gt": 6}}, {"$inc": {"nums.$": 1}})
        c.update_one(k, {"$mul": {"nums.$[]": 2}})
        c.update_one(k, {"$set": {"docs.$[d].k": {"x.y": 3}}}, array_filters=[{"d.k": 1}])
        c.update_one(k, {"$set": {"docs.$[d].n": 0}}, array_filters=[{"d.k": 2}])
    return writes


def stage_positional(src_uri, tgt_uri, dbname, shape):
    """Stages positional_writes' events on TGT as cdc-capture would
    (exact_cases.py stage)."""
    import exact_cases
    exact_cases.SCENARIOS["positional"] = positional_writes
    exact_cases.stage("positional", src_uri, tgt_uri, dbname, shape)


def main():
    if sys.argv[1] == "stage-positional":
        stage_positional(*sys.argv[2:6])
        return
    fn = globals().get("case_" + sys.argv[1].replace("-", "_"))
    if fn is None:
        fail("unknown case %r" % sys.argv[1])
    fn(*sys.argv[2:])


if __name__ == "__main__":
    main()
