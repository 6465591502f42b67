#!/usr/bin/env bats
# End to end: source transactions reach the target all at once or not at
# all (transfers between accounts keep their total), through init, sync and
# a cdc-replay killed -9 inside a target transaction.

# shellcheck disable=SC2154 # $stderr_lines is set by bats' run --separate-stderr

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
	pyrun "$DST_URI" 'client.admin.command("setParameter", 1, transactionLifetimeLimitSeconds=60)'
	mlite_stop SOLO
}

target_commits() { # URI: transactions the target committed so far
	pyrun "$1" 'print(client.admin.command("serverStatus")["transactions"]["totalCommitted"])'
}

@test "transfers in source transactions never show a broken total on the target, even with replay killed -9 inside a target transaction" {
	needs_mlite
	local accounts=40
	"$PY" "$REPO_ROOT/test/py/e2e_txn.py" load "$SRC_URI" "$DB" c "$accounts"
	# The target aborts what a killed replay left open after 3 s.
	pyrun "$DST_URI" 'client.admin.command("setParameter", 1, transactionLifetimeLimitSeconds=3)'
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	# Phase 1 is over: the transfers start now.
	"$PY" "$REPO_ROOT/test/py/e2e_txn.py" transfers "$SRC_URI" "$DB" c "$accounts" \
		"$STOP_FILE" "$BATS_TEST_TMPDIR/ready" >"$BATS_TEST_TMPDIR/workload.out" &
	WL_PID=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/ready"
	run --separate-stderr "$PY" "$REPO_ROOT/test/py/e2e_txn.py" run --sync "$SYNC" \
		--state-dir "$STATE" --dump-dir "$DUMP" --db "$DB" --coll c \
		--total $((accounts * 1000)) --kills 2 --stop-file "$STOP_FILE" \
		--log "$BATS_TEST_TMPDIR/sync.log"
	echo "$output" >&3
	if [ "$status" -ne 0 ]; then
		printf '%s\n' "${stderr_lines[@]}" >&2
		tail -n 30 "$BATS_TEST_TMPDIR/sync.log" >&2
		return 1
	fi
	local result="$output"
	wait "$WL_PID"
	WL_PID=""
	echo "workload: $(cat "$BATS_TEST_TMPDIR/workload.out")" >&3
	"$PY" -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["reads"] >= 100, r
assert r["broken"] == [], r
# each restart waited for the target to abort the transaction left open
# (3 s here) and little more
assert all(w < 20 for w in r["waits"]), r
' "$result"
	# The restarted replay said why it waited, and how long it may.
	grep -q "retrying .*transactionLifetimeLimitSeconds" "$BATS_TEST_TMPDIR/sync.log"
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify \
		- - "$DB" c
	[[ "$output" == *"result: equal"* ]]
	# Byte for byte, and the target's writes came in transactions.
	pyrun "$SRC_URI" '
import bson
src = [bson.encode(d) for d in client[db_name].c.find().sort("_id", 1)]
dst_client = pymongo.MongoClient(sys.argv[1])
dst = [bson.encode(d) for d in dst_client[db_name].c.find().sort("_id", 1)]
assert src == dst, (len(src), len(dst))
assert sum(d.get("bal", 0) for d in client[db_name].c.find()) == int(sys.argv[2])
st = dst_client.admin.command("serverStatus")["transactions"]
assert st["totalCommitted"] > 0 and st["currentOpen"] == 0, st
' "$DST_URI" "$((accounts * 1000))"
}

@test "a source transaction larger than a batch is applied one batch per target transaction, with a warning naming it" {
	"$PY" "$REPO_ROOT/test/py/e2e_txn.py" stage-txns "$DST_URI" "$DB" c 1 5
	local before
	before="$(target_commits "$DST_URI")"
	TARGET_URI="$DST_URI" run -0 --separate-stderr cdc-replay --db "$DB" --coll c --drain \
		--batch-size 2 --status-interval 0
	[ "$(grep -c "has more events than one batch holds" <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *"source transaction txnNumber 1 of session "* ]]
	[ "$(pyrun "$DST_URI" 'print(client[db_name].c.count_documents({}))')" -eq 5 ]
	# 2 + 2 + 1 events
	[ "$(target_commits "$DST_URI")" -eq $((before + 3)) ]
}

@test "a target that cannot run transactions gets a source transaction's events one by one, and says so once" {
	needs_mlite
	mlite_start SOLO --standalone
	"$PY" "$REPO_ROOT/test/py/e2e_txn.py" stage-txns "$SOLO_URI" "$DB" c 3 3
	TARGET_URI="$SOLO_URI" run -0 --separate-stderr cdc-replay --db "$DB" --coll c --drain \
		--status-interval 0
	[ "$(grep -c "the target cannot run transactions (not a replica set)" <<<"$stderr")" -eq 1 ]
	[ "$(pyrun "$SOLO_URI" 'print(client[db_name].c.count_documents({}))')" -eq 9 ]
}
