"""Hand-built scenarios for test/cdc-replay.bats. Each stage_* function puts
the target's starting documents and the staged events in place; each
check_* function asserts the outcome and raises (exit 1) with the reason.
"""

import datetime

from bson.int64 import Int64
from bson.son import SON
from bson.timestamp import Timestamp

import replay_events as rev

T0 = rev.BASE_T


class Events:
    """Builds change events for db.coll in clusterTime order."""

    def __init__(self, db, coll, t=T0):
        self.db, self.coll, self.t, self.n = db, coll, t, 0

    def ev(self, op, key, **fields):
        self.n += 1
        ev = SON()
        ev["_id"] = {"_data": "82%08X%08X%016X" % (self.t, self.n, self.n)}
        ev["operationType"] = op
        ev["clusterTime"] = Timestamp(self.t, self.n)
        ev["wallTime"] = datetime.datetime.utcfromtimestamp(self.t)
        ev["ns"] = SON([("db", self.db), ("coll", self.coll)])
        if key is not None:
            ev["documentKey"] = key
        for k, v in fields.items():
            ev[k] = v
        return ev

    def upd(self, key, updated=None, removed=(), truncated=(), **fields):
        desc = SON([("updatedFields", SON(updated or {})), ("removedFields", list(removed)),
                    ("truncatedArrays", [SON([("field", f), ("newSize", n)])
                                         for f, n in truncated])])
        return self.ev("update", key, updateDescription=desc, **fields)


def k(_id):
    return SON([("_id", _id)])


def ck(sk, _id):
    return SON([("sk", sk), ("_id", _id)])


def require(cond, what):
    if not cond:
        raise SystemExit("FAILED: " + what)


def stage_rows(client, db):
    """Every replay rule (docs/DESIGN.md, "Replay rules") on collection c,
    composite keys on s."""
    c = client[db]["c"]
    c.insert_many([
        {"_id": 2, "old": True},
        {"_id": 3, "old": True},
        {"_id": 4, "sub": {"x": 1, "y": 2}, "arr": [1, 2, 3, 4], "gone": 1, "keep": 1},
        {"_id": 5, "v": 1, "w": 1},
        {"_id": 6, "doomed": True},
        {"_id": 9, "tags": ["a", "b", "c"], "n": 0},
    ])
    s = client[db]["s"]
    s.insert_many([{"sk": "a", "_id": 1, "v": 1}, {"sk": "b", "_id": 2, "v": 1},
                   {"sk": "c", "_id": 3, "v": 1}])
    e = Events(db, "c")
    evs = [
        e.ev("insert", k(1), fullDocument={"_id": 1, "a": 1}),
        e.ev("replace", k(2), fullDocument={"_id": 2, "b": 2}),
        e.upd(k(3), {"z": 1}, fullDocument={"_id": 3, "z": 1, "full": True}),
        e.upd(k(4), {"sub.x": 10, "arr.1": 20, "new": 5}, ["gone", "sub.y"], [("arr", 2)]),
        e.upd(k(5), {"v": 2}, ["w"], fullDocument=None),
        e.ev("delete", k(6)),
        e.upd(k(7), {"ghost": 1}),
        e.ev("insert", k(8), fullDocument={"_id": 8, "first": 1}),
        e.ev("insert", k(8), fullDocument={"_id": 8, "again": 1}),
        e.upd(k(9), {"tags.0": "A"}, [], [("tags", 1)]),
        e.upd(k(9), {"n": 1}),
    ]
    rev.stage(client, db, db + ".c", evs)
    e = Events(db, "s")
    evs = [
        e.upd(ck("a", 1), {"v": 2}),
        e.ev("replace", ck("b", 2), fullDocument={"sk": "b", "_id": 2, "r": 1}),
        e.ev("delete", ck("c", 3)),
        e.ev("insert", ck("d", 4), fullDocument={"sk": "d", "_id": 4, "v": 4}),
    ]
    rev.stage(client, db, db + ".s", evs)


def check_rows(client, db):
    want_c = {
        1: {"_id": 1, "a": 1},
        2: {"_id": 2, "b": 2},
        3: {"_id": 3, "z": 1, "full": True},
        4: {"_id": 4, "sub": {"x": 10}, "arr": [1, 20], "keep": 1, "new": 5},
        5: {"_id": 5, "v": 2},
        8: {"_id": 8, "again": 1},
        9: {"_id": 9, "tags": ["A"], "n": 1},
    }
    got = rev.target_state(client, db, "c")
    d = rev.diff(want_c, got)
    require(not d, "collection c:\n" + "\n".join(d))
    want_s = {
        1: {"sk": "a", "_id": 1, "v": 2},
        2: {"sk": "b", "_id": 2, "r": 1},
        4: {"sk": "d", "_id": 4, "v": 4},
    }
    got = rev.target_state(client, db, "s")
    d = rev.diff(want_s, got)
    require(not d, "collection s:\n" + "\n".join(d))
    # Field order follows the replayed documents.
    require(list(client[db]["c"].find_one({"_id": 2}).keys()) == ["_id", "b"], "field order")


def all_done(client, db, ns, staging="cdc"):
    c = client[db][staging]
    pending = c.count_documents({"ns": ns, "status": {"$ne": "done"}})
    no_applied_at = c.count_documents({"ns": ns, "appliedAt": {"$exists": False}})
    require(pending == 0, "%d staged events of %s not done" % (pending, ns))
    require(no_applied_at == 0, "%d done events of %s without appliedAt" % (no_applied_at, ns))


def stage_unique_moves(client, db, docs=40, rounds=30):
    """A unique index on email; each round moves an email value from one
    document to another (free it first, then take it), as an application
    renaming users would. Applied out of order across documents this hits
    duplicate keys; in order it never does."""
    c = client[db]["c"]
    c.create_index("email", unique=True)
    state = {i: "e%d" % i for i in range(1, docs + 1)}
    c.insert_many([{"_id": i, "email": state[i]} for i in state])
    e = Events(db, "c")
    evs = []
    spare = 0
    for r in range(rounds):
        for i in range(1, docs, 2):
            j = i + 1
            # j frees its email, i takes it, j takes i's old one via a spare.
            spare += 1
            tmp = "tmp%d" % spare
            old_i, old_j = state[i], state[j]
            evs.append(e.upd(k(j), {"email": tmp}))
            evs.append(e.upd(k(i), {"email": old_j}))
            evs.append(e.ev("replace", k(j), fullDocument={"_id": j, "email": old_i}))
            state[i], state[j] = old_j, old_i
    rev.stage(client, db, db + ".c", evs)
    return {i: {"_id": i, "email": state[i]} for i in state}


def check_unique_moves(client, db, docs=40, rounds=30):
    state = {i: "e%d" % i for i in range(1, docs + 1)}
    for r in range(rounds):
        for i in range(1, docs, 2):
            state[i], state[i + 1] = state[i + 1], state[i]
    want = {i: {"_id": i, "email": state[i]} for i in state}
    d = rev.diff(want, rev.target_state(client, db, "c"))
    require(not d, "\n".join(d))
    all_done(client, db, db + ".c")


def stage_window(client, db):
    """The catch-up window, synthesized: the dump read _id 1 after it took
    email "x" and _id 2 before it gave "x" up, so the restored target holds
    "x" twice; the events up to the dump end (E1..E3) untangle it, E4 comes
    after. Replaying E1 makes "x" appear twice more on the way."""
    c = client[db]["c"]
    c.insert_many([{"_id": 1, "email": "x", "at": datetime.datetime.utcnow()},
                   {"_id": 2, "email": "x", "at": datetime.datetime.utcnow()}])
    e = Events(db, "c")
    evs = [
        e.ev("replace", k(2), fullDocument={"_id": 2, "email": "x", "n": 1}),
        e.upd(k(2), {"email": "y"}),
        e.upd(k(1), {"email": "x", "n": 3}),
        e.ev("insert", k(3), fullDocument={"_id": 3, "email": "z"}),
    ]
    rev.stage(client, db, db + ".c", evs)
    client[db]["cdc_meta"].insert_one(SON([
        ("_id", "restore:%s.c" % db), ("ns", db + ".c"), ("sourceNs", db + ".c"),
        ("completedAt", datetime.datetime.utcnow()), ("documents", Int64(2)),
        ("dumpEndTime", evs[2]["clusterTime"]),
        ("deferredIndexes", [
            SON([("v", 2), ("key", SON([("email", 1)])), ("name", "email_1"),
                 ("unique", True)]),
            SON([("v", 2), ("key", SON([("at", 1)])), ("name", "at_1"),
                 ("expireAfterSeconds", 3600)]),
        ])]))
    # Capture has not yet passed the dump end; its heartbeat is old.
    rev.checkpoint(client, db, db + ".c", evs[1]["clusterTime"],
                   heartbeat=datetime.datetime.utcnow() - datetime.timedelta(hours=1))
    return evs


def indexes(client, db, coll="c"):
    return {i["name"]: i for i in client[db][coll].list_indexes()}


def stage_window_shapes(client, db, coll, marker=True):
    """Inside the catch-up window the dump copied _id 1 after E3 made "a"
    and "arr" scalars; E1 and E2 (written when they were an object and an
    array) cannot apply to that newer version, and E3 rewrites both paths.
    E4 comes after the dump end."""
    client[db][coll].insert_one({"_id": 1, "a": 5, "arr": "str"})
    e = Events(db, coll)
    evs = [
        e.upd(k(1), {"a.b": 1}),
        e.upd(k(1), {"arr.0": 7}, [], [("arr", 1)]),
        e.upd(k(1), {"a": 5, "arr": "str"}),
        e.upd(k(1), {"n": 1}),
    ]
    rev.stage(client, db, "%s.%s" % (db, coll), evs)
    if marker:
        client[db]["cdc_meta"].insert_one(SON([
            ("_id", "restore:%s.%s" % (db, coll)), ("ns", "%s.%s" % (db, coll)),
            ("completedAt", datetime.datetime.utcnow()), ("documents", Int64(1)),
            ("dumpEndTime", evs[2]["clusterTime"]), ("deferredIndexes", [])]))


def window_marker(client, db, coll, dump_end):
    client[db]["cdc_meta"].insert_one(SON([
        ("_id", "restore:%s.%s" % (db, coll)), ("ns", "%s.%s" % (db, coll)),
        ("completedAt", datetime.datetime.utcnow()), ("documents", Int64(1)),
        ("dumpEndTime", dump_end), ("deferredIndexes", [])]))


def stage_window_id_types(client, db):
    """Inside the catch-up window on c: _id 200 was inserted, deleted and
    inserted again as 200.0 (one key, two numeric types) before the dump,
    which copied the 200.0. On d and e a replacement the target refuses as
    altering _id (66, as a string _id under a collation gets from MongoDB):
    d has a marker whose window holds it and a later event, e has none."""
    client[db]["c"].insert_one({"_id": 200.0, "v": 2})
    e = Events(db, "c")
    evs = [
        e.ev("insert", k(200), fullDocument=SON([("_id", 200), ("v", 1)])),
        e.ev("delete", k(200)),
        e.ev("insert", k(200.0), fullDocument=SON([("_id", 200.0), ("v", 2)])),
    ]
    rev.stage(client, db, "%s.c" % db, evs)
    window_marker(client, db, "c", evs[-1]["clusterTime"])
    for coll in ("d", "e"):
        client[db][coll].insert_one({"_id": 7, "a": 1})
        e = Events(db, coll)
        evs = [e.ev("replace", k(7), fullDocument=SON([("_id", 8), ("a", 2)])),
               e.upd(k(7), {"a": 3})]
        rev.stage(client, db, "%s.%s" % (db, coll), evs)
        if coll == "d":
            window_marker(client, db, coll, evs[-1]["clusterTime"])
