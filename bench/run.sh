#!/usr/bin/env bash
# Usage: bench/run.sh
#        bench/run.sh --help
#
# Measures the toolkit's speed against mongod-lite (--sync-policy none, on
# loopback), each figure beside a limit measured in the same run on the same
# server, and writes bench/results.md and bench/lag.png.
#
# Environment:
#   CSM_BIN       where the tools are (default: bin)
#   CSM_BUILD     where mongod-lite and build/bench/* are (default: build)
#   BENCH_SCALE   fraction of the full sizes, e.g. 0.01 (default 1)
#   BENCH_RUNS    runs per figure; the median is reported (default 3)
#   BENCH_ONLY    comma-separated subset of dump,restore,capture,replay,e2e,
#                 dbmode, dbreplay, replay-txn, replay-reader and staging (staging is not run
#                 by default: ten times e2e's follow)
#   BENCH_RESULTS where the table goes (default bench/results.md)
#   BENCH_PLOT    where the lag plot goes (default bench/lag.png)
#   BENCH_TIMEOUT seconds after which a tool run is killed (default 1800)
#   BENCH_KEEP    1 keeps the scratch directory (logs, dumps) for inspection
#   BENCH_DEBUG   1 traces every command
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
CSM_BIN="${CSM_BIN:-$REPO_ROOT/bin}"
CSM_BUILD="${CSM_BUILD:-$REPO_ROOT/build}"
MLITE="$CSM_BUILD/mongod-lite"
DRIVERS="$CSM_BUILD/bench"
BENCH_SCALE="${BENCH_SCALE:-1}"
BENCH_RUNS="${BENCH_RUNS:-3}"
BENCH_ONLY="${BENCH_ONLY:-dump,restore,capture,replay,e2e,dbmode,dbreplay,replay-txn,replay-reader}"
BENCH_RESULTS="${BENCH_RESULTS:-$BENCH_DIR/results.md}"
BENCH_PLOT="${BENCH_PLOT:-$BENCH_DIR/lag.png}"
PY=/usr/bin/python3
TIME=/usr/bin/time

# Full-size parameters (the issue's); BENCH_SCALE shrinks the counts.
DUMP_DOCS_FULL=1000000
DOC_SIZE=1024
EVENTS_FULL=200000
EVENT_DOC_SIZE=256
RESTORE_BATCH=1000
REPLAY_BATCH=1000
E2E_RATE=5000
E2E_PRELOAD_FULL=200000
E2E_FOLLOW_FULL=120
# Bounded staging: ten times the end-to-end run, purging what is older
# than STAGING_PURGE_AGE, the staging collection sampled every
# STAGING_SAMPLE_S seconds.
STAGING_FOLLOW_FULL=1200
STAGING_PURGE_AGE=30s
STAGING_SAMPLE_S=10
RESTORE_JOBS="1 2 4"
DUMP_JOBS="1 2 4"
# A dump killed at this fraction of its bytes, then continued.
DUMP_KILL_AT=0.5
GOAL_RESUME=1.1
REPLAY_WORKERS="1 2 4"
# Source transactions for replay-txn: this many, of TXN_OPS events each.
TXN_COUNT_FULL=5000
TXN_OPS=3
# Goals recorded (not asserted) in the table.
GOAL_RATIO=0.8
GOAL_EVENTS=50000
GOAL_RSS_MIB=64
# No tool run may take longer than this (a hung tool ends the measure).
BENCH_TIMEOUT="${BENCH_TIMEOUT:-1800}"

if [[ -n "${BENCH_DEBUG:-}" ]]; then
	export PS4='+ ${BASH_SOURCE##*/}:${LINENO}: '
	set -x
fi

die() {
	echo "bench/run.sh: $*" >&2
	local dir
	# A server that died explains most failures: say so.
	for dir in "${WORK:-/nonexistent}"/server-*; do
		[[ -s "$dir/pid" ]] || continue
		if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
			echo "bench/run.sh: mongod-lite ${dir##*/server-} is not running; its log ends:" >&2
			tail -n 5 "$dir/log" >&2
		fi
	done
	exit 1
}

say() {
	echo "bench: $*" >&2
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# scaled FULL [MIN]: FULL * BENCH_SCALE rounded, at least MIN (default 1000).
scaled() {
	awk -v n="$1" -v s="$BENCH_SCALE" -v m="${2:-1000}" \
		'BEGIN { v = int(n * s + 0.5); if (v < m) v = m; print v }'
}

# median NUMBER...: the median (mean of the middle two for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2];
		      else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# max NUMBER...
max() {
	printf '%s\n' "$@" | sort -g | tail -n 1
}

# calc EXPR: awk arithmetic, printed with %.6g unless EXPR is formatted.
calc() {
	awk "BEGIN { print $1 }"
}

# jget JSON KEY: a number from a flat one-line JSON object (the drivers').
jget() {
	local value
	value="$(sed -n "s/.*\"$2\": *\(-\{0,1\}[0-9.eE+]*\).*/\1/p" <<<"$1")"
	[[ -n "$value" ]] || die "no '$2' in driver output: $1"
	echo "$value"
}

now_s() {
	date +%s.%N
}

# rss_mib FILE: peak RSS in MiB from /usr/bin/time -f %M output.
rss_mib() {
	awk 'END { printf "%.1f", $1 / 1024 }' "$1"
}

# ---------------------------------------------------------------- servers

# Processes this run started and has not reaped yet: only these are ever
# signalled (a reaped PID may belong to someone else by now).
PIDS=()

# forget PID: drop a reaped process from PIDS.
forget() {
	local kept=() pid
	for pid in "${PIDS[@]}"; do
		[[ "$pid" == "$1" ]] || kept+=("$pid")
	done
	PIDS=("${kept[@]}")
}

cleanup() {
	local pid child
	for pid in "${PIDS[@]}"; do
		for child in $(pgrep -P "$pid" 2>/dev/null); do
			kill -TERM "$child" 2>/dev/null || true
		done
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}

# server_start NAME [mongod-lite options...]: a fresh mongod-lite on a free
# loopback port; sets NAME_URI and NAME_PID.
server_start() {
	local name="$1"
	shift
	local dir="$WORK/server-$name"
	mkdir -p "$dir"
	rm -f "$dir/port"
	"$MLITE" --port 0 --port-file "$dir/port" --sync-policy none "$@" \
		>>"$dir/log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	echo "$pid" >"$dir/pid"
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -s "$dir/port" ]] && break
		kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; die "mongod-lite $name exited"; }
		sleep 0.05
	done
	[[ -s "$dir/port" ]] || die "mongod-lite $name did not start"
	printf -v "${name}_URI" 'mongodb://127.0.0.1:%s/?replicaSet=rs0' "$(cat "$dir/port")"
	printf -v "${name}_PID" '%s' "$pid"
}

# server_stop NAME
server_stop() {
	local pid_var="${1}_PID"
	local pid="${!pid_var}"
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget "$pid"
	rm -f "$WORK/server-$1/pid"
}

# drop_db URI DB
drop_db() {
	"$PY" - "$1" "$2" <<'EOF'
import sys, pymongo
pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000).drop_database(sys.argv[2])
EOF
}

# create_coll URI DB COLL: token-probe wants the collection to exist.
create_coll() {
	"$PY" - "$1" "$2" "$3" <<'EOF'
import sys, pymongo
pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)[sys.argv[2]].create_collection(sys.argv[3])
EOF
}

# ------------------------------------------------------------------ tools
# Every tool invocation goes through one of the tool_* functions, so an
# option rename in a tool is a one-line change here. Each exports the URIs
# the tool reads (never in argv: docs/DESIGN.md, "Connections and secrets")
# and sets CMD; timed/bg_timed call it in a subshell, so nothing leaks into
# this shell.

# run_tool OUT_PREFIX TOOL_FN ARGS...: execs the tool under /usr/bin/time
# (peak RSS to OUT_PREFIX.rss, in KiB) and timeout(1) (BENCH_TIMEOUT).
run_tool() {
	local out="$1" fn="$2"
	shift 2
	"$fn" "$@"
	exec "$TIME" -f '%M' -o "$out.rss" timeout -k 10 "$BENCH_TIMEOUT" "${CMD[@]}" \
		>"$out.out" 2>"$out.err"
}

# timed OUT_PREFIX TOOL_FN ARGS...: runs the tool to its end; wall seconds
# to OUT_PREFIX.secs, stderr to OUT_PREFIX.err. A failure ends the measure.
timed() {
	local out="$1" t0 t1 status=0
	t0="$(now_s)"
	(run_tool "$@") || status=$?
	t1="$(now_s)"
	calc "$t1 - $t0" >"$out.secs"
	if ((status != 0)); then
		tail -n 20 "$out.err" >&2
		die "$2 failed with status $status (log: $out.err; BENCH_KEEP=1 keeps it)"
	fi
}

# bg_timed OUT_PREFIX TOOL_FN ARGS...: the same in the background; sets
# BG_PID (the /usr/bin/time process).
bg_timed() {
	(run_tool "$@") &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# wait_log FILE TEXT SECONDS: wait until FILE holds TEXT.
wait_log() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# bg_stop PID: SIGTERM to the tool under bg_timed's PID (timeout(1) passes
# it on, so time still reports the RSS), then wait; KILL after 30 s.
bg_stop() {
	local pid="$1" child i
	child="$(pgrep -P "$pid" || true)"
	if [[ -n "$child" ]]; then
		kill -TERM "$child" 2>/dev/null || true
	fi
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if [[ -n "$child" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$child" $(pgrep -P "$child") 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	forget "$pid"
}

tool_dump() { # URI DB COLL OUTDIR [JOBS]
	export SOURCE_URI="$1"
	CMD=("$CSM_BIN/dump-wrap" dump --engine native --db "$2" --coll "$3" --out "$4"
		--jobs "${5:-1}")
}

tool_restore() { # URI DB COLL DUMPDIR JOBS [extra...]
	export TARGET_URI="$1"
	CMD=("$CSM_BIN/dump-wrap" restore --engine native --db "$2" --coll "$3" --in "$4"
		--jobs "$5" "${@:6}")
}

tool_probe() { # URI DB COLL STATEDIR
	export SOURCE_URI="$1"
	CMD=("$CSM_BIN/token-probe" --db "$2" --coll "$3" --state-dir "$4")
}

tool_capture() { # SOURCE TARGET DB COLL STATEDIR
	export SOURCE_URI="$1" TARGET_URI="$2"
	CMD=("$CSM_BIN/cdc-capture" --db "$3" --coll "$4" --state-dir "$5" --log-format json)
}

tool_replay() { # TARGET DB COLL WORKERS [extra...]
	export TARGET_URI="$1"
	CMD=("$CSM_BIN/cdc-replay" --db "$2" --coll "$3" --workers "$4" --log-format json
		"${@:5}")
}

# ------------------------------------------------------------- reporting

# row MEASURE FIGURE LIMIT RATIO RSS_MIB NOTES: one line of the table,
# printed at once and kept for results.md.
row() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$WORK/rows.tsv"
	printf 'bench: %-22s %-34s limit %-30s ratio %-5s rss %s MiB %s\n' "$@" >&2
}

# goals RATIO RSS_MIB [EVENTS_PER_S]: which of the recorded goals are missed.
goals() {
	local missed=()
	if [[ "$1" != "-" ]] && awk -v r="$1" -v g="$GOAL_RATIO" 'BEGIN { exit !(r < g) }'; then
		missed+=("ratio < $GOAL_RATIO")
	fi
	if awk -v r="$2" -v g="$GOAL_RSS_MIB" 'BEGIN { exit !(r >= g) }'; then
		missed+=("RSS >= $GOAL_RSS_MIB MiB")
	fi
	if [[ -n "${3:-}" ]] && awk -v e="$3" -v g="$GOAL_EVENTS" 'BEGIN { exit !(e < g) }'; then
		missed+=("< $GOAL_EVENTS events/s")
	fi
	if ((${#missed[@]} == 0)); then
		echo "met"
	else
		local joined
		joined="$(printf '%s, ' "${missed[@]}")"
		echo "missed: ${joined%, }"
	fi
}

# ---------------------------------------------------------------- measures

# The 1 KiB-document dataset and its dump, shared by dump and restore.
DUMP_DB=benchdb
DUMP_COLL=docs

# dump_jobs N JOBS: dump --jobs JOBS against limit_cursor with JOBS
# cursors, BENCH_RUNS times on the loaded SRC; one row. Leaves the median
# uninterrupted seconds in DUMP_SECS (for the resume row).
dump_jobs() {
	local n="$1" jobs="$2" runs=() limits=() ratios=() mbs=() limit_mbs=() rss=() secs_all=()
	local r out json secs bytes
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		say "dump --jobs $jobs: run $r/$BENCH_RUNS"
		json="$("$DRIVERS/limit_cursor" "$SRC_URI" "$DUMP_DB" "$DUMP_COLL" "$jobs")"
		limits+=("$(jget "$json" docs_per_s)")
		limit_mbs+=("$(jget "$json" mb_per_s)")
		out="$WORK/dump-$jobs-$r"
		rm -rf "$WORK/dump"
		timed "$out" tool_dump "$SRC_URI" "$DUMP_DB" "$DUMP_COLL" "$WORK/dump" "$jobs"
		secs="$(cat "$out.secs")"
		secs_all+=("$secs")
		bytes="$(stat -c %s "$WORK/dump/$DUMP_DB/$DUMP_COLL.bson")"
		runs+=("$(calc "$n / $secs")")
		mbs+=("$(calc "$bytes / 1e6 / $secs")")
		ratios+=("$(calc "${runs[-1]} / ${limits[-1]}")")
		rss+=("$(rss_mib "$out.rss")")
	done
	DUMP_SECS="$(median "${secs_all[@]}")"
	local fig lim ratio peak
	fig="$(printf '%.0f docs/s, %.1f MB/s' "$(median "${runs[@]}")" "$(median "${mbs[@]}")")"
	lim="$(printf '%.0f docs/s, %.1f MB/s' "$(median "${limits[@]}")" \
		"$(median "${limit_mbs[@]}")")"
	ratio="$(printf '%.2f' "$(median "${ratios[@]}")")"
	peak="$(max "${rss[@]}")"
	row "dump --jobs $jobs ($n x ${DOC_SIZE} B)" "$fig" "$jobs bare cursor(s): $lim" "$ratio" \
		"$peak" "$(goals "$ratio" "$peak")"
}

# dump_resume N: a one-cursor dump killed (-9) once its partition file
# holds DUMP_KILL_AT of the bytes, then run again to its end; total wall
# time over DUMP_SECS (the uninterrupted dump's, same server). One row.
dump_resume() {
	local n="$1" r out t0 t1 child total full part totals=() ratios=() killed_at=() rss=()
	full="$(stat -c %s "$WORK/dump/$DUMP_DB/$DUMP_COLL.bson")"
	part="$WORK/resume/.$DUMP_DB.$DUMP_COLL.partial/$DUMP_DB/$DUMP_COLL.part-0.bson"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		say "dump killed at $DUMP_KILL_AT and continued: run $r/$BENCH_RUNS"
		out="$WORK/resume-$r"
		rm -rf "$WORK/resume"
		t0="$(now_s)"
		bg_timed "$out-killed" tool_dump "$SRC_URI" "$DUMP_DB" "$DUMP_COLL" "$WORK/resume"
		# time -> timeout -> dump-wrap: kill the tool itself, as a crash would
		until child="$(pgrep -P "$(pgrep -P "$BG_PID")")"; do
			kill -0 "$BG_PID" 2>/dev/null || die "the dump to kill ended first"
			sleep 0.01
		done
		# One watcher polling the file size: a loop of stat(1) processes
		# would take the 2 cores from the dump it measures.
		"$PY" - "$part" "$(calc "int($full * $DUMP_KILL_AT)")" "$child" <<'EOF' ||
import os, signal, sys, time
path, size, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
while True:
    try:
        if os.stat(path).st_size >= size:
            os.kill(pid, signal.SIGKILL)
            break
    except FileNotFoundError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    time.sleep(0.005)
EOF
			die "the dump to kill ended first"
		wait "$BG_PID" 2>/dev/null || true
		# what libmongoc's counters leave behind a kill -9
		rm -f "/dev/shm/mongoc-$child"
		forget "$BG_PID"
		t1="$(now_s)"
		timed "$out" tool_dump "$SRC_URI" "$DUMP_DB" "$DUMP_COLL" "$WORK/resume"
		grep -q "continuing the unfinished dump" "$out.err" || die "the rerun did not continue"
		cmp -s "$WORK/resume/$DUMP_DB/$DUMP_COLL.bson" "$WORK/dump/$DUMP_DB/$DUMP_COLL.bson" ||
			die "the continued dump differs from the uninterrupted one"
		total="$(calc "$t1 - $t0 + $(cat "$out.secs")")"
		totals+=("$total")
		killed_at+=("$(calc "$t1 - $t0")")
		ratios+=("$(calc "$total / $DUMP_SECS")")
		rss+=("$(rss_mib "$out.rss")")
	done
	local ratio peak goal=met
	ratio="$(printf '%.2f' "$(median "${ratios[@]}")")"
	peak="$(max "${rss[@]}")"
	if awk -v r="$ratio" -v g="$GOAL_RESUME" 'BEGIN { exit !(r > g) }'; then
		goal="missed: > ${GOAL_RESUME}x"
	fi
	row "dump killed at 50%, continued ($n x ${DOC_SIZE} B)" \
		"$(printf '%.2f s in all (killed after %.2f s)' "$(median "${totals[@]}")" \
			"$(median "${killed_at[@]}")")" \
		"$(printf 'uninterrupted dump: %.2f s' "$DUMP_SECS")" "$ratio" "$peak" \
		"$goal (ratio <= ${GOAL_RESUME})"
}

measure_dump() {
	local n jobs
	n="$(scaled "$DUMP_DOCS_FULL")"
	server_start SRC --oplog-max-entries 1000
	say "dump: loading $n documents of $DOC_SIZE bytes"
	"$DRIVERS/bench_load" "$SRC_URI" "$DUMP_DB" "$DUMP_COLL" "$n" "$DOC_SIZE" >/dev/null
	for jobs in $DUMP_JOBS; do
		dump_jobs "$n" "$jobs"
		if ((jobs == 1)); then
			dump_resume "$n"
		fi
	done
	server_stop SRC
}

# A dump to restore from: the one measure_dump left, or a fresh one.
ensure_dump() {
	local n
	n="$(scaled "$DUMP_DOCS_FULL")"
	[[ -s "$WORK/dump/$DUMP_DB/$DUMP_COLL.bson" ]] && return 0
	server_start SRC --oplog-max-entries 1000
	say "restore: loading and dumping $n documents first"
	"$DRIVERS/bench_load" "$SRC_URI" "$DUMP_DB" "$DUMP_COLL" "$n" "$DOC_SIZE" >/dev/null
	timed "$WORK/dump-setup" tool_dump "$SRC_URI" "$DUMP_DB" "$DUMP_COLL" "$WORK/dump"
	server_stop SRC
}

measure_restore() {
	local n jobs r out json secs file
	ensure_dump
	file="$WORK/dump/$DUMP_DB/$DUMP_COLL.bson"
	server_start TGT --oplog-max-entries 1000
	for jobs in $RESTORE_JOBS; do
		local runs=() limits=() ratios=() rss=()
		for ((r = 1; r <= BENCH_RUNS; r++)); do
			say "restore --jobs $jobs: run $r/$BENCH_RUNS"
			drop_db "$TGT_URI" "$DUMP_DB"
			json="$("$DRIVERS/limit_insert" "$TGT_URI" "$DUMP_DB" "$DUMP_COLL" "$file" \
				"$RESTORE_BATCH" "$jobs")"
			limits+=("$(jget "$json" docs_per_s)")
			n="$(jget "$json" docs)"
			drop_db "$TGT_URI" "$DUMP_DB"
			out="$WORK/restore-$jobs-$r"
			timed "$out" tool_restore "$TGT_URI" "$DUMP_DB" "$DUMP_COLL" "$WORK/dump" "$jobs"
			secs="$(cat "$out.secs")"
			runs+=("$(calc "$n / $secs")")
			ratios+=("$(calc "${runs[-1]} / ${limits[-1]}")")
			rss+=("$(rss_mib "$out.rss")")
		done
		drop_db "$TGT_URI" "$DUMP_DB"
		local ratio peak
		ratio="$(printf '%.2f' "$(median "${ratios[@]}")")"
		peak="$(max "${rss[@]}")"
		row "restore --jobs $jobs" "$(printf '%.0f docs/s' "$(median "${runs[@]}")")" \
			"$(printf 'insert_many x%s, %s thread(s): %.0f docs/s' "$RESTORE_BATCH" "$jobs" \
				"$(median "${limits[@]}")")" \
			"$ratio" "$peak" "$(goals "$ratio" "$peak")"
	done
	server_stop TGT
}

measure_capture() {
	local n r db out json wjson first last state writer_end lag
	local runs=() limits=() ratios=() rss=() lags=() writer_rates=()
	n="$(scaled "$EVENTS_FULL")"
	server_start SRC --oplog-max-entries $((n * 3 + 10000))
	server_start TGT --oplog-max-entries 1000
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		db="cap$r"
		say "capture: run $r/$BENCH_RUNS (limit)"
		rm -f "$WORK/ready"
		# fullDocument "default", as cdc-capture asks by default.
		"$DRIVERS/limit_stream" "$SRC_URI" "$db" lim "$n" "$WORK/ready" default \
			>"$WORK/limit-stream.out" &
		local lpid=$!
		PIDS+=("$lpid")
		while [[ ! -e "$WORK/ready" ]]; do
			kill -0 "$lpid" 2>/dev/null || die "limit_stream exited early"
			sleep 0.05
		done
		wjson="$("$DRIVERS/rate_writer" "$SRC_URI" "$db" lim "$n" 0 "$EVENT_DOC_SIZE")"
		writer_rates+=("$(jget "$wjson" ops_per_s)")
		wait "$lpid" || die "limit_stream failed"
		forget "$lpid"
		limits+=("$(jget "$(cat "$WORK/limit-stream.out")" events_per_s)")

		say "capture: run $r/$BENCH_RUNS (cdc-capture)"
		state="$WORK/state-cap$r"
		mkdir -p "$state"
		out="$WORK/capture-$r"
		create_coll "$SRC_URI" "$db" events
		timed "$out-probe" tool_probe "$SRC_URI" "$db" events "$state"
		bg_timed "$out" tool_capture "$SRC_URI" "$TGT_URI" "$db" events "$state"
		local cpid="$BG_PID"
		# Write only once capture follows the stream, as the limit does:
		# else its first events would be a backlog read faster than live.
		wait_log "$out.err" '"capturing ' 30 || die "cdc-capture did not start"
		wjson="$("$DRIVERS/rate_writer" "$SRC_URI" "$db" events "$n" 0 "$EVENT_DOC_SIZE")"
		writer_rates+=("$(jget "$wjson" ops_per_s)")
		writer_end="$(jget "$wjson" end_wall_ms)"
		json="$("$DRIVERS/capture_wait" "$TGT_URI" "$db" cdc "$db.events" "$n" 900)" ||
			{ tail -n 20 "$out.err" >&2; die "cdc-capture did not stage $n events"; }
		bg_stop "$cpid"
		first="$(jget "$json" first_staged_ms)"
		last="$(jget "$json" last_staged_ms)"
		runs+=("$(jget "$json" events_per_s)")
		lag="$(calc "($last - $writer_end) / 1000")"
		lags+=("$(awk -v l="$lag" 'BEGIN { print (l < 0 ? 0 : l) }')")
		ratios+=("$(calc "${runs[-1]} / ${limits[-1]}")")
		rss+=("$(rss_mib "$out.rss")")
		say "capture: staged first..last $first..$last ms, writer ended $writer_end"
		drop_db "$SRC_URI" "$db"
		drop_db "$TGT_URI" "$db"
	done
	server_stop SRC
	server_stop TGT
	local ratio peak fig
	ratio="$(printf '%.2f' "$(median "${ratios[@]}")")"
	peak="$(max "${rss[@]}")"
	fig="$(printf '%.0f events/s, lag at end %.2f s' "$(median "${runs[@]}")" \
		"$(median "${lags[@]}")")"
	row "capture ($n events)" "$fig" \
		"$(printf 'bare change stream: %.0f events/s (the writer: %.0f ops/s)' \
			"$(median "${limits[@]}")" "$(median "${writer_rates[@]}")")" \
		"$ratio" "$peak" "$(goals "$ratio" "$peak" "$(median "${runs[@]}")")"
}

# The same 20-collection workload captured by one database stream and by
# 20 per-collection captures: staged events/s over all collections and the
# source server's CPU (utime+stime of mongod-lite, /proc) while they run.
DBMODE_COLLS=20

# proc_cpu_s PID: the user+system CPU seconds PID used so far.
proc_cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' \
		"/proc/$1/stat"
}

# dbmode_write DB PER_COLL: every collection's writes at once; waits.
dbmode_write() {
	local i pids=()
	for ((i = 0; i < DBMODE_COLLS; i++)); do
		"$DRIVERS/rate_writer" "$SRC_URI" "$1" "c$i" "$2" 0 "$EVENT_DOC_SIZE" >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || die "rate_writer failed"; done
}

# dbmode_staged DB PER_COLL: "events/s" over every collection's first to
# last stagedAt.
dbmode_staged() {
	local i json first="" last="" f l
	for ((i = 0; i < DBMODE_COLLS; i++)); do
		json="$("$DRIVERS/capture_wait" "$TGT_URI" "$1" cdc "$1.c$i" "$2" 900)" ||
			die "capture did not stage $2 events of $1.c$i"
		f="$(jget "$json" first_staged_ms)" l="$(jget "$json" last_staged_ms)"
		[[ -n "$first" ]] && ((f >= first)) || first="$f"
		[[ -n "$last" ]] && ((l <= last)) || last="$l"
	done
	calc "$DBMODE_COLLS * $2 * 1000 / ($last - $first)"
}

measure_dbmode() {
	local n per db state out cpu0 i rate_db rate_coll cpu_db cpu_coll rss_db pids=()
	n="$(scaled "$EVENTS_FULL")"
	per=$((n / DBMODE_COLLS))
	server_start SRC --oplog-max-entries $((n * 3 + 10000))
	server_start TGT --oplog-max-entries 1000
	db=dbm1 state="$WORK/state-dbm1" out="$WORK/dbmode-db"
	mkdir -p "$state"
	for ((i = 0; i < DBMODE_COLLS; i++)); do create_coll "$SRC_URI" "$db" "c$i"; done
	say "dbmode: one database stream, $DBMODE_COLLS collections, $n events"
	export SOURCE_URI="$SRC_URI" TARGET_URI="$TGT_URI"
	"$CSM_BIN/token-probe" --db "$db" --all-colls --method now --state-dir "$state" \
		2>"$out-probe.err" || die "token-probe --all-colls failed"
	(exec "$TIME" -f '%M' -o "$out.rss" "$CSM_BIN/cdc-capture" --db "$db" --all-colls \
		--state-dir "$state" --log-format json >"$out.out" 2>"$out.err") &
	local cpid=$!
	PIDS+=("$cpid")
	wait_log "$out.err" '"capturing ' 30 || die "cdc-capture --all-colls did not start"
	cpu0="$(proc_cpu_s "$SRC_PID")"
	dbmode_write "$db" "$per"
	rate_db="$(dbmode_staged "$db" "$per")"
	cpu_db="$(calc "$(proc_cpu_s "$SRC_PID") - $cpu0")"
	bg_stop "$cpid"
	rss_db="$(rss_mib "$out.rss")"

	db=dbm2 state="$WORK/state-dbm2"
	mkdir -p "$state"
	say "dbmode: $DBMODE_COLLS per-collection captures, $n events"
	for ((i = 0; i < DBMODE_COLLS; i++)); do
		create_coll "$SRC_URI" "$db" "c$i"
		"$CSM_BIN/token-probe" --db "$db" --coll "c$i" --method now --state-dir "$state" \
			2>>"$WORK/dbmode-coll-probe.err" || die "token-probe failed"
		"$CSM_BIN/cdc-capture" --db "$db" --coll "c$i" --state-dir "$state" \
			--log-format json >/dev/null 2>"$WORK/dbmode-coll-$i.err" &
		pids+=($!)
		PIDS+=("${pids[-1]}")
	done
	for ((i = 0; i < DBMODE_COLLS; i++)); do
		wait_log "$WORK/dbmode-coll-$i.err" '"capturing ' 30 || die "cdc-capture c$i did not start"
	done
	cpu0="$(proc_cpu_s "$SRC_PID")"
	dbmode_write "$db" "$per"
	rate_coll="$(dbmode_staged "$db" "$per")"
	cpu_coll="$(calc "$(proc_cpu_s "$SRC_PID") - $cpu0")"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for i in "${pids[@]}"; do wait "$i" 2>/dev/null || true; forget "$i"; done
	server_stop SRC
	server_stop TGT
	row "database stream ($DBMODE_COLLS colls, $n events)" \
		"$(printf '%.0f events/s, source CPU %.2f s' "$rate_db" "$cpu_db")" \
		"$(printf '%d per-collection captures: %.0f events/s, source CPU %.2f s' \
			"$DBMODE_COLLS" "$rate_coll" "$cpu_coll")" \
		"$(printf '%.2f' "$(calc "$rate_db / $rate_coll")")" "$rss_db" \
		"$(goals - "$rss_db")"
}

# sync --all's choice: one cdc-replay per collection, all at once, against
# one cdc-replay (--workers 4) draining the same events of one collection.
measure_dbreplay() {
	local n per db i t0 secs_all secs_one rss_sum=0 pids=() one
	n="$(scaled "$EVENTS_FULL")"
	per=$((n / DBMODE_COLLS))
	server_start TGT --oplog-max-entries 1000
	db=dbr
	for ((i = 0; i < DBMODE_COLLS; i++)); do
		"$DRIVERS/stage_events" "$TGT_URI" "$db" "$db.c$i" "$per" "$EVENT_DOC_SIZE" >/dev/null
	done
	say "dbreplay: $DBMODE_COLLS cdc-replay processes, $n events"
	t0="$(now_s)"
	for ((i = 0; i < DBMODE_COLLS; i++)); do
		(run_tool "$WORK/dbreplay-$i" tool_replay "$TGT_URI" "$db" "c$i" 1 --drain) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || die "a cdc-replay --drain failed"; done
	secs_all="$(calc "$(now_s) - $t0")"
	for ((i = 0; i < DBMODE_COLLS; i++)); do
		rss_sum="$(calc "$rss_sum + $(rss_mib "$WORK/dbreplay-$i.rss")")"
	done
	drop_db "$TGT_URI" "$db"
	say "dbreplay: one cdc-replay --workers 4, $n events of one collection"
	"$DRIVERS/stage_events" "$TGT_URI" "$db" "$db.one" "$n" "$EVENT_DOC_SIZE" >/dev/null
	one="$WORK/dbreplay-one"
	timed "$one" tool_replay "$TGT_URI" "$db" one 4 --drain
	secs_one="$(cat "$one.secs")"
	server_stop TGT
	row "sync --all replay ($DBMODE_COLLS processes, $n events)" \
		"$(printf '%.0f events/s, RSS %.1f MiB in all' "$(calc "$n / $secs_all")" "$rss_sum")" \
		"$(printf 'one cdc-replay --workers 4 over one collection: %.0f events/s, RSS %s MiB' \
			"$(calc "$n / $secs_one")" "$(rss_mib "$one.rss")")" \
		"$(printf '%.2f' "$(calc "$secs_one / $secs_all")")" "$rss_sum" "-"
}

measure_replay() {
	local n workers r db out json secs
	n="$(scaled "$EVENTS_FULL")"
	server_start TGT --oplog-max-entries 1000
	for workers in $REPLAY_WORKERS; do
		local runs=() limits=() ratios=() rss=() staged=() staged_ratios=()
		for ((r = 1; r <= BENCH_RUNS; r++)); do
			db="rep${workers}_$r"
			say "replay --workers $workers: run $r/$BENCH_RUNS"
			"$DRIVERS/stage_events" "$TGT_URI" "$db" "$db.events" "$n" "$EVENT_DOC_SIZE" \
				>/dev/null
			json="$("$DRIVERS/limit_bulk" "$TGT_URI" "$db" cdc "$db.events" lim \
				"$REPLAY_BATCH")"
			limits+=("$(jget "$json" events_per_s)")
			if ((workers == 1)); then
				# The limit as it was before replay arranged its writes.
				json="$("$DRIVERS/limit_bulk" "$TGT_URI" "$db" cdc "$db.events" \
					lim_staged "$REPLAY_BATCH" staged-order)"
				staged+=("$(jget "$json" events_per_s)")
			fi
			out="$WORK/replay-$workers-$r"
			timed "$out" tool_replay "$TGT_URI" "$db" events "$workers" --drain
			secs="$(cat "$out.secs")"
			runs+=("$(calc "$n / $secs")")
			ratios+=("$(calc "${runs[-1]} / ${limits[-1]}")")
			((workers != 1)) || staged_ratios+=("$(calc "${runs[-1]} / ${staged[-1]}")")
			rss+=("$(rss_mib "$out.rss")")
			drop_db "$TGT_URI" "$db"
		done
		local ratio peak med
		med="$(median "${runs[@]}")"
		ratio="$(printf '%.2f' "$(median "${ratios[@]}")")"
		peak="$(max "${rss[@]}")"
		row "replay --workers $workers" "$(printf '%.0f events/s' "$med")" \
			"$(printf 'replay writes x%s, unmarked: %.0f events/s' "$REPLAY_BATCH" \
				"$(median "${limits[@]}")")" \
			"$ratio" "$peak" "$(goals "$ratio" "$peak" "$med")"
		((workers == 1)) || continue
		ratio="$(printf '%.2f' "$(median "${staged_ratios[@]}")")"
		row "replay --workers 1, against the staged order" "$(printf '%.0f events/s' "$med")" \
			"$(printf 'the same writes in staged order x%s, unmarked: %.0f events/s' \
				"$REPLAY_BATCH" "$(median "${staged[@]}")")" \
			"$ratio" "$peak" "$(goals "$ratio" "$peak" "$med")"
	done
	server_stop TGT
}

# staging_reader URI DB STOPFILE OUT: reads the oldest 1000 pending events of
# DB.cdc sorted by seq (replay's staging read), back to back, until STOPFILE
# exists; writes "ready" to OUT.ready after its first read, then "reads
# p90_ms" to OUT.
staging_reader() {
	"$PY" - "$@" <<'PYEOF'
import os, sys, time
import pymongo
uri, db, stop, out = sys.argv[1:5]
coll = pymongo.MongoClient(uri)[db].cdc
took = []
while not os.path.exists(stop):
    t = time.monotonic()
    list(coll.find({"ns": "rdr.events", "status": "pending"}).sort("seq", 1).limit(1000))
    took.append(time.monotonic() - t)
    if len(took) == 1:
        open(out + ".ready", "w").write("ready\n")
took.sort()
p90 = took[int(len(took) * 0.9)] * 1000 if took else 0
open(out, "w").write("%d %.1f\n" % (len(took), p90))
PYEOF
}

# replay-reader: the replay limit (limit_bulk) beside a staging reader of
# another database, as cdc-replay's reader thread runs beside its writes,
# against limit_bulk alone: how much the server lets a reader of one
# collection and the writes to another overlap.
measure_replay_reader() {
	local n r db json reader_pid stop
	n="$(scaled "$EVENTS_FULL")"
	server_start TGT --oplog-max-entries 1000
	"$DRIVERS/stage_events" "$TGT_URI" rdr rdr.events 20000 "$EVENT_DOC_SIZE" >/dev/null
	local alone=() beside=() ratios=() reads=() p90s=()
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		say "replay limit alone and beside a staging reader: run $r/$BENCH_RUNS"
		db="rdra_$r"
		"$DRIVERS/stage_events" "$TGT_URI" "$db" "$db.events" "$n" "$EVENT_DOC_SIZE" >/dev/null
		json="$("$DRIVERS/limit_bulk" "$TGT_URI" "$db" cdc "$db.events" lim "$REPLAY_BATCH")"
		alone+=("$(jget "$json" events_per_s)")
		drop_db "$TGT_URI" "$db"
		db="rdrb_$r"
		"$DRIVERS/stage_events" "$TGT_URI" "$db" "$db.events" "$n" "$EVENT_DOC_SIZE" >/dev/null
		stop="$WORK/reader-stop-$r"
		staging_reader "$TGT_URI" rdr "$stop" "$WORK/reader-$r" &
		reader_pid=$!
		PIDS+=("$reader_pid")
		wait_log "$WORK/reader-$r.ready" ready 60 || die "the staging reader did not start"
		json="$("$DRIVERS/limit_bulk" "$TGT_URI" "$db" cdc "$db.events" lim "$REPLAY_BATCH")"
		: >"$stop"
		wait "$reader_pid" || die "the staging reader failed"
		forget "$reader_pid"
		beside+=("$(jget "$json" events_per_s)")
		ratios+=("$(calc "${beside[-1]} / ${alone[-1]}")")
		read -r n_reads p90 <"$WORK/reader-$r"
		reads+=("$n_reads")
		p90s+=("$p90")
		drop_db "$TGT_URI" "$db"
	done
	row "replay limit beside a staging reader" \
		"$(printf '%.0f events/s; reader p90 %s ms, %s reads' "$(median "${beside[@]}")" \
			"$(median "${p90s[@]}")" "$(median "${reads[@]}")")" \
		"$(printf 'replay writes x%s, unmarked, alone: %.0f events/s' "$REPLAY_BATCH" \
			"$(median "${alone[@]}")")" \
		"$(printf '%.2f' "$(median "${ratios[@]}")")" "-" "-"
	server_stop TGT
}

# replay-txn: the same events staged as source transactions (each applied
# in one target transaction with its mark) and without (bulk writes); the
# limit is the run without.
measure_replay_txn() {
	local txns n r mode db out secs
	txns="$(scaled "$TXN_COUNT_FULL")"
	n=$((txns * TXN_OPS))
	server_start TGT --oplog-max-entries 1000
	local runs=() limits=() ratios=() rss=()
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for mode in plain txn; do
			db="txn${mode}_$r"
			say "replay of $txns source transactions ($mode): run $r/$BENCH_RUNS"
			PYTHONPATH="$REPO_ROOT/test/py" "$PY" "$REPO_ROOT/test/py/e2e_txn.py" stage-txns \
				"$TGT_URI" "$db" events "$txns" "$TXN_OPS" "$mode" 86400
			out="$WORK/replay-txn-$mode-$r"
			timed "$out" tool_replay "$TGT_URI" "$db" events 1 --drain
			secs="$(cat "$out.secs")"
			if [[ "$mode" == plain ]]; then
				limits+=("$(calc "$n / $secs")")
			else
				runs+=("$(calc "$n / $secs")")
				rss+=("$(rss_mib "$out.rss")")
			fi
			drop_db "$TGT_URI" "$db"
		done
		ratios+=("$(calc "${runs[-1]} / ${limits[-1]}")")
	done
	local med
	med="$(median "${runs[@]}")"
	row "replay, $txns source transactions of $TXN_OPS events" \
		"$(printf '%.0f events/s' "$med")" \
		"$(printf 'the same events without transactions: %.0f events/s' \
			"$(median "${limits[@]}")")" \
		"$(printf '%.2f' "$(median "${ratios[@]}")")" "$(max "${rss[@]}")" "-"
	server_stop TGT
}

# lag_samples LOG OUT: "seconds-since-first-line lag" pairs from cdc-replay's
# JSON status lines: lagSeconds at ts (docs/DESIGN.md, "Logs and status
# lines"). The "finished" line written at exit is not a sample.
lag_samples() {
	"$PY" - "$1" "$2" <<'EOF'
import datetime, json, sys
rows = []
for line in open(sys.argv[1], errors="replace"):
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        obj = json.loads(line)
    except ValueError:
        continue
    lag = obj.get("lagSeconds")
    if obj.get("msg") == "finished" or not isinstance(lag, (int, float)):
        continue
    when = datetime.datetime.fromisoformat(obj["ts"].replace("Z", "+00:00")).timestamp()
    rows.append((when, float(lag)))
if not rows:
    sys.exit("no status line with a lag in " + sys.argv[1])
t0 = rows[0][0]
with open(sys.argv[2], "w") as out:
    for when, lag in rows:
        out.write("%.3f %.3f\n" % (when - t0, lag))
EOF
}

measure_e2e() {
	local preload follow db=e2e state out wjson
	preload="$(scaled "$E2E_PRELOAD_FULL")"
	follow="$(scaled "$E2E_FOLLOW_FULL" 20)"
	server_start SRC --oplog-max-entries 2000000
	server_start TGT --oplog-max-entries 1000
	state="$WORK/state-e2e"
	out="$WORK/e2e"
	mkdir -p "$state"
	say "e2e: preloading $preload documents, then writing $E2E_RATE ops/s throughout"
	"$DRIVERS/bench_load" "$SRC_URI" "$db" events "$preload" "$DOC_SIZE" >/dev/null
	"$DRIVERS/rate_writer" "$SRC_URI" "$db" events 0 "$E2E_RATE" "$EVENT_DOC_SIZE" 1000000000 \
		>"$out-writer.out" 2>"$out-writer.err" &
	local wpid=$!
	PIDS+=("$wpid")
	timed "$out-probe" tool_probe "$SRC_URI" "$db" events "$state"
	bg_timed "$out-capture" tool_capture "$SRC_URI" "$TGT_URI" "$db" events "$state"
	local cpid="$BG_PID"
	timed "$out-dump" tool_dump "$SRC_URI" "$db" events "$WORK/e2e-dump"
	# As sync_migration.sh runs it (--jobs 4 is dump-wrap's default).
	timed "$out-restore" tool_restore "$TGT_URI" "$db" events "$WORK/e2e-dump" 4 \
		--once --defer-constraints
	say "e2e: dump $(cat "$out-dump.secs") s, restore $(cat "$out-restore.secs") s;" \
		"replay follows for $follow s"
	bg_timed "$out-replay" tool_replay "$TGT_URI" "$db" events 1 --status-interval 1
	local rpid="$BG_PID" t_end
	t_end=$((SECONDS + follow))
	while ((SECONDS < t_end)); do
		kill -0 "$rpid" 2>/dev/null || { tail -n 20 "$out-replay.err" >&2; die "cdc-replay exited"; }
		kill -0 "$wpid" 2>/dev/null || die "the writer exited"
		sleep 1
	done
	kill -TERM "$wpid"
	wait "$wpid" || true
	forget "$wpid"
	wjson="$(cat "$out-writer.out")"
	bg_stop "$rpid"
	bg_stop "$cpid"
	server_stop SRC
	server_stop TGT
	lag_samples "$out-replay.err" "$WORK/lag.dat"
	# Steady state: the second half of the following window (the first
	# half holds the catch-up of what was written during dump and restore).
	local stats p50 p99 peak
	stats="$(awk '{ t[NR] = $1; l[NR] = $2 } END { for (i = 1; i <= NR; i++)
		if (t[i] >= t[NR] / 2) print l[i] }' "$WORK/lag.dat" | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan nan"; exit }
			i50 = int(0.50 * NR + 0.999); i99 = int(0.99 * NR + 0.999);
			if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1; print a[i50], a[i99] }')"
	read -r p50 p99 <<<"$stats"
	local steady
	steady="$(awk 'END { print $1 / 2 }' "$WORK/lag.dat")"
	gnuplot -e "datafile='$WORK/lag.dat'; outfile='$BENCH_PLOT'; rate=$E2E_RATE; steady=$steady" \
		"$BENCH_DIR/lag.gnuplot"
	peak="$(max "$(rss_mib "$out-capture.rss")" "$(rss_mib "$out-replay.rss")")"
	row "end to end ($E2E_RATE ops/s)" \
		"$(printf 'replay lag p50 %s s, p99 %s s' "$p50" "$p99")" \
		"$(printf 'writer achieved %s ops/s' "$(jget "$wjson" ops_per_s)")" "-" "$peak" \
		"$(goals - "$peak") (RSS: capture $(rss_mib "$out-capture.rss"), replay $(rss_mib "$out-replay.rss"))"
}

# measure_staging: capture and replay --purge-applied follow a source
# written at E2E_RATE for ten times the e2e window; the staging
# collection's size, sampled throughout, must stay flat (lag x rate plus
# the purge age's worth), not grow with the run.
measure_staging() {
	local follow db=stg state out wjson t_end samples
	follow="$(scaled "$STAGING_FOLLOW_FULL" 60)"
	server_start SRC --oplog-max-entries 2000000
	server_start TGT --oplog-max-entries 1000
	state="$WORK/state-staging"
	out="$WORK/staging"
	samples="$WORK/staging.dat"
	mkdir -p "$state"
	"$DRIVERS/bench_load" "$SRC_URI" "$db" events 1000 "$EVENT_DOC_SIZE" >/dev/null
	timed "$out-probe" tool_probe "$SRC_URI" "$db" events "$state"
	bg_timed "$out-capture" tool_capture "$SRC_URI" "$TGT_URI" "$db" events "$state"
	local cpid="$BG_PID"
	bg_timed "$out-replay" tool_replay "$TGT_URI" "$db" events 1 --status-interval 10 \
		--purge-applied "$STAGING_PURGE_AGE"
	local rpid="$BG_PID"
	"$DRIVERS/rate_writer" "$SRC_URI" "$db" events 0 "$E2E_RATE" "$EVENT_DOC_SIZE" 1000000000 \
		>"$out-writer.out" 2>"$out-writer.err" &
	local wpid=$!
	PIDS+=("$wpid")
	say "staging: $E2E_RATE ops/s for $follow s, --purge-applied $STAGING_PURGE_AGE"
	t_end=$((SECONDS + follow))
	: >"$samples"
	while ((SECONDS < t_end)); do
		kill -0 "$rpid" 2>/dev/null || { tail -n 20 "$out-replay.err" >&2; die "cdc-replay exited"; }
		kill -0 "$cpid" 2>/dev/null || { tail -n 20 "$out-capture.err" >&2; die "cdc-capture exited"; }
		"$PY" -c 'import sys, pymongo
c = pymongo.MongoClient(sys.argv[1])
print(sys.argv[2], c.stg.cdc.estimated_document_count())' "$TGT_URI" "$SECONDS" >>"$samples"
		sleep "$STAGING_SAMPLE_S"
	done
	kill -TERM "$wpid"
	wait "$wpid" || true
	forget "$wpid"
	wjson="$(cat "$out-writer.out")"
	bg_stop "$rpid"
	bg_stop "$cpid"
	server_stop SRC
	server_stop TGT
	# Flat: the last third's largest sample against the middle third's.
	local stats
	stats="$(awk '{ n[NR] = $2 } END { a = int(NR / 3); for (i = a + 1; i <= NR; i++) {
		if (i <= 2 * a) { if (n[i] > m) m = n[i] } else if (n[i] > l) l = n[i] }
		printf "%d %d %.2f", m, l, (m > 0 ? l / m : 0) }' "$samples")"
	local mid last ratio
	read -r mid last ratio <<<"$stats"
	row "staging, --purge-applied $STAGING_PURGE_AGE ($follow s)" \
		"$(printf 'staged docs: max %s (middle third), %s (last third)' "$mid" "$last")" \
		"$(printf 'writer achieved %s ops/s' "$(jget "$wjson" ops_per_s)")" "$ratio" \
		"$(rss_mib "$out-replay.rss")" "flat when the ratio stays near 1 (it grows with the run without purging)"
}

# --------------------------------------------------------------- results

write_results() {
	local model cores mem
	model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	cores="$(nproc)"
	mem="$(free -m | awk '/^Mem:/ { print $2 " MiB total, " $7 " MiB available" }')"
	{
		echo "# Benchmark results"
		echo
		echo "Written by \`bench/run.sh\` (\`make bench\`) on $(date -u '+%Y-%m-%d %H:%M UTC')."
		echo
		echo "- Machine: ${model:-unknown CPU}, $cores cores (nproc), $mem; $(uname -sr);"
		echo "  load average when the run began: $LOAD_AT_START."
		echo "- Tree: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
			[[ -n "$(git -C "$REPO_ROOT" status --porcelain -- lib tools test/mongod-lite 2>/dev/null)" ]] &&
				echo " with uncommitted changes in lib/, tools/ or test/mongod-lite/")."
		echo "- Server: mongod-lite \`--sync-policy none\` on loopback, a fresh one per measure."
		echo "- Scale: BENCH_SCALE=$BENCH_SCALE of the full sizes; median of $BENCH_RUNS runs;"
		echo "  ratio = median over runs of (figure / limit measured in the same run)."
		echo "- Peak RSS: the tool's, \`/usr/bin/time -f %M\`, the largest over the runs."
		echo "- Goals (recorded, not asserted): ratio >= $GOAL_RATIO, capture and replay"
		echo "  >= $GOAL_EVENTS events/s, RSS < $GOAL_RSS_MIB MiB."
		echo
		echo "| measure | figure | limit (same run, same server) | ratio | peak RSS MiB | goals |"
		echo "| --- | --- | --- | --- | --- | --- |"
		awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' \
			"$WORK/rows.tsv"
		echo
		echo "## How each figure is taken"
		echo
		echo "- dump: \`dump-wrap dump --engine native --jobs N\`, documents over wall time"
		echo "  (process start included); limit: \`limit_cursor\` with N cursors, the same"
		echo "  finds (the same _id partitions, sorted and hinted on _id with min/max, as"
		echo "  the native engine asks) read and discarded, from the split to the last end."
		echo "- dump killed at 50%: \`--jobs 1\` killed with SIGKILL once its partition file"
		echo "  holds half the bytes, then the same command again (it continues from its"
		echo "  checkpoint); ratio = (time to the kill + the rerun) / the uninterrupted"
		echo "  \`--jobs 1\` dump's median time (lower is better; goal <= $GOAL_RESUME)."
		echo "- restore: \`dump-wrap restore --jobs N\` into an empty database; limit:"
		echo "  \`limit_insert\`, unordered insert_many of $RESTORE_BATCH from the mapped .bson"
		echo "  file, N threads, no client-side validation (as restore)."
		echo "- capture: \`rate_writer\` bulk-writes the events (50% insert / 30% update /"
		echo "  20% delete, $EVENT_DOC_SIZE-byte documents) once cdc-capture follows the stream;"
		echo "  rate = events over stagedAt(first)..stagedAt(last); lag at end ="
		echo "  stagedAt(last) - the writer's last reply. Limit: \`limit_stream\`, a change"
		echo "  stream with cdc-capture's batch size and fullDocument, open before the"
		echo "  same writes, first to last event received. Both are bounded by the writer."
		echo "- replay: \`stage_events\` stages the same mix; \`cdc-replay --drain\` wall time;"
		echo "  limit: \`limit_bulk\`, one sorted cursor over the pending events and the"
		echo "  writes cdc-replay sends with one worker (docs/DESIGN.md, \"Replay rules\"):"
		echo "  per $REPLAY_BATCH events one ordered bulk arranged by document into the"
		echo "  fewest write commands, no marking done. Every event of the mix takes the"
		echo "  operator fast path: none needs an exact pipeline write or a target read."
		echo "  \"against the staged order\": the same run's replay against \`limit_bulk"
		echo "  ... staged-order\`, the same writes in each batch's staged order (the"
		echo "  limit before cdc-replay arranged its writes: libmongoc splits such a bulk"
		echo "  into a command wherever an update follows a delete or the reverse)."
		echo "- replay, source transactions: \`test/py/e2e_txn.py stage-txns\` stages"
		echo "  transactions of $TXN_OPS events (an insert, then updates), once with their"
		echo "  lsid/txnNumber (cdc-replay applies each in one target transaction with"
		echo "  its mark) and once without (the limit: ordinary batches); \`cdc-replay"
		echo "  --drain\` wall time for each."
		echo "- replay limit beside a staging reader: \`limit_bulk\` while a pymongo loop"
		echo "  reads the oldest 1000 pending events of another database's staging"
		echo "  collection (sorted by seq, as cdc-replay's reader), back to back; limit:"
		echo "  \`limit_bulk\` alone on the same server; the reader's p90 read time and"
		echo "  how many reads it made during the writes."
		echo "- end to end: \`rate_writer\` at $E2E_RATE ops/s throughout token-probe, cdc-capture,"
		echo "  dump, restore (\`--once --defer-constraints\`, as sync_migration.sh) and"
		echo "  cdc-replay, run as the drivers run them; lag from cdc-replay's JSON status"
		echo "  lines (\`--status-interval 1\`); steady state = the second half of the"
		echo "  replay window (the first half catches up on what was written during the"
		echo "  copy); plot: \`lag.png\`."
		echo "- database stream: the capture workload (rate_writer, as fast as the server"
		echo "  takes it) on $DBMODE_COLLS collections at once, staged by one \`cdc-capture"
		echo "  --all-colls\`; limit: the same writes staged by $DBMODE_COLLS \`cdc-capture --coll\`."
		echo "  events/s over every collection's first to last stagedAt; source CPU ="
		echo "  utime+stime of the source mongod-lite (/proc) from the first write until"
		echo "  every event is staged (the writes themselves included, the same in both);"
		echo "  ratio = database stream / per-collection events/s; RSS: the one capture."
		echo "- sync --all replay: $DBMODE_COLLS collections of staged events (\`stage_events\`)"
		echo "  drained by $DBMODE_COLLS \`cdc-replay --drain\` at once (as sync_migration.sh --all"
		echo "  runs them); limit: one \`cdc-replay --drain --workers 4\` over the same number"
		echo "  of events in one collection, the ceiling of a single process; ratio = its"
		echo "  wall time / theirs; RSS: the sum over the processes."
	} >"$BENCH_RESULTS"
}

# ------------------------------------------------------------------- main

main() {
	case "${1:-}" in
	-h | --help)
		usage
		return 0
		;;
	measure)
		# Internal: one measure in its own process, so a failing tool ends
		# only that measure and its servers go with it.
		WORK="$BENCH_WORK"
		trap cleanup EXIT
		"measure_$2"
		return 0
		;;
	"") ;;
	*)
		usage >&2
		return 64
		;;
	esac

	[[ -x "$MLITE" ]] || die "no mongod-lite at '$MLITE': run 'make bench'"
	local name
	for name in bench_load limit_cursor limit_insert limit_stream limit_bulk stage_events \
		rate_writer capture_wait; do
		[[ -x "$DRIVERS/$name" ]] || die "no driver '$DRIVERS/$name': run 'make bench'"
	done
	awk -v s="$BENCH_SCALE" 'BEGIN { exit !(s > 0 && s <= 1) }' ||
		die "BENCH_SCALE must be a fraction in (0, 1], got '$BENCH_SCALE'"
	[[ "$BENCH_RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"

	LOAD_AT_START="$(cut -d ' ' -f 1-3 /proc/loadavg)"
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/csm-bench.XXXXXX")"
	export BENCH_WORK="$WORK"
	if [[ -z "${BENCH_KEEP:-}" ]]; then
		trap 'rm -rf "$WORK"' EXIT
	else
		say "scratch directory: $WORK"
	fi
	: >"$WORK/rows.tsv"

	local measure failed=0
	IFS=',' read -r -a measures <<<"$BENCH_ONLY"
	for measure in "${measures[@]}"; do
		case "$measure" in
		dump | restore | capture | replay | e2e | dbmode | dbreplay | replay-txn | replay-reader | staging) ;;
		*) die "unknown measure '$measure' in BENCH_ONLY" ;;
		esac
		if ! bash "${BASH_SOURCE[0]}" measure "${measure//-/_}"; then
			row "$measure" "failed (see the messages above)" "-" "-" "-" "-"
			failed=1
		fi
		# After every measure, so a long run that is cut short still
		# leaves what it measured.
		write_results
	done
	say "wrote $BENCH_RESULTS"
	return "$failed"
}

main "$@"
