# Shared helpers for every bats suite. Load from setup()/setup_file():
#   load helpers
#
# Servers: mlite_start NAME [mongod-lite options...] starts a mongod-lite on a
# free loopback port and exports NAME_URI, NAME_PID, NAME_PORT, NAME_DBPATH
# (when --dbpath is not given, none is used). With MONGO_TEST_URI set, NAME_URI
# is that real replica set instead (and MONGO_TEST_URI2 for a second name),
# and nothing is started.
#
# Every test gets its own database name in $DB (test_db), scratch files go to
# $BATS_TEST_TMPDIR, and conditions are awaited with wait_until, never sleep.
#
# A suite that copies from a source to a target server uses the pair hooks:
#   setup_file()    { load helpers; pair_start; }   # servers SRC and DST
#   teardown_file() { pair_stop; }
#   setup()         { load helpers; pair_setup; }   # $DB, SOURCE_URI, TARGET_URI
# and a suite of the drivers calls driver_setup instead of pair_setup, and
# driver_teardown from teardown.

bats_require_minimum_version 1.5.0

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
export CSM_BIN="${CSM_BIN:-$REPO_ROOT/bin}"
export CSM_BUILD="${CSM_BUILD:-$REPO_ROOT/build}"
export MLITE="${MLITE:-$CSM_BUILD/mongod-lite}"
export PATH="$CSM_BIN:$PATH"
# Debian's interpreter sees python3-pymongo; another python3 on PATH may not.
export PY=/usr/bin/python3
export PYTHONPATH="$REPO_ROOT/test/py${PYTHONPATH:+:$PYTHONPATH}"
# No __pycache__ of the imported test/py modules in the checkout.
export PYTHONDONTWRITEBYTECODE=1
# Sanitizer builds: leaks are failures, reports go to stderr.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# mlite_start NAME [options...]: start a server, export NAME_URI/_PID/_PORT.
mlite_start() {
	local name="$1"
	shift
	local real_var=MONGO_TEST_URI
	if [[ -n "${MONGO_TEST_URI:-}" ]]; then
		if [[ -n "${MLITE_SECOND:-}" ]]; then real_var=MONGO_TEST_URI2; fi
		if [[ -z "${!real_var:-}" ]]; then
			skip "needs $real_var for a second real server"
		fi
		export "${name}_URI=${!real_var}"
		MLITE_SECOND=1
		return 0
	fi
	local dir="${BATS_FILE_TMPDIR:-$BATS_TEST_TMPDIR}/mlite-$name"
	mkdir -p "$dir"
	local port_file="$dir/port"
	rm -f "$port_file"
	"$MLITE" --port 0 --port-file "$port_file" "$@" \
		>>"$dir/log" 2>&1 &
	local pid=$!
	export "${name}_PID=$pid"
	export "${name}_DIR=$dir"
	# Remember how it was started so mlite_restart can do it again.
	printf '%q ' "$@" >"$dir/args"
	if ! wait_until 10 test -s "$port_file"; then
		cat "$dir/log" >&2
		echo "mongod-lite $name did not start" >&2
		return 1
	fi
	local port
	port="$(cat "$port_file")"
	export "${name}_PORT=$port"
	export "${name}_URI=mongodb://127.0.0.1:$port/?replicaSet=rs0"
	# a standalone or a router (mongos) takes no replicaSet
	if [[ " $* " == *" --standalone "* || " $* " == *" --router "* ]]; then
		export "${name}_URI=mongodb://127.0.0.1:$port/"
	fi
}

# mlite_stop NAME: SIGTERM and wait for exit (SIGKILL after 10 s).
# mlite_kill9 NAME: kill -9, as a crash would. Either is a no-op when NAME
# is not running.
mlite_stop() {
	mlite_end "$1" TERM
}
mlite_kill9() {
	mlite_end "$1" KILL
}
mlite_end() {
	local pid_var="${1}_PID"
	local pid="${!pid_var:-}"
	[[ -n "$pid" ]] || return 0
	# A frozen server (mlite_freeze) takes its SIGTERM only once running.
	kill -CONT "$pid" 2>/dev/null || true
	kill -"$2" "$pid" 2>/dev/null || true
	if [[ "$2" != KILL ]]; then
		wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	export "${pid_var}="
}

# mlite_freeze NAME: SIGSTOP, returning once every thread of it is
# stopped (the signal reaches a busy thread a moment after kill returns):
# a server that accepts connections and requests but never answers.
# mlite_thaw NAME: SIGCONT.
mlite_freeze() {
	local pid_var="${1}_PID"
	kill -STOP "${!pid_var}"
	wait_until 10 eval "! grep -qv '^[0-9]* (.*) [tT] ' /proc/${!pid_var}/task/*/stat"
}
mlite_thaw() {
	local pid_var="${1}_PID"
	kill -CONT "${!pid_var}"
}

# mlite_restart NAME: start again on the same port with the same options.
mlite_restart() {
	local name="$1"
	local dir_var="${name}_DIR" port_var="${name}_PORT"
	local dir="${!dir_var}" port="${!port_var}"
	local args
	args="$(cat "$dir/args")"
	rm -f "$dir/port"
	eval "set -- $args"
	"$MLITE" --port "$port" --port-file "$dir/port" "$@" >>"$dir/log" 2>&1 &
	export "${name}_PID=$!"
	wait_until 10 test -s "$dir/port"
}

# pair_start [SOURCE TARGET]: in setup_file, start the suite's source and
# target servers (named SRC and DST unless named here).
pair_start() {
	export PAIR_SOURCE="${1:-SRC}" PAIR_TARGET="${2:-DST}"
	mlite_start "$PAIR_SOURCE"
	mlite_start "$PAIR_TARGET"
}

# pair_stop: in teardown_file, stop the servers of pair_start.
pair_stop() {
	mlite_stop "$PAIR_SOURCE"
	mlite_stop "$PAIR_TARGET"
}

# pair_setup: in setup, the test's own $DB (test_db) and SOURCE_URI and
# TARGET_URI exported as the URIs of pair_start's servers.
pair_setup() {
	test_db
	local source_uri="${PAIR_SOURCE}_URI" target_uri="${PAIR_TARGET}_URI"
	export SOURCE_URI="${!source_uri}" TARGET_URI="${!target_uri}"
}

# driver_setup: pair_setup for a suite of init_migration.sh and
# sync_migration.sh: INIT and SYNC are this checkout's drivers, STATE and
# DUMP their state and dump directories in $BATS_TEST_TMPDIR, which is
# also the working directory (what a driver writes by default lands there,
# not in the checkout).
driver_setup() {
	pair_setup
	export INIT="$REPO_ROOT/init_migration.sh"
	export SYNC="$REPO_ROOT/sync_migration.sh"
	export STATE="$BATS_TEST_TMPDIR/state"
	export DUMP="$BATS_TEST_TMPDIR/dump"
	SYNC_PIDS=()
	cd "$BATS_TEST_TMPDIR" || return
}

# driver_teardown: stop what a test of the drivers left running: the
# sync_migration.sh pids it added to SYNC_PIDS (SIGTERM, then wait), and
# the captures named by the pid files in $STATE (SIGTERM, then SIGKILL
# after 10 s).
driver_teardown() {
	local f pid
	for pid in "${SYNC_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for f in "$STATE"/*.capture.pid; do
		[[ -f "$f" ]] || continue
		pid="$(cat "$f")"
		kill -TERM "$pid" 2>/dev/null || true
		wait_until 10 gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	done
}

# alive PID / gone PID: whether the process runs. A zombie that its new
# parent has not reaped yet counts as gone (the captures are detached).
alive() {
	ps -o stat= -p "$1" 2>/dev/null | grep -qv Z
}
gone() {
	! alive "$1"
}

# signal_and_reap SIG PID [SECONDS]: send SIG to PID, a background child
# of this shell, wait up to SECONDS (default 10) for it to end and reap it;
# sets status to its exit code and REAP_MS to the milliseconds it took.
# shellcheck disable=SC2034 # status and REAP_MS are for the caller
signal_and_reap() {
	local t0
	t0="$(date +%s%N)"
	kill "-$1" "$2"
	wait_until "${3:-10}" gone "$2"
	status=0
	wait "$2" || status=$?
	REAP_MS=$((($(date +%s%N) - t0) / 1000000))
}

# needs_mlite: skip the test under MONGO_TEST_URI: it starts a server with
# options only mongod-lite has.
needs_mlite() {
	if [[ -n "${MONGO_TEST_URI:-}" ]]; then
		skip "needs a mongod-lite started with special options"
	fi
}

# cases CASE URI DB [ARGS...]: the suite's pymongo checks ($CASES_PY, a
# test/py/*_cases.py). case_ok CASE URI DB [ARGS...]: that check exits 0
# and prints "ok" (what it printed is shown when it does not).
cases() {
	"$PY" "$CASES_PY" "$@"
}
case_ok() {
	local out
	out="$(cases "$@")"
	printf '%s\n' "$out"
	[[ "$out" == ok* ]]
}

# test_db: a database name unique to this test; sets and exports DB.
test_db() {
	DB="t${BATS_SUITE_TEST_NUMBER:-0}_${BATS_TEST_NUMBER:-0}_$$"
	export DB
}

# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds or the
# deadline passes (status 1).
wait_until() {
	local timeout="$1"
	shift
	local deadline=$((SECONDS + timeout))
	while ((SECONDS <= deadline)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.05
	done
	"$@"
}

# pyrun URI CODE [ARGS...]: run Python with `client` (a pymongo client on
# URI), `db_name` ($DB) and sys.argv[1:] = ARGS. Prints what CODE prints.
pyrun() {
	local uri="$1" code="$2"
	shift 2
	"$PY" -c "
import sys, os, pymongo
from bson import *
client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)
db_name = os.environ.get('DB', 'test')
sys.argv = sys.argv[1:]
$code
" "$uri" "$@"
}

# file_mode PATH: octal permissions (600).
file_mode() {
	stat -c '%a' "$1"
}

# rss_within_budget KIB: true when a peak RSS (KiB, from /usr/bin/time %M)
# is under the tools' 64 MiB budget. Sanitizer builds (CSM_SANITIZE set by
# `make asan-test`) carry shadow memory, so there the bound is not checked:
# the plain build's run of the same test checks it.
rss_within_budget() {
	if [[ -n "${CSM_SANITIZE:-}" ]]; then
		echo "peak RSS $1 KiB (sanitizer build: budget not checked)"
		return 0
	fi
	(($1 < 64 * 1024))
}

# exit_codes_listed TEXT CODE...: true when TEXT (a --help output) has an
# "exit status:" block with a line for every CODE, each with its words.
exit_codes_listed() {
	local text="$1" code
	shift
	[[ "$text" == *$'\nexit status:\n'* ]] || {
		echo "no 'exit status:' block" >&2
		return 1
	}
	for code in "$@"; do
		grep -qE "^  $code +[a-z]" <<<"$text" || {
			echo "exit status $code is not listed" >&2
			return 1
		}
	done
}
