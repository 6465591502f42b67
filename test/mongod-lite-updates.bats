#!/usr/bin/env bats
# mongod-lite part 6: positional updates ($, $[], $[<identifier>] with
# arrayFilters) and their change events, each test cases of one MongoDB
# jstest or source file (named in the test; the checks are in
# test/py/mlupdates_cases.py).

setup_file() {
	load helpers
	mlite_start U
	mlite_start T
}

teardown_file() {
	mlite_stop T
	mlite_stop U
}

setup() {
	load helpers
	test_db
	export CASES_PY="$REPO_ROOT/test/py/mlupdates_cases.py"
}

@test "update_arrayFilters.js: arrayFilters refused as MongoDB parses them (14, 9, 224), good ones accepted" {
	case_ok af-parse "$U_URI" "$DB"
}

@test "update_arrayFilters.js: findAndModify and bulkWrite take arrayFilters; not with remove=true" {
	case_ok af-find-and-modify "$U_URI" "$DB"
}

@test "update_arrayFilters.js: every modifier on \$[<id>] and \$[]" {
	case_ok af-modifiers "$U_URI" "$DB"
}

@test "update_arrayFilters.js: \$rename may not be dynamic; \$setOnInsert applies to the seeded array" {
	case_ok af-rename-upsert "$U_URI" "$DB"
}

@test "update_arrayFilters.js: multi updates and the nested examples" {
	case_ok af-multi-examples "$U_URI" "$DB"
}

@test "update_arrayFilters.js: error cases and nested conflict detection" {
	case_ok af-errors "$U_URI" "$DB"
}

@test "update_arraymatch2.js, find_and_modify_server6588.js, updatel.js: \$ is the element the query matched" {
	case_ok positional "$U_URI" "$DB"
}

@test "update_array_node.cpp: a \$[...] level that reaches several elements logs for them" {
	case_ok array-events "$U_URI" "$DB"
}

@test "v2_log_builder.cpp: \$set past an array's end pads with null and logs the created element" {
	case_ok pad-events "$U_URI" "$DB"
}

@test "ddl_coll_mod_event.js testCollModIndex: an index modify event has stateBeforeChange.indexOptions" {
	case_ok index-modify "$U_URI" "$DB"
}

@test "positional updates and arrays set past their end replay byte-identical (with and without disambiguatedPaths)" {
	export TARGET_URI="$T_URI" SOURCE_URI="$U_URI"
	for shape in expanded old; do
		case_ok stage-positional "$U_URI" "$T_URI" "${DB}_$shape" "$shape"
		run -0 timeout 60 cdc-replay --db "${DB}_$shape" --coll c --status-interval 0 --drain
		echo "$output"
		"$PY" "$REPO_ROOT/test/py/exact_cases.py" compare "$U_URI" "$T_URI" "${DB}_$shape"
	done
}
