#!/usr/bin/env bash
# Usage: init_migration.sh [options] SOURCE_URI TARGET_URI DB COLL
#        init_migration.sh --resume-capture [options] SOURCE_URI TARGET_URI DB COLL
#        init_migration.sh --resume-dump [options] SOURCE_URI TARGET_URI DB COLL
#        init_migration.sh --stop-capture [options] DB COLL
#        init_migration.sh --cleanup [--drop-target] [options] DB COLL
#        init_migration.sh [options] SOURCE_URI TARGET_URI DB --all | --colls A,B,C
#        init_migration.sh --resume-capture|--resume-dump|--stop-capture ... DB --all
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
#                         event's time, the default), updateLookup (the
#                         document as it is later, when looked up; it can
#                         collide with a unique index during the catch-up),
#                         required or whenAvailable (the post-image as of
#                         the event; the collection, with DB --all every
#                         collection, must keep post-images)
#   --no-dump             capture only (rollback sync after cutover: the
#                         target already holds the data)
#   --force               start over even though a token exists or capture
#                         runs (a running capture is stopped first)
#   --resume-capture      restart a dead cdc-capture with the same state: no
#                         probe, no dump; refuses while capture runs
#   --resume-dump         finish a phase 1 whose dump did not complete (init
#                         failed or was interrupted after the probe): dump
#                         again into --dump-dir, keeping the token and the
#                         running capture (a dead one is restarted first,
#                         as --resume-capture does); refuses when the dump
#                         is complete
#   --stop-capture        stop the running cdc-capture of DB.COLL (SIGTERM:
#                         it saves its position and exits; a server that
#                         does not answer makes it exit without saving it
#                         after 5 s, and one still running after 10 s is
#                         killed: safe at any moment, a restart resumes
#                         from the last staged event)
#   --cleanup             remove the migration of DB.COLL (after the cutover,
#                         or to start over): on the target (TARGET_URI from
#                         the environment; cdc-cleanup) its staged events,
#                         checkpoint, restore marker and leases, and the
#                         staging collections once no collection is left in
#                         them; here its state files and its dump. Refuses
#                         (73) while its capture or replay runs or holds a
#                         lease. Prints what it removed
#   --drop-target         with --cleanup: also drop the restored collection
#                         on the target (starting over)
#   --max-docs-per-sec N, --max-mb-per-sec N  pace the dump (dump-wrap; the
#                         native engine then); DB.COLL.throttle changes them
#                         while it runs
#   --jobs N              database mode: collections dumped at once
#                         (default: 4)
#   --dump-jobs N         each collection's dump reads N partitions of its
#                         _id range at once (dump-wrap dump --jobs N, the
#                         native engine then; 1..64, default 1); a dump
#                         that did not complete continues only with the
#                         same N (--resume-dump --dump-jobs N)
#   -h, --help            print this help
#
# Database mode (DB --all, or DB --colls A,B,C; README "Database mode"):
# token-probe takes the resume point of one change stream on the whole
# database (--probe-method now by default: a database stream has a
# postBatchResumeToken; dummy puts its sentinel in the first collection),
# one cdc-capture stages every collection (with --all also those created
# later), then each collection is dumped, --jobs N at a time, into the
# usual layout. Its files are DB.token (the stream's position),
# DB.capture.pid, DB.capture.log, DB.lock and DB.dump-pending. A
# collection named in --colls that the source lacks is exit 66. A
# collection with its own capture (DB COLL) is refused by the capture
# (73): a collection has one capture.
#
# Files in the state directory, mode 0600:
#   DB.COLL.token          the resume token (cdc-capture keeps it current)
#   DB.COLL.capture.pid    pid of the running cdc-capture
#   DB.COLL.capture.log    its log: tail -f it to watch events and lag
#   DB.COLL.lock           held while init_migration.sh works on DB.COLL
#   DB.COLL.dump-pending   there from the probe until the dump is complete:
#                          what phase 1 still needs is the dump (--resume-dump)
#   DB.COLL.throttle       yours to write: lines 'max-docs-per-sec N',
#                          'max-mb-per-sec N' (dump) and 'max-ops-per-sec N'
#                          (replay), 0 for no limit; read again within a
#                          second of a change
#
# Programs are found in $CSM_BIN, else bin/ beside this script, else PATH.
# CSM_DEBUG=1 traces the script (the URIs are not traced).
#
# Exit status: 0 started (--stop-capture: capture no longer runs); 64
# usage (also DB.COLL named like the staging collections: see
# --staging-coll); 66 --resume-capture/--resume-dump without a token file,
# --stop-capture with no capture running, nothing to dump; 73 a capture
# runs, a token exists or the dump is complete (the message names the
# command to use: --resume-dump, --resume-capture or --force), or
# --cleanup while a capture, sync or replay of DB.COLL runs; 75 a
# capture that not even SIGKILL stopped; otherwise the failing program's
# status.

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

# capture_gone_within SECONDS: wait until no capture of the collection runs.
capture_gone_within() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		[[ -n "$(capture_pid)" ]] || return 0
		sleep 0.1
	done
	return 1
}

# stop_capture PID: SIGTERM; capture finishes its batch, saves its position
# and exits, or, when a server does not answer, exits 75 after 5 s without
# saving it (docs/DESIGN.md, "Signals and stopping"). One still running
# after 10 s is killed: kill -9 is safe at any moment. Says on stderr when
# the position could not be saved.
stop_capture() {
	local pid="$1" log_size
	log_size="$(wc -c <"$log_file" 2>/dev/null || echo 0)"
	kill -TERM "$pid" 2>/dev/null || return 0
	if ! capture_gone_within 10; then
		printf '%s: cdc-capture (pid %s) did not exit within 10 s of SIGTERM: killing it' \
			"$prog" "$pid" >&2
		printf ' (safe: a restart resumes from the last staged event)\n' >&2
		kill -KILL "$pid" 2>/dev/null || true
		capture_gone_within 5 || die 75 "cdc-capture (pid $pid) did not stop even after" \
			"SIGKILL; see $log_file"
	elif tail -c +"$((log_size + 1))" "$log_file" 2>/dev/null |
		grep -q 'exiting now: nothing is lost'; then
		printf '%s: cdc-capture (pid %s) could not save its position: a server did not' \
			"$prog" "$pid" >&2
		printf ' answer within 5 s (see %s); nothing is lost, a restart resumes from the' \
			"$log_file" >&2
		printf ' last staged event\n' >&2
	fi
}

# query_escape NAME: NAME as mongodump escapes it in file names
# (docs/DESIGN.md, "Dump format"): letters, digits and -_.~ stay, a space
# is +, any other byte %XX.
query_escape() {
	local LC_ALL=C name="$1" out="" c hex i
	for ((i = 0; i < ${#name}; i++)); do
		c="${name:i:1}"
		case "$c" in
		[A-Za-z0-9._~-]) out+="$c" ;;
		' ') out+=+ ;;
		*) printf -v hex '%%%02X' "'$c"; out+="$hex" ;;
		esac
	done
	printf '%s\n' "$out"
}

# dump_complete: a dump of the collection is published in the dump
# directory (its metadata file, the last one a dump publishes, is there).
dump_complete() {
	local base
	base="$dump_dir/$db/$(query_escape "$coll").metadata.json"
	[[ -f "$base" || -f "$base.gz" ]]
}

# run_dump: dump-wrap dump into the dump directory while capture runs; on
# a failure, exits with dump-wrap's status saying how to finish the dump.
# Nothing to dump (66) at init: the capture just started and the token go.
run_dump() {
	local status=0
	printf '== %s: dump to %s (dump-wrap dump) while capture stages changes\n' "$ns" "$dump_dir"
	"$dump_bin" dump --db "$db" --coll "$coll" --out "$dump_dir" "${dump_throttle[@]}" \
		"${dump_split[@]}" || status=$?
	if ((status == 66)) && [[ "$mode" == init ]]; then
		# Nothing to migrate: the capture just started is of no use.
		stop_capture "$capture_started"
		rm -f "$pid_file" "$token_file" "$dump_pending_file"
		die 66 "dump-wrap found nothing to dump for '$ns'; stopped the capture" \
			"started for it; check the database and collection names"
	elif ((status != 0)); then
		die "$status" "dump-wrap dump failed (status $status); cdc-capture keeps running" \
			"(pid $capture_started). Once the cause is fixed, finish the dump with:" \
			"$resume_dump_cmd"
	elif ! dump_complete; then
		# A dump-wrap stopped by a signal ends well, but publishes nothing.
		die 75 "dump-wrap dump ended before the dump of '$ns' was complete (stopped by a" \
			"signal?); cdc-capture keeps running (pid $capture_started). Finish the" \
			"dump with: $resume_dump_cmd"
	fi
	rm -f "$dump_pending_file"
}

# cleanup_ns: --cleanup. Refuses while the collection's capture, sync or
# replay runs here (73); cdc-cleanup takes its leases on the target, so it
# refuses a writer elsewhere too, and removes its documents there first:
# the state files and the dump go only once the target is clean.
cleanup_ns() {
	local cleanup_bin replay_pid f removed=0 base
	[[ -z "$running" ]] || die 73 "cdc-capture of '$ns' is running (pid $running): stop" \
		"it first ($prog --stop-capture --state-dir $(printf '%q' "$state_dir") $db $coll)"
	replay_pid="$(head -n 1 "$state_dir/$ns.replay.pid" 2>/dev/null || true)"
	if [[ "$replay_pid" =~ ^[0-9]+$ ]] && ps -o comm= -p "$replay_pid" 2>/dev/null |
		grep -q '^cdc-replay'; then
		die 73 "cdc-replay of '$ns' is running (pid $replay_pid): stop it first (kill" \
			"-TERM $replay_pid, or sync_migration.sh --drain)"
	fi
	if command -v flock >/dev/null 2>&1 && [[ -f "$state_dir/$ns.sync.lock" ]] &&
		! flock -n "$state_dir/$ns.sync.lock" true; then
		die 73 "sync_migration.sh of '$ns' is running (lock $state_dir/$ns.sync.lock):" \
			"stop it first (Ctrl-C)"
	fi
	cleanup_bin="$(find_bin cdc-cleanup)"
	"$cleanup_bin" --db "$db" --coll "$coll" "${staging_args[@]}" \
		"${cleanup_args[@]}" || die "$?" "cdc-cleanup failed; nothing was removed here" \
		"(the state files and the dump stay): fix the cause and run this again"
	base="$dump_dir/$db/$(query_escape "$coll")"
	for f in "$state_dir/$ns".{token,token.replaced,capture.pid,capture.log,dump-pending} \
		"$state_dir/$ns".{replay.pid,replay.log,replay.exit,throttle,sync.lock,lock} \
		"$base".{bson,bson.gz,metadata.json,metadata.json.gz,dump-end.json,integrity.json}; do
		[[ -e "$f" ]] || continue
		rm -f -- "$f"
		printf 'removed %s\n' "$f"
		removed=$((removed + 1))
	done
	if [[ -d "$dump_dir/.$db.$coll.partial" ]]; then
		rm -rf -- "$dump_dir/.$db.$coll.partial"
		printf 'removed %s\n' "$dump_dir/.$db.$coll.partial"
	fi
	printf 'cleaned up %s (%s local files)\n' "$ns" "$removed"
}

# print_done: what runs now and the commands that come next.
print_done() {
	cat <<EOF
== $ns: phase 1 done
started:  cdc-capture pid $capture_started (pid file $pid_file)
watch:    tail -f $log_file
restart:  $restart_cmd
stop:     $prog --stop-capture --state-dir $(printf '%q' "$state_dir") $(printf '%q %q' "$db" "$coll")
next:     sync_migration.sh $( ((no_dump)) && printf -- '--no-restore ' )$( [[ -z "$staging_coll" ]] || printf -- '--staging-coll %q ' "$staging_coll")--dump-dir $(printf '%q' "$dump_dir") - $(printf '%q %q' "$db" "$coll")   (with TARGET_URI set)
EOF
}

# start_capture: start cdc-capture in its own session, detached, logging to
# the log file; fail when it dies at once.
start_capture() {
	local pid i status
	touch "$log_file"
	chmod 600 "$log_file"
	printf '\n--- %s: %s starts cdc-capture\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$prog" \
		>>"$log_file"
	setsid "$capture_bin" --db "$db" "${capture_sel[@]}" --state-dir "$state_dir" \
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
				"cdc-capture exited at once (status $status); see $log_file." \
				"Once the cause is fixed, $next_if_capture_fails"
		fi
		sleep 0.1
	done
	capture_started="$pid"
}

# db_dump_one COLL: dump-wrap dump of DB.COLL into the dump directory. A
# collection gone since the listing (66) was dropped: its capture stops at
# the drop.
db_dump_one() {
	local status=0
	"$dump_bin" dump --db "$db" --coll "$1" --out "$dump_dir" "${dump_split[@]}" || status=$?
	if ((status == 66)); then
		printf '%s: %s.%s is gone from the source: not dumped (its capture stops at its drop)\n' \
			"$prog" "$db" "$1" >&2
		status=0
	fi
	return "$status"
}

# db_run_dumps COLL...: the dumps, --jobs at a time; dies with the first
# failure's status once every dump started has ended.
db_run_dumps() {
	local coll failed=0 status pid
	local -a pids=()
	for coll in "$@"; do
		if [[ "$mode" == resume-dump ]] && dump_complete; then
			printf '== %s.%s: dump complete, kept\n' "$db" "$coll"
			continue
		fi
		while (($(db_running "${pids[@]}") >= jobs)); do sleep 0.1; done
		printf '== %s.%s: dump to %s (dump-wrap dump) while capture stages changes\n' \
			"$db" "$coll" "$dump_dir"
		db_dump_one "$coll" &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		status=0
		wait "$pid" || status=$?
		((status == 0 || failed)) || failed="$status"
	done
	((failed == 0)) || die "$failed" "a dump failed (status $failed, see above); cdc-capture" \
		"keeps running (pid $capture_started). Once the cause is fixed, run the same" \
		"command with --resume-dump"
	rm -f "$dump_pending_file"
}

# db_running PID...: how many of them still run.
db_running() {
	local pid n=0
	for pid in "$@"; do
		! kill -0 "$pid" 2>/dev/null || n=$((n + 1))
	done
	echo "$n"
}

# db_collections: the collections the running capture of the database
# stages (its position file), once it has written them.
db_collections() {
	local i
	for ((i = 0; i < 100; i++)); do
		if "$capture_bin" --db "$db" --list-namespaces --state-dir "$state_dir" 2>/dev/null |
			grep -q .; then
			"$capture_bin" --db "$db" --list-namespaces --state-dir "$state_dir" |
				awk -F '\t' '$2 == "capturing" { print $1 }'
			return 0
		fi
		sleep 0.1
	done
	die 70 "cdc-capture of database '$db' wrote no collection to its position file" \
		"'$token_file' within 10 s; see $log_file"
}

# db_files: the file names of database mode.
db_files() {
	ns="$db.*" coll=""
	token_file="$state_dir/$db.token"
	pid_file="$state_dir/$db.capture.pid"
	dump_pending_file="$state_dir/$db.dump-pending"
	log_file="$state_dir/$db.capture.log"
	staging_args=()
	[[ -z "$staging_coll" ]] || staging_args=(--staging-coll "$staging_coll")
	capture_args=()
	[[ -z "$full_document" ]] || capture_args=(--full-document "$full_document")
}

# db_probe SELECTION...: the resume point of the database stream.
db_probe() {
	local method="$probe_method" status=0
	if [[ -f "$token_file" ]]; then
		((force)) || die 73 "'$token_file' exists, so '$ns' was started before: nothing" \
			"was changed (--resume-capture restarts its capture; --force starts over)"
		mv -f "$token_file" "$token_file.replaced"
	fi
	# A database stream has a postBatchResumeToken: read-only by default.
	[[ -n "$probe_method_given" ]] || method=now
	: >"$dump_pending_file"
	printf '== %s: resume token of the database stream (token-probe --method %s)\n' \
		"$ns" "$method"
	"$(find_bin token-probe)" --db "$db" "$@" --state-dir "$state_dir" \
		--method "$method" "${staging_args[@]}" || status=$?
	((status == 0)) || die "$status" "token-probe failed (status $status); nothing was started"
}

# database_mode: init_migration.sh for DB --all / DB --colls A,B,C.
database_mode() {
	local sel=(--all-colls) colls
	[[ "$db_mode" == all ]] || sel=(--colls "$db_mode")
	[[ -n "$db" && "$db" != */* ]] || usage_error "DB must be non-empty, without '/'"
	((!no_dump)) || usage_error "--no-dump is for one collection"
	trace_if_debug
	umask 077
	mkdir -p "$state_dir"
	db_files
	capture_sel=("${sel[@]}")
	lock_ns "$ns" "$state_dir/$db.lock"
	capture_started=""
	running="$(capture_pid)"
	if [[ "$mode" == stop ]]; then
		[[ -n "$running" ]] || die 66 "no cdc-capture of '$ns' is running (pid file $pid_file)"
		stop_capture "$running"
		rm -f "$pid_file"
		printf 'stopped cdc-capture of %s (pid %s); its position is in %s\n' \
			"$ns" "$running" "$token_file"
		return 0
	fi
	capture_bin="$(find_bin cdc-capture)"
	next_if_capture_fails="restart it with: $prog --resume-capture --state-dir $state_dir - - $db ${sel[*]/--all-colls/--all}"
	# Before the dumps (e.g. --full-document required refused): they are still to run.
	[[ "$mode" == resume ]] || next_if_capture_fails="finish phase 1 with: $prog --resume-dump --state-dir $state_dir - - $db ${sel[*]/--all-colls/--all}"
	[[ "$mode" == init || -f "$token_file" ]] || die 66 "no position file '$token_file':" \
		"'$ns' was never started here (or give the right --state-dir)"
	if [[ "$mode" == resume ]]; then
		[[ -z "$running" ]] || die 73 "cdc-capture of '$ns' is already running (pid $running)"
		start_capture
		printf 'restarted cdc-capture of %s: pid %s\n  watch:   tail -f %s\n' \
			"$ns" "$capture_started" "$log_file"
		return 0
	fi
	dump_bin="$(find_bin dump-wrap)"
	if [[ "$mode" == resume-dump ]]; then
		[[ -f "$dump_pending_file" ]] || die 73 "the dumps of '$ns' are complete: nothing to do"
		capture_started="$running"
		[[ -n "$running" ]] || start_capture
	else
		[[ -z "$running" ]] || die 73 "cdc-capture of '$ns' is already running (pid $running):" \
			"nothing was changed"
		db_probe "${sel[@]}"
		printf '== %s: change capture (cdc-capture, in the background)\n' "$ns"
		start_capture
	fi
	mapfile -t colls < <(db_collections)
	db_run_dumps "${colls[@]}"
	cat <<EOF
== $ns: phase 1 done (${#colls[@]} collections)
started:  cdc-capture pid $capture_started (pid file $pid_file)
watch:    tail -f $log_file
stop:     $prog --stop-capture --state-dir $(printf '%q' "$state_dir") $(printf '%q' "$db") --all
next:     sync_migration.sh --state-dir $(printf '%q' "$state_dir") --dump-dir $(printf '%q' "$dump_dir") - $(printf '%q' "$db") --all   (with TARGET_URI set)
EOF
}

mode=init
jobs=4
dump_jobs=1
state_dir=.
dump_dir=./dump
probe_method=dummy
probe_method_given=""
staging_coll=""
full_document=default
no_dump=0
force=0
drop_target=0
dump_throttle=()

while (($# > 0)); do
	case "$1" in
	--state-dir) (($# > 1)) || usage_error "$1 needs a value"; state_dir="$2"; shift 2 ;;
	--state-dir=*) state_dir="${1#*=}"; shift ;;
	--dump-dir) (($# > 1)) || usage_error "$1 needs a value"; dump_dir="$2"; shift 2 ;;
	--dump-dir=*) dump_dir="${1#*=}"; shift ;;
	--probe-method) (($# > 1)) || usage_error "$1 needs a value"; probe_method="$2"; probe_method_given=1; shift 2 ;;
	--probe-method=*) probe_method="${1#*=}"; probe_method_given=1; shift ;;
	--staging-coll) (($# > 1)) || usage_error "$1 needs a value"; staging_coll="$2"; shift 2 ;;
	--staging-coll=*) staging_coll="${1#*=}"; shift ;;
	--full-document) (($# > 1)) || usage_error "$1 needs a value"; full_document="$2"; shift 2 ;;
	--full-document=*) full_document="${1#*=}"; shift ;;
	--jobs) (($# > 1)) || usage_error "$1 needs a value"; jobs="$2"; shift 2 ;;
	--jobs=*) jobs="${1#*=}"; shift ;;
	--dump-jobs) (($# > 1)) || usage_error "$1 needs a value"; dump_jobs="$2"; shift 2 ;;
	--dump-jobs=*) dump_jobs="${1#*=}"; shift ;;
	--no-dump) no_dump=1; shift ;;
	--force) force=1; shift ;;
	--resume-capture) mode=resume; shift ;;
	--resume-dump) mode=resume-dump; shift ;;
	--stop-capture) mode=stop; shift ;;
	--cleanup) mode=cleanup; shift ;;
	--drop-target) drop_target=1; shift ;;
	--max-docs-per-sec | --max-mb-per-sec)
		(($# > 1)) || usage_error "$1 needs a value"
		[[ "$2" =~ ^[1-9][0-9]{0,8}$ ]] || usage_error "invalid value '$2' for $1:" \
			"expected a positive integer"
		dump_throttle+=("$1" "$2"); shift 2 ;;
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
"" | default | updateLookup | required | whenAvailable) ;;
*) usage_error "invalid value '$full_document' for --full-document: expected default, updateLookup, required or whenAvailable" ;;
esac
[[ -n "$state_dir" ]] || usage_error "--state-dir must not be empty"
[[ -n "$dump_dir" ]] || usage_error "--dump-dir must not be empty"
if [[ "$mode" == resume-dump ]] && ((no_dump || force)); then
	usage_error "--resume-dump finishes the dump of the running migration: it takes" \
		"neither --no-dump nor --force"
fi

((!drop_target)) || [[ "$mode" == cleanup ]] || usage_error "--drop-target needs --cleanup"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || usage_error "invalid value '$jobs' for --jobs: expected a" \
	"positive integer"
{ [[ "$dump_jobs" =~ ^[1-9][0-9]?$ ]] && ((dump_jobs <= 64)); } ||
	usage_error "invalid value '$dump_jobs' for --dump-jobs: expected 1..64"
# Partitions are the native engine's: mongodump reads a collection with one.
dump_split=()
((dump_jobs == 1)) || dump_split=(--engine native --jobs "$dump_jobs")
# Database mode: DB --all or DB --colls A,B,C in place of DB COLL.
db_mode=""
if (($# >= 1)) && [[ "${*: -1}" == --all ]]; then
	db_mode=all
	set -- "${@:1:$#-1}"
elif (($# >= 2)) && [[ "${*: -2:1}" == --colls ]]; then
	db_mode="${*: -1}"
	[[ -n "$db_mode" ]] || usage_error "--colls needs A,B,C"
	set -- "${@:1:$#-2}"
fi
if [[ -n "$db_mode" ]]; then
	[[ "$mode" != cleanup ]] || usage_error "--cleanup takes DB COLL: one collection at a time"
	if [[ "$mode" == stop ]]; then
		(($# == 1)) || usage_error "expected DB --all, got $# arguments before it"
	else
		(($# == 3)) || usage_error "expected SOURCE_URI TARGET_URI DB --all, got $#" \
			"arguments before --all/--colls"
		uri_arg SOURCE_URI "$1"
		uri_arg TARGET_URI "$2"
		shift 2
	fi
	db="$1"
	set --
	database_mode
	exit 0
fi

if [[ "$mode" == stop || "$mode" == cleanup ]]; then
	(($# == 2)) || usage_error "expected DB COLL, got $# arguments"
	db="$1" coll="$2"
	[[ "$mode" != cleanup ]] || uri_arg TARGET_URI - "--cleanup works on the target"
else
	(($# == 4)) || usage_error "expected SOURCE_URI TARGET_URI DB COLL, got $# arguments"
	uri_arg SOURCE_URI "$1"
	uri_arg TARGET_URI "$2"
	db="$3" coll="$4"
	set -- # the URIs leave the positional parameters before tracing starts
fi
check_ns "$db" "$coll"
# The target's names are sync's to choose: refuse what its default would be.
[[ "$mode" == stop || "$mode" == cleanup ]] || check_staging_names "$db" "$coll" "" "" "$staging_coll"
trace_if_debug

# Every file written here holds state: owner-only.
umask 077
mkdir -p "$state_dir"
ns="$db.$coll"
token_file="$state_dir/$ns.token"
pid_file="$state_dir/$ns.capture.pid"
dump_pending_file="$state_dir/$ns.dump-pending"
log_file="$state_dir/$ns.capture.log"
staging_args=()
[[ -z "$staging_coll" ]] || staging_args=(--staging-coll "$staging_coll")
# One init_migration.sh at a time per collection: two restarts racing
# would start two captures.
lock_ns "$ns" "$state_dir/$ns.lock"
capture_args=()
[[ -z "$full_document" ]] || capture_args=(--full-document "$full_document")
cleanup_args=()
((!drop_target)) || cleanup_args=(--drop-target)
# The throttle file paces the dump only when asked for: a paced dump runs
# the native engine, also where mongodump is installed.
throttle_file="$state_dir/$ns.throttle"
if ((${#dump_throttle[@]})) || [[ -f "$throttle_file" ]]; then
	dump_throttle+=(--throttle-file "$throttle_file")
fi
capture_started=""
capture_sel=(--coll "$coll")
running="$(capture_pid)"

if [[ "$mode" == stop ]]; then
	[[ -n "$running" ]] || die 66 "no cdc-capture of '$ns' is running (pid file $pid_file)"
	stop_capture "$running"
	rm -f "$pid_file"
	printf 'stopped cdc-capture of %s (pid %s); its position is in %s\n' \
		"$ns" "$running" "$token_file"
	exit 0
fi

if [[ "$mode" == cleanup ]]; then
	cleanup_ns
	exit 0
fi

capture_bin="$(find_bin cdc-capture)"
# What to type to restart capture: the URIs stay placeholders.
restart_cmd="$prog --resume-capture --state-dir $(printf '%q' "$state_dir")"
[[ -z "$staging_coll" ]] || restart_cmd+=" --staging-coll $(printf '%q' "$staging_coll")"
restart_cmd+=" - - $(printf '%q %q' "$db" "$coll")   (with SOURCE_URI and TARGET_URI set)"
# What to type to finish a dump that did not complete.
resume_dump_cmd="$prog --resume-dump --state-dir $(printf '%q' "$state_dir")"
resume_dump_cmd+=" --dump-dir $(printf '%q' "$dump_dir")"
((dump_jobs == 1)) || resume_dump_cmd+=" --dump-jobs $dump_jobs"
[[ -z "$staging_coll" ]] || resume_dump_cmd+=" --staging-coll $(printf '%q' "$staging_coll")"
resume_dump_cmd+=" - - $(printf '%q %q' "$db" "$coll")   (with SOURCE_URI and TARGET_URI set)"
if [[ "$mode" == resume ]] || ((no_dump)); then
	next_if_capture_fails="restart it with: $restart_cmd"
else
	next_if_capture_fails="finish phase 1 with: $resume_dump_cmd"
fi

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

if [[ "$mode" == resume-dump ]]; then
	[[ -f "$token_file" ]] || die 66 "no token file '$token_file': '$ns' was never" \
		"started here; start it with $prog SOURCE_URI TARGET_URI $db $coll" \
		"(or give the right --state-dir)"
	if [[ ! -f "$dump_pending_file" ]] && dump_complete; then
		die 73 "the dump of '$ns' in '$dump_dir' is complete: nothing to do; the next" \
			"step is sync_migration.sh. To replace that dump (a restore refused it)," \
			"remove it first: rm $(printf '%q' "$dump_dir/$db/$(query_escape "$coll")").*"
	fi
	dump_bin="$(find_bin dump-wrap)"
	if [[ -n "$running" ]]; then
		capture_started="$running"
		printf 'cdc-capture of %s keeps running (pid %s): no new token, no new capture\n' \
			"$ns" "$running"
	else
		printf '== %s: restart the change capture (cdc-capture, in the background)\n' "$ns"
		start_capture
		printf 'restarted cdc-capture of %s: pid %s\n' "$ns" "$capture_started"
	fi
	run_dump
	print_done
	exit 0
fi

# A phase 1 stopped after the probe (target unreachable, dump failed or
# interrupted) needs its dump, not a restart or a new start.
if [[ -f "$token_file" && -f "$dump_pending_file" ]] && ((!force)); then
	if [[ -n "$running" ]]; then
		what="its capture runs (pid $running)"
	else
		what="its capture is not running either (--resume-dump restarts it first)"
	fi
	die 73 "'$ns' was started before but its dump did not complete; $what." \
		"Nothing was changed. Finish phase 1 with: $resume_dump_cmd. To start" \
		"'$ns' over instead, see --force"
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

# Until the dump is complete, a rerun knows the dump is what is missing
# (a dump left in the dump directory by an older run does not count).
if ((no_dump)); then
	rm -f "$dump_pending_file"
else
	: >"$dump_pending_file"
fi
printf '== %s: resume token (token-probe --method %s)\n' "$ns" "$probe_method"
status=0
"$probe_bin" --db "$db" --coll "$coll" --state-dir "$state_dir" \
	--method "$probe_method" "${staging_args[@]}" || status=$?
((status == 0)) || die "$status" "token-probe failed (status $status); nothing was started"

printf '== %s: change capture (cdc-capture, in the background)\n' "$ns"
start_capture
printf 'cdc-capture of %s is running: pid %s, log %s\n' "$ns" "$capture_started" "$log_file"

((no_dump)) || run_dump
print_done
