#!/usr/bin/env bats
# mongod-lite: multi-document transactions as MongoDB 7.0 runs them on a
# replica set, driven through pymongo (test/py/mltxn_cases.py holds the
# checks, each citing the MongoDB test it follows).

setup_file() {
	load helpers
	mlite_start T
}

teardown_file() {
	mlite_stop T
}

setup() {
	load helpers
	test_db
	export CASES_PY="$REPO_ROOT/test/py/mltxn_cases.py"
}

teardown() {
	mlite_stop SOLO
}

@test "a transaction's writes are invisible outside until the commit, read back inside, and all there after" {
	case_ok visibility "$T_URI" "$DB"
}

@test "an aborted transaction leaves no document and no change event" {
	case_ok abort "$T_URI" "$DB"
}

@test "the events of a committed transaction carry lsid and txnNumber, in order, with one clusterTime, and resume in the middle" {
	case_ok events "$T_URI" "$DB"
}

@test "the second writer of a document gets WriteConflict 112 labelled TransientTransactionError; with_transaction retries" {
	case_ok conflicts "$T_URI" "$DB"
}

@test "commit is retryable; finished, unknown and older transactions and banned commands fail with MongoDB's codes" {
	case_ok errors "$T_URI" "$DB"
}

@test "a commit that fails retryably or with a write concern error is labelled UnknownTransactionCommitResult" {
	case_ok commit-labels "$T_URI" "$DB"
}

@test "a transaction open past transactionLifetimeLimitSeconds is aborted by the server and frees its documents" {
	case_ok lifetime "$T_URI" "$DB"
}

@test "endSessions aborts the session's open transaction" {
	case_ok end-sessions "$T_URI" "$DB"
}

@test "a standalone refuses transactions with IllegalOperation 20" {
	needs_mlite
	mlite_start SOLO --standalone
	case_ok standalone "$SOLO_URI" "$DB"
}
