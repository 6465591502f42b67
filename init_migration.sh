#!/usr/bin/env bash
# Usage: init_migration.sh [options] SOURCE_URI TARGET_URI DB COLL
#        init_migration.sh --resume-capture [options] SOURCE_URI TARGET_URI DB COLL
#        init_migration.sh --stop-capture [options] DB COLL
#
# Summary: phase 1 of migrating DB.COLL: resume token, change capture, dump
#
# Phase 1 (docs/DESIGN.md, "Flow"): token-probe takes a resume token on the
# source collection, cdc-capture starts at once in the background (it stages
# every change in the staging collection on the target), then dump-wrap
# copies the collection to the dump directory while capture is already
# running. Phase 2 is sync_migration.sh.
#
# A URI given as - is read from the environment variable SOURCE_URI or
# TARGET_URI: that keeps passwords out of `ps` and shell history. The URIs
# reach the programs through their environment, never their argv.
#
# Options:
#   --state-dir DIR       token, pid and log files (default: .)
#   --dump-dir DIR        where the dump goes (default: ./dump)
#   --probe-method M      dummy (default: a sentinel insert+delete) or now
#                         (read-only)
#   --staging-coll NAME   staging collection on the target (default: cdc)
#   --full-document MODE  what cdc-capture asks update events to carry:
#                         default (the update description: exact at the
#                         event's time, the default) or updateLookup (the
#                         document as it is later, when looked up; it can
#                         collide with a unique index during the catch-up)
#   --no-dump             capture only (rollback sync after cutover: the
#                         target already holds the data)
#   --force               start over even though a token exists or capture
#                         runs (a running capture is stopped first)
#   --resume-capture      restart a dead cdc-capture with the same state: no
#                         probe, no dump; refuses while capture runs
#   --stop-capture        stop the running cdc-capture of DB.COLL (SIGTERM:
#                         it saves its position and exits)
#   -h, --help            print this help
#
# Files in the state directory, mode 0600:
#   DB.COLL.token          the resume token (cdc-capture keeps it current)
#   DB.COLL.capture.pid    pid of the running cdc-capture
#   DB.COLL.capture.log    its log: tail -f it to watch events and lag
#   DB.COLL.lock           held while init_migration.sh works on DB.COLL
#
# Programs are found in $CSM_BIN, else bin/ beside this script, else PATH.
# CSM_DEBUG=1 traces the script (the URIs are not traced).
#
# Exit status: 0 started; 64 usage (also DB.COLL named like the staging
# collections: see --staging-coll); 73 a capture runs or a token exists
# (see --force / --resume-capture); otherwise the failing program's status.

set -euo pipefail

# The helpers both drivers share; `make install` writes their installed path.
driver_lib="$(dirname "${BASH_SOURCE[0]}")/lib/driver.sh"
# shellcheck source-path=SCRIPTDIR source=lib/driver.sh
. "$driver_lib"

# capture_pid: the pid of the running cdc-capture of this collection, or
# nothing. A pid file whose process is gone or is another program is stale.
capture_pid() {
	local pid comm
	[[ -f "$pid_file" ]] || return 0
	pid="$(head -n 1 "$pid_file" 2>/dev/null || true)"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	comm="$(ps -o stat=,comm= -p "$pid" 2>/dev/null || true)"
	# A zombie (killed, not yet reaped by its new parent) is not running.
	[[ "$comm" =~ ^[[:space:]]*[^Z[:space:]][^[:space:]]*[[:space:]]+cdc-capture ]] || return 0
	printf '%s\n' "$pid"
}

# stop_capture PID: SIGTERM, then wait up to 60 s for the batch to finish.
stop_capture() {
	local pid="$1" i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 600; i++)); do
		[[ -n "$(capture_pid)" ]] || return 0
		sleep 0.1
	done
	die 75 "cdc-capture (pid $pid) did not stop within 60 s; see $log_file"
}

# start_capture: start cdc-capture in its own session, detached, logging to
# the log file; fail when it dies at once.
start_capture() {
	local pid i status
	touch "$log_file"
	chmod 600 "$log_file"
	printf '\n--- %s: %s starts cdc-capture\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$prog" \
		>>"$log_file"
	setsid "$capture_bin" --db "$db" --coll "$coll" --state-dir "$state_dir" \
		"${staging_args[@]}" "${capture_args[@]}" </dev/null >>"$log_file" 2>&1 9>&- &
	pid=$!
	printf '%s\n' "$pid" >"$pid_file.tmp"
	mv -f "$pid_file.tmp" "$pid_file"
	# A capture that cannot resume or reach a server exits within moments.
	for ((i = 0; i < 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			status=0
			wait "$pid" || status=$?
			rm -f "$pid_file"
			tail -n 5 "$log_file" >&2 || true
			die "$((status == 0 ? 70 : status))" \
				"cdc-capture exited at once (status $status); see $log_file"
		fi
		sleep 0.1
	done
	capture_started="$pid"
}

mode=init
state_dir=.
dump_dir=./dump
probe_method=dummy
staging_coll=""
full_document=default
no_dump=0
force=0

while (($# > 0)); do
	case "$1" in
	--state-dir) (($# > 1)) || usage_error "$1 needs a value"; state_dir="$2"; shift 2 ;;
	--state-dir=*) state_dir="${1#*=}"; shift ;;
	--dump-dir) (($# > 1)) || usage_error "$1 needs a value"; dump_dir="$2"; shift 2 ;;
	--dump-dir=*) dump_dir="${1#*=}"; shift ;;
	--probe-method) (($# > 1)) || usage_error "$1 needs a value"; probe_method="$2"; shift 2 ;;
	--probe-method=*) probe_method="${1#*=}"; shift ;;
	--staging-coll) (($# > 1)) || usage_error "$1 needs a value"; staging_coll="$2"; shift 2 ;;
	--staging-coll=*) staging_coll="${1#*=}"; shift ;;
	--full-document) (($# > 1)) || usage_error "$1 needs a value"; full_document="$2"; shift 2 ;;
	--full-document=*) full_document="${1#*=}"; shift ;;
	--no-dump) no_dump=1; shift ;;
	--force) force=1; shift ;;
	--resume-capture) mode=resume; shift ;;
	--stop-capture) mode=stop; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-?*) usage_error "unknown option '$1'" ;;
	*) break ;;
	esac
done

case "$probe_method" in
dummy | now) ;;
*) usage_error "invalid value '$probe_method' for --probe-method: expected dummy or now" ;;
esac
case "$full_document" in
"" | default | updateLookup) ;;
*) usage_error "invalid value '$full_document' for --full-document: expected default or updateLookup" ;;
esac
[[ -n "$state_dir" ]] || usage_error "--state-dir must not be empty"
[[ -n "$dump_dir" ]] || usage_error "--dump-dir must not be empty"

if [[ "$mode" == stop ]]; then
	(($# == 2)) || usage_error "expected DB COLL, got $# arguments"
	db="$1" coll="$2"
else
	(($# == 4)) || usage_error "expected SOURCE_URI TARGET_URI DB COLL, got $# arguments"
	uri_arg SOURCE_URI "$1"
	uri_arg TARGET_URI "$2"
	db="$3" coll="$4"
	set -- # the URIs leave the positional parameters before tracing starts
fi
check_ns "$db" "$coll"
# The target's names are sync's to choose: refuse what its default would be.
[[ "$mode" == stop ]] || check_staging_names "$db" "$coll" "" "" "$staging_coll"
trace_if_debug

# Every file written here holds state: owner-only.
umask 077
mkdir -p "$state_dir"
ns="$db.$coll"
token_file="$state_dir/$ns.token"
pid_file="$state_dir/$ns.capture.pid"
log_file="$state_dir/$ns.capture.log"
staging_args=()
[[ -z "$staging_coll" ]] || staging_args=(--staging-coll "$staging_coll")
# One init_migration.sh at a time per collection: two restarts racing
# would start two captures.
lock_ns "$ns" "$state_dir/$ns.lock"
capture_args=()
[[ -z "$full_document" ]] || capture_args=(--full-document "$full_document")
capture_started=""
running="$(capture_pid)"

if [[ "$mode" == stop ]]; then
	[[ -n "$running" ]] || die 66 "no cdc-capture of '$ns' is running (pid file $pid_file)"
	stop_capture "$running"
	rm -f "$pid_file"
	printf 'stopped cdc-capture of %s (pid %s); its position is in %s\n' \
		"$ns" "$running" "$token_file"
	exit 0
fi

capture_bin="$(find_bin cdc-capture)"
# What to type to restart capture: the URIs stay placeholders.
restart_cmd="$prog --resume-capture --state-dir $(printf '%q' "$state_dir")"
[[ -z "$staging_coll" ]] || restart_cmd+=" --staging-coll $(printf '%q' "$staging_coll")"
restart_cmd+=" - - $(printf '%q %q' "$db" "$coll")   (with SOURCE_URI and TARGET_URI set)"

if [[ "$mode" == resume ]]; then
	if [[ -n "$running" ]]; then
		die 73 "cdc-capture of '$ns' is already running (pid $running): nothing to do;" \
			"watch it with: tail -f $log_file"
	fi
	[[ -f "$token_file" ]] || die 66 "no token file '$token_file': '$ns' was never" \
		"started here; start it with $prog SOURCE_URI TARGET_URI $db $coll" \
		"(or give the right --state-dir)"
	start_capture
	printf 'restarted cdc-capture of %s: pid %s\n' "$ns" "$capture_started"
	printf '  watch:   tail -f %s\n' "$log_file"
	exit 0
fi

if [[ -n "$running" ]]; then
	((force)) || die 73 "cdc-capture of '$ns' is already running (pid $running), so" \
		"'$ns' was started before: nothing was changed. Watch it with: tail -f" \
		"$log_file. To start '$ns' over, stop it ($prog --stop-capture), clear the" \
		"old run's data on the target (runbook: starting over), then rerun with --force"
	printf 'stopping the running cdc-capture of %s (pid %s) for --force\n' "$ns" "$running"
	stop_capture "$running"
	rm -f "$pid_file"
fi
if [[ -f "$token_file" ]]; then
	((force)) || die 73 "'$token_file' exists, so '$ns' was started before: nothing" \
		"was changed. If its capture died, restart it with: $restart_cmd." \
		"To start '$ns' over, clear the old run's data on the target (runbook:" \
		"starting over), then rerun with --force"
	mv -f "$token_file" "$token_file.replaced"
	printf 'moved the old token aside to %s\n' "$token_file.replaced"
	staging_name="${staging_coll:-cdc}"
	printf '%s: starting over assumes the target holds nothing of the old run of' "$prog" >&2
	printf ' %s: the collection, its events in %s and its documents in %s_meta' \
		"'$ns'" "$staging_name" "$staging_name" >&2
	printf ' must have been removed first (runbook: starting over)\n' >&2
fi

probe_bin="$(find_bin token-probe)"
dump_bin=""
((no_dump)) || dump_bin="$(find_bin dump-wrap)"

printf '== %s: resume token (token-probe --method %s)\n' "$ns" "$probe_method"
status=0
"$probe_bin" --db "$db" --coll "$coll" --state-dir "$state_dir" \
	--method "$probe_method" "${staging_args[@]}" || status=$?
((status == 0)) || die "$status" "token-probe failed (status $status); nothing was started"

printf '== %s: change capture (cdc-capture, in the background)\n' "$ns"
start_capture
printf 'cdc-capture of %s is running: pid %s, log %s\n' "$ns" "$capture_started" "$log_file"

if ((!no_dump)); then
	printf '== %s: dump to %s (dump-wrap dump) while capture stages changes\n' "$ns" "$dump_dir"
	status=0
	"$dump_bin" dump --db "$db" --coll "$coll" --out "$dump_dir" || status=$?
	if ((status == 66)); then
		# Nothing to migrate: the capture just started is of no use.
		stop_capture "$capture_started"
		rm -f "$pid_file" "$token_file"
		die 66 "dump-wrap found nothing to dump for '$ns'; stopped the capture" \
			"started for it; check the database and collection names"
	elif ((status != 0)); then
		die "$status" "dump-wrap dump failed (status $status); cdc-capture keeps running" \
			"(pid $capture_started). Dump again with: SOURCE_URI=... $dump_bin dump" \
			"--db $db --coll $coll --out $dump_dir"
	fi
fi

cat <<EOF
== $ns: phase 1 done
started:  cdc-capture pid $capture_started (pid file $pid_file)
watch:    tail -f $log_file
restart:  $restart_cmd
stop:     $prog --stop-capture --state-dir $(printf '%q' "$state_dir") $(printf '%q %q' "$db" "$coll")
next:     sync_migration.sh $( ((no_dump)) && printf -- '--no-restore ' )$( [[ -z "$staging_coll" ]] || printf -- '--staging-coll %q ' "$staging_coll")--dump-dir $(printf '%q' "$dump_dir") - $(printf '%q %q' "$db" "$coll")   (with TARGET_URI set)
EOF
