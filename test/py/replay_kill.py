"""cdc-replay crash test: stage N synthesized events, kill -9 cdc-replay at
random moments, restart it each time, and check at every kill that every
event marked done is applied (the target is the state after the done prefix,
or after a few more events of the batch in flight), and at the end that the
target equals the simulated source.

usage: replay_kill.py URI DB EVENTS KILLS BATCH SEED [extra cdc-replay args]
With REPLAY_KILL_SIGNAL=TERM it stops cdc-replay with SIGTERM instead: then
it must exit 0 with its last batch applied and marked (no batch in flight).
Exit 0 when every check holds; prints what failed otherwise.
"""

import os
import random
import signal
import subprocess
import sys
import time

import pymongo

import replay_events as rev


def main():
    uri, db, n_events, kills, batch, seed = sys.argv[1:7]
    extra = sys.argv[7:]
    n_events, kills, batch, seed = int(n_events), int(kills), int(batch), int(seed)
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    ns = db + ".c"
    sim = rev.SimSource(db, "c", seed=seed)
    history = {}  # _id -> [(seq, state or None)]
    events = []
    for seq in range(1, n_events + 1):
        ev = sim.random_event(max_docs=800)
        _id = ev["documentKey"]["_id"]
        state = sim.docs.get(_id)
        # A deep copy: later writes mutate the truth's nested values.
        history.setdefault(_id, []).append((seq, rev.copy.deepcopy(state)))
        events.append(ev)
    t0 = time.time()
    rev.stage(client, db, ns, events)
    print("staged %d events in %.1f s" % (n_events, time.time() - t0))
    staging = client[db]["cdc"]

    env = dict(os.environ, TARGET_URI=uri)
    cmd = ["cdc-replay", "--db", db, "--coll", "c", "--batch-size", str(batch),
           "--status-interval", "0", "--log-level", "warn"] + extra
    graceful = os.environ.get("REPLAY_KILL_SIGNAL") == "TERM"
    rng = random.Random(seed)
    thresholds = sorted(rng.sample(range(1, n_events), kills))
    failures = []
    t0 = time.time()
    for k, threshold in enumerate(thresholds):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            done = staging.count_documents({"ns": ns, "status": "done"})
            if done >= threshold or proc.poll() is not None:
                break
            time.sleep(0.01)
        if graceful:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait()
            if rc != 0:
                failures.append("kill %d: cdc-replay exited %d on SIGTERM" % (k, rc))
        else:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        failures += check_prefix(client, db, ns, history, 0 if graceful else batch, k)
        if failures:
            break
    if not failures:
        r = subprocess.run(cmd + ["--drain"], env=env, timeout=120)
        if r.returncode != 0:
            failures.append("final cdc-replay --drain exited %d" % r.returncode)
    print("replayed with %d kills in %.1f s" % (kills, time.time() - t0))
    if not failures:
        failures += rev.diff(sim.docs, rev.target_state(client, db, "c"))
        pending = staging.count_documents({"ns": ns, "status": {"$ne": "done"}})
        if pending:
            failures.append("%d events not done at the end" % pending)
    for f in failures:
        print(f)
    sys.exit(1 if failures else 0)


def check_prefix(client, db, ns, history, batch, k):
    """Done must be a prefix 1..D of seq, and each document must be in a
    state the events up to D, plus some of the next batch, produce."""
    staging = client[db]["cdc"]
    done = staging.count_documents({"ns": ns, "status": "done"})
    top = staging.find_one({"ns": ns, "status": "done"}, sort=[("seq", -1)])
    d = int(top["seq"]) if top else 0
    out = []
    if d != done:
        return ["kill %d: done is not a prefix: %d done, highest done seq %d" % (k, done, d)]
    actual = rev.target_state(client, db, "c")
    for _id, hist in history.items():
        allowed = [None]
        for seq, state in hist:
            if seq <= d:
                allowed = [state]
            elif seq <= d + batch:
                allowed.append(state)
        got = actual.get(_id)
        if got not in allowed:
            out.append("kill %d (done up to seq %d): _id %r is %r, expected one of %r"
                       % (k, d, _id, got, allowed))
    for _id in actual:
        if _id not in history:
            out.append("kill %d: unexpected _id %r" % (k, _id))
    print("kill %d at done seq %d: ok" % (k, d) if not out else "kill %d failed" % k)
    return out[:10]


if __name__ == "__main__":
    main()
