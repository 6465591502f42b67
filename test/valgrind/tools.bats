#!/usr/bin/env bats
# The tools under valgrind (make valgrind): no invalid access, no leak.
# Not part of `make test` (too slow for every run); run before resolving.

setup_file() {
	load ../helpers
	pair_start SRC TGT
}

teardown_file() {
	pair_stop
}

setup() {
	load ../helpers
	command -v valgrind || skip "valgrind not installed"
	pair_setup
	VG=(valgrind --quiet --error-exitcode=99 --leak-check=full
		"--errors-for-leak-kinds=definite,indirect" "--show-leak-kinds=definite,indirect")
}

@test "every tool's --help runs clean under valgrind" {
	local tool
	for tool in token-probe dump-wrap cdc-capture cdc-replay cdc-verify cdc-status cdc-cleanup; do
		run -0 "${VG[@]}" "$CSM_BIN/$tool" --help
	done
}

@test "probe, dump, restore, capture, replay, verify, status and cleanup run clean under valgrind" {
	pyrun "$SRC_URI" '
c = client[db_name].c
c.create_index("u", unique=True)
c.insert_many([{"_id": i, "u": i, "pad": "x" * 100} for i in range(2000)])'
	local st="$BATS_TEST_TMPDIR"
	run -0 "${VG[@]}" "$CSM_BIN/token-probe" --db "$DB" --coll c --state-dir "$st"
	run -0 "${VG[@]}" "$CSM_BIN/dump-wrap" dump --db "$DB" --coll c --out "$st/dump"
	run -0 "${VG[@]}" "$CSM_BIN/dump-wrap" restore --db "$DB" --coll c --in "$st/dump" --defer-constraints
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$SRC_URI" '
c = client[db_name].c
c.update_many({"_id": {"$lt": 100}}, {"$set": {"v": 1}})
c.delete_many({"_id": {"$gte": 1900}})'
	"${VG[@]}" --log-file="$st/capture.vg" "$CSM_BIN/cdc-capture" --db "$DB" --coll c \
		--state-dir "$st" >"$st/capture.log" 2>&1 &
	local pid=$!
	wait_until 60 pyrun "$TGT_URI" '
n = client[db_name].cdc.count_documents({})
sys.exit(0 if n == 200 else 1)'
	# --drain needs a running capture: it waits for capture's checkpoint to
	# pass the moment the drain began.
	run -0 "${VG[@]}" "$CSM_BIN/cdc-replay" --db "$DB" --coll c --drain
	run -0 "${VG[@]}" "$CSM_BIN/cdc-verify" --db "$DB" --coll c
	run -0 "${VG[@]}" "$CSM_BIN/cdc-status" --db "$DB" --state-dir "$st" --json
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	cat "$st/capture.vg" "$st/capture.log"
	[ "$rc" -eq 0 ]
	run -0 "${VG[@]}" "$CSM_BIN/cdc-cleanup" --db "$DB" --coll c
}
