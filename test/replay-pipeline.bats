#!/usr/bin/env bats
# cdc-replay's pipeline (docs/DESIGN.md, "Replay rules"): the next batch is
# read and the previous one marked done while a batch applies, and still a
# batch is marked done only once its writes are acknowledged.

setup_file() {
	load helpers
	mlite_start TGT
}

teardown_file() {
	load helpers
	mlite_stop TGT
}

setup() {
	load helpers
	test_db
	export TARGET_URI="$TGT_URI"
	REPLAY_PID=
}

teardown() {
	if [[ -n "$REPLAY_PID" ]] && kill -0 "$REPLAY_PID" 2>/dev/null; then
		kill -KILL "$REPLAY_PID"
		cat "$BATS_TEST_TMPDIR/log" >&2 || true
	fi
	failpoint '"off"'
}

py() {
	pyrun "$TGT_URI" "import replay_cases as rc, replay_events as rev
$1" "${@:2}"
}

# failpoint MODE DATA: mongod-lite's failCommand for cdc-replay's connections.
failpoint() {
	py '
import json
data = json.loads(sys.argv[2])
data["appName"] = "changestream-migration/target"
client.admin.command("configureFailPoint", "failCommand", mode=json.loads(sys.argv[1]), data=data)' "$1" "${2:-{\}}"
}

@test "kill -9 while a batch's writes are held: every event marked done has its write on the target" {
	# 3000 deletes in batches of 100: one delete command per batch, each mark
	# an update command, so the fail point holds the writes and never a mark.
	py '
client[db_name].c.insert_many([{"_id": i} for i in range(1, 3001)])
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("delete", rc.k(i)) for i in range(1, 3001)])'
	# Batches 1..5 go through; the writes of batch 6 wait on the server.
	failpoint '{"skip": 5}' '{"failCommands": ["delete"], "blockConnection": true, "blockTimeMS": 4000}'
	cdc-replay --db "$DB" --coll c --batch-size 100 --status-interval 0 >>"$BATS_TEST_TMPDIR/log" 2>&1 3>&- &
	REPLAY_PID=$!
	# The marks of batches 1..5 land while batch 6 is held: the pipeline
	# marks a batch while the next one applies.
	wait_until 20 py 'assert client[db_name].cdc.count_documents({"status": "done"}) == 500'
	kill -KILL "$REPLAY_PID"
	wait "$REPLAY_PID" || true
	REPLAY_PID=
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	py '
cdc, c = client[db_name].cdc, client[db_name].c
done = [d["event"]["documentKey"]["_id"] for d in cdc.find({"status": "done"})]
assert len(done) == 500, len(done)
present = c.count_documents({"_id": {"$in": done}})
assert present == 0, "%d events marked done whose delete is not on the target" % present
# Batch 6 was read and sent, but never acknowledged: nothing of it is done.
assert cdc.count_documents({"status": "done", "seq": {"$gt": 500}}) == 0
assert c.count_documents({"_id": {"$gt": 500}}) == 2500'
	failpoint '"off"'
	run -0 timeout 120 cdc-replay --db "$DB" --coll c --drain --batch-size 100 --status-interval 0
	py '
assert client[db_name].c.count_documents({}) == 0
rc.all_done(client, db_name, db_name + ".c")'
}

@test "a batch whose writes fail is never marked, while the batches before it are" {
	py '
client[db_name].c.insert_many([{"_id": i} for i in range(1, 1001)])
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [e.ev("delete", rc.k(i)) for i in range(1, 1001)])'
	# Batch 4's deletes are refused for good (not a transient error): 65.
	failpoint '{"skip": 3}' '{"failCommands": ["delete"], "errorCode": 2}'
	run -65 timeout 60 cdc-replay --db "$DB" --coll c --batch-size 100 --drain --status-interval 0
	[[ "$output" == *"cannot apply seq 301..400"* ]]
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	py '
cdc = client[db_name].cdc
assert cdc.count_documents({"status": "done"}) == 300
assert cdc.count_documents({"status": "done", "seq": {"$gt": 300}}) == 0
assert client[db_name].c.count_documents({"_id": {"$lte": 300}}) == 0'
}

@test "--workers 4 applies the events of each key in order across pipelined batches" {
	# Few documents, many events each: every batch touches every key, and the
	# next batch is read while this one applies on four connections.
	py '
sim = rev.SimSource(db_name, "c", seed=11)
rev.stage(client, db_name, db_name + ".c", [sim.random_event(12) for _ in range(3000)])
open(sys.argv[1], "wb").write(__import__("pickle").dumps(sim.docs))' "$BATS_TEST_TMPDIR/want"
	run -0 timeout 120 cdc-replay --db "$DB" --coll c --drain --batch-size 97 --workers 4 --status-interval 0
	py '
want = __import__("pickle").loads(open(sys.argv[1], "rb").read())
d = rev.diff(want, rev.target_state(client, db_name, "c"))
assert not d, "\n".join(d)
rc.all_done(client, db_name, db_name + ".c")' "$BATS_TEST_TMPDIR/want"
}
