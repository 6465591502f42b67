#!/usr/bin/env bats
# Exact replay (docs/DESIGN.md, "Replay rules", "Exact writes"): the events
# MongoDB emits for dotted, numeric and '$' field names, pipeline updates
# and top-level '$' documents leave the target byte-identical to the
# source; an older source's path with two readings stops replay with 65;
# post-images; cdc-verify --ignore-field-order. Events come from the test
# server (test/py/exact_cases.py reads them by hand, as a 6.1+ source with
# showExpandedEvents or as 5.0 sends them) and are staged as cdc-capture
# would.

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
	export TARGET_URI="$TGT_URI" SOURCE_URI="$SRC_URI"
	export CASES_PY="$REPO_ROOT/test/py/exact_cases.py"
}

# replay [DB] ARGS...: cdc-replay of DB.c (default $DB).
replay() {
	timeout 60 cdc-replay --db "$1" --coll c --status-interval 0 "${@:2}"
}

# exact SCENARIO SHAPE [DB]: stage the scenario's events in DB (default
# $DB), replay them, and compare every document byte for byte.
exact() {
	local db="${3:-$DB}"
	case_ok stage "$1" "$SRC_URI" "$TGT_URI" "$db" "$2"
	run -0 replay "$db" --drain
	case_ok compare "$SRC_URI" "$TGT_URI" "$db"
}

# unit PROGRAM [CASE...]: a unit test program of build/test.
unit() {
	[[ -x "$CSM_BUILD/test/$1" ]] || {
		echo "$1 is not built: make unit" >&2
		return 1
	}
	run "$CSM_BUILD/test/$1" "${@:2}"
	echo "$output"
	((status == 0))
}

@test "expanded_update_description.js: dotted, numeric and array-index paths replay byte-identical (disambiguatedPaths)" {
	exact expanded_update_description expanded
}

@test "expanded_update_description.js as a 5.0 source sends it: paths read against the target replay byte-identical" {
	exact expanded_update_description old
}

@test "pipeline_style_updates.js: new fields out of lexicographic order, array sub-diffs and truncations, '\$' and dotted names replay byte-identical" {
	exact pipeline_updates expanded
	# Also without disambiguatedPaths.
	exact pipeline_updates old "${DB}_old"
}

@test "field_name_validation.js: documents with top-level '\$' fields are inserted and replaced (no code 52)" {
	exact dollar_documents expanded
}

@test "an older source's path with two readings stops replay with 65 naming ns, seq, _id and path; nothing after it is applied" {
	case_ok stage old_ambiguous "$SRC_URI" "$TGT_URI" "$DB" old
	run -65 replay "$DB" --drain
	[[ "$output" == *"cannot replay seq 2 (update of { \"_id\" : 1 }) on '$DB.c': path 'p.q' cannot be read in one way only against the target document"* ]]
	[[ "$output" == *"--full-document updateLookup"* ]]
	# The event before it is applied, the one after it is not; the batch
	# stays pending (applying the first again converges).
	pyrun "$TGT_URI" '
c = client[db_name]
assert c.c.find_one({"_id": 2})["v"] == 2, c.c.find_one({"_id": 2})
assert c.c.find_one({"_id": 1})["p.q"] == 2, c.c.find_one({"_id": 1})
assert c.cdc.count_documents({"status": "pending"}) == 3'
	# The same events in the 6.1+ shape replay exactly.
	exact old_ambiguous expanded "${DB}_new"
}

@test "ddl_create_drop_index_events.js: createIndexes and dropIndexes are applied in order; a unique one past the window at once, a TTL one deferred to the cutover" {
	exact indexes expanded
	[[ "$output" == *"building index 'u_1' of '$DB.c' on the target"* ]]
	[[ "$output" == *"TTL index 't_1' of '$DB.c' deferred: built at the cutover (--drain)"* ]]
	[[ "$output" == *"created deferred TTL index 't_1' on '$DB.c'"* ]]
	pyrun "$TGT_URI" '
info = client[db_name].c.index_information()
assert sorted(info) == ["_id_", "c_b", "t_1", "u_1"], sorted(info)
assert info["c_b"]["key"] == [("c", -1), ("b", 1)] and info["c_b"]["sparse"], info["c_b"]
assert info["u_1"]["unique"] and info["t_1"]["expireAfterSeconds"] == 3600, info
m = client[db_name].cdc_meta.find_one({"_id": "restore:%s.c" % db_name})
assert [s["name"] for s in m["deferredIndexes"]] == ["t_1"], m
assert "ttlCreatedAt" in m and "uniqueCreatedAt" not in m, m'
}

@test "ddl_create_drop_index_events.js inside the catch-up window: the unique index joins the marker's deferred ones and is built with them" {
	case_ok stage indexes "$SRC_URI" "$TGT_URI" "$DB" expanded
	# The dump ended after every event: all of them are inside the window.
	# shellcheck disable=SC2016 # Python, not shell
	pyrun "$TGT_URI" '
db = client[db_name]
last = db.cdc.find_one(sort=[("seq", -1)])["clusterTime"]
db.cdc_meta.update_one({"_id": "restore:%s.c" % db_name}, {"$set": {"dumpEndTime": last}})'
	run -0 replay "$DB" --drain
	# deferred when its event was applied, built with the others at the end
	[[ "$output" == *"unique index 'u_1' of '$DB.c' deferred: built with the deferred unique indexes"*"created deferred unique index 'u_1' on '$DB.c'"* ]]
	[[ "$output" != *"building index 'u_1'"* ]]
	pyrun "$TGT_URI" '
m = client[db_name].cdc_meta.find_one({"_id": "restore:%s.c" % db_name})
assert [s["name"] for s in m["deferredIndexes"]] == ["u_1", "t_1"], m
assert "uniqueCreatedAt" in m and "ttlCreatedAt" in m, m'
	case_ok compare "$SRC_URI" "$TGT_URI" "$DB"
	pyrun "$TGT_URI" '
info = client[db_name].c.index_information()
assert sorted(info) == ["_id_", "c_b", "t_1", "u_1"], sorted(info)
assert info["u_1"]["unique"], info'
}

@test "ddl_coll_mod_event.js: a TTL index's expireAfterSeconds and the validator are mirrored in order; other options are logged" {
	case_ok stage modify "$SRC_URI" "$TGT_URI" "$DB" expanded
	# restore built the TTL index (ttlCreatedAt: the cutover is done)
	# shellcheck disable=SC2016 # Python, not shell
	pyrun "$TGT_URI" '
import datetime
db = client[db_name]
db.c.create_index([("t", 1)], name="t_1", expireAfterSeconds=3600)
db.cdc_meta.update_one({"_id": "restore:%s.c" % db_name},
                       {"$set": {"ttlCreatedAt": datetime.datetime.utcnow()}})'
	run -0 replay "$DB" --drain
	case_ok compare "$SRC_URI" "$TGT_URI" "$DB"
	[[ "$output" == *"mirroring modify of '$DB.c' on the target (seq 2)"* ]]
	[[ "$output" == *"mirroring modify of '$DB.c' on the target (seq 3)"* ]]
	[[ "$output" == *"modify of '$DB.c': option 'changeStreamPreAndPostImages' is not replayed"* ]]
	# shellcheck disable=SC2016 # Python, not shell
	pyrun "$TGT_URI" '
db = client[db_name]
assert db.c.index_information()["t_1"]["expireAfterSeconds"] == 60, db.c.index_information()
opts = db.c.options()
assert opts.get("validator") == {"a": {"$exists": True}}, opts
assert opts.get("validationLevel") == "moderate" and opts.get("validationAction") == "warn", opts
assert "changeStreamPreAndPostImages" not in opts, opts'
}

@test "ddl_coll_mod_event.js, a TTL index still deferred to the cutover: the marker's spec takes the new expireAfterSeconds" {
	case_ok stage modify "$SRC_URI" "$TGT_URI" "$DB" expanded
	# restore deferred the TTL index (--defer-constraints)
	# shellcheck disable=SC2016 # Python, not shell
	pyrun "$TGT_URI" '
from bson.son import SON
spec = SON([("v", 2), ("key", {"t": 1}), ("name", "t_1"), ("expireAfterSeconds", 3600)])
client[db_name].cdc_meta.update_one({"_id": "restore:%s.c" % db_name},
                                    {"$set": {"deferredIndexes": [spec]}})'
	run -0 replay "$DB" --drain
	[[ "$output" == *"seq 2: modify of '$DB.c': deferred index's expireAfterSeconds changed in the restore marker"*"created deferred TTL index 't_1' on '$DB.c'"* ]]
	case_ok compare "$SRC_URI" "$TGT_URI" "$DB"
	# shellcheck disable=SC2016 # Python, not shell
	pyrun "$TGT_URI" '
db = client[db_name]
assert db.c.index_information()["t_1"]["expireAfterSeconds"] == 60, db.c.index_information()
assert db.c.options().get("validator") == {"a": {"$exists": True}}, db.c.options()
m = db.cdc_meta.find_one({"_id": "restore:%s.c" % db_name})
assert m["deferredIndexes"][0]["expireAfterSeconds"] == 60 and "ttlCreatedAt" in m, m'
}

@test "cdc-verify --ignore-field-order counts documents equal up to field order apart; by default they differ" {
	pyrun "$SRC_URI" '
from bson.son import SON
c = client[db_name].c
c.insert_many([SON([("_id", 1), ("a", 1), ("o", SON([("x", 1), ("y", 2)]))]),
               SON([("_id", 2), ("a", 1)]), SON([("_id", 3), ("a", 1)])])'
	pyrun "$TGT_URI" '
from bson.son import SON
c = client[db_name].c
c.insert_many([SON([("_id", 1), ("o", SON([("y", 2), ("x", 1)])), ("a", 1)]),
               SON([("_id", 2), ("a", 1.0)]), SON([("_id", 3), ("a", 1)])])'
	run -1 cdc-verify --db "$DB" --coll c
	[[ "$output" == *"different: _id 1 "*"different: _id 2 "*"0 extra on target, 2 different"*"result: different"* ]]
	run -1 cdc-verify --db "$DB" --coll c --ignore-field-order
	[[ "$output" == *"field order: _id 1 (first difference at field 'a')"*"different: _id 2 "* ]]
	[[ "$output" == *"1 different"*"1 equal up to field order"*"result: different"* ]]
	# 1 and 1.0 are a real difference; once fixed only the order remains.
	# shellcheck disable=SC2016 # Python, not shell
	pyrun "$TGT_URI" 'client[db_name].c.update_one({"_id": 2}, {"$set": {"a": 1}})'
	run -0 cdc-verify --db "$DB" --coll c --ignore-field-order
	[[ "$output" == *"0 different"*"1 equal up to field order"*"result: equal"* ]]
	run -1 cdc-verify --db "$DB" --coll c
}

@test "unit: when operator updates are exact, the pipeline otherwise, the older source's path reading, '\$' documents" {
	unit test_apply_exact
}

@test "unit: equal up to field order, at every depth; arrays keep their order, types count" {
	unit test_bsoncmp_order
}

@test "--full-document required stages the post-image as of each event and replay replaces with it; without post-images on the collection it is 64" {
	local state="$BATS_TEST_TMPDIR/state" pid
	mkdir -p "$state"
	run -0 "$PY" "$REPO_ROOT/test/py/diff_workload.py" prepare "$SRC_URI" "$TGT_URI" "$DB" "$state" 7
	run -64 cdc-capture --db "$DB" --coll c --state-dir "$state" --full-document required
	[[ "$output" == *"--full-document required needs post-images, and '$DB.c' on the source does not keep them; enable them with collMod changeStreamPreAndPostImages"* ]]
	pyrun "$TGT_URI" 'assert client[db_name].cdc.count_documents({}) == 0'
	pyrun "$SRC_URI" 'client[db_name].command("collMod", "c", changeStreamPreAndPostImages={"enabled": True})'
	cdc-capture --db "$DB" --coll c --state-dir "$state" --full-document required \
		--status-interval 3600 2>"$BATS_TEST_TMPDIR/capture.log" &
	pid=$!
	run -0 "$PY" "$REPO_ROOT/test/py/diff_workload.py" run "$SRC_URI" "$DB" 7 600
	# Two quick updates of one document: each event holds its own state.
	# shellcheck disable=SC2016 # Python, not shell
	pyrun "$SRC_URI" '
c = client[db_name].c
c.insert_one({"_id": "pit"})
c.update_one({"_id": "pit"}, {"$set": {"pit": 1}})
c.update_one({"_id": "pit"}, {"$set": {"pit": 2}})'
	run -0 timeout 120 cdc-replay --db "$DB" --coll c --status-interval 0 --drain
	kill -TERM "$pid"
	wait "$pid"
	pyrun "$TGT_URI" '
evs = [d["event"] for d in client[db_name].cdc.find({"operationType": "update"}, sort=[("seq", 1)])]
assert evs and all("fullDocument" in e for e in evs), "an update without its post-image"
pits = [e["fullDocument"]["pit"] for e in evs if e["documentKey"]["_id"] == "pit"]
assert pits == [1, 2], pits'
	run -0 "$PY" "$REPO_ROOT/test/py/diff_workload.py" compare "$SRC_URI" "$TGT_URI" "$DB" 7
}

@test "unit: cdc-capture asks for showExpandedEvents on 6.0+ sources, by the server's version alone" {
	unit test_capture_expanded
}
