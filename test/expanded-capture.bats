#!/usr/bin/env bats
# showExpandedEvents end to end (docs/DESIGN.md, "Staged events", "Expanded
# events"; "Replay rules"): cdc-capture opens its stream with it on a 6.0+
# source, stages update events with their disambiguatedPaths and the DDL
# events it adds, and cdc-replay leaves the target as the source. Cases from
# mongodb/mongo jstests/change_streams/expanded_update_description.js,
# ddl_create_drop_index_events.js, ddl_coll_mod_event.js and
# ddl_create_event.js (test/py/expanded_cases.py).

setup_file() {
	load helpers
	pair_start
}

teardown_file() {
	load helpers
	pair_stop
}

setup() {
	load helpers
	pair_setup
	export CASES_PY="$REPO_ROOT/test/py/expanded_cases.py"
	export STATE="$BATS_TEST_TMPDIR/state"
	mkdir -p "$STATE"
	CAP_PID=""
}

teardown() {
	[[ -z "$CAP_PID" ]] || kill -TERM "$CAP_PID" 2>/dev/null || true
	[[ -z "$CAP_PID" ]] || wait "$CAP_PID" 2>/dev/null || true
}

workload() {
	"$PY" "$REPO_ROOT/test/py/diff_workload.py" "$@"
}

# start_capture ARGS...: cdc-capture of $DB in the background, once it reads
# its stream; its log is $CAP_LOG.
start_capture() {
	CAP_LOG="$BATS_TEST_TMPDIR/capture.log"
	cdc-capture --db "$DB" --state-dir "$STATE" --batch-ms 50 --status-interval 3600 \
		"$@" >>"$CAP_LOG" 2>&1 &
	CAP_PID=$!
	wait_until 20 grep -Eq "capturing ('$DB|.* collections)" "$CAP_LOG"
}

stop_capture() {
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	CAP_PID=""
}

replay() { # COLL ARGS...
	timeout 120 cdc-replay --db "$DB" --coll "$1" --status-interval 0 --drain "${@:2}"
}

@test "expanded_update_description.js through cdc-capture: staged updates hold disambiguatedPaths, the target ends byte-identical" {
	run -0 workload prepare "$SRC_URI" "$TARGET_URI" "$DB" "$STATE" 14
	start_capture --coll c
	grep -q "capturing '$DB.c' .*, expanded events" "$CAP_LOG"
	run -0 workload run "$SRC_URI" "$DB" 14 400
	case_ok dotted "$SRC_URI" "$DB"
	case_ok staged-dotted "$TARGET_URI" "$DB"
	run -0 replay c
	stop_capture
	# every document, "edu" too, byte for byte
	run -0 workload compare "$SRC_URI" "$TARGET_URI" "$DB" 14
}

@test "ddl_create_drop_index_events.js, ddl_coll_mod_event.js through cdc-capture: indexes built and dropped in order, a TTL change and a validator mirrored" {
	run -0 workload prepare "$SRC_URI" "$TARGET_URI" "$DB" "$STATE" 3
	start_capture --coll c
	case_ok ddl "$SRC_URI" "$DB"
	case_ok staged-ddl "$TARGET_URI" "$DB"
	run -0 replay c
	stop_capture
	# In the source's order; past the catch-up window the unique index is
	# built at once, the TTL one waits for the cutover (its modify changes
	# the deferred spec), as "The catch-up window" says.
	[[ "$output" == *"building index 'p_1'"*"building index 'u_1'"*"TTL index 't_1' of '$DB.c' deferred"*"building index 'q_1'"*"dropping index 'q_1'"*"deferred index's expireAfterSeconds changed in the restore marker"*"mirroring modify of '$DB.c'"*"created deferred TTL index 't_1'"* ]]
	case_ok target-ddl "$TARGET_URI" "$DB"
	run -0 workload compare "$SRC_URI" "$TARGET_URI" "$DB" 3
}

@test "database mode --all-colls: a collection created mid-run is captured from its create event and built on the target with its options; an existing one is kept with a warning naming what differs" {
	pyrun "$SRC_URI" 'client[db_name].c00.insert_one({"_id": 1})'
	run -0 token-probe --db "$DB" --all-colls --method now --state-dir "$STATE"
	start_capture --all-colls
	case_ok create "$SRC_URI" "$DB" nc
	case_ok create "$SRC_URI" "$DB" nd
	# nd exists on the target already (restored), with other options.
	pyrun "$TARGET_URI" 'client[db_name].create_collection("nd", collation={"locale": "de"})'
	wait_until 30 bash -c "[ \"\$(\"$PY\" \"$REPO_ROOT/test/py/e2e_stage.py\" \"$TARGET_URI\" \"$DB\" \"$DB.nd\" count)\" = 4 ]"
	grep -q "capturing '$DB.nc' from its first event" "$CAP_LOG"
	# shellcheck disable=SC2016 # Python, not shell
	pyrun "$TARGET_URI" '
evs = list(client[db_name].cdc.find({"ns": db_name + ".nc"}, sort=[("seq", 1)]))
assert [e["operationType"] for e in evs] == ["create", "insert", "insert", "insert"], evs
desc = evs[0]["event"]["operationDescription"]
assert desc["validator"] == {"v": {"$type": "int"}} and desc["collation"]["locale"] == "fr", desc'
	run -0 replay nc
	[[ "$output" == *"creating '$DB.nc' on the target (seq 1)"* ]]
	case_ok options "$SRC_URI" "$TARGET_URI" "$DB" nc
	run -0 cdc-verify --db "$DB" --coll nc
	run -0 replay nd
	[[ "$output" == *"create of '$DB.nd': the target collection exists with other options (validator, collation); it is kept as it is"* ]]
	pyrun "$TARGET_URI" '
assert client[db_name].nd.options() == {"collation": {"locale": "de"}}, client[db_name].nd.options()
assert client[db_name].nd.count_documents({}) == 3'
	stop_capture
}

@test "a 5.0 source: the stream opens without showExpandedEvents (which 5.0 refuses); no DDL events, no disambiguatedPaths" {
	needs_mlite
	mlite_start OLD --server-version 5.0.14
	export SOURCE_URI="$OLD_URI"
	pyrun "$SOURCE_URI" 'client[db_name].create_collection("c")'
	run -0 token-probe --db "$DB" --coll c --method now --state-dir "$STATE"
	start_capture --coll c
	grep -q "capturing '$DB.c' .*source 5.0.14$" "$CAP_LOG"
	case_ok old-source "$SOURCE_URI" "$DB"
	case_ok staged-old "$TARGET_URI" "$DB"
	stop_capture
	mlite_stop OLD
}

@test "unit: capture's own change-stream cursor: event and empty-batch resume tokens, resume, invalidate closes it, the server's error and reply, killCursors on close" {
	run -0 env CSM_TEST_URI="$SRC_URI" CSM_TEST_DB="$DB" "$CSM_BUILD/test/test_cs_cursor"
	echo "$output"
	[[ "$output" == *"ok tokens"*"ok invalidate"*"ok error"*"ok kill"* ]]
}
