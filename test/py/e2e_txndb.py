"""Source transactions across collections in database mode: transfers
between accounts of two collections, a reader of the target, and the
cdc-replay of either collection killed -9.

usage:
  e2e_txndb.py load URI DB ACCOUNTS
      ACCOUNTS documents {_id: i, bal: 1000} in DB.a and in DB.b.
  e2e_txndb.py transfers URI DB ACCOUNTS STOP_FILE READY_FILE
      Until STOP_FILE exists: transactions moving a random amount from an
      account of one collection to one of the other, every third one with a
      ledger insert (no bal) into DB.a, every fifth one between two accounts
      of DB.a only. Touches READY_FILE after the first commit; prints
      {"committed": n}.
  e2e_txndb.py stage-xtxns URI DB TXNS [across|alone]
      Stages (as a database cdc-capture would) TXNS source transactions of
      three events: an insert and an update in DB.a, an insert in DB.b (one
      lsid and txnNumber, one clusterTime), with their transaction records
      ("across"), or without ("alone": each collection's part is grouped by
      itself, as before records existed), and checkpoints 86400 s ahead.
  e2e_txndb.py run --init PATH --sync PATH --state-dir DIR --dump-dir DIR --db DB
                   --total N --stop-file F --log FILE
      Starts `sync_migration.sh --state-dir DIR --dump-dir DIR - DB --all`
      (following) and a reader that, once replay of both collections has
      applied an event past their dump end, reads the total of DB.a and DB.b
      continuously in one snapshot-read transaction. Kills the cdc-replay of
      DB.a -9 while a target transaction of cdc-replay is held open (its
      commit blocked by failCommand), then the cdc-replay of DB.b -9; after
      each checks sync_migration.sh exited 137, starts it again and times how
      long replay takes to go on. Then twice kills cdc-capture -9 after a
      few more staged events and resumes it (`init_migration.sh
      --resume-capture`, given as --init). Then creates F, waits for nothing to be
      pending, and stops sync with SIGTERM (exit 0). Prints
      {"reads": n, "broken": [...], "waits": [...]}.

The reader's transaction reads DB.a and then DB.b: one snapshot, as of the
transaction's first statement (MongoDB, and mongod-lite).

TARGET_URI comes from the environment. Exit 0 when every step went as
documented; the reason on stderr otherwise.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pymongo
from pymongo.read_concern import ReadConcern

from e2e_chaos import alive, proc_state, wait_for

REPLAY_APP = "changestream-migration/target"


def cmd_load(uri, db, accounts):
    d = pymongo.MongoClient(uri)[db]
    for coll in ("a", "b"):
        d[coll].insert_many([{"_id": i, "bal": 1000} for i in range(int(accounts))])


def cmd_transfers(uri, db, accounts, stop_file, ready_file):
    client = pymongo.MongoClient(uri)
    d = client[db]
    rng = random.Random(os.getpid())
    accounts = int(accounts)
    committed = 0
    while not os.path.exists(stop_file):
        src, dst = rng.sample(["a", "b"], 2)
        if committed % 5 == 4:
            src = dst = "a"
        x, y = rng.sample(range(accounts), 2)
        amount = rng.randint(1, 50)
        with_ledger = committed % 3 == 0

        def transfer(s):
            d[src].update_one({"_id": x}, {"$inc": {"bal": -amount}}, session=s)
            d[dst].update_one({"_id": y}, {"$inc": {"bal": amount}}, session=s)
            if with_ledger:
                d.a.insert_one({"from": [src, x], "to": [dst, y], "amount": amount},
                               session=s)
        with client.start_session() as s:
            s.with_transaction(transfer)
        committed += 1
        if committed == 1:
            open(ready_file, "w").close()
        time.sleep(0.01)
    print(json.dumps({"committed": committed}))


def cmd_stage_xtxns(uri, db, txns, mode="across"):
    import uuid
    from bson import Binary, Int64
    import replay_events as rev
    client = pymongo.MongoClient(uri)
    sim = {"a": rev.SimSource(db, "a"), "b": rev.SimSource(db, "b", seed=2)}
    events = {"a": [], "b": []}
    records = []
    for t in range(int(txns)):
        lsid = {"id": Binary(uuid.uuid4().bytes, 4)}
        first = sim["a"].insert()
        evs = [("a", first), ("a", sim["a"].update(first["documentKey"]["_id"])),
               ("b", sim["b"].insert())]
        parts = {}
        for coll, ev in evs:
            ev["lsid"] = lsid
            ev["txnNumber"] = Int64(t + 1)
            ev["clusterTime"] = first["clusterTime"]
            events[coll].append(ev)
            seq = len(events[coll])
            lo, hi = parts.get(coll, (seq, seq))
            parts[coll] = (min(lo, seq), max(hi, seq))
        ct = first["clusterTime"]
        records.append({
            "_id": "txn:%s:%d:%d:%d" % (lsid["id"].hex(), t + 1, ct.time, ct.inc),
            "lsid": lsid, "txnNumber": Int64(t + 1), "clusterTime": ct,
            "parts": [{"ns": "%s.%s" % (db, c), "firstSeq": Int64(lo), "lastSeq": Int64(hi)}
                      for c, (lo, hi) in sorted(parts.items())]})
    if mode == "across":
        client[db]["cdc_meta"].insert_many(records)
    for coll in ("a", "b"):
        ns = "%s.%s" % (db, coll)
        rev.stage(client, db, ns, events[coll])
        rev.checkpoint(client, db, ns, rev.now_ts(86400))


class Reader(threading.Thread):
    """Reads the total of a and b once replay has passed the latest dump end."""

    def __init__(self, uri, db, total):
        super().__init__(daemon=True)
        self.client = pymongo.MongoClient(uri)
        self.db = self.client[db]
        self.dbname = db
        self.total = total
        self.reads = 0
        self.broken = []
        self.stop = threading.Event()
        self.error = None

    def dump_end(self, coll):
        m = self.db.cdc_meta.find_one({"_id": "restore:%s.%s" % (self.dbname, coll)})
        return m.get("dumpEndTime") if m else None

    def passed(self, coll, t):
        ns = "%s.%s" % (self.dbname, coll)
        return self.db.cdc.find_one({"ns": ns, "status": "done",
                                     "clusterTime": {"$gt": t}}) is not None

    def consistent_from_now(self):
        """Every collection's replay has passed the latest dump end: each
        collection is dumped at its own time, so a transaction between two
        dump ends is in one collection's dump and in the other's events."""
        ends = [self.dump_end(c) for c in ("a", "b")]
        if None in ends:
            return False
        return all(self.passed(c, max(ends)) for c in ("a", "b"))

    def read_once(self):
        sums = []
        with self.client.start_session() as s:
            s.start_transaction(read_concern=ReadConcern("snapshot"))
            for coll in ("a", "b"):
                got = list(self.db[coll].aggregate(
                    [{"$group": {"_id": None, "t": {"$sum": "$bal"}}}], session=s))
                sums.append(got[0]["t"] if got else 0)
            s.abort_transaction()
        self.reads += 1
        if sum(sums) != self.total and len(self.broken) < 20:
            self.broken.append(sums)

    def run(self):
        try:
            while not self.stop.is_set() and not self.consistent_from_now():
                time.sleep(0.05)
            while not self.stop.is_set():
                self.read_once()
        except Exception as e:  # reported by the main thread
            self.error = repr(e)


def replay_of(sync_pid, ns_coll):
    """The pid of the cdc-replay of --coll ns_coll under sync_pid, or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_state(int(entry))
        if not st or st[1] != sync_pid or st[2] != "cdc-replay" or st[0] == "Z":
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"--coll" in argv and argv[argv.index(b"--coll") + 1] == ns_coll.encode():
            return int(entry)
    return None


def open_txns(admin):
    return admin.command("serverStatus")["transactions"]["currentOpen"]


def hold_a_commit(admin):
    """Makes the next commitTransaction of cdc-replay hang; returns once the
    target shows that transaction open for half a second."""
    admin.command("configureFailPoint", "failCommand", mode={"times": 1}, data={
        "failCommands": ["commitTransaction"], "blockConnection": True, "blockTimeMS": 3000,
        "closeConnection": True, "appName": REPLAY_APP})
    since = []

    def held_open():
        if open_txns(admin) < 1:
            since.clear()
            return False
        since.append(time.monotonic())
        return since[-1] - since[0] >= 0.5
    wait_for("a target transaction of cdc-replay held open by the fail point", held_open,
             timeout=60, interval=0.02)


def kill_replay(args, procs, log, count, admin, coll, in_commit):
    """Kills the cdc-replay of coll -9 (inside a held commit when in_commit),
    starts sync again and returns the seconds replay took to go on."""
    sync = procs[-1]
    wait_for("the cdc-replay of %s under sync_migration.sh" % coll,
             lambda: replay_of(sync.pid, coll) is not None)
    if in_commit:
        hold_a_commit(admin)
    os.kill(replay_of(sync.pid, coll), signal.SIGKILL)
    rc = sync.wait(timeout=30)
    if rc != 137:
        raise SystemExit("sync_migration.sh exited %d, not 137" % rc)
    if in_commit:
        admin.command("configureFailPoint", "failCommand", mode="off")
    t0 = time.monotonic()
    procs.append(subprocess.Popen([args.sync, "--state-dir", args.state_dir, "--dump-dir",
                                   args.dump_dir, "-", args.db, "--all"],
                                  stdout=log, stderr=subprocess.STDOUT))
    done = count("done")
    wait_for("replay to go on after the kill of %s" % coll,
             lambda: count("done") > done + 5 and open_txns(admin) == 0, timeout=60,
             interval=0.05)
    return time.monotonic() - t0


def kill_capture(args, log, count):
    """Kills cdc-capture -9 once it has staged a few more events, and resumes it."""
    n = count() + random.randint(1, 30)
    wait_for("capture to stage past %d" % n, lambda: count() > n, timeout=60, interval=0.05)
    with open(os.path.join(args.state_dir, "%s.capture.pid" % args.db)) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGKILL)
    wait_for("capture %d to die" % pid, lambda: not alive(pid))
    rc = subprocess.call([args.init, "--resume-capture", "--state-dir", args.state_dir,
                          "-", "-", args.db, "--all"], stdout=log, stderr=subprocess.STDOUT)
    if rc != 0:
        raise SystemExit("init_migration.sh --resume-capture exited %d" % rc)


def stop_sync(sync):
    """After a failure: SIGTERM to sync_migration.sh, SIGKILL after 20 s."""
    if sync.poll() is not None:
        return
    sync.send_signal(signal.SIGTERM)
    try:
        sync.wait(timeout=20)
    except subprocess.TimeoutExpired:
        sync.kill()
        sync.wait()


def cmd_run(argv):
    p = argparse.ArgumentParser()
    for opt in ("--init", "--sync", "--state-dir", "--dump-dir", "--db", "--stop-file", "--log"):
        p.add_argument(opt, required=True)
    p.add_argument("--total", type=int, required=True)
    args = p.parse_args(argv)
    uri = os.environ["TARGET_URI"]
    client = pymongo.MongoClient(uri)
    admin = client.admin
    staged = client[args.db]["cdc"]
    log = open(args.log, "ab")

    def count(status):
        return staged.count_documents({"status": status})

    reader = Reader(uri, args.db, args.total)
    reader.start()
    procs = [subprocess.Popen([args.sync, "--state-dir", args.state_dir, "--dump-dir",
                               args.dump_dir, "-", args.db, "--all"],
                              stdout=log, stderr=subprocess.STDOUT)]
    try:
        wait_for("the reader to start reading", lambda: reader.reads >= 20 or reader.error,
                 timeout=60)
        waits = [round(kill_replay(args, procs, log, count, admin, "a", True), 1)]
        reads = reader.reads
        wait_for("more reads", lambda: reader.reads >= reads + 20 or reader.error, timeout=60)
        waits.append(round(kill_replay(args, procs, log, count, admin, "b", False), 1))
        reads = reader.reads
        wait_for("more reads", lambda: reader.reads >= reads + 20 or reader.error, timeout=60)
        for _ in range(2):
            kill_capture(args, log, lambda: staged.count_documents({}))
        reads = reader.reads
        wait_for("more reads", lambda: reader.reads >= reads + 20 or reader.error, timeout=60)
        open(args.stop_file, "w").close()
        wait_for("replay to apply everything staged", lambda: count("pending") == 0,
                 timeout=60, interval=0.1)
        time.sleep(0.2)  # a few more reads of the final state
        reader.stop.set()
        reader.join(10)
        sync = procs[-1]
        sync.send_signal(signal.SIGTERM)
        rc = sync.wait(timeout=60)
    except BaseException:
        stop_sync(procs[-1])
        raise
    if rc != 0:
        raise SystemExit("the last sync_migration.sh exited %d on SIGTERM, not 0" % rc)
    if reader.error:
        raise SystemExit("the reader failed: " + reader.error)
    print(json.dumps({"reads": reader.reads,
                      "broken": reader.broken, "waits": waits}))
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "load":
        cmd_load(*sys.argv[2:5])
    elif cmd == "transfers":
        cmd_transfers(*sys.argv[2:7])
    elif cmd == "stage-xtxns":
        cmd_stage_xtxns(*sys.argv[2:6])
    elif cmd == "run":
        return cmd_run(sys.argv[2:])
    else:
        raise SystemExit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
