# shellcheck shell=bash
# The code init_migration.sh and sync_migration.sh share; each sources it
# first thing after `set -euo pipefail`. It defines functions, sets
# prog (the driver's name) and script_dir (the driver's directory) and
# unsets CSM_STOP_WITH_PARENT; it runs nothing else.
#
# The usage texts are the driver's own header: "# Usage:" down to the first
# blank line is --help, down to the first bare "#" the synopsis that a
# usage error prints.

prog="${0##*/}"
script_dir="$(cd "$(dirname "$0")" && pwd)"
# Names the parent a C program must end with (lib/stop.h): a driver sets it
# for each program it runs in the foreground, never inherits it (init's
# capture must outlive init).
unset CSM_STOP_WITH_PARENT

# die STATUS MESSAGE...: print "PROG: MESSAGE" on stderr and exit STATUS.
die() {
	local status="$1"
	shift
	printf '%s: %s\n' "$prog" "$*" >&2
	exit "$status"
}

# usage: the driver's --help text on stdout.
usage() {
	sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
}

# usage_error MESSAGE...: the reason and the synopsis on stderr, status 64.
usage_error() {
	printf '%s: %s\n' "$prog" "$*" >&2
	sed -n '2,/^#$/{/^#$/d;s/^# \{0,1\}//;p}' "$0" >&2
	printf 'Try %s --help for the options.\n' "$prog" >&2
	exit 64
}

# find_bin NAME: the path of program NAME: in $CSM_BIN, else bin/ beside
# the driver, else on PATH; exit 69 when it is nowhere.
find_bin() {
	local name="$1"
	if [[ -n "${CSM_BIN:-}" && -x "$CSM_BIN/$name" ]]; then
		printf '%s\n' "$CSM_BIN/$name"
	elif [[ -x "$script_dir/bin/$name" ]]; then
		printf '%s\n' "$script_dir/bin/$name"
	elif command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
	else
		die 69 "cannot find '$name': build it with make, or set CSM_BIN to its directory"
	fi
}

# uri_arg NAME ARG [WHAT]: set and export NAME (SOURCE_URI or TARGET_URI)
# to the command-line argument ARG. ARG - keeps the environment's NAME,
# which must then be set: else a usage error "WHAT but the environment has
# no NAME" (WHAT defaults to "NAME is -"). The programs read the URIs from
# their environment, so no password reaches their argv.
uri_arg() {
	local name="$1" arg="$2" what="${3:-$1 is -}"
	if [[ "$arg" == - ]]; then
		[[ -n "${!name:-}" ]] || usage_error "$what but the environment has no $name"
	else
		printf -v "$name" '%s' "$arg"
	fi
	export "${name?}"
}

# check_ns DB COLL: a usage error unless both are non-empty and free of
# '/' (the names become file names in the state directory).
check_ns() {
	[[ -n "$1" && -n "$2" ]] || usage_error "DB and COLL must not be empty"
	[[ "$1" != */* && "$2" != */* ]] || usage_error "DB and COLL must not contain '/'"
}

# check_staging_names DB COLL TO_DB TO_COLL STAGING: exit 64 when the
# collection migrated into TO_DB.TO_COLL (empty: DB and COLL, as the
# programs default them) is named like the staging collections DB.STAGING
# and DB.STAGING_meta on the target (STAGING empty: cdc): its documents
# would mix with the staged events (lib/names.c makes the same check).
check_staging_names() {
	local db="$1" to_db="${3:-$1}" to_coll="${4:-$2}" staging="${5:-cdc}"
	[[ "$to_db" == "$db" ]] || return 0
	[[ "$to_coll" == "$staging" || "$to_coll" == "${staging}_meta" ]] || return 0
	die 64 "collection '$to_db.$to_coll' is named like the staging collections" \
		"'$db.$staging' and '$db.${staging}_meta' on the target: its documents would mix" \
		"with the staged events; give the staging collection another name with" \
		"--staging-coll (the same for every step of this migration)"
}

# trace_if_debug: CSM_DEBUG=1 traces the rest of the driver. Called once
# the URIs have left the positional parameters, so they are not traced.
trace_if_debug() {
	if [[ -n "${CSM_DEBUG:-}" ]]; then
		PS4='+ ${BASH_SOURCE##*/}:${LINENO}: '
		set -x
	fi
}

# lock_ns NS PATH: hold an exclusive lock on the file PATH (created 0600
# under the drivers' umask) for the rest of the run, on fd 9, so that one
# driver at a time works on NS; exit 73 when another holds it. The
# programs the driver runs in the foreground inherit fd 9 and keep the
# lock while they live; a program meant to outlive the driver must be
# started with 9>&-. Without flock(1) there is no lock.
lock_ns() {
	local ns="$1" path="$2"
	exec 9>>"$path"
	if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
		die 73 "another $prog is working on '$ns' (lock $path); let it finish, or stop" \
			"it (Ctrl-C or kill -TERM) and run this again"
	fi
}
