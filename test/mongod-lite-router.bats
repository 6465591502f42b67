#!/usr/bin/env bats
# mongod-lite part 3: --router, a MongoDB 7.0 mongos over one store (hello,
# the shard commands and config.collections, documentKey with the shard key,
# mongos' write rules), driven through pymongo (test/py/mlrouter_cases.py
# holds the checks and names the MongoDB source of each rule).

setup_file() {
	load helpers
	if [[ -z "${MONGO_TEST_URI:-}" ]]; then
		mlite_start R --router --shards 3
	fi
}

teardown_file() {
	mlite_stop R
}

setup() {
	load helpers
	needs_mlite
	test_db
	export CASES_PY="$REPO_ROOT/test/py/mlrouter_cases.py"
}

teardown() {
	mlite_stop RS
	mlite_stop DUR
}

@test "hello answers as a mongos: isdbgrid, no replica set fields, no replSetGetStatus" {
	case_ok hello "$R_URI" "$DB" 3
	# the URI the suite uses has no replicaSet: a mongos has none
	[[ "$R_URI" != *replicaSet* ]]
}

@test "shardCollection records ranged, compound and hashed keys in config.collections, with mongos' errors" {
	case_ok shard-collection "$R_URI" "$DB"
}

@test "a replica set member has no enableSharding or shardCollection" {
	mlite_start RS
	case_ok not-router "$RS_URI" "$DB"
}

@test "documentKey holds the shard key fields in key order, then _id, in collection, database and cluster streams" {
	case_ok document-key "$R_URI" "$DB"
}

@test "single-document writes follow 7.0 mongos: upserts need the shard key, key changes a retryable write and the full key" {
	case_ok write-rules "$R_URI" "$DB"
}

@test "a shard key change that moves the document is a delete and an insert, one that stays an update" {
	case_ok key-change-events "$R_URI" "$DB"
}

@test "\$changeStreamSplitLargeEvent splits a large event of a sharded collection" {
	case_ok split "$R_URI" "$DB"
}

@test "the shard key survives kill -9 with --dbpath" {
	mlite_start DUR --router --dbpath "$BATS_TEST_TMPDIR/db"
	case_ok durable-write "$DUR_URI" "$DB"
	mlite_kill9 DUR
	mlite_restart DUR
	case_ok durable-check "$DUR_URI" "$DB"
}

@test "--router with --standalone, or a bad --shards, is a usage error" {
	run -64 "$MLITE" --router --standalone --port 0
	[[ "$output" == *"--router and --standalone exclude each other"* ]]
	run -64 "$MLITE" --router --shards 0 --port 0
	[[ "$output" == *"invalid --shards '0'"* ]]
}
