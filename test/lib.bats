#!/usr/bin/env bats
# The shared library (lib/): redaction, token and state files, numeric and
# logging options, the logger, connections, error codes. Each test runs one
# or more named cases of a unit test program from test/unit/.

# shellcheck disable=SC2154 # $stderr is set by bats' run --separate-stderr

setup() {
	load helpers
}

teardown() {
	mlite_stop SRC
}

# unit PROGRAM CASE...: run the named cases; their checks print on failure.
unit() {
	local program="$CSM_BUILD/test/$1"
	shift
	[[ -x "$program" ]] || {
		echo "$program is not built: make unit" >&2
		return 1
	}
	run "$program" "$@"
	if ((status != 0)); then
		echo "$output" >&2
		return 1
	fi
}

@test "URI passwords of every form (plain, percent-encoded, srv, several per line) are replaced by ***" {
	unit test_redact password srv percent_encoded several_uris in_messages
}

@test "a password holding raw '@', ':' or '/' is redacted whole, never in part" {
	unit test_redact raw_special_chars generated
}

@test "URIs without a password and text without URIs pass redaction unchanged" {
	unit test_redact unchanged
}

@test "a token file written then read gives back the same token, ns, clusterTime and writer" {
	unit test_tokenfile path round_trip
}

@test "a token file is plain JSON of mode 0600 even under umask 0" {
	unit test_tokenfile plain_json_0600
}

@test "a token writer killed before its rename leaves the previous token readable" {
	unit test_tokenfile crash_mid_write_keeps_old
}

@test "a truncated, mistyped or garbage token file is exit 65 naming the file and field, and stays untouched" {
	unit test_tokenfile corrupt_is_65
}

@test "a missing token file is exit 66 telling to run token-probe first" {
	unit test_tokenfile missing_is_66
}

@test "a state file write leaves mode 0600 and no temp file, even over an 0644 file" {
	unit test_fsutil write_creates_0600 overwrite_fixes_mode
}

@test "a state file writer killed before its rename leaves the old contents" {
	unit test_fsutil crash_before_rename_keeps_old
}

@test "state file I/O errors are exit 74 (66 when missing) and name the path" {
	unit test_fsutil write_error_names_path read_all read_fd mkdir_p fsync_dir
}

@test "numeric options reject empty, trailing garbage, overflow and out-of-range values" {
	unit test_numparse accepts rejects range
}

@test "a bad numeric or logging option value is exit 64 stating what is accepted" {
	unit test_numparse cli_message cli_log_opts
}

@test "the shared options: --db and --coll required, no stray operand, a bad value is exit 64" {
	unit test_numparse cli_common
}

@test "a missing URI is exit 64 before the driver starts; the end of main stops what was started" {
	unit test_numparse cli_common_start
}

@test "JSON log lines parse with Python's json module and hold no password" {
	run -0 --separate-stderr "$CSM_BUILD/test/test_log" emit_json_sample
	[[ "$stderr" != *hunter2* ]]
	[[ "$stderr" != *p%40ss* ]]
	# Every line but the runner's last "ok" line is one JSON object.
	printf '%s\n' "$stderr" | grep -v '^ok ' | "$PY" -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()]
assert len(lines) == 4, lines
for o in lines:
    assert list(o)[:4] == ["ts", "prog", "level", "msg"], o
    assert o["prog"] == "sample"
assert "mongodb://app:***@h1:27017,h2/shop" in lines[0]["msg"], lines[0]
assert "mongodb+srv://bob:***@c.example.net/x" in lines[0]["msg"], lines[0]
assert lines[1]["level"] == "debug" and "\n" in lines[1]["msg"]
assert lines[2]["applied"] == 123456789012 and lines[2]["uri"] == "mongodb://u:***@h"
assert lines[3]["level"] == "warn" and lines[3]["msg"].startswith("driver (cluster)")
'
}

@test "JSON log mode redacts the message and every string field, nested ones too" {
	unit test_log json_lines invalid_utf8_stays_json
}

@test "a human log line reads 'timestamp program level: message k=v' and honours the level" {
	unit test_log human_format threshold
}

@test "libmongoc's own messages go through the logger, redacted, warnings at warn" {
	unit test_log driver_messages
}

@test "a shared-memory segment of libmongoc's counters that a killed process left under the same pid makes no program warn" {
	export SOURCE_URI="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"
	export TARGET_URI="$SOURCE_URI"
	local -a runs=(
		"token-probe --state-dir $BATS_TEST_TMPDIR"
		"cdc-capture --state-dir $BATS_TEST_TMPDIR"
		"dump-wrap dump --out $BATS_TEST_TMPDIR/dump"
		"dump-wrap restore --in $BATS_TEST_TMPDIR/dump"
		"cdc-replay"
		"cdc-verify"
		"cdc-status --state-dir $BATS_TEST_TMPDIR"
	)
	local cmd pid
	for cmd in "${runs[@]}"; do
		# With the counters on, libmongoc's load-time mongoc_init()
		# shm_open()s "/mongoc-PID" with O_EXCL, so the segment of a killed
		# process whose pid came round again makes it warn "Falling back to
		# malloc for counters". exec keeps the pid, so the stale segment is
		# made first.
		# shellcheck disable=SC2086 # cmd is a word list
		bash -c 'echo $$ >"$0"; : >"/dev/shm/mongoc-$$"; exec "$@"' "$BATS_TEST_TMPDIR/pid" \
			$cmd --db d --coll c --log-format json 2>"$BATS_TEST_TMPDIR/err" || true
		pid="$(cat "$BATS_TEST_TMPDIR/pid")"
		rm -f "/dev/shm/mongoc-$pid"
		cat "$BATS_TEST_TMPDIR/err"
		# It ran (and said why it stopped), and the driver kept quiet.
		grep -q '"level"' "$BATS_TEST_TMPDIR/err"
		run -1 grep -F "counters" "$BATS_TEST_TMPDIR/err"
	done
}

@test "log lines written by four threads at once never interleave" {
	unit test_log threads_do_not_interleave
}

@test "wall-clock times print as UTC ISO 8601, with milliseconds or without" {
	unit test_clock format_utc
}

@test "a malformed or missing URI is exit 64 and the message never shows the password, not even quoted by libmongoc" {
	unit test_conn malformed_uri_is_64 parse_error_hides_password missing_uri_is_64
}

@test "--source-uri beats --source-uri-file beats SOURCE_URI, and an open URI file is warned about" {
	unit test_conn env_fallback uri_file readable_uri_file_warns
}

@test "an unreachable server is exit 69 naming its host, not the password" {
	unit test_conn unreachable_is_69
}

@test "a client and a pool on a running server ping and report server errors by code" {
	[[ -n "${MONGO_TEST_URI:-}" || -x "$MLITE" ]] || skip "mongod-lite is not built"
	mlite_start SRC
	CSM_TEST_URI="$SRC_URI" unit test_conn reachable
}

@test "driver errors map to exit codes 69, 77, 75, 3 and 65 and retry labels count as transient" {
	unit test_error exit_codes transient prefix
}

@test "server codes sort into transient, history lost, duplicate key, auth, stopped and fatal" {
	unit test_error classify
}

@test "cluster times order by seconds then increment" {
	unit test_error optime
}

@test "a retry backs off from 100 ms, gives up after its limit and gives way to SIGTERM" {
	unit test_error retry
}

@test "SIGTERM ends a stop-aware sleep at once" {
	unit test_error stop_sleep
}

@test "--drain ends only once capture's clusterTime (heartbeat without one) is past the start; a lost resume point is final" {
	unit test_replay drain_no_checkpoint drain_cluster_time drain_heartbeat_only drain_capture_state
}

@test "deferred unique indexes wait for the window's pending events and for capture to pass the dump end" {
	unit test_replay unique_nothing_to_do unique_head_in_window unique_capture
}

@test "replay's lag: the last event's age when busy; when idle, the newest of it, capture's position and its caught-up getMore, not the heartbeat; never negative" {
	unit test_replay_lag current_replay capture_behind quiet_source pending no_position clock_skew
}

@test "an idle replay polls every 50 ms for 5 s, then backs off to once a second" {
	unit test_replay_lag idle_polling
}

@test "the restore marker splits deferred indexes into unique and TTL ones and remembers what is built" {
	unit test_replay marker_view
}

@test "only shape errors (2, 14, 28, 66) of events at or before the dump end are passed over" {
	unit test_replay window_skip
}

@test "a change stream whose resume point left the oplog (286, 280, 136) is exit 3 telling to migrate again from init" {
	unit test_capture_stream history_lost
}

@test "a change event too large with its looked-up document narrows to one event, then is staged without it, and is exit 65 only when even that is too large" {
	unit test_capture_stream too_large read_modes
}

@test "transient change stream errors reopen the stream; not a replica set is 69, a rejected token 65, any other error fatal" {
	unit test_capture_stream transient fatal
}

@test "the dump digest is SHA-256 as sha256sum prints it, however the bytes are fed" {
	unit test_digest known_values
}

@test "a target collection named like the staging collections is refused with 64 naming --staging-coll" {
	unit test_names staging_collisions
}

@test "--drain tells a dead capture (running, heartbeat over 15 s old) from a busy one, warns once a minute, and --max-wait bounds it" {
	unit test_replay drain_silent_capture drain_warn_cadence drain_max_wait
}

@test "a program stuck past the stop deadline exits 75 and the secret files it registered are gone" {
	unit test_error deadline_removes_paths
}

@test "a source collection named like the staging collections is refused with 64 when the target is not known yet" {
	unit test_names source_collisions
}
