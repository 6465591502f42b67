#!/usr/bin/env bash
# Usage: sync_migration.sh [options] TARGET_URI DB COLL
#        sync_migration.sh --background [options] TARGET_URI DB COLL
#        sync_migration.sh --drain [--verify SOURCE_URI] [options] TARGET_URI DB COLL
#        sync_migration.sh [options] TARGET_URI DB --all
#
# Summary: phase 2 of migrating DB.COLL: restore the dump once, then replay
#
# Phase 2 (docs/DESIGN.md, "Flow"): dump-wrap restore loads the dump made by
# init_migration.sh into the target collection, once: a marker on the target
# records a finished restore, and a rerun goes straight to replay (restoring
# again after deletes were replayed would bring deleted documents back).
# Unique and TTL indexes are deferred (docs/DESIGN.md, "The catch-up
# window"): cdc-replay builds them when it is safe. Then cdc-replay applies
# the staged changes in the foreground, follows new ones and reports lag.
# Killed at any point, run the same command again: it picks up where it
# stopped.
#
# With --background the restore runs as usual, then cdc-replay is started
# in its own session, detached (pid and log in the state directory, like
# init's capture), and the script exits 0. `--drain` against such a
# running replay turns it into a draining one (SIGUSR1) and waits for it
# to exit, with its status; then --verify runs as usual.
#
# SIGINT/SIGTERM (Ctrl-C) stop it: the running program finishes its batch
# and saves its position, or, when the target does not answer, exits after
# 5 s without saving it (nothing is lost); a program still running 10 s
# after the signal is killed. No further step starts.
#
# TARGET_URI (and the --verify SOURCE_URI) given as - is read from the
# environment variable of that name; the programs get the URIs through their
# environment, never their argv.
#
# Options:
#   --drain               exit 0 once everything staged is applied and
#                         capture has caught up (cutover: stop the writes
#                         on the source first); when a --background replay
#                         runs, it is told to drain and waited for
#   --background          run the replay detached, in the background (pid in
#                         DB.COLL.replay.pid, log in DB.COLL.replay.log) and
#                         exit 0 once it runs; not with --drain or --verify
#   --verify SOURCE_URI   after a successful --drain, compare source and
#                         target with cdc-verify (exit 1 when they differ)
#   --max-wait S          with --drain: give up (exit 75) when the drain has
#                         not completed after S seconds (cdc-replay
#                         --max-wait; default: wait for ever)
#   --to-db DB2           target database (default: DB)
#   --to-coll COLL2       target collection (default: COLL)
#   --workers N           parallel replay workers (cdc-replay --workers)
#   --max-ops-per-sec N   replay at most N events per second (cdc-replay;
#                         DB.COLL.throttle changes it while it runs)
#   --purge-applied AGE   delete applied staged events older than AGE
#                         (cdc-replay --purge-applied: seconds or with s, m,
#                         h, d; default 1d; off keeps them all)
#   --dump-dir DIR        the dump to restore (default: ./dump)
#   --staging-coll NAME   staging collection on the target (default: cdc)
#   --no-restore          replay only: no dump to load (rollback sync, set
#                         up with init_migration.sh --no-dump)
#   --state-dir DIR       where the lock file goes (default: .); the one
#                         given to init_migration.sh does
#   -h, --help            print this help
#
# Database mode (DB --all, after init_migration.sh ... DB --all with the
# same --state-dir): each collection of the capture's position file is
# restored once (those created during the migration have no dump), then
# every one is replayed by its own cdc-replay, all at once. A collection
# stopped at a drop or rename does not stop the others; --drain exits 0
# when all drained, 4 when all drained except some stopped at a drop or
# rename (named on stderr); --verify then runs cdc-verify --all (less the
# stopped ones, --except): 1 when a collection differs, else the drain's 0
# or 4. --to-db and
# --to-coll are for one collection.
#
# Files in the state directory, mode 0600:
#   DB.COLL.sync.lock      held while sync_migration.sh works on DB.COLL: a
#                          second one on this host exits 73
#   DB.COLL.replay.pid     pid of the --background cdc-replay
#   DB.COLL.replay.log     its log
#   DB.COLL.replay.exit    how the last replay ended: "STATUS drained" or
#                          "STATUS exited" (cdc-status reads it)
#   DB.COLL.throttle       read by cdc-replay within a second of a change: a
#                          line 'max-ops-per-sec N' (0: no limit)
#
# Programs are found in $CSM_BIN, else bin/ beside this script, else PATH.
# CSM_DEBUG=1 traces the script (the URIs are not traced).
#
# Exit status: 0 with --drain only once drained (and, with --verify, found
# equal); without --drain, also after SIGINT/SIGTERM during the replay (one
# during the restore is 75: the restore starts over). 1 --verify found
# differences. 75 --drain or --verify did not complete: a signal stopped
# it first (with --verify: the target was NOT verified, so never repoint
# on this run's behalf), --max-wait passed, or the target did not let the
# stop finish in time; run the same command again. Otherwise the status of
# the program that stopped it: cdc-replay's (4 DDL event, 65 unique-key
# conflict...), or cdc-verify's; 64 usage; 73 another sync_migration.sh
# works on DB.COLL, or another writer (a replay or restore started
# elsewhere) holds the target collection's lease.
#
# Killed, even with kill -9, it leaves no program running: each gets
# SIGTERM when the script ends.

set -euo pipefail

# The helpers both drivers share; `make install` writes their installed path.
driver_lib="$(dirname "${BASH_SOURCE[0]}")/lib/driver.sh"
# shellcheck source-path=SCRIPTDIR source=lib/driver.sh
. "$driver_lib"

# SIGINT/SIGTERM: passed on to the running program, which finishes its batch
# and saves its position, or exits 75 after 5 s when a server does not
# answer (docs/DESIGN.md, "Signals and stopping"); no further step starts.
child_pid=""
stop_requested=0
on_signal() {
	stop_requested=1
	[[ -z "$child_pid" ]] || kill -TERM "$child_pid" 2>/dev/null || true
}
trap on_signal INT TERM

# The status after a stop request: 0 when the stop is how this run ends
# (following), 75 when it was to complete something (--drain, --verify).
stopped_status() {
	((drain || verify)) && echo 75 || echo 0
}

# child_running: the program run_child started has not exited. (bash's own
# job table: no ps, no pid that could be another process's by now.)
child_running() {
	local pid
	for pid in $(jobs -rp); do
		[[ "$pid" != "$child_pid" ]] || return 0
	done
	return 1
}

# run_child PROGRAM ARGS...: run in the foreground (see on_signal); sets
# child_status. A stop requested before it starts exits at once
# (stopped_status). A program still running 10 s after the stop request
# is killed (kill -9 is safe at any moment) and counts as 75, as does one
# that a signal ended.
# The program gets SIGTERM when this script ends, even by kill -9
# (CSM_STOP_WITH_PARENT, lib/stop.h): no replay or restore is left running
# beside the next sync.
run_child() {
	local name="${1##*/}" deadline
	if ((stop_requested)); then
		printf '%s: stopped by a signal before %s started\n' "$prog" "$name" >&2
		exit "$(stopped_status)"
	fi
	CSM_STOP_WITH_PARENT=$$ "$@" &
	child_pid=$!
	# A signal that came between the check above and now.
	((!stop_requested)) || kill -TERM "$child_pid" 2>/dev/null || true
	# wait returns early (> 128) when a trapped signal arrives: wait again,
	# until the stop request's deadline.
	while child_running && ((!stop_requested)); do
		wait "$child_pid" || true
	done
	deadline=$((SECONDS + 10))
	while child_running && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if child_running; then
		printf '%s: %s did not exit within 10 s of the stop request: killing it' \
			"$prog" "$name" >&2
		printf ' (safe: the same command resumes from the last saved position)\n' >&2
		kill -KILL "$child_pid" 2>/dev/null || true
	fi
	# bash keeps the child's own status, also when an earlier wait was cut
	# short by the trapped signal: ask for it once more.
	wait "$child_pid" && child_status=0 || child_status=$?
	child_pid=""
	((!stop_requested || child_status <= 128)) || child_status=75
}

# background_replay_pid: the pid of the running --background cdc-replay of
# this collection, or nothing (a pid file of a gone process is stale).
background_replay_pid() {
	local pid
	pid="$(head -n 1 "$replay_pid_file" 2>/dev/null || true)"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	ps -o stat=,comm= -p "$pid" 2>/dev/null |
		grep -qE '^[[:space:]]*[^Z[:space:]][^[:space:]]*[[:space:]]+cdc-replay' || return 0
	printf '%s\n' "$pid"
}

# replay_ended STATUS WORD: record how the replay ended for cdc-status.
replay_ended() {
	printf '%s %s\n' "$1" "$2" >"$replay_exit_file.tmp" && mv -f "$replay_exit_file.tmp" "$replay_exit_file"
}

# start_background ARGS...: cdc-replay ARGS detached in its own session,
# logging to the replay log; a wrapper shell waits for it and records its
# status in the exit file. It holds the sync lock (fd 9) while it runs.
start_background() {
	local pid i
	rm -f "$replay_exit_file" "$replay_pid_file"
	printf '\n--- %s: %s starts cdc-replay\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$prog" >>"$replay_log"
	# shellcheck disable=SC2016 # the inner script expands its own variables
	setsid bash -c '"$@" </dev/null >>"$0.log" 2>&1 &
		printf "%s\n" "$!" >"$0.pid.tmp" && mv -f "$0.pid.tmp" "$0.pid"
		s=0; wait "$!" || s=$?
		printf "%s exited\n" "$s" >"$0.exit.tmp" && mv -f "$0.exit.tmp" "$0.exit"' \
		"$state_dir/$ns.replay" "$@" </dev/null >/dev/null 2>&1 &
	for ((i = 0; i < 50; i++)); do
		pid="$(background_replay_pid)"
		[[ -z "$pid" ]] || break
		[[ ! -f "$replay_exit_file" ]] || break
		sleep 0.1
	done
	# A replay that cannot start (another writer, no target) exits at once.
	sleep 1
	if [[ -z "$(background_replay_pid)" ]]; then
		tail -n 5 "$replay_log" >&2 || true
		die "$(cut -d' ' -f1 "$replay_exit_file" 2>/dev/null || echo 70)" \
			"cdc-replay exited at once; see $replay_log"
	fi
	printf '== %s: cdc-replay runs in the background: pid %s\n' "$ns" "$pid"
	printf 'watch:  tail -f %s   (or cdc-status --db %q --state-dir %q)\n' "$replay_log" "$db" "$state_dir"
	printf 'drain:  %s --drain --state-dir %q [--verify -] - %q %q   (after stopping the writes)\n' \
		"$prog" "$state_dir" "$db" "$coll"
	exit 0
}

# drain_background PID: SIGUSR1 to the background replay, which drains and
# exits; wait for its status (the wrapper's exit file), within --max-wait.
# Then --verify as in the foreground; exits.
drain_background() {
	local pid="$1" deadline=$((SECONDS + ${max_wait:-0})) status
	printf '== %s: draining the background cdc-replay (pid %s)\n' "$ns" "$pid"
	rm -f "$replay_exit_file"
	kill -USR1 "$pid" || die 75 "cannot signal cdc-replay (pid $pid); run this again"
	while [[ ! -f "$replay_exit_file" ]]; do
		if ((stop_requested)); then
			die 75 "stopped by a signal while waiting for the drain: the background" \
				"replay goes on draining; run the same command again to wait for it"
		fi
		if [[ -n "$max_wait" ]] && ((max_wait > 0 && SECONDS >= deadline)); then
			die 75 "--drain of '$ns' did not complete within --max-wait $max_wait s; the" \
				"background replay goes on draining: run the same command again"
		fi
		sleep 0.2
	done
	status="$(cut -d' ' -f1 "$replay_exit_file")"
	rm -f "$replay_pid_file"
	((status == 0)) || die "$status" "the background cdc-replay stopped with status" \
		"$status (see $replay_log); run the same command again to continue"
	replay_ended 0 drained
	printf '== %s: drained (see %s)\n' "$ns" "$replay_log"
	if ((verify)); then
		printf '== %s: verify source %s against target %s\n' "$ns" "$ns" "${to_db:-$db}.${to_coll:-$coll}"
		run_child "$(find_bin cdc-verify)" --db "$db" --coll "$coll" "${target_args[@]}"
		exit "$child_status"
	fi
	exit 0
}

# db_has_dump COLL: the dump directory holds a complete dump of DB.COLL
# (its metadata file, the last one a dump publishes). Named as mongodump
# names files: letters, digits and -_.~ stay, a space is +, any other
# byte %XX.
db_has_dump() {
	local LC_ALL=C name="$1" out="" c hex i
	for ((i = 0; i < ${#name}; i++)); do
		c="${name:i:1}"
		case "$c" in
		[A-Za-z0-9._~-]) out+="$c" ;;
		' ') out+=+ ;;
		*) printf -v hex '%%%02X' "'$c"; out+="$hex" ;;
		esac
	done
	[[ -f "$dump_dir/$db/$out.metadata.json" || -f "$dump_dir/$db/$out.metadata.json.gz" ]]
}

# db_run COLL PROGRAM ARGS...: PROGRAM in the background, ended with this
# script (CSM_STOP_WITH_PARENT); db_wait_all collects its status.
db_run() {
	db_colls+=("$1")
	shift
	CSM_STOP_WITH_PARENT=$$ "$@" &
	db_pids+=($!)
}

# db_wait_all: waits for every program db_run started, then sets db_failed
# (the first status other than 0 and 4, else 0) and db_stopped_at_ddl (the
# collections whose status was 4). One that ends with another status stops
# the others (SIGTERM): the same command restarts them all where they were.
db_wait_all() {
	local i pid status running
	local -a pending=("${!db_pids[@]}") still
	db_failed=0 db_stopped_at_ddl=""
	while ((${#pending[@]} > 0)); do
		# bash's own job table: a child that ended is not in it.
		running=" $(jobs -rp | tr '\n' ' ') "
		still=()
		for i in "${pending[@]}"; do
			pid="${db_pids[i]}"
			if [[ "$running" == *" $pid "* ]]; then
				still+=("$i")
				continue
			fi
			status=0
			wait "$pid" || status=$?
			# Ended by the signal before it could stop on its own.
			((!stop_requested || status <= 128)) || status=75
			if ((status == 4)); then
				db_stopped_at_ddl+=" ${db_colls[i]}"
			elif ((status != 0 && db_failed == 0)); then
				db_failed="$status"
				kill -TERM "${db_pids[@]}" 2>/dev/null || true
			fi
		done
		pending=("${still[@]}")
		((${#pending[@]} == 0)) || sleep 0.2
	done
	db_pids=() db_colls=()
}

# db_on_signal: SIGINT/SIGTERM in database mode: every program gets it.
db_on_signal() {
	stop_requested=1
	((${#db_pids[@]} == 0)) || kill -TERM "${db_pids[@]}" 2>/dev/null || true
}

# db_restore_all COLL...: each dump restored once, 4 at a time.
db_restore_all() {
	local coll
	for coll in "$@"; do
		((!stop_requested)) || break
		if ! db_has_dump "$coll"; then
			printf '== %s.%s: no dump (created during the migration): replay only\n' "$db" "$coll"
			continue
		fi
		while (($(jobs -rp | wc -l) >= 4)); do sleep 0.1; done
		printf '== %s.%s: restore %s (once; unique and TTL indexes deferred)\n' \
			"$db" "$coll" "$dump_dir"
		db_run "$coll" "$dump_bin" restore --db "$db" --coll "$coll" --in "$dump_dir" \
			"${staging_args[@]}" --once --defer-constraints
	done
	db_wait_all
	((!stop_requested)) || die 75 "stopped by a signal before the restores completed;" \
		"run the same command again"
	[[ "$db_failed" == 0 && -z "$db_stopped_at_ddl" ]] || die "$db_failed" "a restore" \
		"failed (see above); fix the cause and run the same command again"
}

# db_report: the exit of a database-mode replay once every one ended.
db_report() {
	if ((db_failed != 0)); then
		printf '%s: a cdc-replay stopped with status %s (see above); run the same command' \
			"$prog" "$db_failed" >&2
		printf ' again to continue\n' >&2
		exit "$db_failed"
	fi
	if ((stop_requested && (drain || verify))); then
		printf '%s: stopped by a signal before the drain completed; run the same command again\n' \
			"$prog" >&2
		exit 75
	fi
	if [[ -n "$db_stopped_at_ddl" ]] && ((stop_requested)); then
		printf '%s: stopped by a signal; these stopped at a drop or rename on the source' \
			"$prog" >&2
		printf ' (migrate them again):%s\n' "$db_stopped_at_ddl" >&2
	elif [[ -n "$db_stopped_at_ddl" ]]; then
		printf '%s: every collection drained except these, stopped at a drop or rename on the' \
			"$prog" >&2
		printf ' source (migrate them again):%s\n' "$db_stopped_at_ddl" >&2
		exit 4
	fi
}

# db_verify: --verify once every replay drained or stopped at a drop or
# rename: cdc-verify --all, less those stopped (--except). Differences (1)
# or a failed verify exit with its status; equal returns, and db_report
# then exits 4 if some stopped, else 0.
db_verify() {
	local -a except=()
	((db_failed == 0 && !stop_requested)) || return 0
	trap on_signal INT TERM
	printf '== %s: verify every collection of the source against the target' "$db"
	if [[ -n "$db_stopped_at_ddl" ]]; then
		except=(--except "$(tr ' ' ',' <<<"${db_stopped_at_ddl# }")")
		printf ' except those stopped at a drop or rename:%s' "$db_stopped_at_ddl"
	fi
	printf '\n'
	run_child "$(find_bin cdc-verify)" --all --db "$db" "${staging_args[@]}" "${except[@]}"
	if ((stop_requested && child_status != 0 && child_status != 1)); then
		printf '%s: stopped by a signal before cdc-verify completed: the target is NOT' "$prog" >&2
		printf ' verified; run the same command again\n' >&2
		exit 75
	fi
	((child_status == 0)) || exit "$child_status"
}

# database_mode: DB --all: each collection restored once, then every one
# replayed, one cdc-replay each, all at once (README "Database mode").
database_mode() {
	local colls coll replay_args
	db_pids=() db_colls=()
	trap db_on_signal INT TERM
	trace_if_debug
	umask 077
	mkdir -p "$state_dir"
	lock_ns "$db.*" "$state_dir/$db.sync.lock"
	[[ ! -f "$state_dir/$db.dump-pending" ]] || die 73 "the dumps of '$db' are not complete" \
		"('$state_dir/$db.dump-pending'): finish them with init_migration.sh --resume-dump" \
		"... $db --all first"
	staging_args=()
	[[ -z "$staging_coll" ]] || staging_args=(--staging-coll "$staging_coll")
	mapfile -t colls < <("$(find_bin cdc-capture)" --db "$db" --list-namespaces \
		--state-dir "$state_dir" | awk -F '\t' '$2 != "ignored" { print $1 }')
	((${#colls[@]} > 0)) || die 66 "no collection of '$db' in '$state_dir/$db.token':" \
		"give the --state-dir of init_migration.sh ... $db --all"
	replay_bin="$(find_bin cdc-replay)"
	dump_bin="$(find_bin dump-wrap)"
	((no_restore)) || db_restore_all "${colls[@]}"
	printf '== %s: replay of %s collections%s\n' "$db" "${#colls[@]}" \
		"$( ((drain)) && printf ' until drained')"
	for coll in "${colls[@]}"; do
		((!stop_requested)) || break
		replay_args=(--db "$db" --coll "$coll" "${staging_args[@]}")
		[[ -z "$workers" ]] || replay_args+=(--workers "$workers")
		((!drain)) || replay_args+=(--drain)
		[[ -z "$max_wait" ]] || replay_args+=(--max-wait "$max_wait")
		db_run "$coll" "$replay_bin" "${replay_args[@]}"
	done
	db_wait_all
	((!verify)) || db_verify
	db_report
	exit 0
}

drain=0
verify=0
max_wait=""
source_arg=""
to_db=""
to_coll=""
workers=""
dump_dir=./dump
staging_coll=""
no_restore=0
state_dir=.
background=0
max_ops=""
purge_applied=1d

while (($# > 0)); do
	case "$1" in
	--drain) drain=1; shift ;;
	--verify) (($# > 1)) || usage_error "$1 needs a value"; verify=1; source_arg="$2"; shift 2 ;;
	--verify=*) verify=1; source_arg="${1#*=}"; shift ;;
	--max-wait) (($# > 1)) || usage_error "$1 needs a value"; max_wait="$2"; shift 2 ;;
	--max-wait=*) max_wait="${1#*=}"; shift ;;
	--to-db) (($# > 1)) || usage_error "$1 needs a value"; to_db="$2"; shift 2 ;;
	--to-db=*) to_db="${1#*=}"; shift ;;
	--to-coll) (($# > 1)) || usage_error "$1 needs a value"; to_coll="$2"; shift 2 ;;
	--to-coll=*) to_coll="${1#*=}"; shift ;;
	--workers) (($# > 1)) || usage_error "$1 needs a value"; workers="$2"; shift 2 ;;
	--workers=*) workers="${1#*=}"; shift ;;
	--dump-dir) (($# > 1)) || usage_error "$1 needs a value"; dump_dir="$2"; shift 2 ;;
	--dump-dir=*) dump_dir="${1#*=}"; shift ;;
	--staging-coll) (($# > 1)) || usage_error "$1 needs a value"; staging_coll="$2"; shift 2 ;;
	--staging-coll=*) staging_coll="${1#*=}"; shift ;;
	--no-restore) no_restore=1; shift ;;
	--background) background=1; shift ;;
	--max-ops-per-sec) (($# > 1)) || usage_error "$1 needs a value"; max_ops="$2"; shift 2 ;;
	--purge-applied) (($# > 1)) || usage_error "$1 needs a value"; purge_applied="$2"; shift 2 ;;
	--state-dir) (($# > 1)) || usage_error "$1 needs a value"; state_dir="$2"; shift 2 ;;
	--state-dir=*) state_dir="${1#*=}"; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-?*) usage_error "unknown option '$1'" ;;
	*) break ;;
	esac
done

if (($# == 3)) && [[ "$3" == --all ]]; then
	[[ -z "$to_db$to_coll" ]] || usage_error "--to-db and --to-coll are for one collection"
	((!background)) || usage_error "--background is for one collection (DB COLL)"
	[[ -n "$2" && "$2" != */* ]] || usage_error "DB must be non-empty, without '/'"
	[[ -z "$max_wait" ]] || ((drain)) || usage_error "--max-wait needs --drain"
	uri_arg TARGET_URI "$1"
	if ((verify)); then
		((drain)) || usage_error "--verify needs --drain"
		uri_arg SOURCE_URI "$source_arg" "--verify -"
	fi
	db="$2"
	set --
	database_mode
fi
(($# == 3)) || usage_error "expected TARGET_URI DB COLL, got $# arguments"
uri_arg TARGET_URI "$1"
if ((verify)); then
	((drain)) || usage_error "--verify needs --drain: a comparison while changes flow cannot be equal"
	[[ -n "$source_arg" ]] || usage_error "--verify needs a SOURCE_URI (or - for the environment)"
	uri_arg SOURCE_URI "$source_arg" "--verify -"
fi
source_arg=""
db="$2" coll="$3"
set -- # the URIs leave the positional parameters before tracing starts
check_ns "$db" "$coll"
check_staging_names "$db" "$coll" "$to_db" "$to_coll" "$staging_coll"
if [[ -n "$workers" && ! "$workers" =~ ^[1-9][0-9]*$ ]]; then
	usage_error "invalid value '$workers' for --workers: expected a positive integer"
fi
if [[ -n "$max_wait" ]]; then
	((drain)) || usage_error "--max-wait needs --drain"
	[[ "$max_wait" =~ ^[0-9]+$ ]] || usage_error "invalid value '$max_wait' for" \
		"--max-wait: expected a number of seconds"
fi
[[ -n "$state_dir" ]] || usage_error "--state-dir must not be empty"
if ((background && (drain || verify))); then
	usage_error "--background follows for ever: drain it later with --drain"
fi
if [[ -n "$max_ops" && ! "$max_ops" =~ ^[1-9][0-9]{0,8}$ ]]; then
	usage_error "invalid value '$max_ops' for --max-ops-per-sec: expected a positive integer"
fi
if [[ "$purge_applied" != off && ! "$purge_applied" =~ ^[0-9]+[smhd]?$ ]]; then
	usage_error "invalid value '$purge_applied' for --purge-applied: expected seconds, or a" \
		"number with a suffix s, m, h or d, or off"
fi
trace_if_debug

umask 077
mkdir -p "$state_dir"
ns="$db.$coll"
target_ns="${to_db:-$db}.${to_coll:-$coll}"
target_args=()
[[ -z "$to_db" ]] || target_args+=(--to-db "$to_db")
[[ -z "$to_coll" ]] || target_args+=(--to-coll "$to_coll")
# A --background replay holds the lock while it runs: --drain talks to it
# instead of taking the lock.
replay_pid_file="$state_dir/$ns.replay.pid"
replay_log="$state_dir/$ns.replay.log"
replay_exit_file="$state_dir/$ns.replay.exit"
running_replay="$(background_replay_pid)"
if ((background)) && [[ -n "$running_replay" ]]; then
	die 73 "cdc-replay of '$ns' already runs in the background (pid $running_replay): watch" \
		"it with: tail -f $replay_log; drain it with: $prog --drain --state-dir" \
		"$(printf '%q' "$state_dir") - $(printf '%q %q' "$db" "$coll")"
fi
if ((drain)) && [[ -n "$running_replay" ]]; then
	drain_background "$running_replay"
fi
# One sync_migration.sh at a time per collection: two replays of one
# collection would apply its staged events twice and out of order. The
# programs run below hold the lock too, so a replay still finishing its
# batch after a killed sync keeps the next sync out until it ends. Across
# hosts and state directories, the programs' lease on the target does the
# same (exit 73 naming the holder).
lock_ns "$ns" "$state_dir/$ns.sync.lock"
staging_args=()
[[ -z "$staging_coll" ]] || staging_args=(--staging-coll "$staging_coll")
replay_bin="$(find_bin cdc-replay)"
verify_bin=""
((!verify)) || verify_bin="$(find_bin cdc-verify)"

if ((no_restore)); then
	printf '== %s: no restore (--no-restore): replay only\n' "$ns"
else
	dump_bin="$(find_bin dump-wrap)"
	printf '== %s: restore %s into %s (once; unique and TTL indexes deferred)\n' \
		"$ns" "$dump_dir" "$target_ns"
	run_child "$dump_bin" restore --db "$db" --coll "$coll" --in "$dump_dir" \
		"${target_args[@]}" "${staging_args[@]}" --once --defer-constraints
	if ((child_status == 75 && stop_requested)); then
		die 75 "stopped by a signal before the restore completed; run the same command" \
			"again (the restore starts over)"
	fi
	((child_status != 73)) || die 73 "another writer holds '$target_ns' (see above): stop" \
		"it, or wait until its lease expires, then run the same command again"
	((child_status == 0)) || die "$child_status" "dump-wrap restore failed (status" \
		"$child_status); fix the cause and run the same command again"
fi

printf '== %s: replay into %s%s\n' "$ns" "$target_ns" "$( ((drain)) && printf ' until drained')"
replay_args=(--db "$db" --coll "$coll" "${target_args[@]}" "${staging_args[@]}")
[[ -z "$workers" ]] || replay_args+=(--workers "$workers")
((!drain)) || replay_args+=(--drain)
[[ -z "$max_wait" ]] || replay_args+=(--max-wait "$max_wait")
[[ -z "$max_ops" ]] || replay_args+=(--max-ops-per-sec "$max_ops")
[[ "$purge_applied" == off ]] || replay_args+=(--purge-applied "$purge_applied")
replay_args+=(--throttle-file "$state_dir/$ns.throttle")
((!background)) || start_background "$replay_bin" "${replay_args[@]}"
run_child "$replay_bin" "${replay_args[@]}"
if ((child_status == 0 && drain && !stop_requested)); then
	replay_ended 0 drained
else
	replay_ended "$child_status" exited
fi
((child_status != 73)) || die 73 "another writer holds '$target_ns' (see above): stop it," \
	"or wait until its lease expires, then run the same command again"
if ((child_status != 0)); then
	printf '%s: cdc-replay stopped with status %s; run the same command again to continue\n' \
		"$prog" "$child_status" >&2
	exit "$child_status"
fi
# Replay exits 0 when a signal stops it: drained or not, that is not done.
if ((stop_requested && (drain || verify))); then
	printf '%s: stopped by a signal before the drain%s completed: %s; run the same' \
		"$prog" "$( ((verify)) && printf ' and the verify')" \
		"$( ((verify)) && printf 'the target is NOT verified' || printf 'it may not be drained')" >&2
	printf ' command again\n' >&2
	exit 75
fi

if ((verify)); then
	printf '== %s: verify source %s against target %s\n' "$ns" "$ns" "$target_ns"
	run_child "$verify_bin" --db "$db" --coll "$coll" "${target_args[@]}"
	if ((stop_requested && child_status != 0 && child_status != 1)); then
		printf '%s: stopped by a signal before cdc-verify completed: the target is NOT' "$prog" >&2
		printf ' verified; run the same command again\n' >&2
		exit 75
	fi
	exit "$child_status"
fi
