#!/usr/bin/env bats
# Sharded clusters through mongos (README, "Sharded clusters"): every
# program and both drivers against mongod-lite --router, for sharded ->
# sharded, sharded -> replica set and replica set -> sharded, the bad
# inputs, and the kill -9 scenario of test/migration.bats on sharded ->
# sharded with shard key values changing throughout.
# shellcheck disable=SC2154 # $stderr is set by bats' run --separate-stderr
# shellcheck disable=SC2030,SC2031 # a test that points SOURCE_URI or TARGET_URI at the replica set does so in its own subshell

setup_file() {
	load helpers
	if [[ -z "${MONGO_TEST_URI:-}" ]]; then
		mlite_start SRC --router
		mlite_start DST --router
		mlite_start RSS
	fi
}

teardown_file() {
	mlite_stop SRC
	mlite_stop DST
	mlite_stop RSS
}

setup() {
	load helpers
	needs_mlite
	export PAIR_SOURCE=SRC PAIR_TARGET=DST
	driver_setup
	STOP_FILE="$BATS_TEST_TMPDIR/stop-workload"
	WL_PID=""
}

teardown() {
	touch "$STOP_FILE"
	[[ -z "$WL_PID" ]] || wait "$WL_PID" 2>/dev/null || true
	driver_teardown
}

# shard URI COLL KEY_JSON: shardCollection DB.COLL on KEY through mongos.
shard() {
	pyrun "$1" '
import json
client.admin.command("shardCollection", db_name + "." + sys.argv[1], key=json.loads(sys.argv[2]))' \
		"$2" "$3"
}

load_docs() { # URI COLL COUNT
	"$PY" "$REPO_ROOT/test/py/e2e_load.py" "$1" "$DB" "$2" "$3" 0 32
}

start_workload() { # ARGS...: e2e_workload.py in the background until stop_workload
	rm -f "$STOP_FILE" "$BATS_TEST_TMPDIR/workload-ready"
	"$PY" "$REPO_ROOT/test/py/e2e_workload.py" --seconds 120 --stop-file "$STOP_FILE" \
		--ready-file "$BATS_TEST_TMPDIR/workload-ready" "$@" \
		>"$BATS_TEST_TMPDIR/workload.out" 2>"$BATS_TEST_TMPDIR/workload.err" &
	WL_PID=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/workload-ready"
}

stop_workload() { # its counts in $WORKLOAD; it must have ended well
	touch "$STOP_FILE"
	local status=0
	wait "$WL_PID" || status=$?
	WL_PID=""
	cat "$BATS_TEST_TMPDIR/workload.err" >&2
	[ "$status" -eq 0 ]
	WORKLOAD="$(cat "$BATS_TEST_TMPDIR/workload.out")"
	echo "workload: $WORKLOAD" >&3
}

# migrate COLL: init, writes with shard key changes, sync --drain --verify.
migrate_under_writes() {
	local key_args=()
	[[ "${SHARD_FIELD:-}" == "" ]] || key_args=(--shard-key "$SHARD_FIELD")
	load_docs "$SOURCE_URI" c 1000
	start_workload --existing 1000 --rate 300 "${key_args[@]}" "$SOURCE_URI" "$DB" c
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	"$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$TARGET_URI" "$DB" "$DB.c" wait-above 300 any 30
	stop_workload
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify \
		- - "$DB" c
	echo "$output" >&3
	[[ "$output" == *"result: equal"* ]]
}

@test "sharded -> sharded on the same hashed key: init, writes that move documents, sync, equal" {
	shard "$SOURCE_URI" c '{"tag": "hashed"}'
	shard "$TARGET_URI" c '{"tag": "hashed"}'
	SHARD_FIELD=tag migrate_under_writes
	"$PY" -c 'import json, sys; assert json.loads(sys.argv[1])["move"] > 10' "$WORKLOAD"
	# the staged events held shard keys, and moves as a delete and an insert
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	run -0 pyrun "$TARGET_URI" '
c = client[db_name].cdc
print(c.count_documents({"ns": db_name + ".c", "event.documentKey.tag": {"$exists": True}}) > 0)'
	[ "$output" = True ]
	# the target is still sharded on its key
	run -0 pyrun "$TARGET_URI" 'print(client.config.collections.find_one({"_id": db_name + ".c"})["key"])'
	[ "$output" = "{'tag': 'hashed'}" ]
}

@test "sharded -> replica set: the documentKey's shard key filters writes on an unsharded target" {
	export TARGET_URI="$RSS_URI"
	shard "$SOURCE_URI" c '{"tag": 1}'
	SHARD_FIELD=tag migrate_under_writes
}

@test "replica set -> sharded on {_id: hashed}: equal" {
	export SOURCE_URI="$RSS_URI"
	shard "$TARGET_URI" c '{"_id": "hashed"}'
	migrate_under_writes
}

@test "a target sharded on a key the source's documentKey lacks stops replay with 65 and says what to do" {
	shard "$SOURCE_URI" c '{"tag": "hashed"}'
	shard "$TARGET_URI" c '{"n": 1}'
	load_docs "$SOURCE_URI" c 100
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	run -0 pyrun "$SOURCE_URI" 'client[db_name].c.update_one({"_id": 1}, {"$set": {"x": 1}})'
	run -65 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain - "$DB" c
	[[ "$stderr" == *"the target '$DB.c' is sharded on { \"n\" : 1 } but the event's documentKey has no 'n'"* ]]
	[[ "$stderr" == *"shard the target on the source's shard key, or only after the migration"* ]]
	# nothing was applied: the event stays pending
	run -0 pyrun "$TARGET_URI" 'print(client[db_name].cdc.count_documents({"status": "pending"}))'
	[ "$output" -ge 1 ]
}

@test "an unsharded source into a target sharded on another field: 65, the same advice" {
	export SOURCE_URI="$RSS_URI"
	shard "$TARGET_URI" c '{"tag": 1}'
	load_docs "$SOURCE_URI" c 100
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	run -0 pyrun "$SOURCE_URI" 'client[db_name].c.delete_one({"_id": 1})'
	run -65 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain - "$DB" c
	[[ "$stderr" == *"is sharded on { \"tag\" : 1 } but the event's documentKey has no 'tag'"* ]]
}

@test "token-probe on a sharded collection: the dummy sentinel (no shard key fields) is inserted and deleted; now writes nothing" {
	shard "$SOURCE_URI" c '{"tag": "hashed"}'
	load_docs "$SOURCE_URI" c 10
	# a stream opened first sees where the sentinel went: its documentKey
	# is its _id alone (missing shard key fields are left out)
	"$PY" - "$SOURCE_URI" "$DB" >"$BATS_TEST_TMPDIR/seen" <<-'EOF' &
		import sys, pymongo
		c = pymongo.MongoClient(sys.argv[1])[sys.argv[2]].c
		with c.watch(max_await_time_ms=200) as s:
		    print("ready", flush=True)
		    seen = []
		    while len(seen) < 2:
		        ev = s.try_next()
		        if ev:
		            seen.append(ev)
		for ev in seen:
		    print(ev["operationType"], sorted(ev["documentKey"]), sorted(ev["documentKey"]["_id"]))
	EOF
	local watcher=$!
	wait_until 10 grep -q ready "$BATS_TEST_TMPDIR/seen"
	run -0 token-probe --db "$DB" --coll c --state-dir "$STATE"
	[ -s "$STATE/$DB.c.token" ]
	wait "$watcher"
	run -0 grep -c "_id'\] \['changestream-migration-probe', 'host', 'pid'\]" "$BATS_TEST_TMPDIR/seen"
	[ "$output" = 2 ]
	grep -q '^insert ' "$BATS_TEST_TMPDIR/seen"
	grep -q '^delete ' "$BATS_TEST_TMPDIR/seen"
	run -0 pyrun "$SOURCE_URI" 'print(client[db_name].c.count_documents({}))'
	[ "$output" = 10 ]
	run -0 token-probe --db "$DB" --coll c --state-dir "$STATE" --method now --force
	run -0 pyrun "$SOURCE_URI" 'print(client[db_name].c.count_documents({}))'
	[ "$output" = 10 ]
}

@test "a mongos URI with replicaSet is a usage error (64) that says to remove it" {
	SOURCE_URI="mongodb://127.0.0.1:$SRC_PORT/?replicaSet=rs0" run -64 --separate-stderr \
		token-probe --db "$DB" --coll c --state-dir "$STATE"
	[[ "$stderr" == *"the source URI names replicaSet 'rs0' but '127.0.0.1:$SRC_PORT' is a mongos (a sharded cluster's router): remove replicaSet from the URI"* ]]
	TARGET_URI="mongodb://127.0.0.1:$DST_PORT/?replicaSet=rs0" run -64 --separate-stderr \
		cdc-verify --db "$DB" --coll c
	[[ "$stderr" == *"the target URI names replicaSet 'rs0' but '127.0.0.1:$DST_PORT' is a mongos"* ]]
}

@test "dump-wrap's external engine through a mongos: mongodump gets the mongos URI, the dump its end time" {
	mkdir -p "$BATS_TEST_TMPDIR/fakebin" "$BATS_TEST_TMPDIR/tmp"
	ln -s "$REPO_ROOT/test/fixtures/fake-mongodump" "$BATS_TEST_TMPDIR/fakebin/mongodump"
	shard "$SOURCE_URI" c '{"tag": "hashed"}'
	load_docs "$SOURCE_URI" c 10
	FAKE_MONGO_RECORD="$BATS_TEST_TMPDIR/record" TMPDIR="$BATS_TEST_TMPDIR/tmp" \
		PATH="$BATS_TEST_TMPDIR/fakebin:$PATH" run -0 dump-wrap dump --db "$DB" --coll c \
		--out "$DUMP" --engine external
	grep -qxF "config: uri: \"$SOURCE_URI\"" "$BATS_TEST_TMPDIR/record"
	[ -s "$DUMP/$DB/c.dump-end.json" ]
	# and the native engine dumps the sharded collection whole
	run -0 dump-wrap dump --db "$DB" --coll c --out "$BATS_TEST_TMPDIR/native" --engine native
	run -0 dump-wrap restore --db "$DB" --coll c --in "$BATS_TEST_TMPDIR/native" --to-coll copy
	run -0 cdc-verify --db "$DB" --coll c --to-coll copy
}

@test "capture and replay killed -9 on sharded -> sharded while shard key values change: byte-identical" {
	shard "$SOURCE_URI" c '{"tag": "hashed"}'
	shard "$TARGET_URI" c '{"tag": "hashed"}'
	load_docs "$SOURCE_URI" c 2000
	start_workload --existing 2000 --rate 200 --shard-key tag "$SOURCE_URI" "$DB" c
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" c
	"$PY" "$REPO_ROOT/test/py/e2e_chaos.py" --init "$INIT" --sync "$SYNC" \
		--state-dir "$STATE" --dump-dir "$DUMP" --db "$DB" --coll c --kills 4 \
		--log "$BATS_TEST_TMPDIR/chaos.log"
	stop_workload
	"$PY" -c 'import json, sys; assert json.loads(sys.argv[1])["move"] > 0' "$WORKLOAD"
	run -0 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify \
		- - "$DB" c
	echo "$output" >&3
	[[ "$output" == *"result: equal"* ]]
}

@test "the shard key checks (unit cases): a missing key field is named, only an upsert's _id duplicate is passed over" {
	run -0 "$CSM_BUILD/test/test_shardkey"
	[[ "$output" == *"ok covered"* ]]
	[[ "$output" == *"ok upsert_met_id"* ]]
}

@test "catch-up window: an insert whose shard key value the dumped document no longer holds is passed over, after it it stops replay" {
	# c and d: the dump copied _id 1 after its shard key moved from "a" to
	# "b"; the staged insert (key "a"), the move's delete and insert follow.
	# c's marker puts all three in the window, d has no marker: no window.
	# shellcheck disable=SC2016 # Python source
	pyrun "$TARGET_URI" '
import replay_cases as rc, replay_events as rev
from bson import SON
for coll in ("c", "d"):
    client.admin.command("shardCollection", db_name + "." + coll, key={"tag": "hashed"})
    client[db_name][coll].insert_one(SON([("_id", 1), ("tag", "b"), ("v", 2)]))
    e = rc.Events(db_name, coll)
    old, new = SON([("tag", "a"), ("_id", 1)]), SON([("tag", "b"), ("_id", 1)])
    evs = [e.ev("insert", old, fullDocument=SON([("_id", 1), ("tag", "a"), ("v", 1)])),
           e.ev("delete", old),
           e.ev("insert", new, fullDocument=SON([("_id", 1), ("tag", "b"), ("v", 2)]))]
    rev.stage(client, db_name, db_name + "." + coll, evs)
    if coll == "c":
        rc.window_marker(client, db_name, coll, evs[-1]["clusterTime"])'
	run -0 timeout 120 cdc-replay --db "$DB" --coll c --status-interval 0 --drain
	[[ "$output" == *"passing over a write of seq 1 (insert"*"inside the catch-up window"*"(code 11000)"* ]]
	run -0 pyrun "$TARGET_URI" 'print(list(client[db_name].c.find()))'
	[ "$output" = "[{'_id': 1, 'tag': 'b', 'v': 2}]" ]
	run -65 timeout 120 cdc-replay --db "$DB" --coll d --status-interval 0 --drain
	[[ "$output" == *"duplicate key"*"seq 1 (insert"* ]]
}
