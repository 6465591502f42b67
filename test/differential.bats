#!/usr/bin/env bats
# The differential property (issue 14): seeded random documents and changes
# on the source (test/py/diff_workload.py), through cdc-capture and
# cdc-replay, leave every target document byte-identical to the source's.
# CSM_DIFF_SEED picks the seed (a failure names it), CSM_DIFF_CHANGES the
# number of changes (at least 5,000).

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
	export SOURCE_URI="$SRC_URI" TARGET_URI="$TGT_URI"
	STATE="$BATS_TEST_TMPDIR/state"
	mkdir -p "$STATE"
	CAP_PID=
}

teardown() {
	if [[ -n "$CAP_PID" ]] && kill -0 "$CAP_PID" 2>/dev/null; then
		kill -KILL "$CAP_PID"
	fi
	cat "$BATS_TEST_TMPDIR/capture.log" >&2 || true
}

workload() {
	"$PY" "$REPO_ROOT/test/py/diff_workload.py" "$@"
}

@test "random documents and changes replay byte-identical through cdc-capture and cdc-replay" {
	local seed="${CSM_DIFF_SEED:-$RANDOM}" changes="${CSM_DIFF_CHANGES:-5000}"
	((changes >= 5000)) || changes=5000
	echo "seed $seed, $changes changes (CSM_DIFF_SEED=$seed reruns it)"
	run -0 workload prepare "$SRC_URI" "$TGT_URI" "$DB" "$STATE" "$seed"
	cdc-capture --db "$DB" --coll c --state-dir "$STATE" --status-interval 3600 \
		2>>"$BATS_TEST_TMPDIR/capture.log" &
	CAP_PID=$!
	run workload run "$SRC_URI" "$DB" "$seed" "$changes"
	echo "$output"
	((status == 0))
	# --drain ends once capture has read past the moment it started.
	run -0 timeout 300 cdc-replay --db "$DB" --coll c --status-interval 0 --drain
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	CAP_PID=
	run workload compare "$SRC_URI" "$TGT_URI" "$DB" "$seed"
	echo "$output"
	((status == 0))
}

@test "the same workload with the events of a 6.1+ source (disambiguatedPaths) replays byte-identical" {
	local seed="${CSM_DIFF_SEED:-$RANDOM}" changes="${CSM_DIFF_CHANGES:-5000}"
	((changes >= 5000)) || changes=5000
	echo "seed $seed, $changes changes (CSM_DIFF_SEED=$seed reruns it)"
	run -0 workload prepare "$SRC_URI" "$TGT_URI" "$DB" "$STATE" "$seed"
	run workload run-staged "$SRC_URI" "$TGT_URI" "$DB" "$seed" "$changes"
	echo "$output"
	((status == 0))
	run -0 timeout 300 cdc-replay --db "$DB" --coll c --status-interval 0 --drain
	run workload compare "$SRC_URI" "$TGT_URI" "$DB" "$seed"
	echo "$output"
	((status == 0))
}
