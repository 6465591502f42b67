#!/usr/bin/env bats
# End to end: init_migration.sh (probe, capture, dump) and sync_migration.sh
# (restore, replay) under a concurrent pymongo workload, then cdc-verify.

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
	STOP_FILE="$BATS_TEST_TMPDIR/stop-workload"
	WL_PID=""
}

teardown() {
	touch "$STOP_FILE"
	[[ -z "$WL_PID" ]] || wait "$WL_PID" 2>/dev/null || true
	driver_teardown
	mlite_stop SMALL
}

load_docs() { # URI COLL COUNT [PAD]
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$1" "$DB" "$2" "$3" 0 "${4:-32}"
}

# start_workload ARGS...: e2e_workload.py on the source in the background,
# until stop_workload; waits for its first write.
start_workload() {
	rm -f "$STOP_FILE" "$BATS_TEST_TMPDIR/workload-ready"
	"$PY" "$REPO_ROOT/test/py/e2e_workload.py" --seconds 120 --stop-file "$STOP_FILE" \
		--ready-file "$BATS_TEST_TMPDIR/workload-ready" "$@" \
		>"$BATS_TEST_TMPDIR/workload.out" 2>"$BATS_TEST_TMPDIR/workload.err" &
	WL_PID=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/workload-ready"
}

# stop_workload: stop it and check it ended well; its counts in $WORKLOAD.
stop_workload() {
	touch "$STOP_FILE"
	local status=0
	wait "$WL_PID" || status=$?
	WL_PID=""
	cat "$BATS_TEST_TMPDIR/workload.err" >&2
	[ "$status" -eq 0 ]
	WORKLOAD="$(cat "$BATS_TEST_TMPDIR/workload.out")"
	echo "workload: $WORKLOAD" >&3
}

init() { # COLL [options]
	local coll="$1"
	shift
	"$INIT" --state-dir "$STATE" --dump-dir "$DUMP" "$@" - - "$DB" "$coll"
}

# sync_follow COLL: sync_migration.sh following, in the background.
sync_follow() {
	"$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" - "$DB" "$1" >>"$BATS_TEST_TMPDIR/sync-$1.log" 2>&1 &
	SYNC_PIDS+=($!)
}

# stop_syncs: SIGTERM every following sync; each must exit 0.
stop_syncs() {
	local pid status
	for pid in "${SYNC_PIDS[@]}"; do
		status=0
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" || status=$?
		if [ "$status" -ne 0 ]; then
			echo "sync_migration.sh (pid $pid) exited $status" >&2
			tail -n 20 "$BATS_TEST_TMPDIR"/sync-*.log >&2
			return 1
		fi
	done
	SYNC_PIDS=()
}

staged() { # COLL STATUS
	"$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$DST_URI" "$DB" "$DB.$1" count "${2:-any}"
}

# wait_staged_above COLL N STATUS: more than N staged documents of COLL.
wait_staged_above() {
	"$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$DST_URI" "$DB" "$DB.$1" wait-above "$2" "${3:-any}" 30
}

drain_and_verify() { # COLL
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" "$1"
	echo "$output" >&3
	[[ "$output" == *"result: equal"* ]]
}

@test "a concurrent workload through dump, capture and replay is equal after drain" {
	load_docs "$SRC_URI" c 5000
	start_workload --existing 5000 --grow --rate 400 "$SRC_URI" "$DB" c
	run -0 init c
	[[ "$output" == *"tail -f"* ]]
	sync_follow c
	wait_staged_above c 800 "done"
	stop_workload
	stop_syncs
	drain_and_verify c
	# Every kind of write happened, and documents grew past 1 MiB.
	"$PY" -c '
import json, sys
c = json.loads(sys.argv[1])
for k in ("insert", "set", "unset", "push", "replace", "delete", "grow"):
    assert c[k] > 0, k
' "$WORKLOAD"
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$DST_URI" '
big = list(client[db_name].c.aggregate([{"$match": {"blob": {"$exists": True}}}]))
assert any(len(BSON.encode(d)) > 1024 * 1024 for d in big), [len(BSON.encode(d)) for d in big]'
}

@test "capture and replay killed -9 ten times each and restarted by their commands converge" {
	load_docs "$SRC_URI" c 3000
	start_workload --existing 3000 --rate 200 "$SRC_URI" "$DB" c
	run -0 init c
	# The kill loop runs in one Python process: polling the staging
	# collection from bash would start a client for every look.
	"$PY" "$REPO_ROOT/test/py/e2e_chaos.py" --init "$INIT" --sync "$SYNC" \
		--state-dir "$STATE" --dump-dir "$DUMP" --db "$DB" --coll c --kills 10 \
		--log "$BATS_TEST_TMPDIR/chaos.log"
	stop_workload
	drain_and_verify c
}

@test "failCommand faults on source and target are retried and the result is equal" {
	load_docs "$SRC_URI" c 3000
	start_workload --existing 3000 --rate 300 "$SRC_URI" "$DB" c
	run -0 init c
	sync_follow c
	local round n
	# On the source only capture runs getMore; on the target only capture
	# inserts (staging); replay is singled out by its appName.
	for ((round = 0; round < 4; round++)); do
		n="$(staged c "done")"
		case $round in
		0) # Source: capture's getMores fail with a closed connection.
			pyrun "$SRC_URI" '
client.admin.command("configureFailPoint", "failCommand", mode={"times": 2}, data={
    "failCommands": ["getMore"], "closeConnection": True})' ;;
		3) # Source: capture's getMores fail with a resumable error.
			pyrun "$SRC_URI" '
client.admin.command("configureFailPoint", "failCommand", mode={"times": 2}, data={
    "failCommands": ["getMore"], "errorCode": 10107,
    "errorLabels": ["ResumableChangeStreamError"]})' ;;
		1) # Target: capture's staging inserts fail with a retryable error.
			pyrun "$DST_URI" '
client.admin.command("configureFailPoint", "failCommand", mode={"times": 2}, data={
    "failCommands": ["insert"], "errorCode": 91, "errorLabels": ["RetryableWriteError"]})' ;;
		2) # Target: replay's reads and writes fail (capture's own
			# checkpoint updates would otherwise take the faults).
			pyrun "$DST_URI" '
client.admin.command("configureFailPoint", "failCommand", mode={"times": 3}, data={
    "failCommands": ["find", "update"], "errorCode": 11600,
    "errorLabels": ["RetryableWriteError"],
    "appName": "changestream-migration/target"})' ;;
		esac
		wait_staged_above c $((n + 100)) "done"
	done
	pyrun "$DST_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	pyrun "$SRC_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	stop_workload
	stop_syncs
	drain_and_verify c
	# The faults did hit: capture and replay each retried.
	grep -q "retrying what=\"[^\"]* '$DB.c' (target)\".*failCommand" "$STATE/$DB.c.capture.log"
	grep -q "cdc-replay warn: retrying .*failCommand" "$BATS_TEST_TMPDIR/sync-c.log"
}

@test "three collections of one database migrate in parallel through one staging collection" {
	local c
	for c in c1 c2 c3; do load_docs "$SRC_URI" "$c" 2000; done
	start_workload --existing 2000 --rate 400 "$SRC_URI" "$DB" c1 c2 c3
	local pids=()
	for c in c1 c2 c3; do
		init "$c" >"$BATS_TEST_TMPDIR/init-$c.log" 2>&1 &
		pids+=($!)
	done
	for c in "${pids[@]}"; do wait "$c"; done
	for c in c1 c2 c3; do sync_follow "$c"; done
	for c in c1 c2 c3; do wait_staged_above "$c" 100 "done"; done
	stop_workload
	stop_syncs
	pids=()
	for c in c1 c2 c3; do
		"$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" "$c" \
			>"$BATS_TEST_TMPDIR/verify-$c.log" 2>&1 &
		pids+=($!)
	done
	for c in "${pids[@]}"; do wait "$c"; done
	for c in c1 c2 c3; do grep -q "result: equal" "$BATS_TEST_TMPDIR/verify-$c.log"; done
	# One staging collection holds the three namespaces.
	pyrun "$DST_URI" '
names = client[db_name].list_collection_names()
assert "cdc" in names, names
assert sorted(client[db_name].cdc.distinct("ns")) == [db_name + ".c1", db_name + ".c2", db_name + ".c3"]'
}

@test "a dump slower than the source oplog window still completes and verifies equal" {
	mlite_start SMALL --oplog-max-entries 800
	export SOURCE_URI="$SMALL_URI"
	load_docs "$SMALL_URI" c 3000
	# A slow dump: the source holds every find for 5 s (the workload and
	# capture use none).
	pyrun "$SMALL_URI" '
client.admin.command("configureFailPoint", "failCommand", mode="alwaysOn", data={
    "failCommands": ["find"], "blockConnection": True, "blockTimeMS": 5000})'
	start_workload --existing 3000 --rate 300 "$SMALL_URI" "$DB" c
	run -0 init c
	pyrun "$SMALL_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	# More changes than the oplog holds happened while the dump ran: a
	# capture begun after the dump (the classic way) could not resume.
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$DST_URI" '
from bson import json_util
end = json_util.loads(open(sys.argv[1]).read())["dumpEndTime"]
n = client[db_name].cdc.count_documents({"ns": db_name + ".c", "clusterTime": {"$lte": end}})
assert n > 800, "only %d changes during the dump" % n
' "$DUMP/$DB/c.dump-end.json"
	local token
	token="$("$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$DST_URI" "$DB" "$DB.c" first-token)"
	pyrun "$SMALL_URI" '
from bson import json_util
from pymongo.errors import OperationFailure
token = json_util.loads(sys.argv[1])
try:
    with client[db_name].c.watch(resume_after=token) as s:
        s.try_next()
    raise SystemExit("resumed from the first token: the oplog window did not move")
except OperationFailure as e:
    assert e.code == 286, e.code
' "$token"
	sync_follow c
	wait_staged_above c 1000 "done"
	stop_workload
	stop_syncs
	drain_and_verify c
}

@test "unique values moving between documents during the dump and a TTL index: equal, both indexes built" {
	pyrun "$SRC_URI" '
import datetime
c = client[db_name].c
later = datetime.datetime.utcnow().replace(microsecond=0) + datetime.timedelta(hours=1)
c.insert_many([{"_id": i, "u": i, "expireAt": later, "s": "x" * 32} for i in range(3000)])
c.create_index("u", unique=True)
c.create_index("expireAt", expireAfterSeconds=3600)'
	start_workload --existing 3000 --rate 400 --unique-swaps --ttl "$SRC_URI" "$DB" c
	run -0 init c
	sync_follow c
	wait_staged_above c 600 "done"
	stop_workload
	stop_syncs
	drain_and_verify c
	"$PY" -c 'import json, sys; assert json.loads(sys.argv[1])["swap"] > 20' "$WORKLOAD"
	pyrun "$DST_URI" '
info = client[db_name].c.index_information()
assert info["u_1"].get("unique") is True, info
assert info["expireAt_1"].get("expireAfterSeconds") == 3600, info'
}
