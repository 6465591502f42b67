#!/usr/bin/env bats
# Static checks that keep the scripts and the build honest.

setup() {
	load helpers
}

@test "every shell script passes shellcheck" {
	command -v shellcheck || skip "shellcheck not installed (make deps)"
	local scripts=(init_migration.sh sync_migration.sh .ci/run test/helpers.bash)
	local f
	for f in "$REPO_ROOT"/test/*.sh "$REPO_ROOT"/bench/*.sh; do
		[[ -e "$f" ]] && scripts+=("${f#"$REPO_ROOT"/}")
	done
	cd "$REPO_ROOT"
	run shellcheck -x "${scripts[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every program answers --help on stdout with exit 0" {
	local tool
	for tool in token-probe dump-wrap cdc-capture cdc-replay cdc-verify; do
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
	for tool in token-probe dump-wrap cdc-capture cdc-replay cdc-verify; do
		run -64 "$CSM_BIN/$tool" --no-such-option
	done
}
