#!/usr/bin/env bats
# cdc-replay: staged events -> target, in order, idempotent, restartable.
# Events are staged directly (test/py/replay_events.py builds them in
# MongoDB's change-event shape), so these tests need no cdc-capture.

# shellcheck disable=SC2154 # $stderr_lines is set by bats' run --separate-stderr

setup_file() {
	load helpers
	mlite_start TGT
	mlite_start SRC
}

teardown_file() {
	load helpers
	mlite_stop SRC
	mlite_stop TGT
}

setup() {
	load helpers
	test_db
	export TARGET_URI="$TGT_URI"
	REPLAY_PID=
}

teardown() {
	# A failed test must not leave a follower behind (bats would wait for it).
	if [[ -n "$REPLAY_PID" ]] && kill -0 "$REPLAY_PID" 2>/dev/null; then
		kill -KILL "$REPLAY_PID"
		cat "$BATS_TEST_TMPDIR/log" >&2 || true
	fi
	mlite_stop GONE
	mlite_stop FROZEN
}

# replay_bg ARGS...: cdc-replay on $DB in the background, output in
# $BATS_TEST_TMPDIR/log (appended), pid in REPLAY_PID.
replay_bg() {
	cdc-replay --db "$DB" "$@" >>"$BATS_TEST_TMPDIR/log" 2>&1 3>&- &
	REPLAY_PID=$!
}

# replay_wait_exit SECONDS: wait for the background cdc-replay to exit;
# sets status to its exit code.
replay_wait_exit() {
	wait_until "$1" bash -c "! kill -0 $REPLAY_PID 2>/dev/null"
	status=0
	wait "$REPLAY_PID" || status=$?
	REPLAY_PID=
}

# replay ARGS...: cdc-replay on $DB.c (unless --coll is given later).
replay() {
	# A bound, so that a replay that never ends fails the test instead of
	# hanging the suite.
	timeout 120 cdc-replay --db "$DB" --status-interval 0 "$@"
}

py() {
	pyrun "$TGT_URI" "import replay_cases as rc, replay_events as rev
$1" "${@:2}"
}

@test "--help prints the synopsis and exits 0; a bad option value exits 64" {
	run -0 --separate-stderr cdc-replay --help
	[[ "$output" == *"usage: cdc-replay --db DB --coll COLL"* ]]
	[[ "$output" == *"exit status:"*"  4   stopped at a drop, rename"* ]]
	[[ -z "$stderr" ]]
	run -0 --separate-stderr cdc-replay -h
	[[ "$output" == "usage: cdc-replay --db DB --coll COLL"* ]]
	# Misuse: "cdc-replay: reason" then the synopsis, on stderr only.
	run -64 --separate-stderr cdc-replay --db d --coll c --batch-size 0
	[[ "${stderr_lines[0]}" == "cdc-replay: invalid value '0' for --batch-size"* ]]
	[[ "${stderr_lines[1]}" == "usage: cdc-replay --db DB --coll COLL"* ]]
	[[ -z "$output" ]]
	run -64 --separate-stderr cdc-replay --coll c
	[[ "${stderr_lines[0]}" == "cdc-replay: --db and --coll are required" ]]
	[[ "${stderr_lines[1]}" == "usage: cdc-replay --db DB --coll COLL"* ]]
}

@test "a target collection named like the staging collections is refused with 64 for every colliding name" {
	local args
	for args in "--coll cdc" "--coll cdc_meta" "--coll c --to-coll cdc" "--coll c --to-db $DB --to-coll cdc_meta" \
		"--coll s --staging-coll s" "--coll c --to-coll s_meta --staging-coll s"; do
		# shellcheck disable=SC2086 # the options are split on purpose
		run -64 replay $args --drain
		[[ "$output" == *"is named like the staging collections"*"--staging-coll"* ]]
	done
	py 'assert client[db_name].list_collection_names() == []'
	# Another database or staging name does not collide.
	run -0 replay --coll cdc --to-db "${DB}_2" --drain
	run -0 replay --coll cdc --staging-coll s --drain
}

@test "every replay rule (docs/DESIGN.md, \"Replay rules\") lands on the target, composite keys included" {
	py 'rc.stage_rows(client, db_name)'
	run -0 replay --coll c --drain
	run -0 replay --coll s --drain
	py 'rc.check_rows(client, db_name); rc.all_done(client, db_name, db_name + ".c"); rc.all_done(client, db_name, db_name + ".s")'
}

@test "a batch applied twice (crash between apply and mark) converges" {
	py 'rc.stage_rows(client, db_name)'
	run -0 replay --coll c --drain --batch-size 4
	# As if the marks had never been written: everything is applied again.
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	py 'client[db_name].cdc.update_many({}, {"$set": {"status": "pending"}, "$unset": {"appliedAt": 1}})'
	run -0 replay --coll c --drain --batch-size 3
	run -0 replay --coll s --drain
	py 'rc.check_rows(client, db_name); rc.all_done(client, db_name, db_name + ".c")'
}

@test "5,000 random events converge to the simulated source, in batches and with workers" {
	py '
sim = rev.SimSource(db_name, "c", seed=7)
rev.stage(client, db_name, db_name + ".c", [sim.random_event(300) for _ in range(5000)])
open(sys.argv[1], "wb").write(__import__("pickle").dumps(sim.docs))' "$BATS_TEST_TMPDIR/want"
	run -0 replay --coll c --drain --batch-size 333 --workers 3
	py '
want = __import__("pickle").loads(open(sys.argv[1], "rb").read())
d = rev.diff(want, rev.target_state(client, db_name, "c"))
assert not d, "\n".join(d)
rc.all_done(client, db_name, db_name + ".c")' "$BATS_TEST_TMPDIR/want"
}

@test "a unique value moving between documents replays with --workers 4" {
	py 'rc.stage_unique_moves(client, db_name)'
	run -0 replay --coll c --drain --workers 4 --batch-size 200 --log-level debug
	echo "$output"
	py 'rc.check_unique_moves(client, db_name)'
	# Reordering across documents did hit the index, and fell back.
	[[ "$output" == *"applying the batch again as one ordered stream"* ]]
}

@test "a duplicate key that persists in order stops with exit 65 naming both _ids" {
	py '
c = client[db_name].c
c.create_index("email", unique=True)
c.insert_many([{"_id": 1, "email": "x"}, {"_id": 2, "email": "y"}])
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.upd(rc.k(3), {"n": 1}), e.upd(rc.k(2), {"email": "x"}), e.upd(rc.k(1), {"n": 2})])'
	run -65 replay --coll c --drain --workers 2
	echo "$output"
	[[ "$output" == *"duplicate key"* ]]
	[[ "$output" == *'seq 2 (update of { "_id" : 2 })'* ]]
	[[ "$output" == *'{ "_id" : 1 }'* ]]
	# Nothing of that batch is marked done; nothing was skipped.
	py 'assert client[db_name].cdc.count_documents({"status": "done"}) == 0'
}

@test "a staged drop stops replay with exit 4 after everything before it, again on restart" {
	py '
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [
    e.ev("insert", rc.k(1), fullDocument={"_id": 1}),
    e.ev("insert", rc.k(2), fullDocument={"_id": 2}),
    e.ev("drop", None),
    e.ev("invalidate", None),
    e.ev("insert", rc.k(3), fullDocument={"_id": 3})])'
	run -4 replay --coll c
	[[ "$output" == *"stopped at seq 3 (drop)"* ]]
	py '
st = {d["seq"]: d["status"] for d in client[db_name].cdc.find()}
assert st == {1: "done", 2: "done", 3: "pending", 4: "pending", 5: "pending"}, st
assert sorted(d["_id"] for d in client[db_name].c.find()) == [1, 2]'
	run -4 replay --coll c
	[[ "$output" == *"stopped at seq 3 (drop)"* ]]
}

@test "split events are reassembled: server fragments and chunk parts" {
	py '
import bson
from bson.binary import Binary
ns = db_name + ".c"
big = "x" * 1000
e = rc.Events(db_name, "c")
whole = e.ev("insert", rc.k(1), fullDocument={"_id": 1, "big": big, "n": 1})
# Server fragments: top-level fields spread over 3 fragments.
f = e.ev("update", rc.k(2), fullDocument={"_id": 2, "big": big})
f1 = rev.SON([(k, f[k]) for k in ("_id", "operationType", "clusterTime", "wallTime", "ns")])
f1["splitEvent"] = {"fragment": 1, "of": 3}
f2 = rev.SON([("_id", {"_data": "ff02"}), ("documentKey", f["documentKey"]), ("splitEvent", {"fragment": 2, "of": 3})])
f3 = rev.SON([("_id", {"_data": "ff03"}), ("fullDocument", f["fullDocument"]), ("splitEvent", {"fragment": 3, "of": 3})])
docs = [rev.staged(ns, 1, whole), rev.staged(ns, 2, f1), rev.staged(ns, 3, f2), rev.staged(ns, 4, f3)]
# Chunk parts: the BSON bytes of one event in 3 slices.
c = e.ev("replace", rc.k(3), fullDocument={"_id": 3, "big": big})
raw = bson.BSON.encode(c)
cuts = [0, 100, 700, len(raw)]
for i in range(3):
    d = rev.staged(ns, 5 + i, c)
    del d["event"]
    d["chunk"] = {"index": i, "of": 3}
    d["eventBytes"] = Binary(raw[cuts[i]:cuts[i + 1]])
    docs.append(d)
rev.ensure_staging(client, db_name)
client[db_name].cdc.insert_many([rev.raw(d) for d in docs])'
	# Batch sizes that end inside both split events: the read extends.
	run -0 replay --coll c --drain --batch-size 2
	py '
got = rev.target_state(client, db_name, "c")
assert set(got) == {1, 2, 3}, got.keys()
assert got[2] == {"_id": 2, "big": "x" * 1000}, got[2]
assert got[3] == {"_id": 3, "big": "x" * 1000}, got[3]
rc.all_done(client, db_name, db_name + ".c")'
}

@test "an event whose last parts are not staged yet waits; the events before it apply" {
	py '
e = rc.Events(db_name, "c")
ns = db_name + ".c"
a = rev.staged(ns, 1, e.ev("insert", rc.k(1), fullDocument={"_id": 1}))
f = e.ev("insert", rc.k(2))
f["splitEvent"] = {"fragment": 1, "of": 2}
rev.ensure_staging(client, db_name)
client[db_name].cdc.insert_many([rev.raw(a), rev.raw(rev.staged(ns, 2, f))])'
	replay_bg --coll c --status-interval 0 --drain
	local pid=$REPLAY_PID
	wait_until 10 py 'assert client[db_name].cdc.find_one({"seq": 1})["status"] == "done"'
	py 'assert client[db_name].cdc.find_one({"seq": 2})["status"] == "pending"'
	kill -0 "$pid"
	py '
f2 = rev.SON([("_id", {"_data": "ff"}), ("fullDocument", {"_id": 2, "late": 1}), ("splitEvent", {"fragment": 2, "of": 2})])
d = rev.staged(db_name + ".c", 3, f2)
client[db_name].cdc.insert_one(rev.raw(d))'
	replay_wait_exit 20
	((status == 0))
	py 'assert client[db_name].c.find_one({"_id": 2}) == {"_id": 2, "late": 1}'
}

@test "catch-up window: deferred unique index once past the dump end, TTL only after --drain" {
	py 'rc.stage_window(client, db_name)'
	replay_bg --coll c --status-interval 0
	local pid=$REPLAY_PID
	# Every event applies although "x" is duplicated on the way.
	wait_until 20 py 'rc.all_done(client, db_name, db_name + ".c")'
	# Capture's checkpoint is still before the dump end: nothing built.
	py '
ix = rc.indexes(client, db_name)
assert "email_1" not in ix and "at_1" not in ix, ix
assert "uniqueCreatedAt" not in client[db_name].cdc_meta.find_one({"_id": "restore:%s.c" % db_name})'
	# Capture passes the dump end: the unique index is built, TTL is not.
	py 'rev.checkpoint(client, db_name, db_name + ".c", rev.Timestamp(rc.T0 + 1, 1), heartbeat=rev.datetime.datetime.utcnow() - rev.datetime.timedelta(hours=1))'
	wait_until 20 py 'assert "email_1" in rc.indexes(client, db_name)'
	py '
ix = rc.indexes(client, db_name)
assert ix["email_1"].get("unique") is True, ix
assert "at_1" not in ix, ix
m = client[db_name].cdc_meta.find_one({"_id": "restore:%s.c" % db_name})
assert "uniqueCreatedAt" in m and "ttlCreatedAt" not in m, m
assert [d["email"] for d in client[db_name].c.find(sort=[("_id", 1)])] == ["x", "y", "z"]'
	kill -TERM "$pid"
	replay_wait_exit 20
	((status == 0))
	# Cutover: --drain ends once capture is past the drain start; TTL then.
	replay_bg --coll c --status-interval 0 --drain
	pid=$REPLAY_PID
	py 'assert "at_1" not in rc.indexes(client, db_name)'
	py 'rev.checkpoint(client, db_name, db_name + ".c", rev.now_ts())'
	replay_wait_exit 20
	((status == 0))
	py '
ix = rc.indexes(client, db_name)
assert ix["at_1"].get("expireAfterSeconds") == 3600, ix
assert "ttlCreatedAt" in client[db_name].cdc_meta.find_one({"_id": "restore:%s.c" % db_name})'
	# Restarting after everything is built changes nothing (capture keeps
	# its checkpoint moving; here it is written ahead).
	py 'rev.checkpoint(client, db_name, db_name + ".c", rev.now_ts(30))'
	run -0 replay --coll c --drain
}

@test "catch-up window: a real duplicate after the dump end exits 65 naming the index" {
	py '
rc.stage_window(client, db_name)
client[db_name].c.insert_one({"_id": 9, "email": "z"})
rev.checkpoint(client, db_name, db_name + ".c", rev.Timestamp(rc.T0 + 1, 1))'
	run -65 replay --coll c --drain
	echo "$output"
	[[ "$output" == *"cannot create deferred unique index 'email_1'"* ]]
	[[ "$output" == *'"z"'* ]]
}

@test "catch-up window: writes refused for a newer document shape are passed over, after it they stop replay" {
	py 'rc.stage_window_shapes(client, db_name, "c"); rc.stage_window_shapes(client, db_name, "d", marker=False)'
	run -0 replay --coll c --drain
	[[ "$output" == *"passing over a write of seq 1 (update"*"inside the catch-up window"* ]]
	py '
assert client[db_name].c.find_one() == {"_id": 1, "a": 5, "arr": "str", "n": 1}
rc.all_done(client, db_name, db_name + ".c")'
	# Without a restore marker there is no window: the same error is real.
	run -65 replay --coll d --drain
	[[ "$output" == *"cannot apply seq 1 (update"*"Cannot create field"* ]]
}

@test "catch-up window: an _id that changed numeric type (200, then 200.0) converges; an altered _id is passed over inside it and stops replay after it" {
	py 'rc.stage_window_id_types(client, db_name)'
	run -0 replay --coll c --drain
	py '
docs = list(client[db_name].c.find())
assert docs == [{"_id": 200.0, "v": 2}] and isinstance(docs[0]["_id"], float), docs
rc.all_done(client, db_name, db_name + ".c")'
	run -0 replay --coll d --drain
	[[ "$output" == *"passing over a write of seq 1 (replace"*"inside the catch-up window"*"(code 66)"* ]]
	py 'assert client[db_name].d.find_one() == {"_id": 7, "a": 3}'
	# Without a restore marker there is no window: the same refusal is real.
	run -65 replay --coll e --drain
	[[ "$output" == *"cannot apply seq 1 (replace"*"(immutable) field '_id'"*"(code 66)"* ]]
}

@test "--drain exits only after the last event staged before capture caught up is applied" {
	py '
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(i), fullDocument={"_id": i}) for i in range(1, 101)])
rev.checkpoint(client, db_name, db_name + ".c", rev.Timestamp(rc.T0, 100), heartbeat=rev.datetime.datetime.utcnow() - rev.datetime.timedelta(minutes=5))'
	replay_bg --coll c --status-interval 0 --drain
	local pid=$REPLAY_PID
	wait_until 20 py 'rc.all_done(client, db_name, db_name + ".c")'
	# Everything staged so far is applied, but capture has not looked at
	# the source since the drain began: keep waiting.
	py 'pass'
	kill -0 "$pid"
	# Writes stop; capture stages the last events, then its heartbeat.
	py '
e = rc.Events(db_name, "c", t=rc.T0 + 1)
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(i), fullDocument={"_id": i}) for i in range(101, 151)])
rev.checkpoint(client, db_name, db_name + ".c", rev.now_ts())'
	replay_wait_exit 20
	((status == 0))
	py '
assert client[db_name].c.count_documents({}) == 150
assert client[db_name].c.find_one({"_id": 150}) == {"_id": 150}
rc.all_done(client, db_name, db_name + ".c")'
}

@test "--drain without any capture checkpoint ends once nothing is pending, with a warning" {
	py '
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(1), fullDocument={"_id": 1})])'
	run -0 replay --coll c --drain
	[[ "$output" == *"no capture checkpoint for '$DB.c'"* ]]
}

@test "--drain while capture is dead (its checkpoint says running) warns naming --resume-capture; --max-wait ends it with 75" {
	# Capture was killed -9 five minutes ago: its checkpoint still says
	# running, its heartbeat stopped.
	py '
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(i), fullDocument={"_id": i}) for i in range(1, 11)])
rev.checkpoint(client, db_name, db_name + ".c", rev.Timestamp(rc.T0, 10), heartbeat=rev.datetime.datetime.utcnow() - rev.datetime.timedelta(minutes=5))'
	local started=$SECONDS
	run -75 --separate-stderr replay --coll c --drain --max-wait 2
	((SECONDS - started < 10))
	echo "$stderr"
	[[ "$stderr" == *"capture of '$DB.c' has not written its checkpoint for 30"?" s (its state says 'running'"* ]]
	[[ "$stderr" == *"restart it with: init_migration.sh --resume-capture --state-dir DIR - - $DB c"* ]]
	# Once, not at every poll.
	[ "$(grep -c "has not written its checkpoint" <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *"--drain of '$DB.c' did not complete within --max-wait 2 s (waiting for capture to read the source past the drain start)"* ]]
	# What was staged is applied and marked, as at any other exit.
	py 'rc.all_done(client, db_name, db_name + ".c"); assert client[db_name].c.count_documents({}) == 10'
	run -64 --separate-stderr replay --coll c --max-wait 2
	[[ "$stderr" == *"--max-wait needs --drain"* ]]
}

@test "a frozen target (SIGSTOP): SIGTERM ends replay within seconds with 75 saying nothing is lost; the same command then converges" {
	needs_mlite
	mlite_start FROZEN
	export TARGET_URI="$FROZEN_URI"
	pyrun "$FROZEN_URI" 'import replay_cases as rc, replay_events as rev
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(i), fullDocument={"_id": i}) for i in range(1, 101)])'
	replay_bg --coll c --status-interval 0
	wait_until 20 pyrun "$FROZEN_URI" 'import replay_cases as rc; rc.all_done(client, db_name, db_name + ".c")'
	mlite_freeze FROZEN
	local started=$SECONDS
	kill -TERM "$REPLAY_PID"
	replay_wait_exit 20
	cat "$BATS_TEST_TMPDIR/log"
	((status == 75))
	((SECONDS - started <= 10))
	grep -q "the server did not answer within 5 s of the stop request; exiting now: nothing is lost, the next run resumes from the last saved position" "$BATS_TEST_TMPDIR/log"
	mlite_thaw FROZEN
	pyrun "$FROZEN_URI" 'import replay_cases as rc, replay_events as rev
e = rc.Events(db_name, "c", t=rc.T0 + 1)
rev.stage(client, db_name, db_name + ".c", [e.ev("delete", rc.k(i)) for i in range(1, 51)])'
	run -0 replay --coll c --drain
	pyrun "$FROZEN_URI" 'import replay_cases as rc
rc.all_done(client, db_name, db_name + ".c")
assert sorted(d["_id"] for d in client[db_name].c.find()) == list(range(51, 101))'
}

@test "SIGTERM finishes the batch in flight, marks it and exits 0" {
	REPLAY_KILL_SIGNAL=TERM run -0 "$PY" "$REPO_ROOT/test/py/replay_kill.py" "$TGT_URI" "$DB" 6000 3 300 5
	echo "$output"
}

@test "status line: JSON with events, rate, pending and lag from the checkpoint's position when idle" {
	py '
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(i), fullDocument={"_id": i}) for i in range(1, 21)])
now = rev.datetime.datetime.now(rev.datetime.timezone.utc)
rev.checkpoint(client, db_name, db_name + ".c", rev.Timestamp(int(now.timestamp()) - 30, 20), heartbeat=now.replace(tzinfo=None))'
	replay_bg --coll c --status-interval 1 --log-format json
	local pid=$REPLAY_PID
	wait_until 20 grep -q '"msg": *"status"' "$BATS_TEST_TMPDIR/log"
	wait_until 20 bash -c "grep '\"msg\": *\"status\"' '$BATS_TEST_TMPDIR/log' | grep -q '\"events\": *20'"
	kill -TERM "$pid"
	replay_wait_exit 20
	((status == 0))
	"$PY" -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
st = [l for l in lines if l.get("msg") == "status" and l.get("events") == 20][-1]
assert st["pending"] == 0, st
assert 25 <= st["lagSeconds"] <= 90, st
assert "rate" in st, st
assert st["ns"] == sys.argv[2] and st["state"] == "idle" and st["lastSeq"] == 20, st
assert st["clusterTime"]["t"] > 0, st
fin = [l for l in lines if l.get("msg") == "finished"]
assert fin and fin[-1]["state"] == "finished" and fin[-1]["events"] == 20, lines' "$BATS_TEST_TMPDIR/log" "$DB.c"
}

# failpoint MODE DATA: failCommand for cdc-replay's connections only.
failpoint() {
	local data="${2:-}"
	[[ -n "$data" ]] || data='{}'
	py '
import json
data = json.loads(sys.argv[2])
data["appName"] = "changestream-migration/target"
client.admin.command("configureFailPoint", "failCommand", mode=json.loads(sys.argv[1]), data=data)' "$1" "$data"
}

@test "transient faults on the target's bulk writes lose nothing (closeConnection, 91 RetryableWriteError)" {
	py '
import pickle
sim = rev.SimSource(db_name, "c", seed=3)
rev.stage(client, db_name, db_name + ".c", [sim.random_event(200) for _ in range(1000)])
pickle.dump(sim, open(sys.argv[1], "wb"))' "$BATS_TEST_TMPDIR/sim"
	failpoint '{"times": 5}' '{"failCommands": ["update", "delete", "insert"], "closeConnection": true}'
	run -0 replay --coll c --drain --batch-size 100
	[[ "$output" == *"retrying what=\"applying seq "*" to '$DB.c' on the target\""*"reason="* ]]
	py '
import pickle
sim = pickle.load(open(sys.argv[1], "rb"))
d = rev.diff(sim.docs, rev.target_state(client, db_name, "c"))
assert not d, "\n".join(d)
rev.stage(client, db_name, db_name + ".c", [sim.random_event(200) for _ in range(1000)])
pickle.dump(sim, open(sys.argv[1], "wb"))' "$BATS_TEST_TMPDIR/sim"
	failpoint '{"times": 5}' '{"failCommands": ["update", "delete", "insert"], "errorCode": 91, "errorLabels": ["RetryableWriteError"]}'
	run -0 replay --coll c --drain --batch-size 100
	[[ "$output" == *"retrying what=\"applying seq "*" to '$DB.c' on the target\""*"reason="* ]]
	py '
import pickle
sim = pickle.load(open(sys.argv[1], "rb"))
d = rev.diff(sim.docs, rev.target_state(client, db_name, "c"))
assert not d, "\n".join(d)
rc.all_done(client, db_name, db_name + ".c")' "$BATS_TEST_TMPDIR/sim"
}

@test "while the apply fails nothing is marked done; a failing mark is retried until it lands" {
	py '
client[db_name].c.insert_many([{"_id": i} for i in range(1, 21)])
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("delete", rc.k(i)) for i in range(1, 21)])'
	failpoint '"alwaysOn"' '{"failCommands": ["delete"], "errorCode": 91, "errorLabels": ["RetryableWriteError"]}'
	replay_bg --coll c --status-interval 0 --drain
	local pid=$REPLAY_PID
	wait_until 20 grep -q "retrying what=\"applying seq 1\.\.20 to '$DB.c' on the target\"" "$BATS_TEST_TMPDIR/log"
	py '
assert client[db_name].cdc.count_documents({"status": "done"}) == 0
assert client[db_name].c.count_documents({}) == 20'
	# The deletes go through now; the marking write fails instead.
	failpoint '"alwaysOn"' '{"failCommands": ["update"], "closeConnection": true}'
	wait_until 20 grep -q "retrying what=\"marking seq 1\.\.20 of '$DB.c' done on the target\"" "$BATS_TEST_TMPDIR/log"
	py '
assert client[db_name].c.count_documents({}) == 0
assert client[db_name].cdc.count_documents({"status": "done"}) == 0'
	kill -0 "$pid"
	failpoint '"off"'
	replay_wait_exit 30
	((status == 0))
	py 'rc.all_done(client, db_name, db_name + ".c")'
}

@test "source's real change events (updates without fullDocument) converge through a racing dump" {
	run -0 "$PY" "$REPO_ROOT/test/py/replay_e2e.py" "$SRC_URI" "$TGT_URI" "$DB" 3000 default --workers 2
	echo "$output"
	SOURCE_URI="$SRC_URI" run -0 cdc-verify --db "$DB" --coll c
	echo "$output"
	[[ "$output" == *"result: equal"* ]]
}

@test "source's real change events with updateLookup converge through a racing dump" {
	run -0 "$PY" "$REPO_ROOT/test/py/replay_e2e.py" "$SRC_URI" "$TGT_URI" "$DB" 3000 updateLookup
	echo "$output"
	SOURCE_URI="$SRC_URI" run -0 cdc-verify --db "$DB" --coll c
	[[ "$output" == *"result: equal"* ]]
}

@test "a write concern timeout (64, secondaries lagging) on the apply or the mark is retried until it passes, never marked before applied" {
	py '
client[db_name].c.insert_many([{"_id": i} for i in range(1, 21)])
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("delete", rc.k(i)) for i in range(1, 21)])'
	local wce='"writeConcernError": {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "waiting for replication timed out", "errInfo": {"wtimeout": true}}'
	failpoint '"alwaysOn"' "{\"failCommands\": [\"delete\"], $wce}"
	replay_bg --coll c --status-interval 0 --drain
	wait_until 20 grep -q "retrying what=\"applying seq 1\.\.20 to '$DB.c' on the target\".*waiting for replication timed out" "$BATS_TEST_TMPDIR/log"
	py 'assert client[db_name].cdc.count_documents({"status": "done"}) == 0'
	# The deletes are acknowledged now; the mark's write concern times out.
	failpoint '"alwaysOn"' "{\"failCommands\": [\"update\"], $wce}"
	wait_until 20 grep -q "retrying what=\"marking seq 1\.\.20 of '$DB.c' done on the target\".*waiting for replication timed out" "$BATS_TEST_TMPDIR/log"
	py 'assert client[db_name].c.count_documents({}) == 0'
	kill -0 "$REPLAY_PID"
	failpoint '"off"'
	replay_wait_exit 30
	((status == 0))
	py 'rc.all_done(client, db_name, db_name + ".c")'
}

@test "SIGTERM while the target is gone ends replay at once from its retry wait: the last status line does not ask the target" {
	needs_mlite
	mlite_start GONE
	pyrun "$GONE_URI" 'import replay_cases as rc, replay_events as rev
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(i), fullDocument={"_id": i}) for i in range(1, 31)])'
	TARGET_URI="$GONE_URI&serverSelectionTimeoutMS=1000" replay_bg --coll c --status-interval 0
	wait_until 20 pyrun "$GONE_URI" 'import replay_cases as rc
rc.all_done(client, db_name, db_name + ".c")'
	mlite_stop GONE
	# the fourth failed read waits 800 ms: the signal comes in that wait
	wait_until 30 grep -q "retrying what=\"reading staged events of '$DB.c' on the target\" attempt=4 " \
		"$BATS_TEST_TMPDIR/log"
	kill -TERM "$REPLAY_PID"
	local t0
	t0="$(date +%s%N)"
	replay_wait_exit 30
	local ms=$((($(date +%s%N) - t0) / 1000000))
	cat "$BATS_TEST_TMPDIR/log"
	echo "exited ${ms} ms after SIGTERM"
	((status == 0 && ms < 1500))
	grep -q "finished ns=$DB.c state=finished events=30 .*lastSeq=30 pending=null lagSeconds=null" \
		"$BATS_TEST_TMPDIR/log"
}
