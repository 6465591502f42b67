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
}

teardown() {
	mlite_stop SMALL
	mlite_stop SOLO
	mlite_stop DUR
}

cases() {
	"$PY" "$REPO_ROOT/test/py/mlstream_cases.py" "$@"
}

# Servers with special options exist only as mongod-lite.
needs_mlite() {
	if [[ -n "${MONGO_TEST_URI:-}" ]]; then
		skip "needs a mongod-lite started with special options"
	fi
}

@test "every operation type's event has the documented fields in order, drop and rename invalidate" {
	run -0 cases shapes "$S_URI" "$DB"
	[[ "$output" == ok* ]]
}

@test "bad tokens and pipelines fail with MongoDB's codes; \$match, \$project, startAtOperationTime" {
	run -0 cases errors "$S_URI" "$DB"
	[[ "$output" == ok* ]]
}

@test "10,000 writes from 4 writers arrive once each in cluster-time order; 50 resumes give exactly the rest" {
	run -0 cases concurrent "$S_URI" "$DB" 4 10000 50
	[[ "$output" == ok* ]]
}

@test "postBatchResumeToken advances while the watched collection is idle and another is written" {
	run -0 cases pbrt "$S_URI" "$DB"
	[[ "$output" == ok* ]]
}

@test "an awaitData getMore waiting 2 s costs the server under 50 ms of CPU and wakes on a write" {
	needs_mlite
	run -0 cases await-cpu "$S_URI" "$DB" "$S_PID"
	[[ "$output" == ok* ]]
}

@test "an event over 16 MiB: 10334 without the split stage; fragments reassemble and resume" {
	run -0 cases large "$S_URI" "$DB"
	[[ "$output" == ok* ]]
}

@test "a resume point older than --oplog-max-entries fails with ChangeStreamHistoryLost (286)" {
	needs_mlite
	mlite_start SMALL --oplog-max-entries 20
	run -0 cases history-lost "$SMALL_URI" "$DB" 20
	[[ "$output" == ok* ]]
}

@test "a change stream on --standalone fails with 40573" {
	needs_mlite
	mlite_start SOLO --standalone
	run -0 cases standalone "$SOLO_URI" "$DB"
	[[ "$output" == ok* ]]
}

@test "failCommand closeConnection on getMore: pymongo's stream resumes by itself and loses no event" {
	run -0 cases failcommand "$S_URI" "$DB" close
	[[ "$output" == ok* ]]
}

@test "failCommand 11600 with ResumableChangeStreamError on getMore: the stream resumes, no event lost" {
	run -0 cases failcommand "$S_URI" "$DB" label
	[[ "$output" == ok* ]]
}

# kill_under_load POLICY: majority writes, kill -9, a torn record, restart.
kill_under_load() {
	mlite_start DUR --dbpath "$BATS_TEST_TMPDIR/db" --sync-policy "$1"
	run -0 cases kill-marker "$DUR_URI" "$DB" "$BATS_TEST_TMPDIR/token"
	"$PY" "$REPO_ROOT/test/py/mlstream_cases.py" kill-writer "$DUR_URI" "$DB" "$BATS_TEST_TMPDIR/acked" &
	local writer=$!
	wait_until 30 bash -c "[[ \$(wc -l <'$BATS_TEST_TMPDIR/acked') -ge 500 ]]"
	mlite_kill9 DUR
	wait "$writer" || true
	# A record torn by the crash: replay must drop it and go on.
	printf 'MLJ1\x00\x10\x00\x00\x00\x00\x00\x00torn' >>"$BATS_TEST_TMPDIR/db/oplog.journal"
	mlite_restart DUR
	run -0 cases kill-verify "$DUR_URI" "$DB" "$BATS_TEST_TMPDIR/acked" "$BATS_TEST_TMPDIR/token"
	[[ "$output" == ok* ]]
	# The write made after the torn record survives one more restart.
	mlite_stop DUR
	mlite_restart DUR
	run -0 pyrun "$DUR_URI" 'print(client[db_name].c.count_documents({"_id": "after"}))'
	[[ "$output" == 1 ]]
}

@test "kill -9 under majority writes with --dbpath keeps every acknowledged write; resume crosses the restart" {
	needs_mlite
	kill_under_load batch
}

@test "with --sync-policy always too, kill -9 loses no acknowledged write" {
	needs_mlite
	kill_under_load always
}
