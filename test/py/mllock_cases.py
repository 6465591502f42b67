"""Checks for mongod-lite's locking (test/mongod-lite/lock.h): commands on
different collections run side by side, and what MongoDB promises about the
oplog still holds while they do.

Usage: mllock_cases.py CASE URI DB
Prints "ok" and exits 0, or exits 1 naming the first difference.
"""
import sys
import threading
import time

from pymongo import ASCENDING

from mlite_check import check, client_for, eq, fail

TARGET_DOCS = 40000


def run_threads(targets):
    """Runs each callable in its own thread; re-raises the first failure."""
    errors = []

    def wrap(fn):
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        check(not t.is_alive(), "a thread did not finish in 120 s")
    if errors:
        fail("a thread failed: %r" % errors[0])


def case_reader_beside_writer(uri, dbname):
    """A find on one collection completes while one long update_many runs
    on another: the staging reader of cdc-replay does not wait on the
    writes to the target (the single lock made it wait for the whole
    update)."""
    client = client_for(uri)
    db = client[dbname]
    db.target.create_index([("x", ASCENDING)])
    db.target.insert_many([{"_id": i, "x": i} for i in range(TARGET_DOCS)])
    db.staging.insert_many([{"_id": i, "seq": i} for i in range(100)])
    window = {}
    inside = []
    # the reader's connection is up before the write starts
    reader_client = client_for(uri)
    staging = reader_client[dbname].staging
    eq(staging.count_documents({}), 100, "staging documents")

    def writer():
        window["start"] = time.monotonic()
        res = db.target.update_many({}, {"$inc": {"x": 1}})
        window["end"] = time.monotonic()
        eq(res.modified_count, TARGET_DOCS, "update_many modified")

    def reader():
        while "start" not in window:
            time.sleep(0.001)
        while "end" not in window:
            began = time.monotonic()
            eq(len(list(staging.find({}).sort("seq", 1).limit(100))), 100, "staging read")
            ended = time.monotonic()
            if "end" not in window:
                inside.append(ended - began)

    run_threads([writer, reader])
    reader_client.close()
    took = window["end"] - window["start"]
    check(took >= 0.1, "the update_many took %.3f s: too quick to tell" % took)
    check(len(inside) >= 3,
          "%d staging reads completed during a %.3f s write to another collection"
          % (len(inside), took))
    eq(db.target.count_documents({"x": 0}), 0, "the update (x: 0 left)")
    eq(db.target.count_documents({"x": TARGET_DOCS}), 1, "the update (x: TARGET_DOCS)")
    print("ok: %d reads during a %.3f s update_many" % (len(inside), took))


def case_oplog_order(uri, dbname):
    """jstests/change_streams/whole_db.js, resume_from_high_water_mark_token.js:
    writers on four collections at once; a database change stream sees
    every write once, in strictly increasing clusterTime, each collection's
    in its own order, and resuming from any event gives exactly the rest."""
    client = client_for(uri)
    db = client[dbname]
    per_coll = 600
    for k in range(4):
        db.create_collection("c%d" % k)
    stream = db.watch(max_await_time_ms=200)
    events = []

    def writer(k):
        def run():
            wclient = client_for(uri)
            coll = wclient[dbname]["c%d" % k]
            for i in range(per_coll):
                coll.insert_one({"_id": i, "v": 0})
                if i % 3 == 2:
                    coll.update_one({"_id": i - 1}, {"$set": {"v": 1}})
            wclient.close()
        return run

    def reader():
        want = 4 * (per_coll + per_coll // 3)
        deadline = time.monotonic() + 100
        while len(events) < want and time.monotonic() < deadline:
            ev = stream.try_next()
            if ev is not None:
                events.append(ev)

    run_threads([writer(k) for k in range(4)] + [reader])
    eq(len(events), 4 * (per_coll + per_coll // 3), "events seen")
    times = [ev["clusterTime"] for ev in events]
    for a, b in zip(times, times[1:]):
        check(b > a, "clusterTime went from %r to %r" % (a, b))
    for k in range(4):
        ids = [ev["documentKey"]["_id"] for ev in events
               if ev["ns"]["coll"] == "c%d" % k and ev["operationType"] == "insert"]
        eq(ids, list(range(per_coll)), "c%d inserts in order" % k)
    for cut in (0, len(events) // 2, len(events) - 2):
        with db.watch(resume_after=events[cut]["_id"], max_await_time_ms=200) as again:
            rest = []
            deadline = time.monotonic() + 30
            while len(rest) < len(events) - cut - 1:
                check(time.monotonic() < deadline,
                      "resumed after %d: stalled at %d events" % (cut, len(rest)))
                ev = again.try_next()
                if ev is not None:
                    rest.append(ev["_id"])
            eq(rest, [ev["_id"] for ev in events[cut + 1:]], "resumed after %d" % cut)
    print("ok")


def case_txn_beside_writers(uri, dbname):
    """Transactions (which run alone) interleaved with plain writers to
    another collection: a reader of the transactions' collection never sees
    a transfer half done, and every plain write is there."""
    client = client_for(uri)
    db = client[dbname]
    db.acct.insert_many([{"_id": i, "bal": 100} for i in range(10)])
    db.create_collection("plain")
    stop = threading.Event()
    broken = []

    def plain_writer():
        wclient = client_for(uri)
        coll = wclient[dbname].plain
        for i in range(1500):
            coll.insert_one({"_id": i})
        wclient.close()

    def transfers():
        tclient = client_for(uri)
        acct = tclient[dbname].acct
        for n in range(60):
            with tclient.start_session() as s:
                def move(sess, n=n):
                    acct.update_one({"_id": n % 10}, {"$inc": {"bal": -7}}, session=sess)
                    acct.update_one({"_id": (n + 3) % 10}, {"$inc": {"bal": 7}},
                                    session=sess)
                s.with_transaction(move)
        stop.set()
        tclient.close()

    def auditor():
        aclient = client_for(uri)
        acct = aclient[dbname].acct
        while not stop.is_set():
            out = list(acct.aggregate([{"$group": {"_id": None, "t": {"$sum": "$bal"}}}]))
            if out[0]["t"] != 1000:
                broken.append(out[0]["t"])
        aclient.close()

    run_threads([plain_writer, transfers, auditor])
    eq(broken, [], "totals seen broken")
    eq(db.plain.count_documents({}), 1500, "plain writes")
    eq(sum(d["bal"] for d in db.acct.find()), 1000, "final total")
    print("ok")


def case_snapshot_under_churn(uri, dbname):
    """jstests/core/txns/repeatable_reads_in_transaction.js, at size: a
    transaction's snapshot shares the collection's trees (test/mongod-lite/
    tree.h); thousands of outside inserts, updates and deletes, which
    rebalance them, change neither what the transaction reads nor, after
    its commit, anything but what each side wrote."""
    client = client_for(uri)
    c = client[dbname].churn
    c.create_index([("k", ASCENDING)])
    c.insert_many([{"_id": i, "k": i % 97, "v": 0} for i in range(3000)])
    before = {d["_id"]: d for d in c.find()}
    with client.start_session() as s:
        s.start_transaction()
        eq(c.count_documents({}, session=s), 3000, "snapshot count")
        c.update_one({"_id": 5000}, {"$set": {"k": 1, "v": "txn"}}, upsert=True, session=s)
        c.update_one({"_id": 7}, {"$set": {"v": "txn"}}, session=s)
        c.insert_many([{"_id": i, "k": i % 13, "v": 1} for i in range(3000, 4500)])
        c.delete_many({"_id": {"$gte": 1000, "$lt": 2500}})
        c.update_many({"_id": {"$lt": 1000, "$ne": 7}}, {"$inc": {"v": 1}, "$set": {"k": -1}})
        inside = {d["_id"]: d for d in c.find({}, session=s)}
        want = dict(before)
        want[5000] = {"_id": 5000, "k": 1, "v": "txn"}
        want[7] = dict(before[7], v="txn")
        eq(inside, want, "the transaction's view")
        eq(c.count_documents({"k": -1}, session=s), 0, "index view inside")
        s.commit_transaction()
    after = {d["_id"]: d for d in c.find()}
    eq(len(after), 3000 - 1500 + 1500 + 1, "documents after the commit")
    eq(after[5000]["v"], "txn", "the transaction's insert")
    eq(after[7]["v"], "txn", "the transaction's update")
    eq(after[8], {"_id": 8, "k": -1, "v": 1}, "an outside update")
    check(1500 not in after and 4000 in after, "outside delete and insert")
    eq(c.count_documents({"k": -1}), 999, "the index after the commit")
    print("ok")


CASES = {
    "reader-beside-writer": case_reader_beside_writer,
    "oplog-order": case_oplog_order,
    "txn-beside-writers": case_txn_beside_writers,
    "snapshot-under-churn": case_snapshot_under_churn,
}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in CASES:
        sys.stderr.write(__doc__)
        sys.exit(2)
    CASES[sys.argv[1]](sys.argv[2], sys.argv[3])
