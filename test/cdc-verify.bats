#!/usr/bin/env bats
# cdc-verify: counts, then every document by _id, byte-equal; the first K
# differences on stdout; exit 0 equal, 1 different (docs/DESIGN.md,
# "Programs", "Exit codes").

setup_file() {
	load helpers
	pair_start
	export VDB=verify_shared
	# 100,000 documents on the source; byte-equal copies on the target.
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$SRC_URI" "$VDB" big 100000
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$DST_URI" "$VDB" big 100000
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$DST_URI" "$VDB" big_diff 100000
	# One missing, one extra, one changed among 100,000.
	# shellcheck disable=SC2016 # Python code: "$set" is MongoDB's, not the shell's
	pyrun "$DST_URI" '
c = client[sys.argv[1]].big_diff
assert c.delete_one({"_id": 4242}).deleted_count == 1
c.insert_one({"_id": 100000 + 7, "n": -1, "s": "extra", "tag": "t"})
assert c.update_one({"_id": 77777}, {"$set": {"s": "changed"}}).modified_count == 1
' "$VDB"
}

teardown_file() {
	pair_stop
}

setup() {
	load helpers
	pair_setup
}

@test "identical collections of 100,000 documents are equal: exit 0, counts printed" {
	run -0 --separate-stderr cdc-verify --db "$VDB" --coll big
	[[ "$output" == *"source $VDB.big: 100000 documents"* ]]
	[[ "$output" == *"target $VDB.big: 100000 documents"* ]]
	[[ "$output" == *"compared 100000 _ids: 0 missing on target, 0 extra on target, 0 different"* ]]
	[[ "$output" == *"result: equal"* ]]
}

@test "one missing, one extra and one changed document among 100,000 are each reported: exit 1" {
	run -1 --separate-stderr cdc-verify --db "$VDB" --coll big --to-coll big_diff
	[[ "${lines[*]}" == *"missing on target: _id 4242"* ]]
	[[ "${lines[*]}" == *"extra on target: _id 100007"* ]]
	[[ "${lines[*]}" == *"different: _id 77777 (first difference at field 's')"* ]]
	[[ "$output" == *"1 missing on target, 1 extra on target, 1 different"* ]]
	[[ "$output" == *"result: different"* ]]
	# Exactly three difference lines.
	[ "$(grep -cE '^(missing on target|extra on target|different):' <<<"$output")" -eq 3 ]
}

@test "--max-report 1 prints one difference but counts all of them" {
	run -1 --separate-stderr cdc-verify --db "$VDB" --coll big --to-coll big_diff --max-report 1
	[ "$(grep -cE '^(missing on target|extra on target|different):' <<<"$output")" -eq 1 ]
	[[ "$output" == *"1 missing on target, 1 extra on target, 1 different"* ]]
}

@test "mixed-type _ids inserted in another order compare equal in MongoDB's sort order" {
	pyrun "$SRC_URI" '
import datetime, random
from bson.int64 import Int64
from bson.decimal128 import Decimal128
ids = [MinKey(), None, -5, Int64(3), 2.5, Decimal128("7.25"), 10, Int64(2**40),
       "", "a", "ab", "b", {"a": 1}, {"a": 1, "b": 2}, {"b": 0}, Binary(b"zz"),
       Binary(b"aaa", 0x80), ObjectId("000000000000000000000001"),
       ObjectId("ffffffffffffffffffffffff"), False, True,
       datetime.datetime(1960, 1, 1), datetime.datetime(2030, 1, 1),
       Timestamp(1, 2), Timestamp(2, 1), MaxKey()]
docs = [{"_id": v, "i": n} for n, v in enumerate(ids)]
client[db_name].src.insert_many(docs)
random.Random(7).shuffle(docs)
tgt = pymongo.MongoClient(sys.argv[1])
for d in docs:
    tgt[db_name].tgt.insert_one(d)
' "$DST_URI"
	run -0 --separate-stderr cdc-verify --db "$DB" --coll src --to-coll tgt
	[[ "$output" == *"compared 26 _ids: 0 missing on target, 0 extra on target, 0 different"* ]]
}

@test "an int32 _id and a double _id of the same value are reported different, not missing" {
	pyrun "$SRC_URI" '
client[db_name].src.insert_many([{"_id": 1, "v": "x"}, {"_id": "k", "v": "y"}, {"_id": 3}])
tgt = pymongo.MongoClient(sys.argv[1])
tgt[db_name].tgt.insert_many([{"_id": 1.0, "v": "x"}, {"_id": "k", "v": "y"}, {"_id": 4}])
' "$DST_URI"
	run -1 --separate-stderr cdc-verify --db "$DB" --coll src --to-coll tgt
	[[ "$output" == *"different: _id 1 (first difference at field '_id')"* ]]
	[[ "$output" == *"missing on target: _id 3"* ]]
	[[ "$output" == *"extra on target: _id 4"* ]]
	[[ "$output" != *'missing on target: _id "k"'* ]]
}

@test "--sample compares only that many random _ids and finds changed documents" {
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$SRC_URI" "$DB" c 2000
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$DST_URI" "$DB" c 2000
	run -0 --separate-stderr cdc-verify --db "$DB" --coll c --sample 100
	[[ "$output" == *"compared 100 sampled _ids: 0 missing on target, 0 extra on target, 0 different"* ]]
	# shellcheck disable=SC2016 # Python code: "$set" is MongoDB's, not the shell's
	pyrun "$DST_URI" 'client[db_name].c.update_many({}, {"$set": {"s": "changed"}})'
	run -1 --separate-stderr cdc-verify --db "$DB" --coll c --sample 50 --max-report 0
	[[ "$output" == *"compared 50 sampled _ids: 0 missing on target, 0 extra on target, 50 different"* ]]
}

@test "empty source and empty target collections are equal" {
	pyrun "$SRC_URI" 'client[db_name].create_collection("e")'
	pyrun "$DST_URI" 'client[db_name].create_collection("e")'
	run -0 --separate-stderr cdc-verify --db "$DB" --coll e
	[[ "$output" == *"compared 0 _ids"* ]]
}

@test "a collection missing on the source or the target exits 66 naming it" {
	pyrun "$DST_URI" 'client[db_name].there.insert_one({"_id": 1})'
	run -66 --separate-stderr cdc-verify --db "$DB" --coll there
	# shellcheck disable=SC2154 # stderr: set by run --separate-stderr
	[[ "$stderr" == *"source '$DB.there'"* ]]
	pyrun "$SRC_URI" 'client[db_name].only_src.insert_one({"_id": 1})'
	run -66 --separate-stderr cdc-verify --db "$DB" --coll only_src
	[[ "$stderr" == *"target '$DB.only_src'"* ]]
}

@test "bad command lines exit 64 with the synopsis on stderr" {
	run -64 --separate-stderr cdc-verify
	[[ "$stderr" == *"--db and --coll are required"* ]]
	[[ "$stderr" == *"usage: cdc-verify"* ]]
	# "cdc-verify: reason", then the synopsis; not a timestamped log line.
	# shellcheck disable=SC2154 # stderr_lines: set by run --separate-stderr
	[[ "${stderr_lines[0]}" == "cdc-verify: --db and --coll are required" ]]
	[[ "${stderr_lines[1]}" == "usage: cdc-verify --db DB --coll COLL"* ]]
	run -64 --separate-stderr cdc-verify --db a --coll b --sample 0
	[[ "$stderr" == *"--sample"* ]]
	run -64 --separate-stderr cdc-verify --db a --coll b --max-report x
	run -64 --separate-stderr cdc-verify --db a --coll b stray
	run -64 --separate-stderr cdc-verify --db a --coll b --no-such-option
	SOURCE_URI='' run -64 --separate-stderr cdc-verify --db a --coll b
	[[ "${stderr_lines[0]}" == "cdc-verify: no source URI: "* ]]
	run -64 --separate-stderr cdc-verify --db a --coll b --to-coll ""
	[[ "${stderr_lines[0]}" == "cdc-verify: --to-db and --to-coll must not be empty" ]]
}

@test "-h and --help print the synopsis and every exit status on stdout and exit 0" {
	run -0 --separate-stderr cdc-verify --help
	[[ "$output" == *"usage: cdc-verify --db DB --coll COLL"* ]]
	[[ "$output" == *"--sample N"* ]]
	exit_codes_listed "$output" 0 1 64 66 69 70
	[[ "$output" == *"70  a bug: an invariant of the toolkit failed: the server returned _ids out of MongoDB's order"* ]]
	run -0 --separate-stderr cdc-verify -h
	[[ "${lines[0]}" == "usage: cdc-verify --db DB --coll COLL"* ]]
}

@test "an unreachable source exits 69 without printing its password" {
	SOURCE_URI="mongodb://app:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS=2000" \
		run -69 --separate-stderr cdc-verify --db a --coll b
	[[ "$stderr" == *source* ]]
	[[ "$stderr" != *hunter2* ]]
}

@test "the _id comparator orders every BSON type as MongoDB sorts them (unit cases)" {
	if [ ! -x "$CSM_BUILD/test/test_bsoncmp" ]; then
		echo "test_bsoncmp is not built: make unit" >&2
		return 1
	fi
	run -0 "$CSM_BUILD/test/test_bsoncmp"
}
