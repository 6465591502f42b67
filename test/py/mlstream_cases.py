"""Change-stream, oplog, journal and fail-point checks for mongod-lite.

Usage: mlstream_cases.py CASE URI DB [ARGS...]

Each case drives the server through pymongo (raw aggregate/getMore where
the exact server reply matters, ChangeStream where the driver's own resume
logic is what is tested), asserts MongoDB's documented behaviour and exits
non-zero with a message on the first difference.
"""
import os
import random
import sys
import threading
import time

import pymongo
from bson import Timestamp
from pymongo.errors import OperationFailure

from mlite_check import check, client_for, fail

EVENT_HEAD = ["_id", "operationType", "clusterTime", "wallTime"]


class RawStream:
    """A change stream driven by hand: aggregate, then getMore."""

    def __init__(self, db, target, spec=None, pipeline=None, batch_size=None):
        self.db = db
        stages = [{"$changeStream": spec or {}}] + (pipeline or [])
        cursor = {} if batch_size is None else {"batchSize": batch_size}
        reply = db.command("aggregate", target, pipeline=stages, cursor=cursor)
        check("operationTime" in reply, "aggregate reply without operationTime")
        self.coll = target if isinstance(target, str) else "$cmd.aggregate"
        c = reply["cursor"]
        self.id = c["id"]
        self.ns = c["ns"]
        self.pbrt = c["postBatchResumeToken"]
        self.pending = list(c["firstBatch"])

    def get_more(self, max_time_ms=300, batch_size=None):
        kw = {"collection": self.coll, "maxTimeMS": max_time_ms}
        if batch_size:
            kw["batchSize"] = batch_size
        reply = self.db.command("getMore", self.id, **kw)
        check("operationTime" in reply, "getMore reply without operationTime")
        c = reply["cursor"]
        check("postBatchResumeToken" in c, "getMore reply without postBatchResumeToken")
        check(c["postBatchResumeToken"]["_data"] >= self.pbrt["_data"],
              "postBatchResumeToken went backwards: %r -> %r" % (self.pbrt, c["postBatchResumeToken"]))
        self.id = c["id"]
        self.pbrt = c["postBatchResumeToken"]
        self.pending.extend(c["nextBatch"])
        return c["nextBatch"]

    def take(self, n, timeout=20):
        """The next n documents (fewer only if the cursor closes)."""
        deadline = time.time() + timeout
        while len(self.pending) < n and self.id != 0:
            check(time.time() < deadline, "timed out waiting for %d events, have %d: %r"
                  % (n, len(self.pending), self.pending[-3:]))
            self.get_more()
        out, self.pending = self.pending[:n], self.pending[n:]
        return out


def keys(doc):
    return list(doc.keys())


def expect_keys(ev, tail, what):
    want = EVENT_HEAD + tail
    check(keys(ev) == want, "%s event fields %r, want %r" % (what, keys(ev), want))
    check(isinstance(ev["clusterTime"], Timestamp), "%s clusterTime is not a Timestamp" % what)
    check(isinstance(ev["_id"].get("_data"), str), "%s _id is not a resume token" % what)


def expect_error(code, fn, what):
    try:
        fn()
    except OperationFailure as exc:
        check(exc.code == code, "%s: code %r (%s), want %d" % (what, exc.code, exc, code))
        return exc
    fail("%s: no error, want code %d" % (what, code))


# ---------------------------------------------------------------- shapes

def case_shapes(uri, dbname):
    cl = client_for(uri)
    db = cl[dbname]
    db.command("create", "c", changeStreamPreAndPostImages={"enabled": True})
    full = RawStream(db, "c", {"fullDocument": "updateLookup", "fullDocumentBeforeChange": "whenAvailable"})
    plain = RawStream(db, "c")
    dbs = RawStream(db, 1)
    check(dbs.ns == dbname + ".$cmd.aggregate", "database stream ns %r" % dbs.ns)
    check(plain.ns == dbname + ".c", "collection stream ns %r" % plain.ns)
    cluster = RawStream(cl.admin, 1, {"allChangesForCluster": True})

    c = db.c
    c.insert_one({"_id": 1, "a": 1, "b": [1, 2, 3], "gone": True})
    c.update_one({"_id": 1}, {"$set": {"a": 2}, "$unset": {"gone": ""}})
    c.replace_one({"_id": 1}, {"x": 1})
    c.delete_one({"_id": 1})

    ins, upd, rep, dele = full.take(4)
    ns = {"db": dbname, "coll": "c"}
    for ev, op in ((ins, "insert"), (upd, "update"), (rep, "replace"), (dele, "delete")):
        check(ev["operationType"] == op, "operationType %r, want %r" % (ev["operationType"], op))
        check(ev["ns"] == ns, "%s ns %r" % (op, ev["ns"]))
        check(ev["documentKey"] == {"_id": 1}, "%s documentKey %r" % (op, ev["documentKey"]))
    expect_keys(ins, ["ns", "documentKey", "fullDocument"], "insert")
    check(ins["fullDocument"] == {"_id": 1, "a": 1, "b": [1, 2, 3], "gone": True}, "insert fullDocument")
    expect_keys(upd, ["ns", "documentKey", "fullDocument", "updateDescription", "fullDocumentBeforeChange"],
                "update")
    ud = upd["updateDescription"]
    check(keys(ud) == ["updatedFields", "removedFields", "truncatedArrays"], "updateDescription %r" % ud)
    check(ud["updatedFields"] == {"a": 2} and ud["removedFields"] == ["gone"], "updateDescription %r" % ud)
    # updateLookup: the document as it is now (already deleted -> null)
    check(upd["fullDocument"] is None, "updateLookup of a deleted document: %r" % upd["fullDocument"])
    check(upd["fullDocumentBeforeChange"] == {"_id": 1, "a": 1, "b": [1, 2, 3], "gone": True},
          "update pre-image %r" % upd["fullDocumentBeforeChange"])
    expect_keys(rep, ["ns", "documentKey", "fullDocument", "fullDocumentBeforeChange"], "replace")
    check(rep["fullDocument"] == {"_id": 1, "x": 1}, "replace fullDocument")
    check(rep["fullDocumentBeforeChange"] == {"_id": 1, "a": 2, "b": [1, 2, 3]}, "replace pre-image")
    expect_keys(dele, ["ns", "documentKey", "fullDocumentBeforeChange"], "delete")
    check(dele["fullDocumentBeforeChange"] == {"_id": 1, "x": 1}, "delete pre-image")

    p = plain.take(4)
    expect_keys(p[1], ["ns", "documentKey", "updateDescription"], "default update")
    expect_keys(p[3], ["ns", "documentKey"], "default delete")
    check([e["_id"] for e in p] == [ins["_id"], upd["_id"], rep["_id"], dele["_id"]],
          "two streams give one event different tokens")
    times = [e["clusterTime"] for e in p]
    check(times == sorted(times) and len(set(times)) == 4, "clusterTimes not increasing: %r" % times)

    # updateLookup of a live document is its current state
    c.insert_one({"_id": 2, "v": 1})
    c.update_one({"_id": 2}, {"$inc": {"v": 1}})
    c.update_one({"_id": 2}, {"$inc": {"v": 1}})
    evs = full.take(3)
    check(evs[1]["fullDocument"] == {"_id": 2, "v": 3}, "updateLookup %r" % evs[1]["fullDocument"])
    plain.take(3)

    # rename: event with `to`, then invalidate as the last document, cursor 0
    c.rename("d")
    ren, inv = plain.take(2)
    expect_keys(ren, ["ns", "to"], "rename")
    check(ren["ns"] == ns and ren["to"] == {"db": dbname, "coll": "d"}, "rename ns/to %r" % ren)
    expect_keys(inv, [], "invalidate")
    check(inv["operationType"] == "invalidate", "after rename: %r" % inv)
    check(plain.id == 0 and not plain.pending, "cursor still open after invalidate")
    check(inv["clusterTime"] == ren["clusterTime"], "invalidate clusterTime differs from the rename's")
    check(ren["_id"]["_data"] < inv["_id"]["_data"], "invalidate token sorts before its rename")

    # resumeAfter an invalidate -> 260; startAfter it -> a new stream
    expect_error(260, lambda: RawStream(db, "c", {"resumeAfter": inv["_id"]}), "resumeAfter invalidate")
    again = RawStream(db, "c", {"startAfter": inv["_id"]})
    db.c.insert_one({"_id": "new"})
    ev = again.take(1)[0]
    check(ev["operationType"] == "insert" and ev["documentKey"] == {"_id": "new"}, "startAfter: %r" % ev)

    # drop: event, then invalidate
    dstream = RawStream(db, "d")
    db.d.insert_one({"_id": 3})
    db.d.drop()
    ins3, drop, inv2 = dstream.take(3)
    expect_keys(drop, ["ns"], "drop")
    check(drop["operationType"] == "drop" and drop["ns"] == {"db": dbname, "coll": "d"}, "drop %r" % drop)
    check(inv2["operationType"] == "invalidate" and dstream.id == 0, "no invalidate after drop")

    # database stream: sees every collection; dropDatabase (after a drop
    # per collection) then invalidate; a collection stream sees the drop
    cstream = RawStream(db, "c")
    cl.drop_database(dbname)
    cdrop, cinv = cstream.take(2)
    check(cdrop["operationType"] == "drop" and cinv["operationType"] == "invalidate",
          "collection stream on dropDatabase: %r" % [cdrop, cinv])
    seen = []
    while dbs.id != 0 or dbs.pending:
        seen.extend(dbs.take(len(dbs.pending) or 1))
    ops = [e["operationType"] for e in seen]
    check(ops[-2:] == ["dropDatabase", "invalidate"], "database stream ended with %r" % ops[-4:])
    dd = seen[-2]
    expect_keys(dd, ["ns"], "dropDatabase")
    check(dd["ns"] == {"db": dbname}, "dropDatabase ns %r" % dd["ns"])
    check(ops[:4] == ["insert", "update", "replace", "delete"], "database stream ops %r" % ops)
    check("rename" in ops and "drop" in ops, "database stream missed rename/drop: %r" % ops)
    toks = [e["_id"]["_data"] for e in seen]
    check(toks == sorted(toks), "database stream tokens out of order")

    # cluster stream: same events, no invalidate on dropDatabase
    cl2 = cluster.take(len(seen) - 1)
    check([e["_id"] for e in cl2] == [e["_id"] for e in seen[:-1]], "cluster stream differs")
    check(cluster.id != 0, "cluster stream closed")
    print("ok")


def case_errors(uri, dbname):
    cl = client_for(uri)
    db = cl[dbname]
    s = RawStream(db, "c")
    db.c.insert_one({"_id": 1})
    ev = s.take(1)[0]
    tok = ev["_id"]["_data"]
    # same position, wrong time: a token this oplog never issued
    bad = tok[:10] + "%08X" % (int(tok[10:18], 16) + 7) + tok[18:]
    expect_error(280, lambda: RawStream(db, "c", {"resumeAfter": {"_data": bad}}), "unknown token")
    future = tok[:18] + "%016X" % (int(tok[18:34], 16) + 1000) + tok[34:]
    expect_error(280, lambda: RawStream(db, "c", {"resumeAfter": {"_data": future}}), "future token")
    # a token of another collection's stream was never in this one
    other = RawStream(db, "x")
    db.x.insert_one({"_id": 1})
    xtok = other.take(1)[0]["_id"]
    expect_error(280, lambda: RawStream(db, "c", {"resumeAfter": xtok}), "token of another collection")
    expect_error(9, lambda: RawStream(db, "c", {"resumeAfter": {"_data": "zz"}}), "malformed token")
    expect_error(40647, lambda: RawStream(db, "c", {"resumeAfter": {"_data": 5}}), "_data not a string")
    expect_error(7182802, lambda: RawStream(db, "c", pipeline=[{"$changeStreamSplitLargeEvent": {}},
                                                               {"$match": {}}]), "split stage not last")
    expect_error(2, lambda: RawStream(db, "c", {"fullDocument": "bogus"}), "bad fullDocument")
    expect_error(40415, lambda: RawStream(db, "c", {"bogus": 1}), "unknown option")
    expect_error(20, lambda: RawStream(db, "c", pipeline=[{"$group": {"_id": 1}}]), "$group after")
    expect_error(73, lambda: RawStream(cl.admin, 1), "admin without allChangesForCluster")
    # required pre-image on a collection without pre-images -> 47 at the event
    req = RawStream(db, "c", {"fullDocumentBeforeChange": "required"})
    db.c.delete_one({"_id": 1})
    expect_error(47, lambda: req.take(1), "required pre-image missing")
    # $match and $project run on the event; _id must survive
    plain = RawStream(db, "c")
    m = RawStream(db, "c", pipeline=[{"$match": {"operationType": "insert", "fullDocument.k": {"$gte": 2}}},
                                     {"$project": {"documentKey": 1}}])
    db.c.insert_many([{"_id": 10, "k": 1}, {"_id": 11, "k": 2}])
    db.c.update_one({"_id": 11}, {"$set": {"k": 5}})
    db.c.insert_one({"_id": 12, "k": 3})
    got = m.take(2)
    check([keys(e) for e in got] == [["_id", "documentKey"]] * 2, "projection %r" % got)
    check([e["documentKey"]["_id"] for e in got] == [11, 12], "$match %r" % got)
    noid = RawStream(db, "c", pipeline=[{"$project": {"_id": 0}}])
    db.c.insert_one({"_id": 13})
    expect_error(280, lambda: noid.take(1), "_id projected away")
    # startAtOperationTime is inclusive
    seen = plain.take(4)
    check(seen[1]["documentKey"] == {"_id": 11}, "plain stream %r" % seen)
    at = RawStream(db, "c", {"startAtOperationTime": seen[1]["clusterTime"]})
    evs = at.take(3)
    check([e["documentKey"]["_id"] for e in evs] == [11, 11, 12], "startAtOperationTime %r" % evs)
    print("ok")


def case_standalone(uri, dbname):
    db = client_for(uri)[dbname]
    expect_error(40573, lambda: db.c.watch(), "change stream on a standalone")
    print("ok")


def case_history_lost(uri, dbname, max_entries):
    db = client_for(uri)[dbname]
    s = RawStream(db, "c")
    db.c.insert_one({"_id": 0})
    tok = s.take(1)[0]["_id"]
    # still in the window: fine
    RawStream(db, "c", {"resumeAfter": tok})
    for k in range(1, int(max_entries) + 5):
        db.other.insert_one({"_id": k})
    expect_error(286, lambda: RawStream(db, "c", {"resumeAfter": tok}), "resume point fell off")
    # a live stream the window overtook fails on getMore with 136
    # CappedPositionLost (change_streams_oplog_rollover.js)
    expect_error(136, lambda: s.get_more(), "getMore behind the window")
    print("ok")


# -------------------------------------------------------- concurrency/order

def writer(uri, dbname, w, nops, errors):
    try:
        c = client_for(uri)[dbname].c
        for g in range(nops // 4):
            _id = "w%d-%d" % (w, g)
            c.insert_one({"_id": _id, "s": 4 * g})
            c.update_one({"_id": _id}, {"$set": {"s": 4 * g + 1}})
            c.update_one({"_id": _id}, {"$set": {"s": 4 * g + 2}})
            c.delete_one({"_id": _id})
    except Exception as exc:  # reported by the main thread
        errors.append(repr(exc))


def event_key(ev):
    op = ev["operationType"]
    _id = ev["documentKey"]["_id"]
    if op == "insert":
        return (_id, ev["fullDocument"]["s"])
    if op == "update":
        return (_id, ev["updateDescription"]["updatedFields"]["s"])
    if op == "delete":
        return (_id, -1)
    fail("unexpected event %r" % ev)


def case_concurrent(uri, dbname, writers, total, resumes):
    writers, total, resumes = int(writers), int(total), int(resumes)
    cl = client_for(uri)
    coll = cl[dbname].c
    stream = coll.watch(max_await_time_ms=200, batch_size=5000)
    errors = []
    threads = [threading.Thread(target=writer, args=(uri, dbname, w, total // writers, errors))
               for w in range(writers)]
    for t in threads:
        t.start()
    events = []
    deadline = time.time() + 60
    while len(events) < total and time.time() < deadline:
        ev = stream.try_next()
        if ev is not None:
            events.append(ev)
    for t in threads:
        t.join()
    check(not errors, "writers failed: %r" % errors[:3])
    check(len(events) == total, "got %d events, want %d" % (len(events), total))
    extra = stream.try_next()
    check(extra is None, "an event after the last write: %r" % extra)
    keys_seen = [event_key(e) for e in events]
    check(len(set(keys_seen)) == total, "duplicate events")
    tokens = [e["_id"]["_data"] for e in events]
    times = [e["clusterTime"] for e in events]
    check(all(a < b for a, b in zip(tokens, tokens[1:])), "tokens not strictly increasing")
    check(all(a < b for a, b in zip(times, times[1:])), "clusterTimes not strictly increasing")
    # each writer's events in the order it wrote them
    per = {}
    for _id, s in keys_seen:
        per.setdefault(_id, []).append(s)
    check(all(v == [v[0], v[0] + 1, v[0] + 2, -1] for v in per.values()), "a document's events out of order")
    stream.close()

    rng = random.Random(4242)
    picks = sorted(rng.sample(range(total), resumes))
    proj = [{"$project": {"_id": 1}}]
    for k in picks:
        want = tokens[k + 1:]
        got = []
        with coll.watch(proj, resume_after=events[k]["_id"], max_await_time_ms=50, batch_size=20000) as rs:
            while len(got) < len(want):
                ev = rs.try_next()
                if ev is None:
                    break
                got.append(ev["_id"]["_data"])
            check(rs.try_next() is None, "resume from #%d: an extra event" % k)
        check(got == want, "resume from #%d: %d events, want %d" % (k, len(got), len(want)))
    print("ok")


# ------------------------------------------------------------- PBRT, CPU

def case_pbrt(uri, dbname):
    db = client_for(uri)[dbname]
    s = RawStream(db, "watched")
    marks = [s.pbrt["_data"]]
    for k in range(3):
        db.other.insert_one({"_id": k})
        check(s.get_more(max_time_ms=100) == [], "events from another collection")
        marks.append(s.pbrt["_data"])
    check(all(a < b for a, b in zip(marks, marks[1:])), "PBRT did not advance: %r" % marks)
    # resuming from a high-water mark gives exactly what follows it
    r = RawStream(db, "watched", {"resumeAfter": s.pbrt})
    db.watched.insert_one({"_id": "after"})
    ev = r.take(1)[0]
    check(ev["documentKey"] == {"_id": "after"}, "resume after a PBRT: %r" % ev)
    check(ev["_id"]["_data"] > marks[-1], "event token before the PBRT it follows")
    # PBRT equals the last event's token when the batch ends at the newest entry
    s.take(1)
    check(s.pbrt == ev["_id"], "PBRT %r after the newest event %r" % (s.pbrt, ev["_id"]))
    print("ok")


def cpu_ticks(pid):
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def case_await_cpu(uri, dbname, pid):
    db = client_for(uri)[dbname]
    s = RawStream(db, "c")
    s.get_more(max_time_ms=50)
    hz = os.sysconf("SC_CLK_TCK")
    before = cpu_ticks(pid)
    t0 = time.time()
    got = s.get_more(max_time_ms=2000)
    elapsed = time.time() - t0
    used_ms = (cpu_ticks(pid) - before) * 1000.0 / hz
    check(got == [], "events on an idle collection")
    check(1.9 <= elapsed < 3.5, "awaitData getMore took %.2fs, want ~2s" % elapsed)
    check(used_ms < 50, "server used %.0f ms of CPU during a 2 s wait" % used_ms)
    # the wait ends as soon as an event arrives
    w = client_for(uri)[dbname]
    timer = threading.Timer(0.3, lambda: w.c.insert_one({"_id": 1}))
    timer.start()
    t0 = time.time()
    got = s.get_more(max_time_ms=5000)
    elapsed = time.time() - t0
    timer.join()
    check(len(got) == 1 and elapsed < 2.0, "getMore returned %d events after %.2fs" % (len(got), elapsed))
    print("ok %.0f ms cpu" % used_ms)


# ------------------------------------------------------------ large events

def case_large(uri, dbname):
    db = client_for(uri)[dbname]
    db.command("create", "big", changeStreamPreAndPostImages={"enabled": True})
    half = 8 * 1000 * 1000
    spec = {"fullDocument": "updateLookup", "fullDocumentBeforeChange": "required"}
    plain = RawStream(db, "big", spec)
    split = RawStream(db, "big", spec, pipeline=[{"$changeStreamSplitLargeEvent": {}}])
    db.big.insert_one({"_id": 1, "a": "x" * half, "b": "y" * half})
    db.big.update_one({"_id": 1}, {"$set": {"a": "z" * half}})
    db.big.insert_one({"_id": "marker"})

    check(plain.take(1)[0]["operationType"] == "insert", "insert before the big update")
    expect_error(10334, lambda: plain.take(1), "event over 16 MiB without the split stage")

    split.take(1)
    frags = []
    while not frags or frags[-1]["splitEvent"]["fragment"] < frags[-1]["splitEvent"]["of"]:
        frags.extend(split.take(1))
    n = frags[0]["splitEvent"]["of"]
    check(n == 3, "%d fragments, want 3" % n)
    check([f["splitEvent"] for f in frags] == [{"fragment": k + 1, "of": n} for k in range(n)],
          "splitEvent %r" % [f["splitEvent"] for f in frags])
    toks = [f["_id"]["_data"] for f in frags]
    check(toks == sorted(toks) and len(set(toks)) == n, "fragment tokens not increasing")
    for f in frags:
        check(keys(f)[:2] == ["_id", "splitEvent"], "fragment fields %r" % keys(f))
    event = {}
    for f in frags:
        for k, v in f.items():
            if k not in ("_id", "splitEvent"):
                check(k not in event, "field %s in two fragments" % k)
                event[k] = v
    check(event["operationType"] == "update", "reassembled %r" % event.get("operationType"))
    check(event["fullDocument"] == {"_id": 1, "a": "z" * half, "b": "y" * half}, "reassembled fullDocument")
    check(event["fullDocumentBeforeChange"] == {"_id": 1, "a": "x" * half, "b": "y" * half},
          "reassembled pre-image")
    check(event["updateDescription"]["updatedFields"] == {"a": "z" * half}, "reassembled updateDescription")
    check(event["documentKey"] == {"_id": 1}, "reassembled documentKey")
    marker = split.take(1)[0]
    check(marker["documentKey"] == {"_id": "marker"}, "after the fragments: %r" % marker.get("documentKey"))

    again = RawStream(db, "big", dict(spec, resumeAfter=frags[1]["_id"]),
                      pipeline=[{"$changeStreamSplitLargeEvent": {}}])
    rest = again.take(2)
    check(rest[0]["_id"] == frags[2]["_id"] and rest[0]["splitEvent"] == {"fragment": 3, "of": 3},
          "resume from fragment 2 gave %r" % keys(rest[0]))
    check(rest[1]["_id"] == marker["_id"], "resume from fragment 2: then %r" % rest[1].get("documentKey"))
    print("ok")


# ------------------------------------------------------------- fail points

def case_failcommand(uri, dbname, mode):
    cl = client_for(uri)
    admin = client_for(uri).admin
    c = cl[dbname].c
    data = {"failCommands": ["getMore"]}
    if mode == "close":
        data["closeConnection"] = True
    else:
        data.update(errorCode=11600, errorLabels=["ResumableChangeStreamError"])
    expect_error(13, lambda: cl[dbname].command("configureFailPoint", "failCommand", mode="off"),
                 "configureFailPoint outside admin")
    writes = client_for(uri)[dbname].c
    got = []
    with c.watch(max_await_time_ms=100) as stream:
        writes.insert_many([{"_id": k} for k in range(50)])
        while len(got) < 25:
            ev = stream.try_next()
            if ev is not None:
                got.append(ev["documentKey"]["_id"])
        admin.command("configureFailPoint", "failCommand", mode={"times": 2}, data=data)
        writes.insert_many([{"_id": k} for k in range(50, 100)])
        deadline = time.time() + 20
        while len(got) < 100 and time.time() < deadline:
            ev = stream.try_next()
            if ev is not None:
                got.append(ev["documentKey"]["_id"])
    reply = admin.command("configureFailPoint", "failCommand", mode="off")
    check(reply.get("count", 0) >= 1, "the fail point never fired: %r" % reply)
    check(got == list(range(100)), "events after the failure: %r" % got[20:40])
    print("ok")


def case_failcommand_wce(uri, dbname):
    """writeConcernError as jstests/core/failcommand_failpoint.js has it."""
    admin = client_for(uri).admin
    db = client_for(uri)[dbname]
    wce = {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "waiting for replication timed out"}

    def configure(times, **data):
        admin.command("configureFailPoint", "failCommand", mode={"times": times},
                      data=dict(writeConcernError=wce, **data))

    # A command that takes no write concern is neither affected nor counted.
    configure(1, failCommands=["insert", "ping"])
    reply = db.command("ping")
    check("writeConcernError" not in reply, "ping got %r" % reply)
    # An unlisted write is not either.
    reply = db.command("update", "c", updates=[{"q": {}, "u": {"$set": {"a": 1}}, "upsert": True}])
    check("writeConcernError" not in reply, "update got %r" % reply)
    reply = db.command("insert", "c", documents=[{"_id": 1}])
    check(reply.get("writeConcernError") == wce and reply.get("n") == 1, "insert got %r" % reply)
    check(db.c.count_documents({"_id": 1}) == 1, "the insert did not land")
    reply = db.command("insert", "c", documents=[{"_id": 2}])
    check("writeConcernError" not in reply, "times 1 fired twice: %r" % reply)

    # With a write error too, and with the fail point's errorLabels.
    configure(1, failCommands=["insert"], errorLabels=["SomeLabel"])
    reply = db.command("insert", "c", documents=[{"_id": 1}])
    check(reply.get("writeErrors", [{}])[0].get("code") == 11000, "no duplicate key: %r" % reply)
    check(reply.get("writeConcernError") == wce, "no writeConcernError: %r" % reply)
    check(reply.get("errorLabels") == ["SomeLabel"], "labels: %r" % reply)

    # A command that fails keeps it too.
    db.command("createIndexes", "c", indexes=[{"key": {"a": 1}, "name": "x"}])
    configure(1, failCommands=["createIndexes"])
    try:
        db.command("createIndexes", "c", indexes=[{"key": {"b": 1}, "name": "x"}])
        got = None
    except OperationFailure as e:
        got = e.details
    check(got is not None and got.get("writeConcernError") == wce, "failed createIndexes: %r" % got)
    admin.command("configureFailPoint", "failCommand", mode="off")
    print("ok")


# ----------------------------------------------------------------- kill -9

def case_kill_writer(uri, dbname, acked_path):
    """Inserts until the server dies; logs each majority-acknowledged _id."""
    c = client_for(uri, serverSelectionTimeoutMS=2000, retryWrites=False)[dbname].get_collection(
        "c", write_concern=pymongo.WriteConcern(w="majority"))
    with open(acked_path, "a") as out:
        k = 0
        while True:
            batch = [{"_id": k + j, "pad": "p" * 100} for j in range(5)]
            try:
                c.insert_many(batch)
            except Exception:
                return
            out.write("".join("%d\n" % d["_id"] for d in batch))
            out.flush()
            k += 5


def case_kill_marker(uri, dbname, token_path):
    db = client_for(uri)[dbname]
    s = RawStream(db, "c")
    db.c.insert_one({"_id": "marker"})
    ev = s.take(1)[0]
    with open(token_path, "w") as f:
        f.write(ev["_id"]["_data"])
    print("ok")


def case_kill_verify(uri, dbname, acked_path, token_path):
    db = client_for(uri)[dbname]
    with open(acked_path) as f:
        acked = [int(x) for x in f.read().split()]
    check(len(acked) > 0, "the writer never got an acknowledgement")
    present = set(d["_id"] for d in db.c.find({}, {"_id": 1}))
    missing = [a for a in acked if a not in present]
    check(not missing, "%d acknowledged writes lost after kill -9, e.g. %r" % (len(missing), missing[:5]))
    with open(token_path) as f:
        token = {"_data": f.read().strip()}
    s = RawStream(db, "c", {"resumeAfter": token})
    want = sorted(p for p in present if p != "marker")
    got = [e["documentKey"]["_id"] for e in s.take(len(want))]
    check(got == want, "resume across the restart: %d events, want %d" % (len(got), len(want)))
    # new writes continue the oplog after the replayed ones
    db.c.insert_one({"_id": "after"})
    nxt = s.take(1)[0]
    check(nxt["documentKey"] == {"_id": "after"}, "first write after restart: %r" % nxt)
    check(s.get_more(max_time_ms=100) == [], "extra events after restart")
    print("ok %d acked, %d present" % (len(acked), len(present) - 1))


def main():
    case, uri, dbname = sys.argv[1], sys.argv[2], sys.argv[3]
    globals()["case_" + case.replace("-", "_")](uri, dbname, *sys.argv[4:])


if __name__ == "__main__":
    main()
