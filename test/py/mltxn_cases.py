"""Checks for mongod-lite's multi-document transactions, as MongoDB 7.0 runs
them on a replica set (each case names the MongoDB test it follows).

Usage: mltxn_cases.py CASE URI DB [ARGS...]
Prints "ok" and exits 0, or exits 1 naming the first difference.
"""
import sys
import time

import pymongo
from bson import Int64
from pymongo.errors import NotMasterError, OperationFailure

from mlite_check import check, client_for, eq, fail


def failed(fn, code, what):
    """Runs fn, which must fail with code; returns the error's details."""
    try:
        fn()
    except OperationFailure as e:
        eq(e.code, code, what + ": code (%r)" % e.details)
        return e.details
    except NotMasterError as e:  # pymongo's class for the "not primary" codes
        details = e.details
        eq(details.get("code"), code, what + ": code (%r)" % details)
        return details
    fail(what + ": did not fail")


def raw(db, session, txn_number, cmd, start=False, admin=False):
    """Runs cmd as a statement of transaction txn_number of session (pymongo
    puts the session's lsid in)."""
    cmd = dict(cmd, txnNumber=Int64(txn_number), autocommit=False)
    if start:
        cmd["startTransaction"] = True
    target = db.client.admin if admin else db
    return target.command(cmd, session=session)


def total(coll, **kw):
    out = list(coll.aggregate([{"$group": {"_id": None, "t": {"$sum": "$bal"}}}], **kw))
    return out[0]["t"] if out else 0


def case_visibility(uri, dbname):
    """jstests/core/txns/multi_statement_transaction.js, read_own_multikey_writes.js,
    repeatable_reads_in_transaction.js: writes are invisible outside until the
    commit, read back inside (find and aggregate), and all visible after it."""
    client = client_for(uri)
    c = client[dbname].a
    c.insert_many([{"_id": i, "bal": 100} for i in range(4)])
    with client.start_session() as s:
        s.start_transaction()
        c.update_one({"_id": 0}, {"$inc": {"bal": -30}}, session=s)
        c.update_one({"_id": 1}, {"$inc": {"bal": 30}}, session=s)
        c.insert_one({"_id": 9, "bal": 0}, session=s)
        c.delete_one({"_id": 3}, session=s)
        eq(c.find_one({"_id": 0}, session=s)["bal"], 70, "own write, find")
        eq(total(c, session=s), 300, "own writes, aggregate")
        eq(c.find_one_and_update({"_id": 2}, {"$set": {"x": 1}}, session=s)["_id"], 2,
           "findAndModify inside")
        eq(c.find_one({"_id": 0})["bal"], 100, "outside before commit")
        eq(c.count_documents({}), 4, "outside count before commit")
        check(c.find_one({"_id": 9}) is None, "inserted document visible outside")
        # a write outside to another document does not touch the transaction
        client[dbname].other.insert_one({"_id": 1})
        s.commit_transaction()
    eq(sorted((d["_id"], d["bal"]) for d in c.find()), [(0, 70), (1, 130), (2, 100), (9, 0)],
       "after commit")
    eq(c.find_one({"_id": 2}).get("x"), 1, "findAndModify committed")
    print("ok")


def case_abort(uri, dbname):
    """jstests/core/txns/multi_statement_transaction_abort.js and
    jstests/change_streams/apply_ops.js: an aborted transaction leaves
    nothing, and a change stream sees nothing of it."""
    client = client_for(uri)
    c = client[dbname].a
    c.insert_one({"_id": 0, "bal": 1})
    stream = c.watch()
    with client.start_session() as s:
        s.start_transaction()
        c.insert_one({"_id": 1}, session=s)
        c.update_one({"_id": 0}, {"$set": {"bal": 2}}, session=s)
        s.abort_transaction()
    c.insert_one({"_id": "after"})
    eq(c.find_one({"_id": 0})["bal"], 1, "aborted update")
    check(c.find_one({"_id": 1}) is None, "aborted insert")
    ev = stream.next()
    eq(ev["documentKey"], {"_id": "after"}, "the first event is the later insert")
    check("lsid" not in ev and "txnNumber" not in ev, "non-transaction event has lsid")
    print("ok")


def case_events(uri, dbname):
    """jstests/change_streams/apply_ops.js, apply_ops_resumability.js: every
    event of a committed transaction carries lsid and txnNumber, in statement
    order, with the commit's clusterTime; another collection's statements
    are not in a collection stream; resuming after one of them gives the rest."""
    client = client_for(uri)
    db = client[dbname]
    c = db.a
    c.insert_one({"_id": 0, "a": "before"})
    db.create_collection("other")
    stream = c.watch()
    with client.start_session() as s:
        s.start_transaction()
        c.insert_one({"_id": 1, "a": 0}, session=s)
        c.insert_one({"_id": 2, "a": 0}, session=s)
        db.other.insert_one({"_id": 111}, session=s)
        c.update_one({"_id": 1}, {"$inc": {"a": 1}}, session=s)
        c.delete_one({"_id": 0}, session=s)
        s.commit_transaction()
        lsid = s.session_id
    events = [stream.next() for _ in range(4)]
    eq([(e["operationType"], e["documentKey"]["_id"]) for e in events],
       [("insert", 1), ("insert", 2), ("update", 1), ("delete", 0)], "events in order")
    for e in events:
        eq(bytes(e["lsid"]["id"].bytes), bytes(lsid["id"]), "lsid")
        check(isinstance(e["txnNumber"], int) and e["txnNumber"] >= 1, "txnNumber %r" % e)
        eq(e["clusterTime"], events[0]["clusterTime"], "one clusterTime")
    eq(len({e["txnNumber"] for e in events}), 1, "one txnNumber")
    tokens = [e["_id"]["_data"] for e in events]
    eq(sorted(tokens), tokens, "tokens in order")
    eq(len(set(tokens)), 4, "distinct tokens")
    resumed = c.watch(resume_after=events[1]["_id"])
    eq([resumed.next()["_id"] for _ in range(2)], [e["_id"] for e in events[2:]],
       "resumed in the middle of the transaction")
    print("ok")


def case_conflicts(uri, dbname):
    """jstests/core/txns/libs/write_conflicts.js (first writer wins), and the
    transactions spec's labels: the loser gets WriteConflict 112 labelled
    TransientTransactionError, its transaction is aborted (NoSuchTransaction
    251, labelled too), and the winner commits."""
    client = client_for(uri)
    c = client[dbname].a
    c.insert_one({"_id": 1, "v": 0})
    s1, s2 = client.start_session(), client.start_session()
    s1.start_transaction()
    s2.start_transaction()
    c.update_one({"_id": 1}, {"$set": {"v": 1}}, session=s1)
    d = failed(lambda: c.update_one({"_id": 1}, {"$set": {"v": 2}}, session=s2), 112,
               "second writer")
    eq(d.get("errorLabels"), ["TransientTransactionError"], "WriteConflict labels")
    d = failed(s2.commit_transaction, 251, "commit of the aborted one")
    eq(d.get("errorLabels"), ["TransientTransactionError"], "NoSuchTransaction labels")
    s1.commit_transaction()
    eq(c.find_one({"_id": 1})["v"], 1, "the first writer's value")
    # A commit after the start of a transaction conflicts with its write.
    s3 = client.start_session()
    s3.start_transaction()
    c.find_one({"_id": 1}, session=s3)
    c.update_one({"_id": 1}, {"$set": {"v": 5}})
    failed(lambda: c.update_one({"_id": 1}, {"$set": {"v": 6}}, session=s3), 112,
           "write to a document changed since the snapshot")
    # with_transaction retries a transient error until it commits.
    tries = []

    def transfer(s):
        tries.append(1)
        c.update_one({"_id": 1}, {"$inc": {"v": 1}}, session=s)
        if len(tries) == 1:
            c.update_one({"_id": 1}, {"$inc": {"v": 100}})  # conflicts: aborts it
    with client.start_session() as s4:
        s4.with_transaction(transfer)
    eq(len(tries), 2, "with_transaction tries")
    eq(c.find_one({"_id": 1})["v"], 106, "retried transaction")
    print("ok")


def case_errors(uri, dbname):
    """jstests/core/txns/errors_on_committed_transaction.js,
    finished_transaction_error_handling.js, commands_not_allowed_in_txn.js:
    a retried commit answers ok, abort after commit is TransactionCommitted
    256, an unknown txnNumber is NoSuchTransaction 251, an older one
    TransactionTooOld 225, restarting a finished one ConflictingOperationInProgress
    117, a command outside the allowed list 263, and
    commitTransaction without autocommit 50768."""
    client = client_for(uri)
    db = client[dbname]
    db.a.insert_one({"_id": 0})
    s = client.start_session()
    raw(db, s, 5, {"insert": "a", "documents": [{"_id": 1}]}, start=True)
    raw(db, s, 5, {"commitTransaction": 1}, admin=True)
    raw(db, s, 5, {"commitTransaction": 1}, admin=True)  # retried: the same answer
    failed(lambda: raw(db, s, 5, {"abortTransaction": 1}, admin=True), 256, "abort after commit")
    failed(lambda: raw(db, s, 5, {"insert": "a", "documents": [{"_id": 2}]}), 256,
           "statement after commit")
    failed(lambda: raw(db, s, 5, {"insert": "a", "documents": [{"_id": 2}]}, start=True), 117,
           "restart of a committed transaction")
    d = failed(lambda: raw(db, s, 6, {"find": "a"}), 251, "statement without a start")
    eq(d.get("errorLabels"), ["TransientTransactionError"], "NoSuchTransaction labels")
    failed(lambda: raw(db, s, 4, {"find": "a"}, start=True), 225, "older txnNumber")
    raw(db, s, 7, {"find": "a"}, start=True)
    failed(lambda: raw(db, s, 7, {"count": "a"}), 263, "count in a transaction")
    failed(lambda: raw(db, s, 7, {"aggregate": "a", "pipeline": [{"$changeStream": {}}],
                                  "cursor": {}}), 263, "$changeStream in a transaction")
    failed(lambda: db.client.admin.command({"commitTransaction": 1, "txnNumber": Int64(7)},
                                           session=s), 50768,
           "commit without autocommit")
    raw(db, s, 8, {"insert": "a", "documents": [{"_id": 3}]}, start=True)
    raw(db, s, 8, {"abortTransaction": 1}, admin=True)
    failed(lambda: raw(db, s, 8, {"commitTransaction": 1}, admin=True), 251, "commit after abort")
    eq(sorted(d["_id"] for d in db.a.find()), [0, 1], "only the committed insert")
    # jstests/core/txns/implicit_collection_creation_in_txn.js: an insert
    # creates its collection inside a transaction (mongod-lite creates it at
    # once; its documents wait for the commit).
    raw(db, s, 9, {"insert": "new", "documents": [{"_id": 1}]}, start=True)
    check(db.new.find_one({"_id": 1}) is None, "insert into a new collection visible early")
    raw(db, s, 9, {"commitTransaction": 1}, admin=True)
    eq(db.new.find_one({"_id": 1}), {"_id": 1}, "insert into a new collection committed")
    print("ok")


def case_commit_labels(uri, dbname):
    """The transactions spec and jstests/core/txns/libs/... : a commit that
    fails with a retryable error, or whose write concern fails, is labelled
    UnknownTransactionCommitResult (its result is unknown: commit again);
    the same error on a statement is TransientTransactionError."""
    client = client_for(uri)
    db = client[dbname]
    admin = client.admin
    db.create_collection("a")
    s = client.start_session()
    raw(db, s, 1, {"insert": "a", "documents": [{"_id": 1}]}, start=True)
    admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                  data={"failCommands": ["commitTransaction"], "errorCode": 91})
    d = failed(lambda: raw(db, s, 1, {"commitTransaction": 1}, admin=True), 91, "commit")
    eq(d.get("errorLabels"), ["UnknownTransactionCommitResult"], "commit error labels")
    raw(db, s, 1, {"commitTransaction": 1}, admin=True)  # committing again works
    eq(db.a.find_one({"_id": 1}), {"_id": 1}, "committed")
    raw(db, s, 2, {"insert": "a", "documents": [{"_id": 2}]}, start=True)
    admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                  data={"failCommands": ["commitTransaction"],
                        "writeConcernError": {"code": 64, "errmsg": "waiting for replication timed out"}})
    reply = raw(db, s, 2, {"commitTransaction": 1}, admin=True)
    eq(reply.get("errorLabels"), ["UnknownTransactionCommitResult"], "write concern error labels")
    admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                  data={"failCommands": ["find"], "errorCode": 91})
    d = failed(lambda: raw(db, s, 3, {"find": "a"}, start=True), 91, "statement")
    eq(d.get("errorLabels"), ["TransientTransactionError"], "statement error labels")
    admin.command("configureFailPoint", "failCommand", mode="off")
    print("ok")


def case_lifetime(uri, dbname):
    """jstests/core/txns/abort_expired_transaction.js: with
    transactionLifetimeLimitSeconds lowered, an idle transaction is aborted
    by the server (its next statement: NoSuchTransaction), and its documents
    are free again for another transaction."""
    client = client_for(uri)
    db = client[dbname]
    admin = client.admin
    was = admin.command("getParameter", 1, transactionLifetimeLimitSeconds=1)
    eq(was["transactionLifetimeLimitSeconds"], 60, "the default")
    admin.command("setParameter", 1, transactionLifetimeLimitSeconds=1)
    try:
        db.a.insert_one({"_id": 0, "v": 0})
        s = client.start_session()
        raw(db, s, 0, {"update": "a", "updates": [{"q": {"_id": 0}, "u": {"$set": {"v": 1}}}]},
            start=True)
        t2 = client.start_session()
        deadline = time.time() + 10
        while True:  # blocked by the open transaction until it expires
            try:
                with t2.start_transaction():
                    db.a.update_one({"_id": 0}, {"$set": {"v": 2}}, session=t2)
                break
            except OperationFailure as e:
                check(e.code == 112, "expected WriteConflict, got %r" % e.details)
                check(time.time() < deadline, "the expired transaction still holds _id 0")
                time.sleep(0.2)
        failed(lambda: raw(db, s, 0, {"find": "a"}), 251, "statement of the expired transaction")
        eq(db.a.find_one({"_id": 0})["v"], 2, "the later transaction's value")
    finally:
        admin.command("setParameter", 1, transactionLifetimeLimitSeconds=60)
    print("ok")


def case_end_sessions(uri, dbname):
    """jstests/core/txns/kill_sessions_kills_transaction.js: ending the
    session aborts its open transaction."""
    client = client_for(uri)
    db = client[dbname]
    s = client.start_session()
    raw(db, s, 1, {"insert": "a", "documents": [{"_id": 1}]}, start=True)
    client.admin.command("endSessions", [s.session_id])
    failed(lambda: raw(db, s, 1, {"commitTransaction": 1}, admin=True), 251, "commit after end")
    check(db.a.find_one({"_id": 1}) is None, "insert of an ended session")
    print("ok")


def case_standalone(uri, dbname):
    """A standalone refuses transactions with IllegalOperation 20
    ("Transaction numbers are only allowed on a replica set member or mongos")."""
    client = client_for(uri, directConnection=True)
    db = client[dbname]
    s = client.start_session()
    failed(lambda: raw(db, s, 1, {"insert": "a", "documents": [{"_id": 1}]}, start=True), 20,
           "standalone")
    print("ok")


def main():
    case, uri, dbname = sys.argv[1], sys.argv[2], sys.argv[3]
    globals()["case_" + case.replace("-", "_")](uri, dbname, *sys.argv[4:])


if __name__ == "__main__":
    main()
