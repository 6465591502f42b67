#!/usr/bin/env bash
# Usage: test/demo.sh
#
# Summary: a whole migration on two local mongod-lite servers, in under a minute
#
# Starts a source and a target mongod-lite on free ports, loads 20,000
# documents into demo.orders, runs init_migration.sh while a background
# writer inserts, updates and deletes, stops the writes (the cutover), runs
# sync_migration.sh --drain --verify, prints the verification and cleans up.
# `make demo` runs it with CSM_BIN and CSM_BUILD set; without them it uses
# bin/ and build/ of the work tree. CSM_DEBUG=1 traces it.

set -euo pipefail

prog="${0##*/}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CSM_BIN="${CSM_BIN:-$repo/bin}"
CSM_BUILD="${CSM_BUILD:-$repo/build}"
PY=/usr/bin/python3
export PYTHONPATH="$repo/test/py${PYTHONPATH:+:$PYTHONPATH}"
DOCS=20000

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
	sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
	exit 0
fi
if [[ -n "${CSM_DEBUG:-}" ]]; then
	PS4='+ ${BASH_SOURCE##*/}:${LINENO}: '
	set -x
fi

[[ -x "$CSM_BUILD/mongod-lite" ]] || die "no $CSM_BUILD/mongod-lite: run make mongod-lite (or make demo)"
[[ -x "$CSM_BIN/cdc-capture" ]] || die "no programs in $CSM_BIN: run make (or make demo)"

work="$(mktemp -d "${TMPDIR:-/tmp}/csm-demo.XXXXXX")"
server_pids=()
writer_pid=""

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local status=$? pid
	set +e
	[[ -z "$writer_pid" ]] || kill "$writer_pid" 2>/dev/null
	if [[ -f "$work/state/demo.orders.capture.pid" ]]; then
		"$repo/init_migration.sh" --stop-capture --state-dir "$work/state" demo orders >/dev/null 2>&1
	fi
	for pid in "${server_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if ((status != 0)); then
		printf '\n%s: failed (status %s); server and capture logs:\n' "$prog" "$status" >&2
		tail -n 20 "$work"/*.log "$work"/state/*.log 2>/dev/null >&2
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold="" plain=""
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; fi
banner() {
	printf '\n%s==== %s ====%s\n' "$bold" "$*" "$plain"
}

# start_server NAME: mongod-lite on a free port; sets server_port.
start_server() {
	local name="$1" i
	"$CSM_BUILD/mongod-lite" --port 0 --port-file "$work/$name.port" >"$work/$name.log" 2>&1 &
	server_pids+=($!)
	for ((i = 0; i < 100; i++)); do
		[[ -s "$work/$name.port" ]] && break
		sleep 0.1
	done
	[[ -s "$work/$name.port" ]] || die "mongod-lite $name did not start; see $work/$name.log"
	server_port="$(cat "$work/$name.port")"
}

started=$SECONDS
banner "start a source and a target server (mongod-lite)"
start_server source
export SOURCE_URI="mongodb://127.0.0.1:$server_port/?replicaSet=rs0"
start_server target
export TARGET_URI="mongodb://127.0.0.1:$server_port/?replicaSet=rs0"
echo "source: $SOURCE_URI"
echo "target: $TARGET_URI"

banner "load $DOCS documents into demo.orders on the source"
"$PY" "$repo/test/py/e2e_load.py" "$SOURCE_URI" demo orders "$DOCS" 0 64
echo "loaded $DOCS documents"

banner "the application keeps writing (inserts, updates, deletes)"
"$PY" "$repo/test/py/e2e_workload.py" --existing "$DOCS" --seconds 6 --rate 300 \
	--stop-file "$work/stop" --ready-file "$work/writer-ready" \
	"$SOURCE_URI" demo orders >"$work/writer.out" &
writer_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -e "$work/writer-ready" ]] && break
	sleep 0.1
done

banner "phase 1: init_migration.sh (token, capture, dump while writes go on)"
"$repo/init_migration.sh" --state-dir "$work/state" --dump-dir "$work/dump" - - demo orders

banner "the capture log so far"
tail -n 5 "$work/state/demo.orders.capture.log"

banner "cutover: stop the writes"
wait "$writer_pid"
writer_pid=""
echo "writes done: $(cat "$work/writer.out")"

banner "phase 2: sync_migration.sh --drain --verify (restore, replay, compare)"
status=0
"$repo/sync_migration.sh" --state-dir "$work/state" --dump-dir "$work/dump" --drain --verify - - demo orders || status=$?

banner "result"
if ((status == 0)); then
	echo "source and target are equal (cdc-verify exit 0) after $((SECONDS - started)) s"
else
	echo "verification failed: status $status"
fi
exit "$status"
