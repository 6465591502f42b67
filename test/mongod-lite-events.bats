#!/usr/bin/env bats
# mongod-lite part 3: the change events MongoDB 7.0 emits, each test one case
# of a MongoDB jstest (file and case named in the test; the checks are in
# test/py/mlevents_cases.py).

setup_file() {
	load helpers
	mlite_start E
}

teardown_file() {
	mlite_stop E
}

setup() {
	load helpers
	test_db
	export CASES_PY="$REPO_ROOT/test/py/mlevents_cases.py"
}

teardown() {
	mlite_stop SMALL
}

# jstests/change_streams/expanded_update_description.js, in its order
@test "expanded_update_description.js: a path of plain fields and array indexes has no disambiguatedPaths" {
	case_ok eud "$E_URI" "$DB" 1
}

@test "expanded_update_description.js: a numeric field name is a string, array indexes numbers" {
	case_ok eud "$E_URI" "$DB" 2
}

@test "expanded_update_description.js: a numeric field name with no array or dot is disambiguated" {
	case_ok eud "$E_URI" "$DB" 3
}

@test "expanded_update_description.js: \$unset of an array is not disambiguated" {
	case_ok eud "$E_URI" "$DB" 4
}

@test "expanded_update_description.js: truncatedArrays is not disambiguated" {
	case_ok eud "$E_URI" "$DB" 5
}

@test "expanded_update_description.js: top-level dotted fields are disambiguated" {
	case_ok eud "$E_URI" "$DB" 6
}

@test "expanded_update_description.js: dotted fields and array indexes combined" {
	case_ok eud "$E_URI" "$DB" 7
}

@test "expanded_update_description.js: dotted, numeric and array-index components told apart" {
	case_ok eud "$E_URI" "$DB" 8
}

@test "change_stream.js: without showExpandedEvents there is no disambiguatedPaths" {
	case_ok no-disambiguated "$E_URI" "$DB"
}

@test "change_stream.js: Testing update (a replacement is a replace event)" {
	case_ok cs "$E_URI" "$DB" update
}

@test "change_stream.js: Testing upsert (an upsert that inserts is an insert event)" {
	case_ok cs "$E_URI" "$DB" upsert
}

@test "change_stream.js: Testing partial update with \$inc" {
	case_ok cs "$E_URI" "$DB" inc
}

# jstests/change_streams/pipeline_style_updates.js ($v:2 part)
@test "pipeline_style_updates.js: pipeline-based update with \$set" {
	case_ok psu "$E_URI" "$DB" 1
}

@test "pipeline_style_updates.js: pipeline-based update with \$unset" {
	case_ok psu "$E_URI" "$DB" 2
}

@test "pipeline_style_updates.js: pipeline-based update with \$replaceRoot is a sub-diff" {
	case_ok psu "$E_URI" "$DB" 3
}

# jstests/change_streams/pipeline_style_updates_v2_oplog_entries.js
@test "pipeline_style_updates_v2_oplog_entries.js: \$set with array sub-diff and truncation" {
	case_ok v2 "$E_URI" "$DB" 1
}

@test "pipeline_style_updates_v2_oplog_entries.js: \$unset" {
	case_ok v2 "$E_URI" "$DB" 2
}

@test "pipeline_style_updates_v2_oplog_entries.js: \$replaceRoot removing fields" {
	case_ok v2 "$E_URI" "$DB" 3
}

@test "pipeline_style_updates_v2_oplog_entries.js: a complex pipeline (\$replaceRoot, \$addFields, \$project)" {
	case_ok v2 "$E_URI" "$DB" 4
}

@test "pipeline_style_updates_v2_oplog_entries.js: modifications to nested elements" {
	case_ok v2 "$E_URI" "$DB" 5
}

@test "document_diff_calculator.cpp: a pipeline update whose diff is not smaller is a replace event" {
	case_ok replace-when-not-smaller "$E_URI" "$DB"
}

@test "document_diff_calculator_test.cpp: delete order, a moved field, a large delta" {
	case_ok diff-rules "$E_URI" "$DB"
}

@test "update pipelines: MongoDB's stages and expressions, its codes for the rest (72, 40324, 168, 40228, 40400, 66)" {
	case_ok pipeline-errors "$E_URI" "$DB"
}

@test "operator updates place new fields lexicographically, numeric names by number (5.0+)" {
	case_ok lexicographic "$E_URI" "$DB"
}

@test "push_node.cpp: \$push onto [] logs the array, onto [1] the element; \$pull the array" {
	case_ok push-shapes "$E_URI" "$DB"
}

@test "field_name_validation.js: dotted and \$ names stored as inserted; refused where MongoDB refuses (52, 9)" {
	case_ok field-names "$E_URI" "$DB"
}

@test "change_streams_oplog_rollover.js: an overtaken getMore is 136, a resume from a lost point 286" {
	needs_mlite
	mlite_start SMALL --oplog-max-entries 20
	case_ok rollover "$SMALL_URI" "$DB" 20
}

@test "lookup_pit_pre_and_post_image.js: fullDocument whenAvailable is null before the option, the image as of the event after" {
	case_ok post-image "$E_URI" "$DB" whenAvailable
}

@test "lookup_pit_pre_and_post_image.js: fullDocument required fails with 47 before the option" {
	case_ok post-image "$E_URI" "$DB" required
}

@test "show_expanded_events.js: collectionUUID on every event but dropDatabase, rename's operationDescription" {
	case_ok expanded-crud "$E_URI" "$DB"
}

@test "ddl_create_event.js: create events, explicit and implicit, with idIndex and options" {
	case_ok expanded-create "$E_URI" "$DB"
}

@test "ddl_create_drop_index_events.js: createIndexes and dropIndexes carry the index spec" {
	case_ok expanded-indexes "$E_URI" "$DB"
}

@test "ddl_coll_mod_event.js: modify carries the collMod options and the state before" {
	case_ok expanded-modify "$E_URI" "$DB"
}
