"""Router-mode checks for mongod-lite (--router): what a client of a MongoDB
7.0 mongos sees.

Usage: mlrouter_cases.py CASE URI DB [ARGS...]

Each case drives the server through pymongo, asserts MongoDB's documented
behaviour (the source each rule comes from is named next to it) and exits
non-zero with a message on the first difference.
"""
import sys

import pymongo
from bson import SON
from pymongo.errors import OperationFailure, WriteError

from mlite_check import check, client_for, eq, fail


def expect_code(code, fn, what):
    try:
        fn()
    except (OperationFailure, WriteError) as e:
        eq(e.code, code, what)
        return e
    fail("%s: no error, want %d" % (what, code))


def events(stream, n):
    """The next n events of a pymongo change stream."""
    out = []
    while len(out) < n:
        ev = stream.try_next()
        if ev is None:
            continue
        out.append(ev)
    return out


def keys_of(doc):
    return list(doc.keys())


def case_hello(uri, dbname, shards):
    """mongos' hello: msg "isdbgrid", none of a replica set member's fields
    (src/mongo/s/commands/cluster_hello_cmd.cpp); pymongo sees a mongos."""
    client = client_for(uri)
    hello = client.admin.command("hello")
    eq(hello.get("msg"), "isdbgrid", "hello msg")
    for field in ("setName", "hosts", "primary", "me", "setVersion", "electionId"):
        check(field not in hello, "hello has %s: %r" % (field, hello))
    check(hello["isWritablePrimary"] is True, "isWritablePrimary")
    eq(hello["maxWireVersion"], 21, "maxWireVersion (7.0)")
    check(client.is_mongos, "pymongo does not see a mongos")
    # mongos has no replSetGetStatus: CommandNotFound
    expect_code(59, lambda: client.admin.command("replSetGetStatus"), "replSetGetStatus")
    eq(client.admin.command("serverStatus")["process"], "mongos", "serverStatus.process")
    check("repl" not in client.admin.command("serverStatus"), "serverStatus.repl on a mongos")
    listed = client.admin.command("listShards")["shards"]
    eq(len(listed), int(shards), "listShards")
    print("ok")


def config_entry(client, ns):
    """The config.collections entry a client reads to learn a shard key."""
    return client.config.collections.find_one({"_id": ns})


def case_shard_collection(uri, dbname):
    client = client_for(uri)
    db = client[dbname]
    admin = client.admin
    admin.command("enableSharding", dbname)
    check(client.config.databases.find_one({"_id": dbname}) is not None, "config.databases entry")
    # ranged, compound and hashed keys; the collection is created and the
    # key's index built (jstests/sharding/shard_collection_basic.js)
    r = admin.command("shardCollection", dbname + ".r", key={"a": 1})
    eq(r.get("collectionsharded"), dbname + ".r", "collectionsharded")
    admin.command("shardCollection", dbname + ".k", key=SON([("a", 1), ("b", 1)]), unique=True)
    admin.command("shardCollection", dbname + ".h", key={"h": "hashed"})
    entry = config_entry(client, dbname + ".r")
    check(entry is not None, "no config.collections entry for .r")
    eq(entry["key"], {"a": 1}, "key of .r")
    eq(entry["unique"], False, "unique of .r")
    for field in ("lastmodEpoch", "lastmod", "timestamp", "uuid"):
        check(field in entry, "config.collections entry without %s" % field)
    info = {c["name"]: c for c in db.list_collections()}
    eq(entry["uuid"], info["r"]["info"]["uuid"], "config.collections uuid = the collection's")
    eq(keys_of(config_entry(client, dbname + ".k")["key"]), ["a", "b"], "compound key order")
    eq(config_entry(client, dbname + ".k")["unique"], True, "unique of .k")
    eq(config_entry(client, dbname + ".h")["key"], {"h": "hashed"}, "hashed key")
    check("a_1" in db.r.index_information(), "no a_1 index: %r" % db.r.index_information())
    check("a_1_b_1" in db.k.index_information(), "no a_1_b_1 index")
    check(db.k.index_information()["a_1_b_1"].get("unique"), "a_1_b_1 not unique")
    check("h_hashed" in db.h.index_information(), "no h_hashed index")
    # the same key again is accepted; another one is AlreadyInitialized
    admin.command("shardCollection", dbname + ".r", key={"a": 1})
    expect_code(23, lambda: admin.command("shardCollection", dbname + ".r", key={"b": 1}),
                "resharding with another key")
    # ShardKeyPattern: ascending fields or one hashed field
    expect_code(2, lambda: admin.command("shardCollection", dbname + ".x", key={"a": -1}),
                "descending key")
    expect_code(2, lambda: admin.command("shardCollection", dbname + ".x",
                                         key=SON([("a", "hashed"), ("b", "hashed")])),
                "two hashed fields")
    expect_code(72, lambda: admin.command("shardCollection", dbname + ".x", key={"a": "hashed"},
                                          unique=True), "unique hashed key")
    expect_code(73, lambda: admin.command("shardCollection", "nodot", key={"a": 1}),
                "namespace without a collection")
    # a collection with documents needs an index that starts with the key
    db.full.insert_one({"_id": 1, "z": 1})
    expect_code(72, lambda: admin.command("shardCollection", dbname + ".full", key={"z": 1}),
                "non-empty collection without a shard key index")
    db.full.create_index([("z", 1), ("y", 1)])
    admin.command("shardCollection", dbname + ".full", key={"z": 1})
    # a renamed collection leaves no entry behind (the stand-in keeps no key
    # for the new name: DESIGN, "Router mode")
    db.full.rename("full2")
    check(config_entry(client, dbname + ".full") is None, "entry of the old name after rename")
    # drop forgets the sharding (the collection is gone from config.collections)
    db.r.drop()
    check(config_entry(client, dbname + ".r") is None, "config.collections entry after drop")
    client.drop_database(dbname)
    check(config_entry(client, dbname + ".k") is None, "entry after dropDatabase")
    print("ok")


def case_not_router(uri, dbname):
    """A replica set member has none of the mongos commands."""
    admin = client_for(uri).admin
    expect_code(59, lambda: admin.command("shardCollection", dbname + ".c", key={"a": 1}),
                "shardCollection on a replica set")
    expect_code(59, lambda: admin.command("enableSharding", dbname), "enableSharding on a replica set")
    print("ok")


def case_document_key(uri, dbname):
    """documentKey: the shard key fields the document has, in the key's
    order, then _id once (getDocumentKey in op_observer_util.cpp; missing
    fields are left out by extractElementsBasedOnTemplate;
    jstests/sharding/query/change_streams/change_stream_resume_shard_key_change.js
    expects {shardField1: 1, _id: 1})."""
    client = client_for(uri)
    db = client[dbname]
    admin = client.admin
    admin.command("shardCollection", dbname + ".c", key=SON([("b", 1), ("a", 1)]))
    admin.command("shardCollection", dbname + ".i", key=SON([("a", 1), ("_id", 1)]))
    admin.command("shardCollection", dbname + ".h", key={"_id": "hashed"})
    admin.command("shardCollection", dbname + ".d", key={"s.x": 1})
    coll_stream = db.c.watch()
    db_stream = db.watch()
    cluster_stream = client.watch()
    db.c.insert_one(SON([("_id", 1), ("a", 2), ("b", 3)]))
    db.c.insert_one(SON([("_id", 2), ("a", 5)]))
    db.i.insert_one(SON([("_id", 3), ("a", 4)]))
    db.h.insert_one({"_id": 4, "a": 1})
    db.d.insert_one({"_id": 5, "s": {"x": 7, "y": 8}})
    db.c.update_one({"_id": 1}, {"$set": {"z": 1}})
    db.c.delete_one({"_id": 1})
    db.plain.insert_one({"_id": 6, "a": 1})
    want = [
        SON([("b", 3), ("a", 2), ("_id", 1)]),
        SON([("a", 5), ("_id", 2)]),
        SON([("a", 4), ("_id", 3)]),
        SON([("_id", 4)]),
        SON([("s.x", 7), ("_id", 5)]),
        SON([("b", 3), ("a", 2), ("_id", 1)]),
        SON([("b", 3), ("a", 2), ("_id", 1)]),
        SON([("_id", 6)]),
    ]
    for name, stream, expected in (("database", db_stream, want),
                                   ("cluster", cluster_stream, want),
                                   ("collection", coll_stream,
                                    [want[0], want[1], want[5], want[6]])):
        got = events(stream, len(expected))
        eq([list(e["documentKey"].items()) for e in got], [list(k.items()) for k in expected],
           "documentKeys of the %s stream" % name)
    # updateLookup finds the document by the _id of such a documentKey
    with db.c.watch(full_document="updateLookup") as s:
        db.c.update_one({"_id": 2}, {"$set": {"y": 1}})
        ev = events(s, 1)[0]
        eq(ev["fullDocument"], {"_id": 2, "a": 5, "y": 1}, "updateLookup through a shard key")
    print("ok")


def case_write_rules(uri, dbname):
    """Single-document writes on a sharded collection, 7.0: updateOne and
    deleteOne without the shard key are routed (two-phase since 7.0), an
    upsert needs the whole shard key in its filter (61 ShardKeyNotFound,
    jstests/sharding/missing_shard_keys.js), a shard key value change needs
    a retryable write or transaction (20) and an equality on the full shard
    key (31025) (docs: core/sharding-change-shard-key-value)."""
    client = client_for(uri)
    plain = client_for(uri, retryWrites=False)
    db = client[dbname]
    client.admin.command("shardCollection", dbname + ".c", key=SON([("a", 1), ("b", 1)]))
    db.c.insert_many([{"_id": i, "a": i, "b": i} for i in range(5)])
    db.c.insert_one({"_id": 10, "x": 1})  # missing shard key fields: treated as null
    eq(db.c.update_one({"_id": 1}, {"$set": {"y": 1}}).modified_count, 1, "updateOne by _id")
    eq(db.c.delete_one({"_id": 2}).deleted_count, 1, "deleteOne by _id")
    eq(db.c.find_one_and_update({"_id": 3}, {"$set": {"y": 2}})["_id"], 3, "findAndModify by _id")
    # upserts
    expect_code(61, lambda: db.c.update_one({"_id": 20}, {"$set": {"y": 1}}, upsert=True),
                "upsert by _id")
    expect_code(61, lambda: db.c.update_one({"a": 20}, {"$set": {"y": 1}}, upsert=True),
                "upsert with part of the shard key")
    expect_code(61, lambda: db.c.find_one_and_update({"_id": 21}, {"$set": {"y": 1}}, upsert=True),
                "findAndModify upsert by _id")
    # the upsert's check does not depend on a match (the query cannot be targeted)
    expect_code(61, lambda: db.c.update_one({"_id": 1}, {"$set": {"y": 3}}, upsert=True),
                "upsert by _id of an existing document")
    r = db.c.update_one({"a": 20, "b": {"$eq": 20}}, {"$set": {"y": 1}}, upsert=True)
    check(r.upserted_id is not None, "upsert with the full shard key")
    db.c.replace_one({"_id": 22, "a": 22, "b": 22}, {"a": 22, "b": 22, "r": 1}, upsert=True)
    check(db.c.find_one({"_id": 22}) is not None, "replacement upsert with the full shard key")
    # shard key value changes
    expect_code(20, lambda: plain[dbname].c.update_one({"_id": 4, "a": 4, "b": 4},
                                                       {"$set": {"a": 40}}),
                "shard key change outside a retryable write")
    expect_code(31025, lambda: db.c.update_one({"_id": 4}, {"$set": {"a": 40}}),
                "shard key change without the full shard key")
    expect_code(31025, lambda: db.c.replace_one({"_id": 4, "a": 4}, {"a": 41, "b": 4}),
                "replace changing the key with part of it")
    eq(db.c.update_one({"_id": 4, "a": 4, "b": 4}, {"$set": {"a": 40}}).modified_count, 1,
       "shard key change in a retryable write with the full key")
    eq(db.c.find_one({"_id": 4})["a"], 40, "the change landed")
    # the same value again, or other fields, are no shard key change
    eq(plain[dbname].c.update_one({"_id": 4}, {"$set": {"a": 40, "z": 1}}).modified_count, 1,
       "setting the key to its own value")
    print("ok")


def case_key_change_events(uri, dbname):
    """A shard key change that moves the document to another shard runs as
    an internal transaction that deletes it from the old shard and inserts
    it into the new one (docs: core/sharding-change-shard-key-value), so a
    stream sees a delete with the old documentKey and an insert with the
    new; one that stays on its shard is an update. The emulation's choice,
    not checked against a server: that update's documentKey holds the old
    shard key value."""
    client = client_for(uri)
    db = client[dbname]
    client.admin.command("shardCollection", dbname + ".h", key={"k": "hashed"})
    client.admin.command("shardCollection", dbname + ".r", key={"k": 1})
    db.h.insert_one({"_id": 1, "k": 0})
    db.r.insert_one({"_id": 1, "k": 0})
    stream = db.watch()
    moves = 0
    for k in range(1, 21):
        db.h.update_one({"_id": 1, "k": k - 1}, {"$set": {"k": k}})
        ev = events(stream, 1)[0]
        if ev["operationType"] == "delete":
            eq(list(ev["documentKey"].items()), [("k", k - 1), ("_id", 1)], "the move's delete")
            ins = events(stream, 1)[0]
            eq(ins["operationType"], "insert", "the move's second event")
            eq(list(ins["documentKey"].items()), [("k", k), ("_id", 1)], "the move's insert")
            eq(ins["fullDocument"], {"_id": 1, "k": k}, "the moved document")
            moves += 1
        else:
            eq(ev["operationType"], "update", "a change within one shard")
    check(0 < moves < 20, "of 20 hashed key changes %d moved: want some, not all" % moves)
    # a ranged key with one chunk never moves
    db.r.update_one({"_id": 1, "k": 0}, {"$set": {"k": 5}})
    ev = events(stream, 1)[0]
    eq(ev["operationType"], "update", "ranged key change")
    eq(list(ev["documentKey"].items()), [("k", 0), ("_id", 1)], "its documentKey")
    print("ok")


def case_split(uri, dbname):
    """$changeStreamSplitLargeEvent through the router: fragments of an
    event over 16 MiB, each with the sharded documentKey in the first."""
    client = client_for(uri)
    db = client[dbname]
    client.admin.command("shardCollection", dbname + ".c", key={"a": 1})
    big = "x" * (9 * 1024 * 1024)
    db.c.insert_one({"_id": 1, "a": 1, "s": big})
    with db.c.watch([{"$changeStreamSplitLargeEvent": {}}], full_document="updateLookup") as s:
        # updatedFields and the looked-up document: 18 MiB
        db.c.update_one({"_id": 1}, {"$set": {"s": big + "y"}})
        first = events(s, 1)[0]
        eq(first["splitEvent"], {"fragment": 1, "of": 2}, "first fragment")
        eq(list(first["documentKey"].items()), [("a", 1), ("_id", 1)], "documentKey")
        second = events(s, 1)[0]
        eq(second["splitEvent"], {"fragment": 2, "of": 2}, "second fragment")
    print("ok")


def case_durable_write(uri, dbname):
    client = client_for(uri)
    client.admin.command("shardCollection", dbname + ".c", key={"a": 1})
    client[dbname].c.insert_one({"_id": 1, "a": 1})
    print("ok")


def case_durable_check(uri, dbname):
    """After a restart the shard key is still there (config.collections is
    journaled like any write)."""
    client = client_for(uri)
    eq(client.config.collections.find_one({"_id": dbname + ".c"})["key"], {"a": 1}, "key")
    with client[dbname].c.watch() as s:
        client[dbname].c.delete_one({"_id": 1})
        eq(list(events(s, 1)[0]["documentKey"].items()), [("a", 1), ("_id", 1)], "documentKey")
    print("ok")


def main():
    case, uri, dbname = sys.argv[1], sys.argv[2], sys.argv[3]
    globals()["case_" + case.replace("-", "_")](uri, dbname, *sys.argv[4:])


if __name__ == "__main__":
    main()
