#!/usr/bin/env bats
# Static checks that keep the scripts, the C code and the build honest.
# Each check of `make lint` is a test of its own, so a failure names it.

setup() {
	load helpers
}

# make_lint TARGET: `make TARGET` in the checkout passes; its findings are
# shown when it does not.
make_lint() {
	cd "$REPO_ROOT" || return
	# A make of its own, not a job of the make that runs the tests.
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s "$1"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every shell script, sourced helper and bats suite passes shellcheck" {
	command -v shellcheck || skip "shellcheck not installed (make deps)"
	make_lint lint-shell
}

@test "every C file is formatted as .clang-format says (make format fixes it)" {
	command -v clang-format || skip "clang-format not installed (make deps)"
	make_lint lint-format
}

@test "no function in lib/ or tools/ is longer than 80 lines (main's option switch aside), no program file over 500" {
	make_lint lint-functions
}

@test "no tracked file cites the product owner's outline: docs/DESIGN.md is cited by section" {
	git -C "$REPO_ROOT" rev-parse --git-dir || skip "not a git checkout"
	make_lint lint-citations
}

@test "every program answers --help on stdout with exit 0" {
	local tool
	for tool in token-probe dump-wrap cdc-capture cdc-replay cdc-verify cdc-status cdc-cleanup; do
		run -0 "$CSM_BIN/$tool" --help
		[[ "$output" == *"$tool"* ]]
	done
	run -0 "$REPO_ROOT/init_migration.sh" --help
	[[ "$output" == *Usage* ]]
	run -0 "$REPO_ROOT/sync_migration.sh" --help
	[[ "$output" == *Usage* ]]
}

@test "an unknown option is a usage error (64) for every program" {
	local tool
	for tool in token-probe dump-wrap cdc-capture cdc-replay cdc-verify cdc-status cdc-cleanup; do
		run -64 "$CSM_BIN/$tool" --no-such-option
	done
}
