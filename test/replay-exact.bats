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
	CASES_PY="$REPO_ROOT/test/py/exact_cases.py"
}

replay() {
	timeout 60 cdc-replay --db "$DB" --coll c --status-interval 0 "$@"
}

# exact SCENARIO SHAPE: stage the scenario's events, replay them, and
# compare every document byte for byte.
exact() {
	case_ok stage "$1" "$SRC_URI" "$TGT_URI" "$DB" "$2"
	run -0 replay --drain
	case_ok compare "$SRC_URI" "$TGT_URI" "$DB"
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
	DB="${DB}_old"
	exact pipeline_updates old
}

@test "field_name_validation.js: documents with top-level '\$' fields are inserted and replaced (no code 52)" {
	exact dollar_documents expanded
}

@test "an older source's path with two readings stops replay with 65 naming ns, seq, _id and path; nothing after it is applied" {
	case_ok stage old_ambiguous "$SRC_URI" "$TGT_URI" "$DB" old
	run -65 replay --drain
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
	DB="${DB}_new"
	exact old_ambiguous expanded
}
