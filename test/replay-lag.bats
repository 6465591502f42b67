#!/usr/bin/env bats
# cdc-replay's lagSeconds with nothing pending: the target holds everything
# capture staged, so it is as far behind as capture's position says, not
# as old as capture's heartbeat (docs/DESIGN.md, "Logs and status lines").

setup_file() {
	load helpers
	pair_start SRC TGT
}

teardown_file() {
	load helpers
	pair_stop
}

setup() {
	load helpers
	pair_setup
	REPLAY_PID=
	CAP_PID=
}

teardown() {
	if [[ -n "$REPLAY_PID" ]] && kill -0 "$REPLAY_PID" 2>/dev/null; then
		kill -KILL "$REPLAY_PID"
		cat "$BATS_TEST_TMPDIR/log" >&2 || true
	fi
	if [[ -n "$CAP_PID" ]] && kill -0 "$CAP_PID" 2>/dev/null; then
		kill -KILL "$CAP_PID"
	fi
}

py() {
	pyrun "$TGT_URI" "import datetime, replay_cases as rc, replay_events as rev
now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
$1" "${@:2}"
}

# last_idle_lag: lagSeconds of the newest idle status line with 20 events.
last_idle_lag() {
	"$PY" -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
st = [l for l in lines if l.get("msg") == "status" and l.get("state") == "idle"
      and l.get("events") == 20 and l.get("pending") == 0]
print(st[-1]["lagSeconds"] if st else "none")' "$BATS_TEST_TMPDIR/log"
}

has_idle_lag() {
	[[ "$(last_idle_lag)" != none ]]
}

# start_replay: cdc-replay of $DB.c in the background, a JSON status line
# every second into the log.
start_replay() {
	cdc-replay --db "$DB" --coll c --status-interval 1 --log-format json \
		>>"$BATS_TEST_TMPDIR/log" 2>&1 3>&- &
	REPLAY_PID=$!
}

# idle_lag_between LO HI: once replay has written an idle status line, its
# newest lag is within [LO, HI].
idle_lag_between() {
	wait_until 20 has_idle_lag
	awk -v l="$(last_idle_lag)" -v lo="$1" -v hi="$2" 'BEGIN { exit !(l >= lo && l <= hi) }' || {
		cat "$BATS_TEST_TMPDIR/log"
		false
	}
}

stop_replay() {
	kill -TERM "$REPLAY_PID"
	wait "$REPLAY_PID"
	REPLAY_PID=''
}

@test "nothing pending, capture two minutes behind with a fresh heartbeat: replay's lag says so until capture catches up" {
	# What a capture working through a backlog leaves: events two minutes
	# old, staged as fast as replay applies them, and a checkpoint written
	# just now at the position of the last one.
	py '
e = rc.Events(db_name, "c", t=now - 120)
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(i), fullDocument={"_id": i}) for i in range(1, 21)])
rev.checkpoint(client, db_name, db_name + ".c", rev.Timestamp(now - 120, 20))'
	start_replay
	idle_lag_between 115 180
	# cdc-status counts it the same way.
	run -0 --separate-stderr cdc-status --db "$DB" --coll c --json
	"$PY" -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["pending"] == 0 and 115 <= j["replayLagSeconds"] <= 180, j' "$output"
	# Capture reaches the present: the next idle lines show it.
	py 'rev.checkpoint(client, db_name, db_name + ".c", rev.Timestamp(now + 1, 1))'
	wait_until 20 bash -c "grep '\"idle\"' '$BATS_TEST_TMPDIR/log' | tail -n 1 |
		grep -q '\"lagSeconds\": *[0-4]\.'"
	stop_replay
}

@test "nothing pending, a quiet source whose position is 9 s old: capture's caught-up getMore says the copy is current" {
	# A real replica set's cluster time moves only with its 10 s no-op once
	# the writes stop: the position gets old while capture is caught up.
	py '
e = rc.Events(db_name, "c", t=now - 9)
rev.stage(client, db_name, db_name + ".c", [e.ev("insert", rc.k(i), fullDocument={"_id": i}) for i in range(1, 21)])
rev.checkpoint(client, db_name, db_name + ".c", rev.Timestamp(now - 9, 20),
               caught_up=datetime.datetime.now(datetime.timezone.utc))'
	start_replay
	idle_lag_between 0 2.9
	run -0 --separate-stderr cdc-status --db "$DB" --coll c --json
	"$PY" -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["pending"] == 0 and j["replayLagSeconds"] < 3 and j["captureLagSeconds"] < 3, j' "$output"
	stop_replay
}

# idle_lags: "replay capture" lags of cdc-status once nothing is pending.
idle_lags() {
	cdc-status --db "$DB" --coll c --json | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
assert j["pending"] == 0 and j["captureLagSeconds"] is not None, j
print(j["replayLagSeconds"], j["captureLagSeconds"])'
}

@test "an idle capture writes caughtUpAt in its checkpoint; once everything is applied, the lags stay small" {
	# capture's getMores that find nothing say how current the copy is (on
	# a real replica set the cluster time moves only with its 10 s no-op).
	local state="$BATS_TEST_TMPDIR/state"
	mkdir -p "$state"
	pyrun "$SRC_URI" 'client[db_name].c.insert_many([{"_id": i} for i in range(100)])'
	run -0 token-probe --db "$DB" --coll c --state-dir "$state" --method now
	cdc-capture --db "$DB" --coll c --state-dir "$state" --status-interval 3600 \
		2>"$BATS_TEST_TMPDIR/capture.log" 3>&- &
	CAP_PID=$!
	pyrun "$SRC_URI" 'client[db_name].c.insert_many([{"_id": 100 + i} for i in range(50)])'
	start_replay
	wait_until 20 pyrun "$TGT_URI" 'assert client[db_name].c.count_documents({}) == 50'
	# Capture says when its getMore found nothing.
	wait_until 10 pyrun "$TGT_URI" '
import datetime
cp = client[db_name].cdc_meta.find_one({"_id": "checkpoint:" + db_name + ".c"})
assert cp and "caughtUpAt" in cp, cp
age = datetime.datetime.utcnow() - cp["caughtUpAt"]
assert age < datetime.timedelta(seconds=2), age'
	# Three seconds of nothing on the source: each lag stays under 2 s.
	local lags _
	for _ in 1 2 3 4; do
		sleep 1
		lags="$(idle_lags)"
		echo "replay, capture lag: $lags"
		awk -v a="${lags% *}" -v b="${lags#* }" 'BEGIN { exit !(a < 2 && b < 2) }'
	done
	kill -TERM "$REPLAY_PID" "$CAP_PID"
	wait "$REPLAY_PID"
	wait "$CAP_PID"
	REPLAY_PID=''
	CAP_PID=''
}
