#!/usr/bin/env bats
# Database mode (README "Database mode"): one change stream for a whole
# database, init_migration.sh/sync_migration.sh DB --all, cdc-verify --all.
# shellcheck disable=SC2154 # $stderr is set by bats' run --separate-stderr

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
}

util() {
	"$PY" "$REPO_ROOT/test/py/dbmode_util.py" "$@"
}

# colls N: c00 .. c(N-1)
colls() {
	local i
	for ((i = 0; i < $1; i++)); do printf 'c%02d ' "$i"; done
}

start_workload() { # ARGS...
	rm -f "$STOP_FILE" "$BATS_TEST_TMPDIR/workload-ready"
	"$PY" "$REPO_ROOT/test/py/e2e_workload.py" --seconds 120 --stop-file "$STOP_FILE" \
		--ready-file "$BATS_TEST_TMPDIR/workload-ready" "$@" \
		>"$BATS_TEST_TMPDIR/workload.out" 2>"$BATS_TEST_TMPDIR/workload.err" &
	WL_PID=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/workload-ready"
}

stop_workload() {
	touch "$STOP_FILE"
	local status=0
	wait "$WL_PID" || status=$?
	WL_PID=""
	cat "$BATS_TEST_TMPDIR/workload.err" >&2
	[ "$status" -eq 0 ]
}

@test "20 collections under a workload, created, dropped and renamed ones, kill -9 of capture and replay: every surviving collection equal" {
	util load "$SRC_URI" "$DB" 20 300
	# shellcheck disable=SC2046 # one argument per collection
	start_workload --existing 300 --rate 300 "$SRC_URI" "$DB" $(colls 20)
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" --jobs 4 - - "$DB" --all
	[[ "$output" == *"phase 1 done (20 collections)"* ]]
	[ -f "$STATE/$DB.token" ]
	[ "$(stat -c %a "$STATE/$DB.token")" = 600 ]
	util churn "$SRC_URI" "$DB"
	"$PY" "$REPO_ROOT/test/py/e2e_chaos.py" --init "$INIT" --sync "$SYNC" \
		--state-dir "$STATE" --dump-dir "$DUMP" --db "$DB" --all 20 --kills 3 \
		--log "$BATS_TEST_TMPDIR/chaos.log"
	stop_workload
	run -4 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain - "$DB" --all
	# The dropped and the renamed collections stopped there; nothing else did.
	line="$(grep 'drained except these' <<<"$stderr")"
	echo "$line" >&3
	[ "$(tr ' ' '\n' <<<"${line##*again):}" | grep . | sort | xargs)" = "c_drop c_ren c_ren2" ]
	# Every collection equal but the one a rename filled, which no event
	# brought: it is to be migrated again.
	run -1 cdc-verify --all --db "$DB"
	echo "$output" >&3
	[[ "$output" == *"c00: equal"* && "$output" == *"c19: equal"* ]]
	[[ "$output" == *"n_new1: equal"* && "$output" == *"n_new2: equal"* ]]
	[[ "$output" == *"c_ren2: missing on target"* ]]
	[[ "$output" == *"c_drop: only on the target"* ]]
	[[ "$output" == *"total: 23 collections, 22 equal, 1 different"* ]]
	run -0 util staged-once "$DST_URI" "$DB"
	echo "$output" >&3
}

@test "cdc-verify --all exits 1 and names the collection that differs" {
	util load "$SRC_URI" "$DB" 2 10
	util load "$DST_URI" "$DB" 2 10
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$DST_URI" 'client[db_name].c01.update_one({"_id": 3}, {"$set": {"v": -1}})'
	run -1 cdc-verify --all --db "$DB"
	[[ "$output" == *"c00: equal"* ]]
	[[ "$output" == *"c01: different (0 missing, 0 extra, 1 different)"* ]]
	[[ "$output" == *"total: 2 collections, 1 equal, 1 different"* ]]
}

@test "database mode refuses: staging collections in the source, a missing listed collection, a second capture of a collection" {
	util load "$SRC_URI" "$DB" 2 5
	pyrun "$SRC_URI" 'client[db_name].cdc.insert_one({"_id": 1})'
	run -64 token-probe --db "$DB" --all-colls --method now --state-dir "$STATE"
	[[ "$output" == *"--all-colls would capture the staging collections"* ]]
	run -66 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" --colls c00,nosuch
	[[ "$output" == *"no collection '$DB.nosuch' on the source"* ]]
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" --colls c00,c01
	# Only the listed collections are staged.
	pyrun "$SRC_URI" 'd = client[db_name]; d.other.insert_one({"_id": 1}); d.c00.insert_one({"_id": 100})'
	"$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$DST_URI" "$DB" "$DB.c00" wait-above 0 any 30
	[ "$("$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$DST_URI" "$DB" "$DB.other" count)" = 0 ]
	# c01 has its capture, the database's: a collection has one capture.
	run -0 token-probe --db "$DB" --coll c01 --method now --state-dir "$STATE/other"
	run -73 cdc-capture --db "$DB" --coll c01 --state-dir "$STATE/other"
	[[ "$output" == *"capture:$DB.c01"* ]]
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" --all
	run -0 cdc-capture --db "$DB" --list-namespaces --state-dir "$STATE"
	[[ "$output" == *"c00	capturing"* && "$output" == *"c01	capturing"* ]]
}

# start_capture LOG ARGS...: cdc-capture in the background, once it runs.
start_capture() {
	local log="$1"
	shift
	cdc-capture --db "$DB" --state-dir "$STATE" --batch-ms 50 "$@" >>"$log" 2>&1 &
	CAP_PID=$!
	wait_until 20 grep -q 'capturing .* collections' "$log"
}

staged_count() { # COLL
	"$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$DST_URI" "$DB" "$DB.$1" count
}

@test "a capture killed after staging batches but before writing its position skips what each collection holds: every event once" {
	util load "$SRC_URI" "$DB" 3 0
	run -0 token-probe --db "$DB" --colls c00,c01,c02 --method now --state-dir "$STATE"
	log="$BATS_TEST_TMPDIR/capture.log"
	start_capture "$log" --colls c00,c01,c02
	pyrun "$SRC_URI" 'd = client[db_name]; [d.c00.insert_one({"_id": i}) for i in range(5)]'
	wait_until 20 bash -c "grep -q '\"seq\": 5' '$STATE/$DB.token'"
	# The position as it was before the next batches: a crash between the
	# batches and the position file leaves it so.
	cp -p "$STATE/$DB.token" "$BATS_TEST_TMPDIR/old.token"
	pyrun "$SRC_URI" 'd = client[db_name]
for i in range(5, 9): d.c00.insert_one({"_id": i})
for i in range(3): d.c01.insert_one({"_id": i})'
	wait_until 20 bash -c "[ \"\$(\"$PY\" \"$REPO_ROOT/test/py/e2e_stage.py\" \"$DST_URI\" \"$DB\" \"$DB.c01\" count)\" = 3 ]"
	kill -KILL "$CAP_PID"
	wait "$CAP_PID" || true
	cp -p "$BATS_TEST_TMPDIR/old.token" "$STATE/$DB.token"
	log="$BATS_TEST_TMPDIR/capture2.log"
	start_capture "$log" --colls c00,c01,c02
	grep -q "'$DB.c00' holds events up to seq 9 past the stream's position" "$log"
	grep -q "'$DB.c01' holds events up to seq 3 past the stream's position" "$log"
	pyrun "$SRC_URI" 'd = client[db_name]; d.c00.insert_one({"_id": 100}); d.c02.insert_one({"_id": 1})'
	wait_until 20 bash -c "[ \"\$(\"$PY\" \"$REPO_ROOT/test/py/e2e_stage.py\" \"$DST_URI\" \"$DB\" \"$DB.c02\" count)\" = 1 ]"
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	[ "$(staged_count c00)" = 10 ]
	[ "$(staged_count c01)" = 3 ]
	run -0 util staged-once "$DST_URI" "$DB"
	[ "$(stat -c %a "$STATE/$DB.token")" = 600 ]
}
