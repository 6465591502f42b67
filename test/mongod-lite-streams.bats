#!/usr/bin/env bats
# mongod-lite part 2: the oplog, change streams, the --dbpath journal and the
# failCommand fail point, driven through pymongo (test/py/mlstream_cases.py
# holds the checks; each prints "ok" or exits non-zero with the difference).

setup_file() {
	load helpers
	mlite_start S
}

teardown_file() {
	mlite_stop S
}

setup() {
	load helpers
	test_db
	export CASES_PY="$REPO_ROOT/test/py/mlstream_cases.py"
}

teardown() {
	mlite_stop SMALL
	mlite_stop SOLO
	mlite_stop DUR
}

# kill_under_load POLICY: majority writes, kill -9, a torn record, restart.
kill_under_load() {
	mlite_start DUR --dbpath "$BATS_TEST_TMPDIR/db" --sync-policy "$1"
	run -0 cases kill-marker "$DUR_URI" "$DB" "$BATS_TEST_TMPDIR/token"
	cases kill-writer "$DUR_URI" "$DB" "$BATS_TEST_TMPDIR/acked" &
	local writer=$!
	wait_until 30 bash -c "[[ \$(wc -l <'$BATS_TEST_TMPDIR/acked') -ge 500 ]]"
	mlite_kill9 DUR
	wait "$writer" || true
	# A record torn by the crash: replay must drop it and go on.
	printf 'MLJ1\x00\x10\x00\x00\x00\x00\x00\x00torn' >>"$BATS_TEST_TMPDIR/db/oplog.journal"
	mlite_restart DUR
	case_ok kill-verify "$DUR_URI" "$DB" "$BATS_TEST_TMPDIR/acked" "$BATS_TEST_TMPDIR/token"
	# The write made after the torn record survives one more restart.
	mlite_stop DUR
	mlite_restart DUR
	run -0 pyrun "$DUR_URI" 'print(client[db_name].c.count_documents({"_id": "after"}))'
	[[ "$output" == 1 ]]
}

@test "every operation type's event has the documented fields in order, drop and rename invalidate" {
	case_ok shapes "$S_URI" "$DB"
}

@test "bad tokens and pipelines fail with MongoDB's codes; \$match, \$project, startAtOperationTime" {
	case_ok errors "$S_URI" "$DB"
}

@test "10,000 writes from 4 writers arrive once each in cluster-time order; 50 resumes give exactly the rest" {
	case_ok concurrent "$S_URI" "$DB" 4 10000 50
}

@test "postBatchResumeToken advances while the watched collection is idle and another is written" {
	case_ok pbrt "$S_URI" "$DB"
}

@test "an awaitData getMore waiting 2 s costs the server under 50 ms of CPU and wakes on a write" {
	needs_mlite
	case_ok await-cpu "$S_URI" "$DB" "$S_PID"
}

@test "an event over 16 MiB: 10334 without the split stage; fragments reassemble and resume" {
	case_ok large "$S_URI" "$DB"
}

@test "a resume point older than --oplog-max-entries fails with ChangeStreamHistoryLost (286), an overtaken live stream with CappedPositionLost (136)" {
	needs_mlite
	mlite_start SMALL --oplog-max-entries 20
	case_ok history-lost "$SMALL_URI" "$DB" 20
}

@test "a change stream on --standalone fails with 40573" {
	needs_mlite
	mlite_start SOLO --standalone
	case_ok standalone "$SOLO_URI" "$DB"
}

@test "failCommand closeConnection on getMore: pymongo's stream resumes by itself and loses no event" {
	case_ok failcommand "$S_URI" "$DB" close
}

@test "failCommand 11600 with ResumableChangeStreamError on getMore: the stream resumes, no event lost" {
	case_ok failcommand "$S_URI" "$DB" label
}

@test "failCommand writeConcernError: only commands taking a write concern, after the write, with a write error, labels and a failed command" {
	case_ok failcommand-wce "$S_URI" "$DB"
}

@test "kill -9 under majority writes with --dbpath keeps every acknowledged write; resume crosses the restart" {
	needs_mlite
	kill_under_load batch
}

@test "with --sync-policy always too, kill -9 loses no acknowledged write" {
	needs_mlite
	kill_under_load always
}
