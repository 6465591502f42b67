#!/usr/bin/env bats
# mongod-lite's one-pass $set/$unset of top-level fields (the marks' and
# replayed updates' shape, test/mongod-lite/update_fast.c) gives what the
# general update path gives, and what MongoDB documents (the checks are in
# test/py/mlfastpath_cases.py).

setup_file() {
	load helpers
	mlite_start F
}

teardown_file() {
	mlite_stop F
}

setup() {
	load helpers
	test_db
	export CASES_PY="$REPO_ROOT/test/py/mlfastpath_cases.py"
}

@test "fast and general paths agree: replies, stored bytes, indexes, change events with pre-images" {
	case_ok differential "$F_URI" "$DB"
}

@test "as MongoDB documents \$set and \$unset: fields in place, new ones in path order, same value not modified, a unique clash changes nothing" {
	case_ok expected "$F_URI" "$DB"
}

@test "an index walk finds what a full scan finds: equalities, ranges, mixed types, null, NaN, \$ne beside a range" {
	case_ok plan-exact "$F_URI" "$DB"
}
