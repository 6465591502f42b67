#!/usr/bin/env bats
# cdc-status: one row or JSON object per collection of a migration, read
# from the target's staging and meta collections and the state directory;
# exit 0 healthy, 1 unhealthy, 69 target unreachable.

# shellcheck disable=SC2154,SC2016 # $stderr is set by bats' run --separate-stderr; Python source in single quotes uses MongoDB's $ operators

setup_file() {
	load helpers
	pair_start
}

teardown_file() {
	pair_stop
}

setup() {
	load helpers
	driver_setup
	BG_PID=
}

teardown() {
	if [[ -n "$BG_PID" ]] && kill -0 "$BG_PID" 2>/dev/null; then
		kill -KILL "$BG_PID"
	fi
	driver_teardown
}

dst() {
	pyrun "$DST_URI" "import replay_events as rev, datetime
from bson.timestamp import Timestamp
$1" "${@:2}"
}

# json_of NS: the JSON line of NS in $output, as Python can check it (in $line).
json_of() {
	line="$(grep -F "\"ns\":\"$1\"" <<<"$output")"
	[[ -n "$line" ]]
}

# check_json PYTHON: PYTHON with `j` the decoded $line.
check_json() {
	"$PY" -c "import json, sys
j = json.loads(sys.argv[1])
$1" "$line"
}

@test "--help lists the exit codes; misuse is 64; an unreachable target is 69" {
	run -0 --separate-stderr cdc-status --help
	[[ "$output" == "usage: cdc-status --db DB [--coll COLL]"* ]]
	exit_codes_listed "$output" 0 1 64 69
	run -64 cdc-status --coll c
	[[ "$output" == *"--db is required"* ]]
	run -69 cdc-status --db d --target-uri "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"
	[[ "$output" == *"cannot reach the target server"* ]]
}

@test "--json prints one object per collection with the documented keys; healthy collections exit 0" {
	dst '
ns = db_name + ".c"
sim = rev.SimSource(db_name, "c", seed=2)
rev.stage(client, db_name, ns, [sim.random_event(10) for _ in range(30)])
client[db_name].cdc.update_many({"seq": {"$lte": 20}}, {"$set": {"status": "done", "appliedAt": datetime.datetime.utcnow()}})
now = datetime.datetime.utcnow()
rev.checkpoint(client, db_name, ns, Timestamp(int(now.timestamp()) - 3, 1))
rev.stage(client, db_name, db_name + ".d", [rev.SimSource(db_name, "d").random_event(5)])'
	run -0 --separate-stderr cdc-status --db "$DB" --json
	(($(wc -l <<<"$output") == 2))
	json_of "$DB.c"
	check_json '
for k in ("ns", "phase", "staged", "pending", "applied", "captureLagSeconds", "replayLagSeconds",
          "captureState", "heartbeatAgeSeconds", "deferredIndexes", "lease", "lastError", "healthy"):
    assert k in j, k
assert (j["staged"], j["pending"], j["applied"]) == (30, 10, 20), j
assert j["phase"] == "capturing" and j["captureState"] == "running", j
assert 2 <= j["captureLagSeconds"] < 60 and j["heartbeatAgeSeconds"] < 60, j
assert j["lease"] == {"capture": None, "apply": None}, j'
	json_of "$DB.d"
	# --coll narrows it to one; the table has a heading and a row.
	run -0 --separate-stderr cdc-status --db "$DB" --coll c
	[[ "${lines[0]}" == NS*PHASE*STAGED*PENDING*APPLIED* ]]
	[[ "${lines[1]}" == "$DB.c "*capturing*30*10*20* ]]
	(($(wc -l <<<"$output") == 2))
	# A name of which nothing is known (a typo) is not healthy.
	run -1 --separate-stderr cdc-status --db "$DB" --coll nosuch --json
	json_of "$DB.nosuch"
	check_json 'assert j["phase"] == "none" and not j["healthy"], j'
}

@test "a stale heartbeat, a DDL stop or a failed replay is unhealthy (exit 1) and says why" {
	dst '
old = datetime.datetime.utcnow() - datetime.timedelta(seconds=40)
rev.checkpoint(client, db_name, db_name + ".c", Timestamp(1700000000, 1), heartbeat=old)'
	run -1 --separate-stderr cdc-status --db "$DB" --json
	json_of "$DB.c"
	check_json 'assert j["phase"] == "stopped" and not j["healthy"], j
assert "capture is not running" in j["reason"] and j["heartbeatAgeSeconds"] >= 40, j'
	dst 'rev.checkpoint(client, db_name, db_name + ".c", Timestamp(1700000000, 1), state="ddl")'
	run -1 --separate-stderr cdc-status --db "$DB" --json
	json_of "$DB.c"
	check_json 'assert j["phase"] == "stopped" and j["reason"].startswith("capture ddl"), j'
	# A replay that exited 65: the exit file and its log's last error.
	dst 'rev.checkpoint(client, db_name, db_name + ".c", Timestamp(1700000000, 1))'
	mkdir -p "$STATE"
	printf '65 exited\n' >"$STATE/$DB.c.replay.exit"
	printf -- '--- start\n2026-01-01T00:00:00.000Z cdc-replay error: an old run\n--- start\n2026-01-01T00:01:00.000Z cdc-replay error: cannot create deferred unique index '\''u_1'\'' on x\n' \
		>"$STATE/$DB.c.replay.log"
	printf 'max-ops-per-sec 250\n' >"$STATE/$DB.c.throttle"
	run -1 --separate-stderr cdc-status --db "$DB" --state-dir "$STATE" --json
	json_of "$DB.c"
	check_json 'assert j["phase"] == "stopped" and j["reason"] == "replay exited with status 65", j
assert j["lastError"].startswith("cdc-replay: cannot create deferred unique index"), j
assert j["throttle"] == {"maxOpsPerSec": 250, "maxDocsPerSec": None, "maxMbPerSec": None}, j'
}

@test "a real migration: restored, replaying with its lease, then drained, with the deferred indexes counted" {
	pyrun "$SRC_URI" '
c = client[db_name].c
c.create_index("u", unique=True)
c.insert_many([{"_id": i, "u": i} for i in range(100)])'
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --background - "$DB" c
	wait_until 30 cdc-status --db "$DB" --state-dir "$STATE" --coll c --json
	run -0 --separate-stderr cdc-status --db "$DB" --state-dir "$STATE" --json
	json_of "$DB.c"
	check_json 'assert j["phase"] in ("replaying", "caught up"), j
assert j["lease"]["apply"]["program"] == "cdc-replay" and j["lease"]["apply"]["live"], j
assert j["lease"]["capture"]["program"] == "cdc-capture", j
assert sum(j["deferredIndexes"].values()) == 1, j'
	run -0 "$SYNC" --state-dir "$STATE" --drain - "$DB" c
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	run -0 --separate-stderr cdc-status --db "$DB" --state-dir "$STATE" --json
	json_of "$DB.c"
	check_json 'assert j["phase"] == "drained" and j["healthy"], j
assert j["deferredIndexes"] == {"waiting": 0, "built": 1, "failed": 0}, j'
}

@test "--watch prints again every second until SIGINT, then exits with the health" {
	dst 'rev.checkpoint(client, db_name, db_name + ".c", Timestamp(1700000000, 1))'
	cdc-status --db "$DB" --json --watch >"$BATS_TEST_TMPDIR/watch" 2>&1 &
	BG_PID=$!
	wait_until 20 bash -c "(( \$(grep -c '\"ns\"' '$BATS_TEST_TMPDIR/watch') >= 3 ))"
	signal_and_reap INT "$BG_PID"
	BG_PID=
	[ "$status" -eq 0 ]
}
