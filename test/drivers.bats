#!/usr/bin/env bats
# init_migration.sh and sync_migration.sh: command lines, exit codes, the
# running-capture guard, the restart commands and where secrets may go.

# shellcheck disable=SC2154 # $stderr is set by bats' run --separate-stderr

setup_file() {
	load helpers
	pair_start
}

teardown_file() {
	pair_stop
}

setup() {
	load helpers
	driver_setup
}

teardown() {
	mlite_stop FROZEN
	# What sync_bg started, as driver_teardown does for SYNC_PIDS.
	if [[ -n "${SYNC_PID:-}" ]]; then
		kill -TERM "$SYNC_PID" 2>/dev/null || true
		wait "$SYNC_PID" 2>/dev/null || true
	fi
	driver_teardown
	mlite_stop ASRC
	mlite_stop ADST
}

# auth_servers: a source and a target that require SASL PLAIN login as
# "migrator" with AUTH_PW (read from a 0600 file, as a real deployment would).
auth_servers() {
	AUTH_PW="Pw4mig9ZrT5kQ2"
	printf '%s\n' "$AUTH_PW" >"$BATS_TEST_TMPDIR/pw"
	chmod 600 "$BATS_TEST_TMPDIR/pw"
	mlite_start ASRC --auth-user migrator --auth-password-file "$BATS_TEST_TMPDIR/pw"
	mlite_start ADST --auth-user migrator --auth-password-file "$BATS_TEST_TMPDIR/pw"
}

# auth_uri PORT PASSWORD: a URI logging in as migrator with PLAIN.
auth_uri() {
	printf 'mongodb://migrator:%s@127.0.0.1:%s/?replicaSet=rs0&authMechanism=PLAIN&authSource=%%24external' "$2" "$1"
}

# capture_alive: the capture of $DB.c named by its pid file runs.
capture_alive() {
	local pid
	pid="$(cat "$STATE/$DB.c.capture.pid" 2>/dev/null)" || return 1
	alive "$pid"
}

# c_programs_argv: the command lines of the toolkit's C programs now running.
c_programs_argv() {
	pgrep -a -f '^[^ ]*(cdc-capture|cdc-replay|cdc-verify|token-probe|dump-wrap)( |$)' || true
}

seed() {
	pyrun "$SRC_URI" 'client[db_name].c.insert_many([{"_id": i, "v": i} for i in range(50)])'
}

# crashed_capture: seed, init --no-dump, then kill -9 its capture as a
# crash would; the dead capture's pid in $CRASHED_PID.
crashed_capture() {
	seed
	run -0 "$INIT" --state-dir "$STATE" --no-dump - - "$DB" c
	CRASHED_PID="$(cat "$STATE/$DB.c.capture.pid")"
	kill -KILL "$CRASHED_PID"
	wait_until 10 gone "$CRASHED_PID"
}

@test "init_migration.sh and sync_migration.sh --help print their usage and exit 0" {
	run -0 --separate-stderr "$INIT" --help
	[[ "$output" == "Usage: init_migration.sh [options] SOURCE_URI TARGET_URI DB COLL"* ]]
	[[ "$output" == *"--resume-capture"* ]]
	[[ "$output" == *"--no-dump"* ]]
	run -0 --separate-stderr "$SYNC" --help
	[[ "$output" == "Usage: sync_migration.sh [options] TARGET_URI DB COLL"* ]]
	[[ "$output" == *"--drain"* ]]
}

@test "a wrong number of arguments exits 64 with the usage on stderr" {
	run -64 --separate-stderr "$INIT" - - "$DB"
	[[ "$stderr" == *"expected SOURCE_URI TARGET_URI DB COLL, got 3 arguments"* ]]
	[[ "$stderr" == *"Usage: init_migration.sh"* ]]
	run -64 --separate-stderr "$SYNC" - "$DB" c extra
	[[ "$stderr" == *"Usage: sync_migration.sh"* ]]
	run -64 --separate-stderr "$INIT" --probe-method maybe - - "$DB" c
	run -64 --separate-stderr "$INIT" --bogus - - "$DB" c
	run -64 --separate-stderr "$SYNC" --verify - - "$DB" c
	[[ "$stderr" == *"--verify needs --drain"* ]]
	[ ! -e "$STATE" ]
}

@test "a - URI with no such variable in the environment exits 64" {
	SOURCE_URI='' run -64 --separate-stderr "$INIT" --state-dir "$STATE" - - "$DB" c
	[[ "$stderr" == *"no SOURCE_URI"* ]]
	TARGET_URI='' run -64 --separate-stderr "$SYNC" - "$DB" c
	[[ "$stderr" == *"no TARGET_URI"* ]]
}

@test "an unreachable source makes init exit 69 and start nothing" {
	seed
	run -69 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" \
		"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=2000" - "$DB" c
	[ ! -e "$STATE/$DB.c.capture.pid" ]
	[ ! -e "$STATE/$DB.c.token" ]
}

@test "an unreachable target makes sync exit 69" {
	run -69 --separate-stderr "$SYNC" --dump-dir "$DUMP" \
		"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=2000" "$DB" c
}

@test "a missing source collection makes init exit 66" {
	run -66 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" nosuch
	[[ "$stderr" == *"$DB.nosuch"* ]]
	[ ! -e "$STATE/$DB.nosuch.capture.pid" ]
}

@test "sync without a dump to restore exits 66" {
	run -66 --separate-stderr "$SYNC" --dump-dir "$BATS_TEST_TMPDIR/none" - "$DB" c
}

@test "init and sync refuse a collection named like the staging collections with 64, naming --staging-coll" {
	pyrun "$SRC_URI" "client[db_name].cdc.insert_one({'_id': 1})"
	run -64 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" cdc
	[[ "$output" == *"collection '$DB.cdc' is named like the staging collections"*"--staging-coll"* ]]
	run -64 "$INIT" --resume-capture --state-dir "$STATE" --staging-coll s - - "$DB" s_meta
	run -64 "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --to-coll cdc_meta - "$DB" c
	run -64 "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --staging-coll s --to-coll s - "$DB" c
	[ ! -e "$STATE" ] && [ ! -e "$DUMP" ]
	# With another staging name the same collection migrates.
	run -0 "$INIT" --staging-coll s --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" cdc
	run -0 --separate-stderr "$SYNC" --staging-coll s --state-dir "$STATE" --dump-dir "$DUMP" \
		--drain --verify - - "$DB" cdc
	[[ "$output" == *"result: equal"* ]]
}

@test "a corrupt token file makes --resume-capture exit 65 and is left as it was" {
	mkdir -p "$STATE"
	printf '{"version": 1, "ns": ' >"$STATE/$DB.c.token"
	chmod 600 "$STATE/$DB.c.token"
	run -65 --separate-stderr "$INIT" --resume-capture --state-dir "$STATE" - - "$DB" c
	[[ "$stderr" == *"$DB.c.token"* ]]
	[ "$(cat "$STATE/$DB.c.token")" = '{"version": 1, "ns": ' ]
	run ! capture_alive
}

@test "init over a running capture exits 73 and changes nothing" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	capture_alive
	local pid before
	pid="$(cat "$STATE/$DB.c.capture.pid")"
	before="$(cd "$STATE" && ls -l --time-style=+%s.%N "$DB.c.capture.pid"; ls -lR --time-style=+%s.%N "$DUMP")"
	run -73 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[[ "$stderr" == *"already running (pid $pid)"* ]]
	[[ "$stderr" == *"--force"* ]]
	run -73 --separate-stderr "$INIT" --resume-capture --state-dir "$STATE" - - "$DB" c
	[ "$(cat "$STATE/$DB.c.capture.pid")" = "$pid" ]
	alive "$pid"
	[ "$(cd "$STATE" && ls -l --time-style=+%s.%N "$DB.c.capture.pid"; ls -lR --time-style=+%s.%N "$DUMP")" = "$before" ]
}

@test "init over an existing token of a dead capture exits 73 and names the restart command" {
	crashed_capture
	run -73 --separate-stderr "$INIT" --state-dir "$STATE" - - "$DB" c
	[[ "$stderr" == *"--resume-capture"* ]]
	[ ! -e "$DUMP" ]
}

@test "--resume-capture restarts a killed capture with the same state and it keeps staging" {
	crashed_capture
	run -0 "$INIT" --resume-capture --state-dir "$STATE" - - "$DB" c
	[ "$(cat "$STATE/$DB.c.capture.pid")" != "$CRASHED_PID" ]
	capture_alive
	pyrun "$SRC_URI" 'client[db_name].c.insert_one({"_id": "after-restart"})'
	wait_until 20 pyrun "$DST_URI" '
assert client[db_name].cdc.count_documents({"ns": db_name + ".c", "event.documentKey._id": "after-restart"}) == 1'
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	run ! capture_alive
}

@test "a real password (PLAIN login) shows nowhere: not in the C programs' ps, logs, tool output, or a non-0600 state file" {
	auth_servers
	local src tgt
	src="$(auth_uri "$ASRC_PORT" "$AUTH_PW")"
	tgt="$(auth_uri "$ADST_PORT" "$AUTH_PW")"
	pyrun "$src" 'client[db_name].c.insert_many([{"_id": i, "v": i} for i in range(50)])'
	# the URIs as arguments of the script: it must keep them out of the C programs' argv
	run -0 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" "$src" "$tgt" "$DB" c
	[[ "$output$stderr" != *"$AUTH_PW"* ]]
	capture_alive
	c_programs_argv >"$BATS_TEST_TMPDIR/ps"
	grep -q cdc-capture "$BATS_TEST_TMPDIR/ps"
	run -1 grep -F -- "$AUTH_PW" "$BATS_TEST_TMPDIR/ps"
	local pid
	pid="$(cat "$STATE/$DB.c.capture.pid")"
	tr '\0' ' ' <"/proc/$pid/cmdline" >"$BATS_TEST_TMPDIR/cmdline"
	grep -q -- --state-dir "$BATS_TEST_TMPDIR/cmdline"
	run -1 grep -F -- "$AUTH_PW" "$BATS_TEST_TMPDIR/cmdline"
	# capture logged in: it stages the source's new writes on the target
	pyrun "$src" 'client[db_name].c.insert_one({"_id": "x"})'
	wait_until 20 pyrun "$tgt" '
assert client[db_name].cdc.count_documents({"ns": db_name + ".c", "event.documentKey._id": "x"}) == 1'
	SOURCE_URI="$src" TARGET_URI="$tgt" run -0 --separate-stderr "$SYNC" --dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
	[[ "$output$stderr" != *"$AUTH_PW"* ]]
	pyrun "$tgt" 'assert client[db_name].c.find_one({"_id": "x"}) is not None'
	# logs (the capture's is in the state dir) and dump: no password at all
	run -1 grep -rF -- "$AUTH_PW" "$DUMP" "$ASRC_DIR/log" "$ADST_DIR/log"
	[ -s "$STATE/$DB.c.capture.log" ]
	run -1 grep -F -- "$AUTH_PW" "$STATE/$DB.c.capture.log"
	# any state file that holds it must be private
	local f
	grep -rlF -- "$AUTH_PW" "$STATE" >"$BATS_TEST_TMPDIR/holders" || true
	while read -r f; do
		[ "$(file_mode "$f")" = 600 ]
	done <"$BATS_TEST_TMPDIR/holders"
	for f in "$STATE"/*; do
		[ "$(file_mode "$f")" = 600 ]
	done
}

@test "token-probe with a wrong password exits 69 (login refused) and does not print the password" {
	auth_servers
	local bad="Wr0ngPassw0rdQ7"
	SOURCE_URI="$(auth_uri "$ASRC_PORT" "$bad")&serverSelectionTimeoutMS=3000" \
		run -69 --separate-stderr token-probe --db "$DB" --coll c --state-dir "$STATE"
	[[ "$stderr" == *"uthentication failed"* ]]
	[[ "$output$stderr" != *"$bad"* && "$output$stderr" != *"$AUTH_PW"* ]]
	[ ! -e "$STATE/$DB.c.token" ]
	run -1 grep -F -e "$bad" -e "$AUTH_PW" "$ASRC_DIR/log"
}

@test "a password in a URI shows nowhere in the drivers' output or state files" {
	seed
	local secret="s3cretPW"
	run --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" \
		"mongodb://app:$secret@127.0.0.1:$SRC_PORT/?replicaSet=rs0&serverSelectionTimeoutMS=2000" - "$DB" c
	[ "$status" -ne 0 ]
	[[ "$output$stderr" != *"$secret"* ]]
	run ! grep -rF -- "$secret" "$STATE"
	run --separate-stderr "$SYNC" --dump-dir "$DUMP" \
		"mongodb://app:$secret@127.0.0.1:$DST_PORT/?replicaSet=rs0&serverSelectionTimeoutMS=2000" "$DB" c
	[ "$status" -ne 0 ]
	[[ "$output$stderr" != *"$secret"* ]]
}

@test "a URI whose password must be percent-encoded is exit 64 in every program and driver, the password shown nowhere, not in the capture log" {
	seed
	# ':' in a password must be written %3A: libmongoc's parse error quotes it
	local bad="mongodb://migrator:s3cr3t:Zebra@127.0.0.1:$SRC_PORT/?replicaSet=rs0"
	local -a runs=(
		"SOURCE_URI|token-probe --db $DB --coll c --state-dir $STATE"
		"SOURCE_URI|cdc-capture --db $DB --coll c --state-dir $STATE"
		"TARGET_URI|cdc-capture --db $DB --coll c --state-dir $STATE"
		"SOURCE_URI|dump-wrap dump --db $DB --coll c --out $DUMP"
		"TARGET_URI|dump-wrap restore --db $DB --coll c --in $DUMP"
		"TARGET_URI|cdc-replay --db $DB --coll c"
		"SOURCE_URI|cdc-verify --db $DB --coll c"
		"TARGET_URI|cdc-verify --db $DB --coll c"
	)
	local r var cmd side
	for r in "${runs[@]}"; do
		IFS='|' read -r var cmd <<<"$r"
		side="${var%_URI}"
		# shellcheck disable=SC2086 # cmd is a word list
		env "$var=$bad" $cmd >"$BATS_TEST_TMPDIR/out" 2>&1 && status=0 || status=$?
		echo "$var $cmd: $status: $(cat "$BATS_TEST_TMPDIR/out")"
		((status == 64))
		run -1 grep -i -e Zebra -e s3cr3t "$BATS_TEST_TMPDIR/out"
		grep -q "invalid ${side,,} URI: the user name or password" "$BATS_TEST_TMPDIR/out"
	done
	# the drivers pass it on, traced (CSM_DEBUG) or not, and never echo it
	CSM_DEBUG=1 run -64 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" "$bad" - "$DB" c
	[[ "$output$stderr" != *Zebra* && "$output$stderr" != *s3cr3t* ]]
	[[ "$stderr" == *"invalid source URI"* ]]
	CSM_DEBUG=1 run -64 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" "$bad" "$DB" c
	[[ "$output$stderr" != *Zebra* && "$output$stderr" != *s3cr3t* ]]
	[[ "$stderr" == *"invalid target URI"* ]]
	# A capture restarted with it writes its refusal into its log, and only that.
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" --no-dump - - "$DB" c
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	SOURCE_URI="$bad" run -64 --separate-stderr "$INIT" --resume-capture --state-dir "$STATE" - - "$DB" c
	[[ "$output$stderr" != *Zebra* && "$output$stderr" != *s3cr3t* ]]
	grep -q "invalid source URI" "$STATE/$DB.c.capture.log"
	run -1 grep -i -e Zebra -e s3cr3t "$STATE/$DB.c.capture.log"
}

@test "init --dump-jobs N dumps one collection in N partitions; out of 1..64 it is 64" {
	seed
	run -64 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" --dump-jobs 65 - - "$DB" c
	[[ "$output" == *"--dump-jobs"* ]]
	[ ! -e "$STATE/$DB.c.token" ]
	run -0 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" --dump-jobs 3 - - "$DB" c
	[[ "$stderr" == *"dumped 50 documents"*"in 3 partitions"* ]]
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
}

@test "a finished restore is not repeated: a rerun of sync goes straight to replay" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 "$SYNC" --dump-dir "$DUMP" --drain - "$DB" c
	pyrun "$SRC_URI" 'client[db_name].c.delete_one({"_id": 3})'
	wait_until 20 pyrun "$DST_URI" '
assert client[db_name].cdc.count_documents({"ns": db_name + ".c", "operationType": "delete"}) == 1'
	run -0 --separate-stderr "$SYNC" --dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output$stderr" == *"already"* ]]
	[[ "$output" == *"result: equal"* ]]
	pyrun "$DST_URI" 'assert client[db_name].c.find_one({"_id": 3}) is None'
}

@test "sync takes init's --state-dir, as --state-dir DIR or --state-dir=DIR, and its --help says so" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain - "$DB" c
	[ "$(file_mode "$STATE/$DB.c.sync.lock")" = 600 ]
	run -0 --separate-stderr "$SYNC" --state-dir="$STATE" --dump-dir "$DUMP" --drain - "$DB" c
	run -64 --separate-stderr "$SYNC" --state-dir "" --dump-dir "$DUMP" - "$DB" c
	[[ "$stderr" == *"--state-dir must not be empty"* ]]
	run -0 "$SYNC" --help
	[[ "$output" == *"--state-dir DIR"* ]]
	[[ "$output" == *"DB.COLL.sync.lock"* ]]
}

@test "a second sync of a collection on the same host exits 73 while the first runs, and starts nothing" {
	command -v flock || skip "flock(1) not installed"
	seed
	run -0 "$INIT" --state-dir "$STATE" --no-dump - - "$DB" c
	"$SYNC" --state-dir "$STATE" --no-restore - "$DB" c >"$BATS_TEST_TMPDIR/sync1.log" 2>&1 &
	local first=$!
	SYNC_PIDS+=("$first")
	# Replay's "replaying" line: its signal handlers are in place too.
	wait_until 30 grep -q "replaying" "$BATS_TEST_TMPDIR/sync1.log"
	run -73 --separate-stderr "$SYNC" --state-dir "$STATE" --no-restore - "$DB" c
	[ "$stderr" = "sync_migration.sh: another sync_migration.sh is working on '$DB.c' (lock $STATE/$DB.c.sync.lock); let it finish, or stop it (Ctrl-C or kill -TERM) and run this again" ]
	[ -z "$output" ]
	[ "$(pgrep -c -f "cdc-replay --db $DB ")" -eq 1 ]
	alive "$first"
	# The first goes on and stops as usual; the lock goes with it.
	kill -TERM "$first"
	local status=0
	wait "$first" || status=$?
	SYNC_PIDS=()
	[ "$status" -eq 0 ]
	run -0 flock -n "$STATE/$DB.c.sync.lock" true
}

@test "sync killed with kill -9 leaves no program running; the same command again continues and converges" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	"$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" - "$DB" c >"$BATS_TEST_TMPDIR/sync1.log" 2>&1 &
	local driver=$! replay
	wait_until 30 grep -q "replaying" "$BATS_TEST_TMPDIR/sync1.log" || kill -TERM "$driver"
	replay="$(pgrep -f "cdc-replay --db $DB ")"
	# As the OOM killer or systemd KillMode=process would.
	kill -KILL "$driver"
	wait "$driver" || true
	# Its replay gets SIGTERM: it finishes its batch and ends (a replay left
	# running is stopped here, so that it fails only this test).
	wait_until 10 gone "$replay" || { kill -TERM "$replay"; false; }
	[ -z "$(pgrep -f "cdc-replay --db $DB " || true)" ]
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$SRC_URI" 'client[db_name].c.update_many({}, {"$set": {"after": 1}})'
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain \
		--verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
}

@test "a second cdc-capture of a collection started by hand is refused at start with 73 naming the first" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --no-dump - - "$DB" c
	local first token
	first="$(cat "$STATE/$DB.c.capture.pid")"
	token="$(cat "$STATE/$DB.c.token")"
	local started=$SECONDS
	run -73 --separate-stderr timeout 20 cdc-capture --db "$DB" --coll c --state-dir "$STATE"
	((SECONDS - started < 10))
	[[ "$stderr" == *"'capture:$DB.c' is being written by cdc-capture on host $(hostname) (pid $first, term 1), whose lease runs until "* ]]
	[[ "$stderr" != *"retrying"* ]]
	[ "$(cat "$STATE/$DB.c.token")" = "$token" ]
	capture_alive
}

@test "installed by make install, the drivers find their shared code and migrate a collection" {
	local prefix="$BATS_TEST_TMPDIR/prefix"
	# TOOLS= installs the drivers alone: the programs stay this build's
	# ($CSM_BIN). A make of its own, not a job of the make running the tests.
	run -0 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -s -C "$REPO_ROOT" install PREFIX="$prefix" TOOLS=
	[ -f "$prefix/share/changestream-migration/driver.sh" ]
	grep -qx "driver_lib='$prefix/share/changestream-migration/driver.sh'" \
		"$prefix/bin/init_migration.sh"
	run -64 --separate-stderr "$prefix/bin/sync_migration.sh" --bogus - "$DB" c
	[[ "$stderr" == "sync_migration.sh: unknown option '--bogus'"* ]]
	seed
	run -0 "$prefix/bin/init_migration.sh" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 --separate-stderr "$prefix/bin/sync_migration.sh" --state-dir "$STATE" \
		--dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
}

@test "--force over a running capture stops it and starts the collection over" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	local old
	old="$(cat "$STATE/$DB.c.capture.pid")"
	run -0 "$INIT" --force --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[[ "$output" == *"stopping the running cdc-capture"* ]]
	gone "$old"
	capture_alive
	[ "$(cat "$STATE/$DB.c.capture.pid")" != "$old" ]
	[ -f "$STATE/$DB.c.token.replaced" ]
	[ -f "$STATE/$DB.c.token" ]
}

@test "rollback sync: init --no-dump and sync --no-restore keep an existing copy in step" {
	# The target already holds the data (as after a cutover).
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$SRC_URI" "$DB" c 500
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$DST_URI" "$DB" c 500
	run -0 "$INIT" --no-dump --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[ ! -e "$DUMP" ]
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$SRC_URI" '
c = client[db_name].c
c.delete_one({"_id": 1})
c.update_one({"_id": 2}, {"$set": {"s": "changed"}, "$unset": {"tag": ""}})
c.insert_one({"_id": "new"})'
	run -0 --separate-stderr "$SYNC" --no-restore --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
	pyrun "$DST_URI" 'assert client[db_name].c.find_one({"_id": 1}) is None'
}

# sync_bg ARGS...: sync_migration.sh in the background, its output in
# $BATS_TEST_TMPDIR/sync.log, its pid in SYNC_PID (stopped by teardown).
sync_bg() {
	"$SYNC" "$@" >"$BATS_TEST_TMPDIR/sync.log" 2>&1 3>&- &
	SYNC_PID=$!
}

# sync_bg_status SECONDS: wait that long at most for the background sync
# to end; its exit status in status (the test fails if it does not end).
sync_bg_status() {
	wait_until "$1" gone "$SYNC_PID"
	status=0
	wait "$SYNC_PID" || status=$?
	SYNC_PID=""
	cat "$BATS_TEST_TMPDIR/sync.log"
}

# frozen_target: the test's own target server FROZEN, for mlite_freeze.
frozen_target() {
	mlite_start FROZEN
	export TARGET_URI="$FROZEN_URI"
}

# staged_ids IDS...: each of the source _ids IDS is staged exactly once.
staged_ids() {
	pyrun "$TARGET_URI" '
for i in sys.argv[1:]:
    n = client[db_name].cdc.count_documents({"ns": db_name + ".c", "event.documentKey._id": i})
    assert n == 1, (i, n)' "$@"
}

@test "sync --drain --verify stopped by a signal before verify ran exits 75 saying the target is not verified; --drain alone too" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	# A stopped capture: --drain waits for it, so the signal comes first.
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	sync_bg --dump-dir "$DUMP" --drain --verify - - "$DB" c
	wait_until 30 grep -q "waits for capture to run again" "$BATS_TEST_TMPDIR/sync.log"
	kill -TERM "$SYNC_PID"
	sync_bg_status 20
	((status == 75))
	grep -q "stopped by a signal before the drain and the verify completed: the target is NOT verified; run the same command again" "$BATS_TEST_TMPDIR/sync.log"
	run ! grep -q "== $DB.c: verify" "$BATS_TEST_TMPDIR/sync.log"
	sync_bg --dump-dir "$DUMP" --drain - "$DB" c
	wait_until 30 grep -q "waits for capture to run again" "$BATS_TEST_TMPDIR/sync.log"
	kill -TERM "$SYNC_PID"
	sync_bg_status 20
	((status == 75))
	grep -q "before the drain completed: it may not be drained" "$BATS_TEST_TMPDIR/sync.log"
	run -0 "$SYNC" --help
	[[ "$output" == *"75 --drain or --verify did not complete"* ]]
}

@test "sync --max-wait: a drain that cannot complete ends with 75 after S seconds; it needs --drain" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	local started=$SECONDS
	run -75 --separate-stderr "$SYNC" --dump-dir "$DUMP" --drain --max-wait 2 --verify - - "$DB" c
	((SECONDS - started < 20))
	[[ "$stderr" == *"did not complete within --max-wait 2 s"* ]]
	[[ "$output" != *"verify source"* ]]
	run -64 --separate-stderr "$SYNC" --dump-dir "$DUMP" --max-wait 2 - "$DB" c
	[[ "$stderr" == *"--max-wait needs --drain"* ]]
}

@test "a frozen target: init --stop-capture ends the capture within seconds, saying its position may not be saved; a restart loses nothing" {
	needs_mlite
	frozen_target
	seed
	run -0 "$INIT" --state-dir "$STATE" --no-dump - - "$DB" c
	local pid
	pid="$(cat "$STATE/$DB.c.capture.pid")"
	wait_until 20 pyrun "$FROZEN_URI" '
assert client[db_name].cdc_meta.find_one({"_id": "checkpoint:" + db_name + ".c"})'
	mlite_freeze FROZEN
	# Changes while the target does not answer: capture may read them, but
	# cannot stage them.
	pyrun "$SRC_URI" 'client[db_name].c.insert_many([{"_id": "frozen-%d" % i} for i in range(5)])'
	local started=$SECONDS
	run -0 --separate-stderr timeout 40 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	((SECONDS - started <= 15))
	gone "$pid"
	[[ "$stderr" == *"could not save its position: a server did not answer within 5 s"* ]]
	grep -q "exiting now: nothing is lost, the next run resumes from the last saved position" \
		"$STATE/$DB.c.capture.log"
	mlite_thaw FROZEN
	run -0 "$INIT" --resume-capture --state-dir "$STATE" - - "$DB" c
	pyrun "$SRC_URI" 'client[db_name].c.insert_one({"_id": "after"})'
	wait_until 30 staged_ids after
	staged_ids frozen-0 frozen-1 frozen-2 frozen-3 frozen-4 after
}

@test "a frozen target: SIGTERM ends sync and its replay within seconds with 75; the same command then converges" {
	needs_mlite
	frozen_target
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	sync_bg --state-dir "$STATE" --dump-dir "$DUMP" - "$DB" c
	wait_until 30 grep -q "replaying" "$BATS_TEST_TMPDIR/sync.log"
	mlite_freeze FROZEN
	local started=$SECONDS
	kill -TERM "$SYNC_PID"
	sync_bg_status 20
	((status == 75))
	((SECONDS - started <= 15))
	[ "$(pgrep -c -f "cdc-replay --db $DB ")" -eq 0 ]
	grep -q "the server did not answer within 5 s of the stop request" "$BATS_TEST_TMPDIR/sync.log"
	mlite_thaw FROZEN
	pyrun "$SRC_URI" 'client[db_name].c.delete_one({"_id": 7})'
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
}

@test "an init whose target was unreachable: the rerun names --resume-dump, which restarts capture from the same token and dumps" {
	seed
	TARGET_URI="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500" \
		run -69 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[[ "$stderr" == *"finish phase 1 with: init_migration.sh --resume-dump"* ]]
	[ -f "$STATE/$DB.c.token" ]
	local token
	token="$(cat "$STATE/$DB.c.token")"
	pyrun "$SRC_URI" 'client[db_name].c.insert_many([{"_id": "later-%d" % i} for i in range(10)])'
	run -73 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[[ "$stderr" == *"its dump did not complete"* ]]
	[[ "$stderr" == *"Finish phase 1 with: init_migration.sh --resume-dump --state-dir $STATE --dump-dir $DUMP - - $DB c"* ]]
	[ "$(cat "$STATE/$DB.c.token")" = "$token" ]
	[ ! -e "$DUMP" ]
	[ "$(file_mode "$STATE/$DB.c.dump-pending")" = 600 ]
	run -0 --separate-stderr "$INIT" --resume-dump --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[[ "$output" != *"token-probe"* ]]
	[[ "$output" == *"restarted cdc-capture"* ]]
	[[ "$output" == *"phase 1 done"* ]]
	capture_alive
	grep -q "from the token file" "$STATE/$DB.c.capture.log"
	[ ! -e "$STATE/$DB.c.dump-pending" ]
	# The dump is complete now: nothing more to do.
	run -73 --separate-stderr "$INIT" --resume-dump --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[[ "$stderr" == *"is complete: nothing to do"* ]]
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
}

@test "an init interrupted during the dump: the rerun names --resume-dump, which dumps while the same capture runs on" {
	needs_mlite
	seed
	# The dump's find waits 30 s (the probe and capture run no find).
	pyrun "$SRC_URI" '
client.admin.command("configureFailPoint", "failCommand", mode={"times": 1}, data={
    "failCommands": ["find"], "blockConnection": True, "blockTimeMS": 30000})'
	setsid "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c \
		>"$BATS_TEST_TMPDIR/init.log" 2>&1 &
	local init_pid=$!
	wait_until 30 grep -q "dump-wrap dump" "$BATS_TEST_TMPDIR/init.log"
	wait_until 10 pgrep -f "dump-wrap dump --db $DB "
	local dump_pid
	dump_pid="$(pgrep -f "dump-wrap dump --db $DB ")"
	kill -TERM -- "-$init_pid"
	local status=0
	wait "$init_pid" || status=$?
	((status != 0))
	# dump-wrap stops on the signal too, within its stop deadline (its find
	# is held in the server); until then it holds init's lock.
	wait_until 15 gone "$dump_pid"
	capture_alive
	local pid
	pid="$(cat "$STATE/$DB.c.capture.pid")"
	run -73 --separate-stderr "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[[ "$stderr" == *"its dump did not complete; its capture runs (pid $pid)"* ]]
	[[ "$stderr" == *"--resume-dump"* ]]
	pyrun "$SRC_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$SRC_URI" 'client[db_name].c.update_many({}, {"$set": {"during": 1}})'
	run -0 --separate-stderr "$INIT" --resume-dump --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	[[ "$output" == *"keeps running (pid $pid)"* ]]
	[ "$(cat "$STATE/$DB.c.capture.pid")" = "$pid" ]
	alive "$pid"
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
}

@test "a newer token from token-probe --force after --stop-capture is refused with 65 and the start-over commands, skipping nothing" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	pyrun "$SRC_URI" 'client[db_name].c.insert_one({"_id": "staged"})'
	wait_until 20 pyrun "$DST_URI" 'assert client[db_name].cdc.count_documents({}) > 0'
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$SRC_URI" 'client[db_name].c.update_many({"_id": {"$lt": 10}}, {"$set": {"v": -1}})'
	run -0 token-probe --db "$DB" --coll c --state-dir "$STATE" --force
	run -65 "$INIT" --resume-capture --state-dir "$STATE" - - "$DB" c
	[[ "$output" == *"is newer than the events staged for it in '$DB.cdc'"*"start '$DB.c' over"* ]]
	run -0 cat "$STATE/$DB.c.capture.log"
	[[ "$output" == *"init_migration.sh --stop-capture --state-dir $STATE $DB c"* ]]
	[[ "$output" == *"init_migration.sh --cleanup --drop-target --state-dir $STATE $DB c"* ]]
	[[ "$output" == *"init_migration.sh --force --state-dir $STATE - - $DB c"* ]]
	run ! capture_alive
	# The runbook's start over then migrates it whole.
	run -0 "$INIT" --cleanup --drop-target --state-dir "$STATE" --dump-dir "$DUMP" "$DB" c
	run -0 "$INIT" --force --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
}

@test "a program that ignores the stop request is killed 10 s after it, and sync exits 75" {
	# A stand-in cdc-replay that ignores SIGTERM (as one stuck in the
	# kernel would) and never ends by itself.
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho replaying\ntrap "" TERM\nexec sleep 120\n' >"$BATS_TEST_TMPDIR/bin/cdc-replay"
	chmod +x "$BATS_TEST_TMPDIR/bin/cdc-replay"
	CSM_BIN="$BATS_TEST_TMPDIR/bin" sync_bg --state-dir "$STATE" --no-restore - "$DB" c
	wait_until 10 grep -q "^replaying" "$BATS_TEST_TMPDIR/sync.log"
	local replay_pid
	replay_pid="$(pgrep -f "sleep 120" -P "$SYNC_PID")"
	local started=$SECONDS
	kill -TERM "$SYNC_PID"
	sync_bg_status 20
	((status == 75))
	((SECONDS - started >= 9 && SECONDS - started <= 15))
	grep -q "cdc-replay did not exit within 10 s of the stop request: killing it" "$BATS_TEST_TMPDIR/sync.log"
	gone "$replay_pid"
}

@test "a newer token over a capture that staged nothing is passed over: it resumes from its checkpoint and misses nothing" {
	seed
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	wait_until 20 pyrun "$DST_URI" 'assert client[db_name].cdc_meta.find_one({"_id": "checkpoint:" + db_name + ".c"})'
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	pyrun "$SRC_URI" 'client[db_name].c.update_many({"_id": {"$lt": 10}}, {"$set": {"v": -1}})'
	run -0 token-probe --db "$DB" --coll c --state-dir "$STATE" --force
	run -0 "$INIT" --resume-capture --state-dir "$STATE" - - "$DB" c
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" c
	[[ "$output" == *"result: equal"* ]]
	grep -q "is newer than the checkpoint of '$DB.c', which staged nothing: resuming from the checkpoint" \
		"$STATE/$DB.c.capture.log"
}
