#!/usr/bin/env bats
# Operating a migration: bounded staging (cdc-replay --purge-applied),
# cleanup (init_migration.sh --cleanup, cdc-cleanup), throttles (dump-wrap
# --max-docs-per-sec, cdc-replay --max-ops-per-sec, the throttle file) and
# the cutover without Ctrl-C (sync_migration.sh --background, --drain).

# shellcheck disable=SC2154,SC2016 # $stderr is set by bats' run --separate-stderr; Python source in single quotes uses MongoDB's $ operators

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
	BG_PID=
}

teardown() {
	local f pid
	if [[ -n "$BG_PID" ]] && kill -0 "$BG_PID" 2>/dev/null; then
		kill -KILL "$BG_PID"
		cat "$BATS_TEST_TMPDIR/bg.log" >&2 || true
	fi
	# A --background replay: SIGTERM, as an operator would stop it.
	for f in "$STATE"/*.replay.pid; do
		[[ -f "$f" ]] || continue
		pid="$(cat "$f")"
		kill -TERM "$pid" 2>/dev/null || true
		wait_until 10 gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	done
	driver_teardown
}

# dst PYTHON: run PYTHON against the target ($DB, client, rev: replay_events).
dst() {
	pyrun "$DST_URI" "import replay_events as rev, datetime
$1" "${@:2}"
}

# bg COMMAND...: run in the background, output in bg.log, pid in BG_PID.
bg() {
	"$@" >"$BATS_TEST_TMPDIR/bg.log" 2>&1 3>&- &
	BG_PID=$!
}

# bg_status SECONDS: wait for the background command; its status in status.
bg_status() {
	wait_until "$1" gone "$BG_PID"
	status=0
	wait "$BG_PID" || status=$?
	BG_PID=
	cat "$BATS_TEST_TMPDIR/bg.log"
}

@test "unit: durations (s, m, h, d), the throttle file and the limiter's pace" {
	run "$CSM_BUILD/test/test_throttle"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "--purge-applied deletes old done events only: never a pending one, never the newest done one" {
	# Seq 1..10 applied two days ago, then a drop event still pending (it
	# stops replay with 4 and stays pending), staged two days ago too.
	dst '
ns = db_name + ".c"
sim = rev.SimSource(db_name, "c", seed=5)
evs = [sim.random_event(20) for _ in range(10)]
rev.stage(client, db_name, ns, evs)
old = datetime.datetime.utcnow() - datetime.timedelta(days=2)
client[db_name].cdc.update_many({}, {"$set": {"status": "done", "appliedAt": old}})
drop = sim.event("drop", None)
drop.pop("documentKey", None)
rev.stage(client, db_name, ns, [drop])
client[db_name].cdc.update_one({"seq": 11}, {"$set": {"appliedAt": old}})'
	run -4 cdc-replay --db "$DB" --coll c --purge-applied 1d --status-interval 0
	dst '
seqs = sorted(d["seq"] for d in client[db_name].cdc.find())
assert seqs == [10, 11], seqs
assert client[db_name].cdc.find_one({"seq": 11})["status"] == "pending"'
	# Events applied within AGE stay.
	run -64 cdc-replay --db "$DB" --coll c --purge-applied 1w
	[[ "$output" == *"invalid value '1w' for --purge-applied"* ]]
}

@test "--purge-applied while replay follows keeps staging small and capture's restart exact" {
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$SRC_URI" "$DB" c 200
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	bg "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --purge-applied 0 - "$DB" c
	pyrun "$SRC_URI" 'c = client[db_name].c
for i in range(300): c.update_one({"_id": i % 200}, {"$inc": {"n": 1}})'
	# Everything applied and purged down to the newest done event.
	wait_until 60 dst '
ns = db_name + ".c"
assert client[db_name].cdc.count_documents({"ns": ns, "status": "pending"}) == 0
assert client[db_name].cdc.count_documents({"ns": ns}) == 1'
	# Capture restarts from what is left and stages on without a gap.
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	run -0 "$INIT" --resume-capture --state-dir "$STATE" - - "$DB" c
	pyrun "$SRC_URI" 'client[db_name].c.insert_one({"_id": "after"})'
	wait_until 30 pyrun "$DST_URI" 'assert client[db_name].c.find_one({"_id": "after"})'
	kill -TERM "$BG_PID"
	bg_status 20
	[ "$status" -eq 0 ]
	run -0 --separate-stderr cdc-verify --db "$DB" --coll c
	[[ "$output" == *"result: equal"* ]]
}

@test "--max-ops-per-sec paces replay and shows in the status line; the throttle file lifts it while replay runs" {
	dst 'sim = rev.SimSource(db_name, "c", seed=9)
rev.stage(client, db_name, db_name + ".c", [sim.random_event(100) for _ in range(2000)])'
	bg cdc-replay --db "$DB" --coll c --drain --batch-size 10 --status-interval 1 \
		--max-ops-per-sec 20 --throttle-file "$BATS_TEST_TMPDIR/throttle"
	wait_until 20 grep -q 'status ns=.*maxOpsPerSec=20' "$BATS_TEST_TMPDIR/bg.log"
	# At 20 events/s (one batch of 10 over), far from the thousands unthrottled.
	local rate
	rate="$(grep -o 'status ns=.* rate=[0-9.]*' "$BATS_TEST_TMPDIR/bg.log" | head -n 1 | sed 's/.*rate=//')"
	echo "rate $rate"
	(($(printf '%.0f' "$rate") <= 40))
	# 2000 events at 20/s would take 100 s: lifted, they are done well before.
	printf 'max-ops-per-sec 0 # no limit\n' >"$BATS_TEST_TMPDIR/throttle"
	bg_status 60
	[ "$status" -eq 0 ]
	grep -q "throttle now max-ops-per-sec 0" "$BATS_TEST_TMPDIR/bg.log"
	grep -q "drained" "$BATS_TEST_TMPDIR/bg.log"
}

@test "dump-wrap dump --max-docs-per-sec paces the dump and shows in its progress lines; external or restore refuse it" {
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$SRC_URI" "$DB" c 3000
	local t0=$SECONDS
	run -0 --separate-stderr dump-wrap dump --db "$DB" --coll c --out "$DUMP" \
		--max-docs-per-sec 1000 --status-interval 1
	# 3000 documents at 1000/s: two seconds at the least (a slower machine only adds).
	((SECONDS - t0 >= 2))
	[[ "$stderr" == *"copy finished"*"maxDocsPerSec=1000"* ]]
	run -64 dump-wrap dump --db "$DB" --coll c --out "$DUMP" --engine external --max-mb-per-sec 5
	[[ "$output" == *"mongodump cannot be paced"* ]]
	run -64 dump-wrap restore --db "$DB" --coll c --in "$DUMP" --max-docs-per-sec 5
	[[ "$output" == *"restore takes none of them"* ]]
}

@test "cutover without Ctrl-C: sync --background, then sync --drain --verify signals it, waits and verifies" {
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$SRC_URI" "$DB" c 300
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 "$SYNC" --background --state-dir "$STATE" --dump-dir "$DUMP" - "$DB" c
	[[ "$output" == *"runs in the background: pid"* ]]
	local pid
	pid="$(cat "$STATE/$DB.c.replay.pid")"
	alive "$pid"
	[[ "$(file_mode "$STATE/$DB.c.replay.log")" == 600 ]]
	# A second one is refused while it runs.
	run -73 "$SYNC" --background --state-dir "$STATE" --dump-dir "$DUMP" - "$DB" c
	pyrun "$SRC_URI" 'c = client[db_name].c
c.delete_one({"_id": 7}); c.insert_one({"_id": "late"})'
	# Writes stopped: drain, verify.
	run -0 --separate-stderr "$SYNC" --drain --verify - --state-dir "$STATE" - "$DB" c
	[[ "$output" == *"draining the background cdc-replay (pid $pid)"* ]]
	[[ "$output" == *"result: equal"* ]]
	gone "$pid"
	grep -q "drain requested (SIGUSR1)" "$STATE/$DB.c.replay.log"
	[[ "$(cat "$STATE/$DB.c.replay.exit")" == "0 drained" ]]
	run -64 "$SYNC" --background --drain --state-dir "$STATE" - "$DB" c
}

@test "init --cleanup refuses while capture runs, then removes the collection's staged events, meta documents, state files and dump" {
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$SRC_URI" "$DB" c 100
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$SRC_URI" "$DB" other 10
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" --no-dump - - "$DB" other
	run -0 "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain - "$DB" c
	run -73 "$INIT" --cleanup --state-dir "$STATE" --dump-dir "$DUMP" "$DB" c
	[[ "$output" == *"cdc-capture of '$DB.c' is running"* ]]
	[ -f "$STATE/$DB.c.token" ]
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" c
	run -0 "$INIT" --cleanup --state-dir "$STATE" --dump-dir "$DUMP" "$DB" c
	[[ "$output" == *"staged events of '$DB.c'"* ]]
	[[ "$output" == *"removed the checkpoint of '$DB.c'"* ]]
	[[ "$output" == *"removed the restore marker of '$DB.c'"* ]]
	[[ "$output" == *"removed $STATE/$DB.c.token"* ]]
	[[ "$output" == *"removed $DUMP/$DB/c.bson"* ]]
	[ ! -e "$STATE/$DB.c.token" ] && [ ! -e "$STATE/$DB.c.capture.log" ] && [ ! -e "$DUMP/$DB/c.metadata.json" ]
	# The other collection's migration is untouched; the restored copy stays.
	pyrun "$DST_URI" '
db = client[db_name]
assert db.cdc.count_documents({"ns": db_name + ".c"}) == 0
assert db.cdc_meta.count_documents({"_id": {"$in": ["checkpoint:" + db_name + ".c", "restore:" + db_name + ".c"]}}) == 0
assert db.cdc_meta.find_one({"_id": "checkpoint:" + db_name + ".other"})
assert db.c.count_documents({}) == 100'
	[ -f "$STATE/$DB.other.token" ]
	# The last collection out drops the staging collections.
	run -0 "$INIT" --stop-capture --state-dir "$STATE" "$DB" other
	run -0 "$INIT" --cleanup --drop-target --state-dir "$STATE" --dump-dir "$DUMP" "$DB" other
	[[ "$output" == *"dropped '$DB.cdc' and '$DB.cdc_meta'"* ]]
	pyrun "$DST_URI" 'assert sorted(client[db_name].list_collection_names()) == ["c"], client[db_name].list_collection_names()'
}

@test "cdc-cleanup refuses with 73 while a replay of the collection holds its lease, removing nothing" {
	dst 'rev.stage(client, db_name, db_name + ".c", [rev.SimSource(db_name, "c").random_event(5) for _ in range(3)])'
	bg cdc-replay --db "$DB" --coll c --status-interval 0
	wait_until 20 pyrun "$DST_URI" 'assert client[db_name].cdc.count_documents({"status": "done"}) == 3'
	run -73 cdc-cleanup --db "$DB" --coll c
	[[ "$output" == *"is being written by cdc-replay"* ]]
	pyrun "$DST_URI" 'assert client[db_name].cdc.count_documents({}) == 3'
	kill -TERM "$BG_PID"
	bg_status 20
	run -0 cdc-cleanup --db "$DB" --coll c
	pyrun "$DST_URI" 'assert "cdc" not in client[db_name].list_collection_names()'
}
