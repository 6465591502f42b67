#!/usr/bin/env bats
# Database mode (README "Database mode", "Transactions"): a source
# transaction that spans collections reaches the target all at once, with
# the cdc-replay of either collection killed -9, and a replay that waits for
# another collection says which.

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
	REPLAY_PIDS=()
}

teardown() {
	touch "$STOP_FILE"
	[[ -z "$WL_PID" ]] || wait "$WL_PID" 2>/dev/null || true
	local pid
	for pid in "${REPLAY_PIDS[@]}"; do signal_and_reap TERM "$pid" 2>/dev/null || true; done
	driver_teardown
	pyrun "$DST_URI" 'client.admin.command("setParameter", 1, transactionLifetimeLimitSeconds=60)'
}

xtxn() {
	"$PY" "$REPO_ROOT/test/py/e2e_txndb.py" "$@"
}

@test "transfers between two collections in source transactions never show a broken total on the target, with the replay of either collection and the capture killed -9" {
	needs_mlite
	local accounts=20
	xtxn load "$SRC_URI" "$DB" "$accounts"
	# The target aborts what a killed replay left open after 3 s.
	pyrun "$DST_URI" 'client.admin.command("setParameter", 1, transactionLifetimeLimitSeconds=3)'
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" --all
	# Phase 1 is over: the transfers start now.
	xtxn transfers "$SRC_URI" "$DB" "$accounts" "$STOP_FILE" "$BATS_TEST_TMPDIR/ready" \
		>"$BATS_TEST_TMPDIR/workload.out" &
	WL_PID=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/ready"
	run --separate-stderr xtxn run --init "$INIT" --sync "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" \
		--db "$DB" --total $((2 * accounts * 1000)) --stop-file "$STOP_FILE" \
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
assert r["reads"] >= 60, r
assert r["broken"] == [], r
assert all(w < 20 for w in r["waits"]), r
' "$result"
	# No transaction across the collections was applied part by part.
	run -1 grep -q "each collection's part is applied" "$BATS_TEST_TMPDIR/sync.log"
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify \
		- - "$DB" --all
	[[ "$output" == *"a: equal"* && "$output" == *"b: equal"* ]]
	# Byte for byte; every transaction record's parts applied; the target's
	# writes came in transactions.
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$SRC_URI" '
import bson
dst_client = pymongo.MongoClient(sys.argv[1])
total = 0
for coll in ("a", "b"):
    src = [bson.encode(d) for d in client[db_name][coll].find().sort("_id", 1)]
    dst = [bson.encode(d) for d in dst_client[db_name][coll].find().sort("_id", 1)]
    assert src == dst, (coll, len(src), len(dst))
    total += sum(d.get("bal", 0) for d in client[db_name][coll].find())
assert total == int(sys.argv[2]), total
meta, staged = dst_client[db_name].cdc_meta, dst_client[db_name].cdc
records = list(meta.find({"_id": {"$regex": "^txn:"}}))
across = [r for r in records if len({p["ns"] for p in r["parts"]}) > 1]
assert len(across) >= 10, len(across)
for r in records:
    # one part: a transaction of a alone still open when capture staged a
    # batch, or the first one a restarted capture read
    nss = {p["ns"] for p in r["parts"]}
    assert nss and nss <= {db_name + ".a", db_name + ".b"}, r
    for p in r["parts"]:
        q = {"ns": p["ns"], "seq": {"$gte": p["firstSeq"], "$lte": p["lastSeq"]}}
        assert staged.count_documents(dict(q, status="done")) == p["lastSeq"] - p["firstSeq"] + 1, r
st = dst_client.admin.command("serverStatus")["transactions"]
assert st["totalCommitted"] > 0 and st["currentOpen"] == 0, st
' "$DST_URI" "$((2 * accounts * 1000))"
}

@test "a replay whose transaction spans a collection that has not caught up waits for it, says which, and applies nothing of it alone" {
	pyrun "$SRC_URI" 'd = client[db_name]; d.create_collection("a"); d.create_collection("b")'
	run -0 token-probe --db "$DB" --colls a,b --method now --state-dir "$STATE"
	cdc-capture --db "$DB" --colls a,b --state-dir "$STATE" --batch-ms 50 \
		>"$BATS_TEST_TMPDIR/capture.log" 2>&1 &
	REPLAY_PIDS+=($!)
	wait_until 20 grep -q 'capturing .* collections' "$BATS_TEST_TMPDIR/capture.log"
	# b has an event before its part of the transactions: its replay must
	# apply it first, and it does not run yet.
	pyrun "$SRC_URI" '
d = client[db_name]
d.b.insert_one({"_id": "before"})
for i in range(3):
    with client.start_session() as s:
        s.with_transaction(lambda s: (d.a.insert_one({"_id": i}, session=s),
                                      d.b.insert_one({"_id": i}, session=s)))'
	wait_until 20 bash -c "[ \"\$(\"$PY\" \"$REPO_ROOT/test/py/e2e_stage.py\" \"$DST_URI\" \"$DB\" \"$DB.b\" count)\" = 4 ]"
	# A drain with --max-wait does not outlast it parked at the transaction.
	local t0=$SECONDS
	TARGET_URI="$DST_URI" run -75 --separate-stderr timeout 60 cdc-replay --db "$DB" --coll a \
		--drain --max-wait 2 --status-interval 0
	echo "$stderr"
	[[ "$stderr" == *"--drain of '$DB.a' did not complete within --max-wait: it still waits to apply a source transaction that spans collections"* ]]
	((SECONDS - t0 < 30))
	[ "$(pyrun "$DST_URI" 'print(client[db_name].a.count_documents({}))')" = 0 ]
	TARGET_URI="$DST_URI" cdc-replay --db "$DB" --coll a --drain --status-interval 0 \
		>"$BATS_TEST_TMPDIR/replay-a.log" 2>&1 &
	REPLAY_PIDS+=($!)
	local replay_a=$!
	wait_until 20 grep -q "'$DB.b' still has 1 event(s) pending before its part; is its cdc-replay running" \
		"$BATS_TEST_TMPDIR/replay-a.log"
	grep -q "waits .* s to apply source transaction txnNumber .* which spans '$DB.a' (seq 1..1), '$DB.b' (seq 2..2)" \
		"$BATS_TEST_TMPDIR/replay-a.log"
	# Nothing of the transaction was applied to a alone.
	[ "$(pyrun "$DST_URI" 'print(client[db_name].a.count_documents({}))')" = 0 ]
	TARGET_URI="$DST_URI" run -0 cdc-replay --db "$DB" --coll b --drain --status-interval 0
	wait "$replay_a"
	[ "$(pyrun "$DST_URI" 'print(client[db_name].a.count_documents({}))')" = 3 ]
	[ "$(pyrun "$DST_URI" 'print(client[db_name].b.count_documents({}))')" = 4 ]
	# Cleanup takes the transactions' records with the collections they name.
	signal_and_reap TERM "${REPLAY_PIDS[0]}"
	TARGET_URI="$DST_URI" run -0 cdc-cleanup --db "$DB" --coll a
	[[ "$output" == *"removed 3 records of transactions across '$DB.a'"* ]]
	TARGET_URI="$DST_URI" run -0 cdc-cleanup --db "$DB" --coll b
	[[ "$output" == *"no collection is migrating any more"* ]]
}
