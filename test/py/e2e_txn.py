"""Source transactions through capture and replay: transfers between
accounts, a reader of the target, and cdc-replay killed -9 inside a target
transaction.

usage:
  e2e_txn.py load URI DB COLL ACCOUNTS
      ACCOUNTS documents {_id: i, bal: 1000}.
  e2e_txn.py transfers URI DB COLL ACCOUNTS STOP_FILE READY_FILE
      Until STOP_FILE exists: transactions moving a random amount between two
      random accounts, every third one with a ledger insert (no bal) too.
      Touches READY_FILE after the first commit; prints {"committed": n}.
  e2e_txn.py stage-txns URI DB COLL TXNS OPS [txn|plain [AHEAD]]
      Stages (as cdc-capture would) TXNS source transactions of OPS writes
      each (an insert, then updates; one lsid and txnNumber, one clusterTime
      per transaction; plain: no lsid and txnNumber) and a checkpoint AHEAD
      (default 5) seconds past now.
  e2e_txn.py run --sync PATH --state-dir DIR --dump-dir DIR --db DB --coll C
                 --total N --kills K --stop-file F --log FILE
      Starts `sync_migration.sh --state-dir DIR --dump-dir DIR - DB C`
      (following) and a reader that, once replay has applied an event past
      the dump end, reads the target's total (one aggregate) continuously.
      K times: makes the target's next commitTransaction of cdc-replay hang
      and then drop its connection (failCommand), kills cdc-replay -9 while
      the target shows that transaction open, checks sync_migration.sh
      exited 137 and that the transaction stays open, starts sync again and
      times how long replay takes to apply past it. Then creates F (the
      workload stops), waits for nothing to be pending, and stops sync with
      SIGTERM (exit 0). Prints
      {"reads": n, "broken": [...], "waits": [seconds...]}.

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

import uuid

import pymongo
from bson import Binary, Int64

import replay_events as rev
from e2e_chaos import alive, child_named, wait_for

REPLAY_APP = "changestream-migration/target"


def cmd_load(uri, db, coll, accounts):
    c = pymongo.MongoClient(uri)[db][coll]
    c.insert_many([{"_id": i, "bal": 1000} for i in range(int(accounts))])


def cmd_transfers(uri, db, coll, accounts, stop_file, ready_file):
    client = pymongo.MongoClient(uri)
    c = client[db][coll]
    rng = random.Random(os.getpid())
    accounts = int(accounts)
    committed = 0
    while not os.path.exists(stop_file):
        a, b = rng.sample(range(accounts), 2)
        amount = rng.randint(1, 50)
        with_ledger = committed % 3 == 0

        def transfer(s):
            c.update_one({"_id": a}, {"$inc": {"bal": -amount}}, session=s)
            c.update_one({"_id": b}, {"$inc": {"bal": amount}}, session=s)
            if with_ledger:
                c.insert_one({"from": a, "to": b, "amount": amount}, session=s)
        with client.start_session() as s:
            s.with_transaction(transfer)
        committed += 1
        if committed == 1:
            open(ready_file, "w").close()
        time.sleep(0.01)
    print(json.dumps({"committed": committed}))


def cmd_stage_txns(uri, db, coll, txns, ops, mode="txn", ahead="5"):
    """mode "plain" stages the same events without lsid and txnNumber (the
    bench's baseline); the checkpoint's clusterTime is AHEAD seconds past now.
    A transaction's first statement inserts, the others update documents."""
    client = pymongo.MongoClient(uri)
    sim = rev.SimSource(db, coll)
    rng = random.Random(1)
    events = []
    for t in range(int(txns)):
        lsid = {"id": Binary(uuid.uuid4().bytes, 4)}
        first = len(events)
        for k in range(int(ops)):
            if k == 0 or len(sim.docs) < 10:
                ev = sim.insert()
            else:
                ev = sim.update(rng.choice(list(sim.docs)[-200:]))
            if mode == "txn":
                ev["lsid"] = lsid
                ev["txnNumber"] = Int64(t + 1)
            events.append(ev)
        for ev in events[first:]:
            ev["clusterTime"] = events[first]["clusterTime"]
    ns = "%s.%s" % (db, coll)
    rev.stage(client, db, ns, events)
    rev.checkpoint(client, db, ns, rev.now_ts(int(ahead)))


class Reader(threading.Thread):
    """Reads the target's total once replay has passed the dump end."""

    def __init__(self, uri, db, coll, total):
        super().__init__(daemon=True)
        client = pymongo.MongoClient(uri)
        self.coll = client[db][coll]
        self.staging = client[db]["cdc"]
        self.marker = client[db]["cdc_meta"]
        self.ns = "%s.%s" % (db, coll)
        self.total = total
        self.reads = 0
        self.broken = []
        self.stop = threading.Event()
        self.error = None

    def passed_dump_end(self):
        m = self.marker.find_one({"_id": "restore:" + self.ns})
        if not m or "dumpEndTime" not in m:
            return False
        return self.staging.find_one({"ns": self.ns, "status": "done",
                                      "clusterTime": {"$gt": m["dumpEndTime"]}}) is not None

    def run(self):
        try:
            while not self.stop.is_set() and not self.passed_dump_end():
                time.sleep(0.05)
            while not self.stop.is_set():
                got = list(self.coll.aggregate(
                    [{"$group": {"_id": None, "t": {"$sum": "$bal"}, "n": {"$sum": 1}}}]))
                t = got[0]["t"] if got else 0
                self.reads += 1
                if t != self.total and len(self.broken) < 20:
                    self.broken.append(t)
        except Exception as e:  # reported by the main thread
            self.error = repr(e)


def open_txns(admin):
    return admin.command("serverStatus")["transactions"]["currentOpen"]


def kill_in_txn(args, procs, log, count, admin):
    """Kills cdc-replay (under procs[-1]) inside a target transaction, starts
    sync again (appended to procs) and returns the seconds replay took to
    apply past the transaction left open."""
    sync = procs[-1]
    wait_for("cdc-replay under sync_migration.sh",
             lambda: child_named(sync.pid, "cdc-replay") is not None)
    admin.command("configureFailPoint", "failCommand", mode={"times": 1}, data={
        "failCommands": ["commitTransaction"], "blockConnection": True, "blockTimeMS": 3000,
        "closeConnection": True, "appName": REPLAY_APP})
    # The transaction whose commit hangs is the one open for half a second
    # (the others last milliseconds).
    since = []

    def held_open():
        if open_txns(admin) < 1:
            since.clear()
            return False
        since.append(time.monotonic())
        return since[-1] - since[0] >= 0.5
    wait_for("a target transaction of cdc-replay held open by the fail point", held_open,
             timeout=60, interval=0.02)
    replay = child_named(sync.pid, "cdc-replay")
    os.kill(replay, signal.SIGKILL)
    rc = sync.wait(timeout=30)
    if rc != 137:
        raise SystemExit("sync_migration.sh exited %d, not 137" % rc)
    fired = admin.command("configureFailPoint", "failCommand", mode="off").get("count", 0)
    if fired < 1:
        raise SystemExit("the commitTransaction fail point never fired")
    if open_txns(admin) < 1:
        raise SystemExit("no target transaction was left open by the killed cdc-replay")
    pending_before = count("pending")
    t0 = time.monotonic()
    procs.append(subprocess.Popen([args.sync, "--state-dir", args.state_dir, "--dump-dir",
                                   args.dump_dir, "-", args.db, args.coll],
                                  stdout=log, stderr=subprocess.STDOUT))
    done = count("done")
    wait_for("replay to apply past the transaction left open",
             lambda: count("done") > done and open_txns(admin) == 0, timeout=60, interval=0.05)
    print("kill: %d pending, applied again after %.1f s" % (pending_before,
                                                           time.monotonic() - t0),
          file=sys.stderr)
    return time.monotonic() - t0


def stop_sync(sync):
    """After a failure: SIGTERM to sync_migration.sh (it stops cdc-replay),
    SIGKILL to both after 20 s; nothing of this run is left behind."""
    if sync.poll() is not None:
        return
    replay = child_named(sync.pid, "cdc-replay")
    sync.send_signal(signal.SIGTERM)
    try:
        sync.wait(timeout=20)
    except subprocess.TimeoutExpired:
        sync.kill()
        sync.wait()
    if replay and alive(replay):
        os.kill(replay, signal.SIGKILL)


def cmd_run(argv):
    p = argparse.ArgumentParser()
    for opt in ("--sync", "--state-dir", "--dump-dir", "--db", "--coll", "--stop-file",
                "--log"):
        p.add_argument(opt, required=True)
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--kills", type=int, default=1)
    args = p.parse_args(argv)
    uri = os.environ["TARGET_URI"]
    client = pymongo.MongoClient(uri)
    admin = client.admin
    staged = client[args.db]["cdc"]
    ns = "%s.%s" % (args.db, args.coll)
    log = open(args.log, "ab")

    def count(status=None):
        q = {"ns": ns}
        if status:
            q["status"] = status
        return staged.count_documents(q)

    reader = Reader(uri, args.db, args.coll, args.total)
    reader.start()
    procs = [subprocess.Popen([args.sync, "--state-dir", args.state_dir, "--dump-dir",
                               args.dump_dir, "-", args.db, args.coll],
                              stdout=log, stderr=subprocess.STDOUT)]
    try:
        waits = run_kills(args, procs, reader, log, count, admin)
        return finish(procs[-1], reader, waits)
    except BaseException:
        stop_sync(procs[-1])
        raise


def run_kills(args, procs, reader, log, count, admin):
    """The kills, then the wait for everything to be applied; procs[-1] is
    the sync_migration.sh running. Returns the waits."""
    wait_for("the reader to start reading", lambda: reader.reads >= 20 or reader.error,
             timeout=60)
    waits = []
    for _ in range(args.kills):
        waits.append(round(kill_in_txn(args, procs, log, count, admin), 1))
    wait_for("the reader to read after the kills", lambda: reader.reads >= 100 or reader.error,
             timeout=60)
    open(args.stop_file, "w").close()
    wait_for("replay to apply everything staged",
             lambda: count("pending") == 0 and reader.reads > 0, timeout=60, interval=0.1)
    return waits


def finish(sync, reader, waits):
    time.sleep(0.2)  # a few more reads of the final state
    reader.stop.set()
    reader.join(10)
    sync.send_signal(signal.SIGTERM)
    rc = sync.wait(timeout=60)
    if rc != 0:
        raise SystemExit("the last sync_migration.sh exited %d on SIGTERM, not 0" % rc)
    if reader.error:
        raise SystemExit("the reader failed: " + reader.error)
    print(json.dumps({"reads": reader.reads, "broken": reader.broken, "waits": waits}))
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "load":
        cmd_load(*sys.argv[2:6])
    elif cmd == "transfers":
        cmd_transfers(*sys.argv[2:8])
    elif cmd == "stage-txns":
        cmd_stage_txns(*sys.argv[2:9])
    elif cmd == "run":
        return cmd_run(sys.argv[2:])
    else:
        raise SystemExit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
