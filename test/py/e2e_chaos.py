"""Kill cdc-capture and cdc-replay with SIGKILL at random moments and restart
them with the documented commands, while a workload runs.

usage: e2e_chaos.py --init PATH --sync PATH --state-dir DIR --dump-dir DIR
                    --db DB --coll COLL --log FILE [--kills N] [--seed S]
       e2e_chaos.py ... --db DB --all N ...

--all N: database mode (DB --all for both drivers), N collections at
least: the capture is the database's, the killed cdc-replay is one of those
sync_migration.sh runs (it must then exit 137 too, having stopped the
others), and the counts are over every collection of DB.

TARGET_URI and SOURCE_URI come from the environment (the scripts get "-").
Starts `sync_migration.sh --state-dir DIR --dump-dir DIR - DB COLL`
(following); then N times: waits until capture has staged a random number
(0..60) of new events, kills it (-9) and runs `init_migration.sh
--resume-capture`; waits until replay has applied a random number of new
events, kills cdc-replay (-9), checks sync_migration.sh exited 137, and
starts it again. At the end stops
the last sync_migration.sh with SIGTERM (it must exit 0). Exit 0 when every
step went as documented; the reason on stderr otherwise.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time

import pymongo


def proc_state(pid):
    """(state letter, ppid, comm) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), comm


def alive(pid):
    st = proc_state(pid)
    return st is not None and st[0] != "Z"


def wait_for(what, cond, timeout=30.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def child_named(ppid, name):
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_state(int(entry))
        if st and st[1] == ppid and st[2] == name and st[0] != "Z":
            return int(entry)
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--init", required=True)
    p.add_argument("--sync", required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--dump-dir", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--coll")
    p.add_argument("--all", type=int, default=0)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--log", required=True)
    args = p.parse_args()
    rng = random.Random(args.seed)
    print("seed %d" % args.seed, file=sys.stderr)

    staged = pymongo.MongoClient(os.environ["TARGET_URI"])[args.db]["cdc"]
    if args.all:
        ns = {"$regex": "^%s\\." % args.db}
        pid_file = os.path.join(args.state_dir, "%s.capture.pid" % args.db)
        unit = [args.db, "--all"]
    else:
        ns = "%s.%s" % (args.db, args.coll)
        pid_file = os.path.join(args.state_dir, "%s.capture.pid" % ns)
        unit = [args.db, args.coll]
    log = open(args.log, "ab")

    def count(status=None):
        q = {"ns": ns}
        if status:
            q["status"] = status
        return staged.count_documents(q)

    started_at = [0]

    def start_sync():
        log.flush()
        started_at[0] = os.path.getsize(args.log)
        return subprocess.Popen([args.sync, "--state-dir", args.state_dir, "--dump-dir",
                                 args.dump_dir, "-"] + unit,
                                stdout=log, stderr=subprocess.STDOUT)

    sync = start_sync()
    for i in range(args.kills):
        # Capture: killed after a random number of newly staged events.
        n = count() + rng.randint(0, 60)
        wait_for("capture to stage past %d" % n, lambda: count() > n, interval=0.1)
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGKILL)
        wait_for("capture %d to die" % pid, lambda: not alive(pid))
        rc = subprocess.call([args.init, "--resume-capture", "--state-dir", args.state_dir,
                              "-", "-"] + unit, stdout=log, stderr=subprocess.STDOUT)
        if rc != 0:
            raise SystemExit("kill %d: init_migration.sh --resume-capture exited %d" % (i, rc))

        # Replay: killed after a random number of newly applied events.
        wait_for("cdc-replay under sync_migration.sh",
                 lambda: child_named(sync.pid, "cdc-replay") is not None)
        n = count("done") + rng.randint(0, 60)
        wait_for("replay to apply past %d" % n, lambda: count("done") > n, interval=0.1)
        replay = child_named(sync.pid, "cdc-replay")
        os.kill(replay, signal.SIGKILL)
        rc = sync.wait(timeout=30)
        if rc != 137:
            raise SystemExit("kill %d: sync_migration.sh exited %d, not 137" % (i, rc))
        sync = start_sync()
        print("kill %d done: %d staged, %d applied" % (i, count(), count("done")),
              file=sys.stderr)

    # SIGTERM once replay has said it started (its handlers are in place).
    def replays_started():
        with open(args.log, "rb") as f:
            f.seek(started_at[0])
            text = f.read()
        # Database mode: sync says how many replays it starts.
        m = re.search(rb"replay of (\d+) collections", text)
        want = int(m.group(1)) if m else 1
        if args.all and not m:
            return False
        return text.count(b"cdc-replay info: replaying") >= want
    wait_for("the last cdc-replay to start", replays_started)
    sync.send_signal(signal.SIGTERM)
    rc = sync.wait(timeout=60)
    if rc != 0:
        raise SystemExit("the last sync_migration.sh exited %d on SIGTERM, not 0" % rc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
