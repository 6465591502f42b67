"""Core checks for mongod-lite part 1: wire, commands, storage, queries.

Usage: mlcore_cases.py CASE URI DB [ARGS...]

Each case drives the server through pymongo (raw commands where the exact
reply matters, raw sockets for malformed frames), asserts MongoDB's
documented behaviour, prints "ok" and exits 0, or exits non-zero with a
message on the first difference.
"""
import datetime
import re
import socket
import struct
import sys
import threading
import time
import uuid

import bson
import bson.json_util
import pymongo
from bson import (SON, Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey,
                  ObjectId, Regex, Timestamp)
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from mlite_check import check, client_for, eq, fail


def command_error(db, *args, **kw):
    """Runs a command that must fail; returns the OperationFailure."""
    try:
        db.command(*args, **kw)
    except OperationFailure as e:
        check(e.code not in (None, 0), "error without a code: %r" % e.details)
        check(isinstance(e.details.get("code"), int), "code not int32: %r" % e.details)
        check(e.details.get("ok") == 0.0, "ok not 0.0: %r" % e.details)
        check("codeName" in e.details, "no codeName: %r" % e.details)
        return e
    fail("command %r did not fail" % (args,))


def host_port(uri):
    m = re.match(r"mongodb://([^/?]+)", uri)
    host, port = m.group(1).rsplit(":", 1)
    return host, int(port)


# ---- cases ----

def case_connect(uri, db_name, plain_uri):
    """Both URI forms work; hello is a typed replica-set primary."""
    for u in (uri, plain_uri):
        c = client_for(u)
        hello = c.admin.command("hello")
        check(hello["ismaster"] is True and hello["isWritablePrimary"] is True, "not primary: %r" % hello)
        for f in ("maxWireVersion", "minWireVersion", "logicalSessionTimeoutMinutes",
                  "maxBsonObjectSize", "maxMessageSizeBytes", "maxWriteBatchSize", "connectionId"):
            check(type(hello[f]) is int and not isinstance(hello[f], Int64), "%s not int32: %r" % (f, hello[f]))
        check("topologyVersion" not in hello and "compression" not in hello and "msg" not in hello,
              "hello has a field drivers mistreat: %r" % hello)
        eq(hello["setName"], "rs0", "setName")
        eq(hello["hosts"], ["%s:%d" % host_port(uri)], "hosts")
        check(isinstance(hello["lastWrite"]["lastWriteDate"], datetime.datetime), "lastWriteDate not a date")
        check(isinstance(hello["operationTime"], Timestamp), "operationTime not a Timestamp")
        sig = hello["$clusterTime"]["signature"]
        check(len(sig["hash"]) == 20 and isinstance(sig["keyId"], Int64), "signature shape: %r" % sig)
        legacy = c.admin.command("isMaster")
        check(legacy["ismaster"] is True, "isMaster")
        info = c.admin.command("buildinfo")
        eq(info["version"], "7.0.0", "buildInfo.version")
        eq(info["versionArray"][:2], [7, 0], "versionArray")
        c.admin.command("ping")
        coll = c[db_name]["connect"]
        coll.insert_one({"via": u})
        check(coll.find_one({"via": u}) is not None, "round trip through %s" % u)
        c.close()
    print("ok")


def every_type_doc():
    return SON([
        ("_id", "every-type"),
        ("double", 1.5), ("string", "h\u00e9llo"), ("object", {"k": "v", "n": {"deep": [1, 2]}}),
        ("array", [1, "two", None, {"x": 3}]), ("bin", Binary(b"\x00\x01\x02", 0)),
        ("bin_uuid", Binary(uuid.uuid4().bytes, 4)), ("oid", ObjectId()), ("bool", True),
        ("date", datetime.datetime(2024, 1, 2, 3, 4, 5, 678000)), ("null", None),
        ("regex", Regex("^a.*b$", "i")), ("code", Code("function() {}")),
        ("code_scope", Code("function() { return x; }", {"x": 1})), ("int32", -7),
        ("ts", Timestamp(1700000000, 5)), ("int64", Int64(1 << 40)), ("decimal", Decimal128("1.25")),
        ("minkey", MinKey()), ("maxkey", MaxKey()), ("dbref", DBRef("c", 1)),
        ("empty_doc", {}), ("empty_arr", []), ("nan", float("nan")),
    ])


def case_types(uri, db_name):
    """Documents of every BSON type and of 16 MiB - 1 KiB round-trip byte for byte."""
    c = client_for(uri)
    raw = c[db_name].get_collection("types", codec_options=bson.CodecOptions(document_class=bson.raw_bson.RawBSONDocument))
    coll = c[db_name]["types"]
    doc = every_type_doc()
    encoded = bson.encode(doc)
    coll.insert_one(doc)
    got = raw.find_one({"_id": "every-type"})
    eq(got.raw, encoded, "every-type document bytes")
    # the largest document: 16 MiB - 1 KiB
    size = 16 * 1024 * 1024 - 1024
    big = {"_id": "big", "pad": ""}
    overhead = len(bson.encode(big))
    big["pad"] = "x" * (size - overhead)
    eq(len(bson.encode(big)), size, "big document size")
    coll.insert_one(big)
    got = raw.find_one({"_id": "big"})
    eq(len(got.raw), size, "big document size read back")
    eq(got.raw, bson.encode(big), "big document bytes")
    # a batch mixing it with others still pages under 16 MiB per batch
    coll.insert_many([{"_id": "small%d" % i} for i in range(3)])
    eq(len(list(coll.find())), 5, "documents listed with the big one")
    print("ok")


def case_bulk(uri, db_name):
    """Bulk writes report MongoDB's counts and writeErrors indexes."""
    c = client_for(uri)
    coll = c[db_name]["bulk"]
    coll.insert_one({"_id": 2})
    try:
        coll.insert_many([{"_id": 0}, {"_id": 1}, {"_id": 2}, {"_id": 3}], ordered=True)
        fail("ordered insert with a duplicate succeeded")
    except BulkWriteError as e:
        d = e.details
        eq(d["nInserted"], 2, "ordered nInserted")
        eq([w["index"] for w in d["writeErrors"]], [2], "ordered writeErrors index")
        w = d["writeErrors"][0]
        eq(w["code"], 11000, "dup code")
        eq(w["errmsg"], "E11000 duplicate key error collection: %s.bulk index: _id_ dup key: { _id: 2 }" % db_name,
           "dup errmsg")
        eq(w["keyPattern"], {"_id": 1}, "keyPattern")
        eq(w["keyValue"], {"_id": 2}, "keyValue")
    eq(coll.count_documents({}), 3, "after ordered")
    try:
        coll.insert_many([{"_id": 10}, {"_id": 0}, {"_id": 11}, {"_id": 1}, {"_id": 12}], ordered=False)
        fail("unordered insert with duplicates succeeded")
    except BulkWriteError as e:
        eq(e.details["nInserted"], 3, "unordered nInserted")
        eq([w["index"] for w in e.details["writeErrors"]], [1, 3], "unordered writeErrors indexes")
    eq(coll.count_documents({}), 6, "after unordered")
    # mixed bulk: update, upsert, delete
    r = coll.bulk_write([
        pymongo.UpdateOne({"_id": 10}, {"$set": {"a": 1}}),
        pymongo.UpdateOne({"_id": 10}, {"$set": {"a": 1}}),
        pymongo.UpdateMany({"_id": {"$gte": 11}}, {"$inc": {"n": 1}}),
        pymongo.UpdateOne({"_id": 99}, {"$set": {"up": True}}, upsert=True),
        pymongo.ReplaceOne({"_id": 98}, {"rep": 1}, upsert=True),
        pymongo.DeleteOne({"_id": 0}),
        pymongo.DeleteMany({"_id": {"$in": [1, 2]}}),
    ])
    eq(r.matched_count, 4, "matched")
    eq(r.modified_count, 3, "modified (a no-op $set does not count)")
    eq(r.upserted_ids, {3: 99, 4: 98}, "upserted ids")
    eq(r.deleted_count, 3, "deleted")
    eq(coll.find_one({"_id": 98}), {"_id": 98, "rep": 1}, "replacement upsert takes _id from the query")
    # raw reply counts are int32
    reply = c[db_name].command("update", "bulk", updates=[{"q": {"_id": 10}, "u": {"$set": {"b": 1}}}])
    check(type(reply["n"]) is int and type(reply["nModified"]) is int, "counts not int32: %r" % reply)
    print("ok")


def case_order(uri, db_name):
    """Sort and range over mixed-type _ids follow BSON comparison order."""
    c = client_for(uri)
    coll = c[db_name]["order"]
    oid = ObjectId("5f0c1a2b3c4d5e6f70819203")
    values = [MaxKey(), True, False, "b", "a", "", 3, 2.5, Int64(-1), Decimal128("2.75"), None, MinKey(),
              oid, {"a": 1}, {"a": 1, "b": 0}, Binary(b"\x01", 0), Binary(b"", 0),
              datetime.datetime(2020, 1, 1), Timestamp(5, 1), float("-inf")]
    for i, v in enumerate(values):
        coll.insert_one({"_id": v, "i": i})
    order = [d["i"] for d in coll.find().sort("_id", 1)]
    # expected: MinKey, null, numbers (-inf, -1, 2.5, 2.75, 3), strings, objects,
    # binData (shorter first), ObjectId, false, true, date, timestamp, MaxKey
    want_vals = [MinKey(), None, float("-inf"), Int64(-1), 2.5, Decimal128("2.75"), 3, "", "a", "b",
                 {"a": 1}, {"a": 1, "b": 0}, Binary(b"", 0), Binary(b"\x01", 0), oid, False, True,
                 datetime.datetime(2020, 1, 1), Timestamp(5, 1), MaxKey()]
    want = []
    for w in want_vals:
        for i, v in enumerate(values):
            if type(v) is type(w) and repr(v) == repr(w) and i not in want:
                want.append(i)
                break
    eq(order, want, "ascending _id order")
    eq([d["i"] for d in coll.find().sort("_id", -1)], list(reversed(want)), "descending _id order")
    # numbers compare by value across types; ranges stay within the type
    got = sorted(d["i"] for d in coll.find({"_id": {"$gte": 2.5, "$lt": 3}}))
    eq(got, sorted([values.index(2.5), values.index(Decimal128("2.75"))]), "numeric range across double/decimal")
    got = [d["_id"] for d in coll.find({"_id": {"$gt": ""}}).sort("_id", 1)]
    eq(got, ["a", "b"], "string range excludes other types")
    eq(coll.count_documents({"_id": {"$gt": MinKey()}}), len(values) - 1, "$gt MinKey matches all others")
    # sort on a secondary field, multi-key, with missing values as null
    o2 = c[db_name]["order2"]
    o2.insert_many([{"_id": 1, "k": 3, "j": 1}, {"_id": 2, "k": [1, 9]}, {"_id": 3}, {"_id": 4, "k": "s"},
                    {"_id": 5, "k": 3, "j": 0}])
    eq([d["_id"] for d in o2.find().sort([("k", 1), ("j", 1)])], [3, 2, 5, 1, 4], "ascending k, j")
    eq([d["_id"] for d in o2.find().sort("k", -1)], [4, 2, 1, 5, 3], "descending k (array uses its max)")
    print("ok")


def case_cursor(uri, db_name, count):
    """A big cursor pages through getMore honouring batchSize; killCursors frees it."""
    count = int(count)
    c = client_for(uri)
    db = c[db_name]
    coll = db["cursor"]
    for start in range(0, count, 10000):
        coll.insert_many([{"_id": i, "v": i % 7} for i in range(start, min(count, start + 10000))],
                         ordered=False)
    eq(coll.estimated_document_count(), count, "count")

    def open_cursors():
        return c.admin.command("serverStatus")["metrics"]["cursor"]["open"]["total"]

    base = open_cursors()
    reply = db.command("find", "cursor")
    eq(len(reply["cursor"]["firstBatch"]), 101, "default first batch")
    check(isinstance(reply["cursor"]["id"], Int64) and reply["cursor"]["id"] != 0, "cursor id Int64 != 0")
    eq(reply["cursor"]["ns"], "%s.cursor" % db_name, "ns")
    cid = reply["cursor"]["id"]
    seen = [d["_id"] for d in reply["cursor"]["firstBatch"]]
    sizes = []
    while cid:
        r = db.command("getMore", cid, collection="cursor", batchSize=7000)
        sizes.append(len(r["cursor"]["nextBatch"]))
        seen.extend(d["_id"] for d in r["cursor"]["nextBatch"])
        cid = r["cursor"]["id"]
    eq(seen, list(range(count)), "documents in _id order, each once")
    check(all(s == 7000 for s in sizes[:-1]) and 0 < sizes[-1] <= 7000, "batch sizes %r" % sizes[:5])
    eq(open_cursors(), base, "exhausted cursor freed")
    # with a filter and batchSize; getMore without batchSize fills up to 16 MiB
    reply = db.command("find", "cursor", filter={"v": 3}, batchSize=10)
    eq(len(reply["cursor"]["firstBatch"]), 10, "filtered first batch")
    cid = reply["cursor"]["id"]
    r = db.command("getMore", cid, collection="cursor")
    eq(len(r["cursor"]["nextBatch"]) + 10, len(range(3, count, 7)), "rest in one batch")
    eq(r["cursor"]["id"], 0, "exhausted")
    # killCursors frees; a getMore afterwards gets CursorNotFound (43)
    reply = db.command("find", "cursor", batchSize=5)
    cid = reply["cursor"]["id"]
    eq(open_cursors(), base + 1, "open cursor counted")
    k = db.command("killCursors", "cursor", cursors=[cid])
    eq(k["cursorsKilled"], [cid], "cursorsKilled")
    eq(open_cursors(), base, "killed cursor freed")
    e = command_error(db, "getMore", cid, collection="cursor")
    eq((e.code, e.details["codeName"]), (43, "CursorNotFound"), "getMore after killCursors")
    # limit, skip, sort on another field, projection through the driver
    got = list(coll.find({"_id": {"$lt": 50}}, {"_id": 0, "v": 1}).sort([("v", -1), ("_id", 1)]).skip(5).limit(3))
    eq(got, [{"v": 6}, {"v": 6}, {"v": 5}], "sort/skip/limit/projection")
    eq(len(list(coll.find().limit(250).batch_size(100))), 250, "limit across batches")
    print("ok")


def op_msg(doc_bytes, request_id=1, flags=0, extra=b""):
    body = struct.pack("<I", flags) + b"\x00" + doc_bytes + extra
    return struct.pack("<iiii", 16 + len(body), request_id, 0, 2013) + body


def case_malformed(uri, db_name):
    """Malformed frames close only their own connection; others keep being served."""
    host, port = host_port(uri)
    c = client_for(uri)
    coll = c[db_name]["malformed"]
    coll.insert_one({"_id": "before"})
    good = bson.encode({"ping": 1, "$db": "admin"})
    frames = [
        b"\x10\x00\x00",                                           # truncated header
        struct.pack("<iiii", 8, 1, 0, 2013),                       # length below 16
        struct.pack("<iiii", 100 * 1024 * 1024, 1, 0, 2013),       # length over 48 MB
        struct.pack("<iiii", 200, 1, 0, 2013) + b"\x00" * 20,      # length lies (peer stops)
        op_msg(b"\x20\x00\x00\x00\x02a\x00\xff\xff\xff\x7fxx\x00\x00"),  # string length lies
        op_msg(good[:-1] + b"\x01"),                               # document not terminated
        op_msg(struct.pack("<i", 3) + b"\x00"),                     # document length below 5
        op_msg(good, extra=b"\x01" + struct.pack("<i", 99) + b"docs\x00"),  # sequence length lies
        op_msg(good, extra=b"\x07"),                               # unknown section kind
        struct.pack("<iiii", 26, 1, 0, 9999) + b"\x00" * 10,       # unknown opcode
    ]
    for f in frames:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(f)
        s.shutdown(socket.SHUT_WR)  # a frame that promised more bytes ends here
        try:
            got = s.recv(100)
        except socket.timeout:
            fail("server kept a connection open after %r" % f[:24])
        eq(got, b"", "reply to a malformed frame %r" % f[:24])
        s.close()
        check(coll.find_one({"_id": "before"}) is not None, "server stopped serving after %r" % f[:24])
    # a well-formed OP_MSG with the checksum flag gets an answer; moreToCome gets none
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(op_msg(good, request_id=7, flags=1, extra=b"\x00\x00\x00\x00"))
    hdr = s.recv(16)
    length, _, response_to, opcode = struct.unpack("<iiii", hdr)
    eq((response_to, opcode), (7, 2013), "reply header to a checksummed OP_MSG")
    rest = b""
    while len(rest) < length - 16:
        rest += s.recv(length - 16 - len(rest))
    eq(bson.decode(rest[5:])["ok"], 1.0, "ping with checksum flag")
    ins = bson.encode({"insert": "malformed", "$db": db_name})
    seq = b"documents\x00" + bson.encode({"_id": "w0"})
    s.sendall(op_msg(ins, request_id=8, flags=2, extra=b"\x01" + struct.pack("<i", 4 + len(seq)) + seq))
    s.sendall(op_msg(good, request_id=9))
    hdr = s.recv(16)
    eq(struct.unpack("<iiii", hdr)[2], 9, "the moreToCome insert got no reply; the next command did")
    s.close()
    check(coll.find_one({"_id": "w0"}) is not None, "moreToCome insert applied")
    print("ok")


def case_concurrent(uri, db_name, writers, per_writer):
    """Concurrent writers lose nothing."""
    writers, per_writer = int(writers), int(per_writer)
    c = client_for(uri, maxPoolSize=writers + 2)
    coll = c[db_name]["concurrent"]
    errors = []

    def work(w):
        try:
            for start in range(0, per_writer, 100):
                coll.insert_many([{"w": w, "i": i} for i in range(start, min(per_writer, start + 100))])
                coll.update_one({"w": w, "i": start}, {"$inc": {"touched": 1}})
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(errors, [], "writer errors")
    eq(coll.count_documents({}), writers * per_writer, "documents")
    for w in range(writers):
        eq(coll.count_documents({"w": w}), per_writer, "documents of writer %d" % w)
    eq(coll.count_documents({"touched": 1}), writers * ((per_writer + 99) // 100), "updates")
    print("ok")


def case_errors(uri, db_name):
    """Bad input gets MongoDB's error codes; the server keeps serving."""
    c = client_for(uri)
    db = c[db_name]
    db["e"].insert_one({"_id": 1})
    e = command_error(db, "noSuchCommand")
    eq((e.code, e.details["codeName"]), (59, "CommandNotFound"), "unknown command")
    eq(command_error(db, "find", "e", filter={"a": {"$bogus": 1}}).code, 2, "unknown query operator")
    eq(command_error(db, SON([("find", "e"), ("filter", 5)])).code, 14, "filter of the wrong type")
    eq(command_error(db, "find", "e", sort={"a": "up"}).code, 2, "bad sort")
    eq(command_error(db, "find", "e", projection={"a": 1, "b": 0}).code, 31254, "mixed projection")
    eq(command_error(db, "insert", "e").code, 9, "insert without documents")
    r = db.command("update", "e", updates=[{"q": {}, "u": {"$bogus": {"a": 1}}}])
    eq(r["writeErrors"][0]["code"], 9, "unknown update operator is a write error")
    r = db.command("update", "e", updates=[{"q": {"_id": 1}, "u": {"$set": {"_id": 2}}}])
    eq(r["writeErrors"][0]["code"], 66, "changing _id")
    r = db.command("update", "e", updates=[{"q": {"_id": 1}, "u": {"$set": {"a": 1}, "$inc": {"a": 1}}}])
    eq(r["writeErrors"][0]["code"], 40, "conflicting paths")
    r = db.command("update", "e", updates=[{"q": {"_id": 1}, "u": {"$set": {"s": "x"}}}])
    r = db.command("update", "e", updates=[{"q": {"_id": 1}, "u": {"$inc": {"s": 1}}}])
    eq(r["writeErrors"][0]["code"], 14, "$inc on a string")
    eq(command_error(db, "getMore", Int64(12345), collection="e").code, 43, "unknown cursor")
    eq(command_error(db, "aggregate", "e", pipeline=[{"$bogus": {}}], cursor={}).code, 40324, "unknown stage")
    eq(command_error(db, "listIndexes", "missing").code, 26, "listIndexes on a missing collection")
    eq(command_error(db, "create", "e", capped=True).code, 72, "capped without size")
    db.command("ping")
    print("ok")


def case_queries(uri, db_name):
    """Query operators, dotted paths, arrays, null-for-missing."""
    c = client_for(uri)
    coll = c[db_name]["q"]
    coll.insert_many([
        {"_id": 1, "a": 1, "tags": ["x", "y"], "sub": {"n": 5}},
        {"_id": 2, "a": 2, "tags": ["y"], "sub": {"n": 7}, "arr": [{"b": 1}, {"b": 2}]},
        {"_id": 3, "a": None, "arr": [{"b": 3}]},
        {"_id": 4, "sub": {"n": None}},
        {"_id": 5, "a": "str", "arr": [[1, 2], 3]},
    ])

    def ids(q):
        return sorted(d["_id"] for d in coll.find(q))

    eq(ids({"a": 1}), [1], "equality")
    eq(ids({"a": None}), [3, 4], "null matches missing")
    eq(ids({"a": {"$exists": False}}), [4], "$exists false")
    eq(ids({"a": {"$exists": True}}), [1, 2, 3, 5], "$exists true")
    eq(ids({"a": {"$ne": 1}}), [2, 3, 4, 5], "$ne")
    eq(ids({"a": {"$gt": 1}}), [2], "$gt stays within numbers")
    eq(ids({"a": {"$in": [2, "str"]}}), [2, 5], "$in")
    eq(ids({"a": {"$nin": [1, None]}}), [2, 5], "$nin")
    eq(ids({"tags": "y"}), [1, 2], "array element equality")
    eq(ids({"tags": ["y"]}), [2], "whole array equality")
    eq(ids({"sub.n": {"$gte": 6}}), [2], "dotted path")
    eq(ids({"arr.b": 2}), [2], "dotted path through an array")
    eq(ids({"arr.0.b": 3}), [3], "array index in a path")
    eq(ids({"$or": [{"a": 1}, {"sub.n": 7}]}), [1, 2], "$or")
    eq(ids({"$and": [{"a": {"$exists": True}}, {"a": {"$type": "number"}}]}), [1, 2], "$and/$type")
    eq(ids({"$nor": [{"a": 1}, {"a": None}]}), [2, 5], "$nor")
    eq(ids({"a": {"$not": {"$gt": 1}}}), [1, 3, 4, 5], "$not")
    eq(ids({"arr": {"$elemMatch": {"b": {"$gt": 1}}}}), [2, 3], "$elemMatch")
    eq(ids({"tags": {"$all": ["x", "y"]}}), [1], "$all")
    eq(ids({"tags": {"$size": 1}}), [2], "$size")
    eq(ids({"a": {"$regex": "^s"}}), [5], "$regex")
    eq(ids({"arr": 3}), [5], "element of a mixed array")
    eq(coll.find_one({"_id": 2}, {"sub.n": 1, "_id": 0}), {"sub": {"n": 7}}, "dotted inclusion")
    eq(coll.find_one({"_id": 2}, {"arr.b": 0, "tags": 0, "sub": 0}), {"_id": 2, "a": 2, "arr": [{}, {}]},
       "dotted exclusion through an array")
    eq(coll.distinct("tags"), ["x", "y"], "distinct")
    print("ok")


def case_updates(uri, db_name):
    """Update operators, upserts and findAndModify."""
    c = client_for(uri)
    coll = c[db_name]["u"]
    coll.insert_one({"_id": 1, "n": 1, "arr": [1, 2, 3], "sub": {"a": 1}, "old": True})
    coll.update_one({"_id": 1}, {"$set": {"sub.b": 2, "new.deep": 1}, "$unset": {"old": ""}, "$inc": {"n": 2},
                                 "$push": {"arr": {"$each": [4, 5], "$slice": -4}}, "$rename": {"sub.a": "sub.c"}})
    eq(coll.find_one({"_id": 1}), {"_id": 1, "n": 3, "arr": [2, 3, 4, 5], "sub": {"b": 2, "c": 1},
                                   "new": {"deep": 1}}, "after operators")
    coll.update_one({"_id": 1}, {"$pull": {"arr": {"$gte": 4}}, "$addToSet": {"set": {"$each": [1, 1, 2]}},
                                 "$min": {"n": 0}, "$max": {"hi": 5}, "$mul": {"sub.b": 3}})
    eq(coll.find_one({"_id": 1}, {"arr": 1, "set": 1, "n": 1, "hi": 1, "sub": 1, "_id": 0}),
       {"n": 0, "arr": [2, 3], "sub": {"b": 6, "c": 1}, "set": [1, 2], "hi": 5}, "after array operators")
    r = coll.update_one({"k": "new"}, {"$set": {"v": 1}, "$setOnInsert": {"created": True}}, upsert=True)
    check(r.upserted_id is not None, "upsert inserted")
    eq(coll.find_one({"_id": r.upserted_id}, {"_id": 0}), {"k": "new", "v": 1, "created": True}, "upserted doc")
    coll.update_one({"k": "new"}, {"$set": {"v": 2}, "$setOnInsert": {"created": False}}, upsert=True)
    eq(coll.find_one({"k": "new"}, {"_id": 0}), {"k": "new", "v": 2, "created": True}, "$setOnInsert only on insert")
    coll.replace_one({"_id": 1}, {"replaced": True})
    eq(coll.find_one({"_id": 1}), {"_id": 1, "replaced": True}, "replacement keeps _id")
    # MongoDB compares _ids by value: 200 replaces 200.0, and the document
    # then holds the replacement's _id; another value is 66 ImmutableField.
    ids = c[db_name]["ids"]
    ids.insert_one({"_id": 200.0, "v": 0})
    ids.replace_one({"_id": 200}, {"_id": 200, "v": 1})
    got = ids.find_one()
    eq((got, type(got["_id"])), ({"_id": 200, "v": 1}, int), "replacement with an equal _id of another type")
    r = c[db_name].command("update", "ids", updates=[{"q": {"_id": 200}, "u": {"_id": 201}}])
    eq(r["writeErrors"][0]["code"], 66, "replacement with another _id")
    coll.update_one({"_id": 1}, [{"$set": {"copy": "$replaced", "lit": 3}}])
    eq(coll.find_one({"_id": 1}), {"_id": 1, "replaced": True, "copy": True, "lit": 3}, "pipeline update")
    coll.insert_many([{"_id": 10, "q": 1}, {"_id": 11, "q": 1}])
    doc = coll.find_one_and_update({"q": 1}, {"$inc": {"q": 1}}, sort=[("_id", -1)],
                                   return_document=pymongo.ReturnDocument.AFTER)
    eq(doc, {"_id": 11, "q": 2}, "findAndModify sort + new")
    doc = coll.find_one_and_delete({"q": 1})
    eq(doc, {"_id": 10, "q": 1}, "findAndModify remove")
    eq(coll.find_one_and_update({"_id": 77}, {"$set": {"x": 1}}), None, "no match without upsert")
    doc = coll.find_one_and_replace({"_id": 78}, {"y": 1}, upsert=True, return_document=pymongo.ReturnDocument.AFTER)
    eq(doc, {"_id": 78, "y": 1}, "findAndModify upsert replacement")
    r = coll.update_many({}, {"$set": {"all": 1}})
    eq((r.matched_count, r.modified_count), (4, 4), "multi update counts")
    print("ok")


def case_catalog(uri, db_name):
    """Collections and indexes: create, list, unique enforcement, drop, rename."""
    c = client_for(uri)
    db = c[db_name]
    db.create_collection("capped", capped=True, size=4096, max=10)
    db.command("create", "images", changeStreamPreAndPostImages={"enabled": True},
               validator={"a": {"$exists": True}})
    infos = {i["name"]: i for i in db.list_collections()}
    eq(infos["capped"]["options"], {"capped": True, "size": 4096, "max": 10}, "capped options")
    eq(infos["images"]["options"]["changeStreamPreAndPostImages"], {"enabled": True}, "pre/post images option")
    check(isinstance(infos["images"]["info"]["uuid"], uuid.UUID), "uuid is BinData 4")
    reply = db.command("listCollections", filter={"name": "capped"}, nameOnly=True)
    eq(reply["cursor"]["ns"], "%s.$cmd.listCollections" % db_name, "listCollections ns")
    eq(reply["cursor"]["firstBatch"], [{"name": "capped", "type": "collection"}], "filter + nameOnly")
    eq(command_error(db, "create", "capped", capped=False).code, 48, "create an existing collection")
    coll = db["ix"]
    coll.insert_many([{"_id": 1, "a": 1, "b": 1}, {"_id": 2, "a": 1, "b": 2}])
    coll.create_index([("a", 1), ("b", 1)], unique=True, name="ab")
    coll.create_index("ttl", expireAfterSeconds=3600)
    coll.create_index("p", unique=True, partialFilterExpression={"p": {"$exists": True}})
    try:
        coll.insert_one({"_id": 3, "a": 1, "b": 2})
        fail("compound unique index not enforced")
    except DuplicateKeyError as e:
        eq(e.details["keyPattern"], {"a": 1, "b": 1}, "compound keyPattern")
        eq(e.details["keyValue"], {"a": 1, "b": 2}, "compound keyValue")
    coll.insert_many([{"_id": 4, "a": 2}, {"_id": 5, "a": 3}])  # partial index skips documents without p
    try:
        coll.update_one({"_id": 2}, {"$set": {"b": 1}})
        fail("update into a duplicate key succeeded")
    except DuplicateKeyError:
        pass
    eq(coll.find_one({"_id": 2})["b"], 2, "failed update left the document alone")
    try:
        coll.create_index("a", unique=True)
        fail("unique index over duplicates was built")
    except DuplicateKeyError:
        pass
    specs = {i["name"]: i for i in coll.list_indexes()}
    eq(sorted(specs), ["_id_", "ab", "p_1", "ttl_1"], "index names")
    eq(specs["ttl_1"]["expireAfterSeconds"], 3600, "ttl kept")
    eq(specs["p_1"]["partialFilterExpression"], {"p": {"$exists": True}}, "partial filter kept")
    r = db.command("createIndexes", "ix", indexes=[{"key": {"a": 1, "b": 1}, "name": "ab", "unique": True}])
    eq((r["numIndexesBefore"], r["numIndexesAfter"]), (4, 4), "same index again is a no-op")
    eq(command_error(db, "createIndexes", "ix", indexes=[{"key": {"z": 1}, "name": "ab"}]).code, 86,
       "same name, other key")
    coll.drop_index("ab")
    coll.insert_one({"_id": 3, "a": 1, "b": 2})
    eq(command_error(db, "dropIndexes", "ix", index="nope").code, 27, "drop a missing index")
    c.admin.command("renameCollection", "%s.ix" % db_name, to="%s.ix2" % db_name)
    eq(sorted(db.list_collection_names()), ["capped", "images", "ix2"], "after rename")
    eq(db["ix2"].count_documents({}), 5, "documents moved")
    eq(command_error(c.admin, "renameCollection", "%s.ix2" % db_name, to="%s.images" % db_name).code, 48,
       "rename onto an existing collection")
    db["ix2"].drop()
    eq(sorted(db.list_collection_names()), ["capped", "images"], "after drop")
    check(db_name in c.list_database_names(), "listDatabases")
    c.drop_database(db_name)
    check(db_name not in c.list_database_names(), "dropDatabase")
    print("ok")


def case_retry(uri, db_name):
    """A retried write (same lsid and txnNumber) is answered from the first reply."""
    c = client_for(uri)
    db = c[db_name]
    lsid = {"id": Binary(uuid.uuid4().bytes, 4)}
    cmd = SON([("insert", "r"), ("documents", [{"_id": 1}]), ("lsid", lsid), ("txnNumber", Int64(1))])
    first = db.command(cmd)
    again = db.command(cmd)
    eq((first["n"], again["n"]), (1, 1), "retry answered like the first")
    check("writeErrors" not in again, "retry re-executed: %r" % again)
    cmd2 = SON([("update", "r"), ("updates", [{"q": {"_id": 1}, "u": {"$inc": {"c": 1}}}]), ("lsid", lsid),
                ("txnNumber", Int64(2))])
    db.command(cmd2)
    db.command(cmd2)
    eq(db["r"].find_one({"_id": 1}), {"_id": 1, "c": 1}, "retried $inc applied once")
    e = command_error(db, cmd)
    eq(e.code, 225, "older txnNumber")
    # the driver's own retryable writes
    c2 = client_for(uri, retryWrites=True)
    c2[db_name]["r"].insert_one({"_id": 2})
    eq(db["r"].count_documents({}), 2, "driver write")
    print("ok")


def case_aggregate(uri, db_name):
    """Aggregation stages and count paths."""
    c = client_for(uri)
    coll = c[db_name]["agg"]
    coll.insert_many([{"_id": i, "g": i % 3, "v": i} for i in range(10)])
    got = list(coll.aggregate([{"$match": {"v": {"$gte": 1}}}, {"$group": {"_id": "$g", "s": {"$sum": "$v"},
                                                                           "n": {"$sum": 1}, "lo": {"$min": "$v"},
                                                                           "hi": {"$max": "$v"}}},
                               {"$sort": {"_id": 1}}]))
    eq(got, [{"_id": 0, "s": 18, "n": 3, "lo": 3, "hi": 9}, {"_id": 1, "s": 12, "n": 3, "lo": 1, "hi": 7},
             {"_id": 2, "s": 15, "n": 3, "lo": 2, "hi": 8}], "$group")
    got = list(coll.aggregate([{"$group": {"_id": None, "total": {"$sum": "$v"}}}]))
    eq(got, [{"_id": None, "total": 45}], "$group by null")
    got = list(coll.aggregate([{"$sort": {"v": -1}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"v": 1, "_id": 0}}]))
    eq(got, [{"v": 8}, {"v": 7}], "$sort/$skip/$limit/$project")
    eq(list(coll.aggregate([{"$match": {"g": 1}}, {"$count": "n"}])), [{"n": 3}], "$count")
    eq(coll.count_documents({"g": 2}), 3, "count_documents")
    eq(c[db_name].command("count", "agg", query={"g": 0})["n"], 4, "count command")
    reply = c[db_name].command("aggregate", "agg", pipeline=[], cursor={"batchSize": 4})
    eq(len(reply["cursor"]["firstBatch"]), 4, "aggregate batchSize")
    rest = list(coll.aggregate([], batchSize=3))
    eq(len(rest), 10, "aggregate across getMores")
    print("ok")


def case_update_description(uri, db_name):
    """updateDescription as the update wrote it, seen through a change stream."""
    c = client_for(uri)
    coll = c[db_name]["ud"]
    coll.insert_one({"_id": 1, "a": {"b": 1}, "arr": [1, 2, 3], "gone": 1, "same": 5})
    with coll.watch() as stream:
        coll.update_one({"_id": 1}, {"$set": {"a.b": 2, "same": 5, "n.m": 1}, "$unset": {"gone": 1},
                                     "$push": {"arr": 4}})
        coll.update_one({"_id": 1}, {"$push": {"arr": {"$each": [], "$slice": 2}}})
        coll.update_one({"_id": 1}, {"$pull": {"arr": 1}})
        coll.replace_one({"_id": 1}, {"r": 1})
        events = [stream.next() for _ in range(4)]
    eq(events[0]["operationType"], "update", "update event")
    eq(events[0]["updateDescription"]["updatedFields"], {"a.b": 2, "n": {"m": 1}, "arr.3": 4}, "updatedFields")
    eq(events[0]["updateDescription"]["removedFields"], ["gone"], "removedFields")
    # a $slice is a whole-array update: truncatedArrays only come from
    # pipeline updates (MongoDB's change events reference)
    eq(events[1]["updateDescription"]["updatedFields"], {"arr": [1, 2]}, "whole array after a $slice")
    eq(events[1]["updateDescription"]["truncatedArrays"], [], "truncatedArrays of an operator update")
    eq(events[2]["updateDescription"]["updatedFields"], {"arr": [2]}, "whole array after a $pull")
    eq(events[3]["operationType"], "replace", "replacement is a replace event")
    print("ok")


def case_indexed(uri, db_name):
    """Queries answered through indexes return what a full scan returns."""
    c = client_for(uri)
    db = c[db_name]
    plain, indexed = db["plain"], db["indexed"]
    indexed.create_index([("ns", 1), ("status", 1), ("seq", 1)])
    indexed.create_index("v")
    indexed.create_index([("u", 1)], unique=True, sparse=True)
    values = [1, 2.5, Int64(3), "a", "b", None, {"x": 1}, True, datetime.datetime(2021, 1, 1), Decimal128("2")]
    docs = []
    for i in range(600):
        d = {"_id": i, "ns": "db.c%d" % (i % 3), "status": "pending" if i % 4 else "done", "seq": Int64(i // 3),
             "v": values[i % len(values)]}
        if i % 7 == 0:
            del d["v"]
        if i % 5 == 0:
            d["u"] = i
        docs.append(d)
    plain.insert_many(docs)
    indexed.insert_many(docs)
    queries = [
        ({"ns": "db.c1", "status": "pending"}, [("seq", 1)]),
        ({"ns": "db.c1", "status": "pending"}, [("seq", -1)]),
        ({"ns": "db.c2", "seq": {"$gt": Int64(50), "$lte": 120}}, [("seq", 1)]),
        ({"ns": "db.c0", "status": "done", "seq": {"$gte": 10}}, [("seq", -1)]),
        ({"ns": "db.c0"}, [("status", 1), ("seq", 1)]),
        ({"v": {"$gt": 1}}, [("v", 1), ("_id", 1)]),
        ({"v": {"$lt": "b"}}, [("v", -1), ("_id", -1)]),
        ({"v": None}, [("_id", 1)]),
        ({"v": {"$gte": datetime.datetime(2020, 1, 1)}}, None),
        ({"v": 2}, None),
        ({"u": {"$gte": 100, "$lt": 200}}, None),
        ({"_id": {"$gt": 590}}, [("_id", -1)]),
        ({"_id": {"$lte": 5}, "status": "done"}, None),
        ({}, [("v", 1), ("_id", 1)]),
        ({"_id": {"$in": [5, 3, 99, 3, 1000, "x"]}}, None),
        ({"_id": {"$in": list(range(0, 600, 7))}}, [("_id", -1)]),
        ({"ns": "db.c1", "status": {"$in": ["done", "pending", "nope"]}}, [("status", 1), ("seq", 1)]),
        ({"ns": "db.c1", "status": {"$in": ["done", "pending"]}}, [("status", -1), ("seq", -1)]),
        ({"ns": {"$in": ["db.c2", "db.c0"]}, "status": "done"}, [("seq", 1), ("_id", 1)]),
        ({"v": {"$in": [1, "a", True, None]}}, [("_id", 1)]),
    ]
    for q, sort in queries:
        for skip, limit in ((0, 0), (3, 7)):
            a = list(plain.find(q, sort=sort, skip=skip, limit=limit))
            b = list(indexed.find(q, sort=sort, skip=skip, limit=limit))
            if sort is None:
                a.sort(key=lambda d: d["_id"])
                b.sort(key=lambda d: d["_id"])
            eq(b, a, "indexed find %r sort %r skip %d limit %d" % (q, sort, skip, limit))
        eq(indexed.count_documents(q), plain.count_documents(q), "count %r" % q)
    got = [d["_id"] for d in indexed.find({"_id": {"$in": list(range(0, 600, 3))}}, batch_size=7)]
    eq(got, list(range(0, 600, 3)), "$in on _id paged in small batches")
    got = [d["_id"] for d in indexed.find({"ns": "db.c1", "status": {"$in": ["pending", "done"]}},
                                          sort=[("status", -1), ("seq", -1)], batch_size=5)]
    want = [d["_id"] for d in plain.find({"ns": "db.c1", "status": {"$in": ["pending", "done"]}},
                                         sort=[("status", -1), ("seq", -1), ("_id", -1)])]
    eq(got, want, "$in on an index field paged backwards")
    # paging through an index while the documents move (what replay does)
    seen = []
    cur = indexed.find({"ns": "db.c1", "status": "pending"}, sort=[("seq", 1)], batch_size=10)
    for d in cur:
        seen.append(d["_id"])
        indexed.update_one({"_id": d["_id"]}, {"$set": {"status": "done"}})
    want = sorted((d["_id"] for d in docs if d["ns"] == "db.c1" and d["status"] == "pending"),
                  key=lambda i: (i // 3, i))
    eq(seen, want, "index walk while documents leave it")
    eq(indexed.count_documents({"ns": "db.c1", "status": "pending"}), 0, "all marked")
    r = indexed.update_many({"ns": "db.c2", "seq": {"$lt": 10}}, {"$set": {"status": "x"}})
    eq(r.matched_count, 10, "update_many through the index")
    eq(indexed.delete_many({"v": {"$gte": 1, "$lte": 3}}).deleted_count,
       plain.delete_many({"v": {"$gte": 1, "$lte": 3}}).deleted_count, "delete_many through an index")
    eq(list(indexed.aggregate([{"$match": {"ns": "db.c0", "status": "done"}}, {"$count": "n"}])),
       list(plain.aggregate([{"$match": {"ns": "db.c0", "status": "done"}}, {"$count": "n"}])), "aggregate $match")
    indexed.drop_index("v_1")
    eq(len(list(indexed.find({"v": "a"}))), len(list(plain.find({"v": "a"}))), "after dropping the index")
    print("ok")


def case_populate(uri, db_name):
    """Catalog and document writes of every kind, for a journal replay to redo."""
    c = client_for(uri)
    db = c[db_name]
    db.create_collection("opts", capped=True, size=8192, max=5)
    db.command("create", "images", changeStreamPreAndPostImages={"enabled": True})
    a = db["a"]
    a.insert_many([{"_id": i, "v": i, "arr": [i]} for i in range(50)])
    a.create_index([("v", 1)], unique=True, sparse=True, name="v_u")
    a.create_index("w", expireAfterSeconds=60)
    a.update_many({"v": {"$lt": 10}}, {"$inc": {"v": 100}, "$push": {"arr": 0}})
    a.replace_one({"_id": 20}, {"replaced": True})
    a.delete_many({"_id": {"$gte": 40}})
    a.find_one_and_update({"_id": 99}, {"$set": {"up": 1}}, upsert=True)
    db["tmp"].insert_one({"x": 1})
    c.admin.command("renameCollection", "%s.tmp" % db_name, to="%s.moved" % db_name)
    db["gone"].insert_one({})
    db["gone"].drop()
    a.drop_index("w_1")
    db.command("collMod", "images", changeStreamPreAndPostImages={"enabled": False})
    print("ok")


def case_snapshot(uri, db_name):
    """Prints the database's collections, options, UUIDs, indexes and documents."""
    c = client_for(uri)
    db = c[db_name]
    out = []
    for info in sorted(db.list_collections(), key=lambda i: i["name"]):
        coll = db[info["name"]]
        out.append([info["name"], info["options"], str(info["info"]["uuid"]),
                    sorted((dict(i) for i in coll.list_indexes()), key=lambda i: i["name"]),
                    list(coll.find(sort=[("_id", 1)]))])
    print(bson.json_util.dumps(out, sort_keys=True))


CASES = {
    "populate": case_populate,
    "snapshot": case_snapshot,
    "indexed": case_indexed,
    "connect": case_connect,
    "types": case_types,
    "bulk": case_bulk,
    "order": case_order,
    "cursor": case_cursor,
    "malformed": case_malformed,
    "concurrent": case_concurrent,
    "errors": case_errors,
    "queries": case_queries,
    "updates": case_updates,
    "catalog": case_catalog,
    "retry": case_retry,
    "aggregate": case_aggregate,
    "update-description": case_update_description,
}

if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in CASES:
        sys.stderr.write("usage: mlcore_cases.py CASE URI DB [ARGS...]\ncases: %s\n" % " ".join(sorted(CASES)))
        sys.exit(2)
    CASES[sys.argv[1]](*sys.argv[2:])
