#!/usr/bin/env bats
# mongod-lite's locking: a command on one collection does not wait on the
# writes to another, and the oplog still shows every write once, in order
# (test/py/mllock_cases.py holds the checks).

setup_file() {
	load helpers
	mlite_start L
}

teardown_file() {
	mlite_stop L
}

setup() {
	load helpers
	test_db
	export CASES_PY="$REPO_ROOT/test/py/mllock_cases.py"
}

@test "a find on one collection completes while an update_many of another runs" {
	case_ok reader-beside-writer "$L_URI" "$DB"
}

@test "writers on four collections at once: a database change stream sees each write once, in clusterTime order, and resumes anywhere" {
	case_ok oplog-order "$L_URI" "$DB"
}

@test "transactions beside plain writers: no transfer is seen half done and no plain write is lost" {
	case_ok txn-beside-writers "$L_URI" "$DB"
}

@test "a transaction's snapshot stays as it was while thousands of outside writes rebalance the collection" {
	case_ok snapshot-under-churn "$L_URI" "$DB"
}
