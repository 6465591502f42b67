#!/usr/bin/env bats
# cdc-capture: every source change staged on the target exactly once, across
# kill -9, faults and restarts; refusals never start from "now"
# (docs/DESIGN.md, "Staged events", "Exit codes", "Errors and retries").

# shellcheck disable=SC2154 # $stderr is set by bats' run --separate-stderr

setup_file() {
	load helpers
	pair_start SRC TGT
}

teardown_file() {
	pair_stop
}

setup() {
	load helpers
	pair_setup
	STATE="$BATS_TEST_TMPDIR/state"
	mkdir -p "$STATE"
	CAP_PIDS=()
}

teardown() {
	local pid
	for pid in "${CAP_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [[ -n "${HL_PID:-}" ]]; then mlite_stop HL; fi
}

# cu COMMAND ARGS...: the Python helpers of test/py/capture_util.py.
cu() {
	"$PY" -m capture_util "$@"
}

# cpy URI CODE [ARGS...]: like pyrun (client, db_name, sys.argv), with
# capture_util as cu, and an exit that does not wait for pymongo's threads.
cpy() {
	local uri="$1" code="$2"
	shift 2
	"$PY" -c "
import sys, os, pymongo
from bson import *
import capture_util as cu
client = cu.connect(sys.argv[1])
db_name = os.environ['DB']
sys.argv = sys.argv[1:]
$code
sys.stdout.flush()
os._exit(0)
" "$uri" "$@"
}

# probe COLL: a token file for $DB.COLL, as token-probe would write it; a
# copy is kept as COLL.token.orig for the reference stream.
probe() {
	# The collection exists first: else a 6.0+ source's stream begins with
	# its create event (test/expanded-capture.bats stages those).
	cpy "${2:-$SRC_URI}" '
d = client[db_name]
if sys.argv[1] not in d.list_collection_names():
    d.create_collection(sys.argv[1])' "$1"
	cu token "${2:-$SRC_URI}" "$DB" "$1" "$STATE/$DB.$1.token"
	cp "$STATE/$DB.$1.token" "$BATS_TEST_TMPDIR/$1.token.orig"
}

# capture_bg COLL [options...]: starts cdc-capture in the background; its
# pid is in CAP_PID, its stderr appends to $BATS_TEST_TMPDIR/capture.log.
capture_bg() {
	local coll="$1"
	shift
	cdc-capture --db "$DB" --coll "$coll" --state-dir "$STATE" --full-document updateLookup "$@" \
		2>>"$BATS_TEST_TMPDIR/capture.log" &
	CAP_PID=$!
	CAP_PIDS+=("$CAP_PID")
}

# stop_capture PID: SIGTERM; the exit status must be 0.
stop_capture() {
	kill -TERM "$1"
	local rc=0
	wait "$1" || rc=$?
	[ "$rc" -eq 0 ] || {
		cat "$BATS_TEST_TMPDIR/capture.log" >&2
		echo "capture exited $rc after SIGTERM" >&2
		return 1
	}
}

staged_count() {
	cu count "$TGT_URI" "$DB" "$1" "${2:-cdc}"
}

# staged_at_least COLL N [STAGING]
staged_at_least() {
	local n
	n="$(staged_count "$1" "${3:-cdc}")"
	((n >= $2))
}

# reference_count COLL: events on the source after the original token.
reference_count() {
	cu reference-count "$SRC_URI" "$DB" "$1" "$BATS_TEST_TMPDIR/$1.token.orig"
}

# check COLL [STAGING]: staged events == the source's events, seq 1..N.
check_exactly_once() {
	cu check "$SRC_URI" "$TGT_URI" "$DB" "$1" "$BATS_TEST_TMPDIR/$1.token.orig" "${2:-cdc}"
}

# checkpoint_field COLL FIELD [STAGING]: a field of the checkpoint of $DB.COLL.
checkpoint_field() {
	cu checkpoint "$TGT_URI" "$DB" "$1" "$2" "${3:-cdc}"
}

# checkpoint_is COLL FIELD OP VALUE: reads the field anew on every call, so
# wait_until can poll it (test "$(...)" would be evaluated only once).
checkpoint_is() {
	test "$(checkpoint_field "$1" "$2")" "$3" "$4"
}

@test "--help prints the synopsis on stdout; a bad --batch-size is a usage error" {
	run -0 --separate-stderr cdc-capture --help
	[[ "$output" == *"usage: cdc-capture --db DB --coll COLL"* ]]
	[[ "$output" == *"exit status:"*"66 "*"run token-probe first"* ]]
	run -64 --separate-stderr cdc-capture --db "$DB" --coll c --batch-size 0
	[[ "$stderr" == *"invalid value '0' for --batch-size"* ]]
	[[ "$stderr" == *"usage: cdc-capture"* ]]
	run -64 --separate-stderr cdc-capture --db "$DB"
	[[ "$stderr" == "cdc-capture: --db and --coll are required"* ]]
}

@test "without a token file and with nothing staged capture refuses with 66 and stages nothing" {
	cpy "$SRC_URI" 'client[db_name].c.insert_one({"_id": 1})'
	run -66 --separate-stderr cdc-capture --db "$DB" --coll c --state-dir "$STATE"
	[[ "$stderr" == *"no resume point for '$DB.c'"*"run token-probe first"* ]]
	[ ! -e "$STATE/$DB.c.token" ]
	[ "$(staged_count c)" -eq 0 ]
}

@test "a collection named like the staging collections is refused with 64 naming --staging-coll, before anything is staged" {
	cpy "$SRC_URI" 'client[db_name].create_collection("cdc"); client[db_name].create_collection("s_meta")'
	probe cdc
	probe s_meta
	# Bounded: a capture that does not refuse would follow the stream.
	run -64 timeout 20 cdc-capture --db "$DB" --coll cdc --state-dir "$STATE"
	[[ "$output" == *"collection '$DB.cdc' is named like the staging collections '$DB.cdc' and '$DB.cdc_meta'"*"--staging-coll"* ]]
	run -64 timeout 20 cdc-capture --db "$DB" --coll s_meta --staging-coll s --state-dir "$STATE"
	[[ "$output" == *"'$DB.s' and '$DB.s_meta'"* ]]
	cpy "$TGT_URI" 'assert client[db_name].list_collection_names() == [], client[db_name].list_collection_names()'
}

@test "a corrupt token file is exit 65 and is left as it was" {
	printf '{"version": 1, "ns": ' >"$STATE/$DB.c.token"
	cp "$STATE/$DB.c.token" "$BATS_TEST_TMPDIR/before"
	run -65 --separate-stderr cdc-capture --db "$DB" --coll c --state-dir "$STATE"
	[[ "$stderr" == *"token file '$STATE/$DB.c.token' is corrupt"* ]]
	cmp "$STATE/$DB.c.token" "$BATS_TEST_TMPDIR/before"
	[ "$(staged_count c)" -eq 0 ]
}

@test "events are staged in order with the documented fields; SIGTERM saves the position and exits 0" {
	probe c
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	cpy "$SRC_URI" '
c = client[db_name].c
c.insert_one({"_id": 1, "a": 1})
c.update_one({"_id": 1}, {"$set": {"a": 2}})
c.replace_one({"_id": 1}, {"_id": 1, "b": 1})
c.delete_one({"_id": 1})
'
	capture_bg c --batch-ms 50
	wait_until 20 staged_at_least c 4
	stop_capture "$CAP_PID"
	check_exactly_once c
	cpy "$TGT_URI" '
from bson.int64 import Int64
from bson.timestamp import Timestamp
import datetime
docs = list(client[db_name].cdc.find({"ns": db_name + ".c"}, sort=[("seq", 1)]))
assert [d["operationType"] for d in docs] == ["insert", "update", "replace", "delete"], docs
for i, d in enumerate(docs):
    assert type(d["seq"]) is Int64 and d["seq"] == i + 1, d
    assert d["token"] == d["event"]["_id"], d
    assert isinstance(d["clusterTime"], Timestamp) and d["clusterTime"] == d["event"]["clusterTime"]
    assert isinstance(d["stagedAt"], datetime.datetime)
    assert d["status"] == "pending" and d["ns"] == db_name + ".c"
idx = {tuple(i["key"].items()): i for i in client[db_name].cdc.list_indexes()}
assert idx[(("ns", 1), ("seq", 1))].get("unique") is True, idx
assert (("ns", 1), ("status", 1), ("seq", 1)) in idx, idx
cp = client[db_name].cdc_meta.find_one({"_id": "checkpoint:" + db_name + ".c"})
assert cp["state"] == "stopped" and cp["lastSeq"] == 4 and cp["ns"] == db_name + ".c", cp
assert isinstance(cp["heartbeatAt"], datetime.datetime), cp
'
	# The token file now holds the last staged event's token, mode 0600.
	[ "$(file_mode "$STATE/$DB.c.token")" = 600 ]
	grep -q '"writer": "cdc-capture"' "$STATE/$DB.c.token"
	cpy "$TGT_URI" '
import capture_util as cu
last = client[db_name].cdc.find_one({"ns": db_name + ".c", "seq": 4})
assert cu.read_token_file(sys.argv[1]) == last["token"]
' "$STATE/$DB.c.token"
	# A restart stages nothing twice.
	cpy "$SRC_URI" 'client[db_name].c.insert_one({"_id": 2})'
	capture_bg c --batch-ms 50
	wait_until 20 staged_at_least c 5
	stop_capture "$CAP_PID"
	check_exactly_once c
}

# 50,000 mixed operations from 4 writers; CAPTURE_KILL_OPS narrows it for a
# quick local run.
@test "capture killed with kill -9 at 10 moments stages exactly the source's events, seq 1..N" {
	local total=${CAPTURE_KILL_OPS:-50000} n threshold wl rc=0
	probe c
	cu workload "$SRC_URI" "$DB" c "$total" 7 &
	wl=$!
	threshold=0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		capture_bg c --batch-size $((50 + RANDOM % 400)) --batch-ms 100
		threshold=$((threshold + total / 14 + RANDOM % (total / 40)))
		wait_until 120 staged_at_least c "$threshold"
		kill -KILL "$CAP_PID"
		wait "$CAP_PID" 2>/dev/null || true
	done
	wait "$wl" || rc=$?
	[ "$rc" -eq 0 ]
	capture_bg c --batch-ms 100
	n="$(reference_count c)"
	echo "source events: $n" >&3
	wait_until 120 staged_at_least c "$n"
	stop_capture "$CAP_PID"
	check_exactly_once c
}

@test "two collections captured at once share one staging collection, each with its own seqs" {
	probe a
	probe b
	capture_bg a --staging-coll shared --batch-ms 50
	local pid_a=$CAP_PID
	capture_bg b --staging-coll shared --batch-ms 50
	local pid_b=$CAP_PID
	cu workload "$SRC_URI" "$DB" a 2000 1 &
	local wa=$!
	cu workload "$SRC_URI" "$DB" b 2000 2
	wait "$wa"
	wait_until 60 staged_at_least a "$(reference_count a)" shared
	wait_until 60 staged_at_least b "$(reference_count b)" shared
	stop_capture "$pid_a"
	stop_capture "$pid_b"
	check_exactly_once a shared
	check_exactly_once b shared
}

@test "network errors, step-down codes and write concern errors (91, 64) on source and target lose and duplicate nothing" {
	local src_app=changestream-migration/cdc-capture-source
	local tgt_app=changestream-migration/cdc-capture-target
	probe c
	capture_bg c --batch-size 50 --batch-ms 50
	local faults=(
		"$SRC_URI|{\"mode\": {\"times\": 2}, \"data\": {\"failCommands\": [\"getMore\"], \"closeConnection\": true}}|$src_app"
		"$SRC_URI|{\"mode\": {\"times\": 3}, \"data\": {\"failCommands\": [\"getMore\"], \"errorCode\": 11600, \"errorLabels\": [\"ResumableChangeStreamError\"]}}|$src_app"
		"$SRC_URI|{\"mode\": {\"times\": 2}, \"data\": {\"failCommands\": [\"getMore\"], \"errorCode\": 91, \"errorLabels\": []}}|$src_app"
		"$TGT_URI|{\"mode\": {\"times\": 3}, \"data\": {\"failCommands\": [\"insert\"], \"errorCode\": 91, \"errorLabels\": [\"RetryableWriteError\"]}}|$tgt_app"
		"$TGT_URI|{\"mode\": {\"times\": 3}, \"data\": {\"failCommands\": [\"insert\"], \"closeConnection\": true}}|$tgt_app"
		"$TGT_URI|{\"mode\": {\"times\": 2}, \"data\": {\"failCommands\": [\"insert\"], \"errorCode\": 11600}}|$tgt_app"
		"$TGT_URI|{\"mode\": {\"times\": 2}, \"data\": {\"failCommands\": [\"insert\"], \"writeConcernError\": {\"code\": 91, \"errmsg\": \"shutting down\", \"errorLabels\": [\"RetryableWriteError\"]}}}|$tgt_app"
		"$TGT_URI|{\"mode\": {\"times\": 4}, \"data\": {\"failCommands\": [\"insert\", \"update\"], \"writeConcernError\": {\"code\": 64, \"codeName\": \"WriteConcernFailed\", \"errmsg\": \"waiting for replication timed out\"}}}|$tgt_app"
	)
	local f uri spec app total=0
	for f in "${faults[@]}"; do
		IFS='|' read -r uri spec app <<<"$f"
		cu failpoint "$uri" "$spec" "$app"
		cu inserts "$SRC_URI" "$DB" c "$total" 200
		total=$((total + 200))
		wait_until 60 staged_at_least c "$total"
		cu failpoint-off "$uri"
	done
	cu workload "$SRC_URI" "$DB" c 1000 9
	wait_until 60 staged_at_least c "$(reference_count c)"
	stop_capture "$CAP_PID"
	check_exactly_once c
	grep -q "retrying what=\"[^\"]* '$DB.c' (source)\"" "$BATS_TEST_TMPDIR/capture.log"
	grep -q "retrying what=\"[^\"]* '$DB.c' (target)\"" "$BATS_TEST_TMPDIR/capture.log"
}

@test "a resume point no longer in the source oplog is exit 3 telling to migrate again from init" {
	mlite_start HL --oplog-max-entries 20
	probe c "$HL_URI"
	cpy "$HL_URI" 'client[db_name].c.insert_many([{"_id": i} for i in range(100)], ordered=True)'
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	cpy "$HL_URI" '
for i in range(100): client[db_name].c.update_one({"_id": i}, {"$set": {"x": 1}})'
	SOURCE_URI="$HL_URI" run -3 --separate-stderr cdc-capture --db "$DB" --coll c --state-dir "$STATE"
	[[ "$stderr" == *"cannot resume change stream on '$DB.c'"*"migrate this collection again from init"* ]]
	[ "$(staged_count c)" -eq 0 ]
	[ "$(checkpoint_field c state)" = history-lost ]
}

@test "a drop is staged, then capture stops with exit 4 naming it, and stays stopped on restart" {
	probe c
	cpy "$SRC_URI" '
client[db_name].c.insert_many([{"_id": 1}, {"_id": 2}])
client[db_name].c.drop()
client[db_name].c.insert_one({"_id": 3})
'
	run -4 --separate-stderr cdc-capture --db "$DB" --coll c --state-dir "$STATE" --batch-ms 50
	[[ "$stderr" == *"stopped at a 'drop' event on '$DB.c' (staged as seq 3)"* ]]
	[ "$(staged_count c)" -eq 3 ]
	[ "$(checkpoint_field c state)" = ddl ]
	run -4 --separate-stderr cdc-capture --db "$DB" --coll c --state-dir "$STATE"
	[[ "$stderr" == *"already stopped at a 'drop' event"* ]]
	[ "$(staged_count c)" -eq 3 ]
}

@test "a rename is staged, then capture stops with exit 4 naming it" {
	probe c
	cpy "$SRC_URI" '
client[db_name].c.insert_one({"_id": 1})
client[db_name].c.rename("c2")
'
	run -4 --separate-stderr cdc-capture --db "$DB" --coll c --state-dir "$STATE" --batch-ms 50
	[[ "$stderr" == *"stopped at a 'rename' event on '$DB.c' (staged as seq 2)"* ]]
	cpy "$TGT_URI" '
d = client[db_name].cdc.find_one({"seq": 2})
assert d["operationType"] == "rename" and d["event"]["to"]["coll"] == "c2", d'
}

# big_doc_events: a document of 16 MiB - 4 KiB inserted, a small update,
# then its big field rewritten (that update event, with the field in
# updatedFields and the looked-up document, is twice the BSON limit), then
# another small update.
big_doc_events() {
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	cpy "$SRC_URI" '
from bson import encode
c = client[db_name].c
doc = {"_id": 1, "small": 0, "big": ""}
doc["big"] = "x" * (16 * 1024 * 1024 - 4096 - len(encode(doc)))
assert len(encode(doc)) == 16 * 1024 * 1024 - 4096
c.insert_one(doc)
c.update_one({"_id": 1}, {"$set": {"small": 1}})
c.update_one({"_id": 1}, {"$set": {"big": "y" * len(doc["big"])}})
c.update_one({"_id": 1}, {"$set": {"small": 2}})
'
}

@test "a 16 MiB - 4 KiB document inserted then updated is staged intact: as split fragments (resumable between them), and without the split stage after a 10334 without its looked-up document" {
	probe c
	mkdir -p "$STATE/nosplit"
	cp "$STATE/$DB.c.token" "$STATE/nosplit/"
	big_doc_events
	capture_bg c --batch-ms 50
	local pid_split=$CAP_PID
	capture_bg c --batch-ms 50 --split-events never --staging-coll nosplit \
		--state-dir "$STATE/nosplit"
	wait_until 60 staged_at_least c 5
	wait_until 60 staged_at_least c 4 nosplit
	stop_capture "$pid_split"
	stop_capture "$CAP_PID"
	cpy "$TGT_URI" '
ref = cu.reference_events(sys.argv[2], db_name, "c", cu.read_token_file(sys.argv[3]))
assert [e["operationType"] for e in ref] == ["insert", "update", "update", "update"], ref
# With the split stage: the oversized update comes as fragments, each its
# own staged document; merged, it has its looked-up document.
docs = cu.staged_docs(sys.argv[1], db_name, "c")
events = cu.assemble(docs)
diffs = cu.check_seqs(docs) + cu.compare(ref, events, check_tokens=False)
assert not diffs, diffs
assert [e["_id"] for _, e, _ in events[:2]] == [e["_id"] for e in ref[:2]]
assert events[3][1]["_id"] == ref[3]["_id"]
assert [d["event"]["splitEvent"]["fragment"] for d in docs if "splitEvent" in d.get("event", {})] == [1, 2], [d["seq"] for d in docs]
full = events[2][1]["fullDocument"]
assert full["big"] == "y" * len(full["big"]) and len(full["big"]) > 16 * 1024 * 1024 - 8192
assert events[2][1]["updateDescription"]["updatedFields"]["big"] == full["big"]
# Without it: the oversized update is staged with its updateDescription
# only; the events around it keep their looked-up documents.
docs = cu.staged_docs(sys.argv[1], db_name, "c", "nosplit")
events = cu.assemble(docs)
diffs = cu.check_seqs(docs) + cu.compare(ref, events)
assert not diffs, diffs
assert events[1][1]["fullDocument"]["small"] == 2, "the update before lost its document"
assert events[2][1].get("fullDocument") is None, "the update kept its looked-up document"
big = events[2][1]["updateDescription"]["updatedFields"]["big"]
assert big == "y" * len(big) and len(big) > 16 * 1024 * 1024 - 8192
assert events[3][1]["fullDocument"]["small"] == 2, "updateLookup did not resume"
' "$TGT_URI" "$SRC_URI" "$BATS_TEST_TMPDIR/c.token.orig"
	grep -q 'too large with its looked-up document' "$BATS_TEST_TMPDIR/capture.log"
	# A crash between the two fragments (fragment 2 and what follows not
	# staged, no checkpoint after them): the restart resumes from fragment
	# 1's token and stages the rest exactly once.
	# shellcheck disable=SC2016 # Python source: its $ operators are MongoDB's
	cpy "$TGT_URI" '
frag1 = client[db_name].cdc.find_one({"event.splitEvent.fragment": 1})
client[db_name].cdc.delete_many({"seq": {"$gt": frag1["seq"]}})
client[db_name].cdc_meta.delete_many({})'
	capture_bg c --batch-ms 50
	wait_until 60 staged_at_least c 5
	stop_capture "$CAP_PID"
	grep -q "into '$DB.cdc' from the staged events (seq 3 staged)" "$BATS_TEST_TMPDIR/capture.log"
	cpy "$TGT_URI" '
ref = cu.reference_events(sys.argv[2], db_name, "c", cu.read_token_file(sys.argv[3]))
docs = cu.staged_docs(sys.argv[1], db_name, "c")
diffs = cu.check_seqs(docs) + cu.compare(ref, cu.assemble(docs), check_tokens=False)
assert not diffs and len(docs) == 5, (diffs, [d["seq"] for d in docs])
' "$TGT_URI" "$SRC_URI" "$BATS_TEST_TMPDIR/c.token.orig"
}

@test "an event that fits in 16 MiB but not with the staging fields is staged as eventBytes chunks; a half-staged one is staged again after a crash" {
	probe c
	# Size the document so that its insert event is just under 16 MiB.
	cpy "$SRC_URI" '
import capture_util as cu
from bson import encode
c = client[db_name].c
c.insert_one({"_id": 1, "big": ""})
ev = cu.reference_events(sys.argv[1], db_name, "c", cu.read_token_file(sys.argv[2]))[0]
overhead = len(encode(ev)) - len(encode({"_id": 1, "big": ""}))
c.delete_one({"_id": 1})
c.insert_one({"_id": 2, "big": "z" * (16 * 1024 * 1024 - overhead - 40)})
' "$SRC_URI" "$BATS_TEST_TMPDIR/c.token.orig"
	capture_bg c --batch-ms 50
	wait_until 60 staged_at_least c 4
	stop_capture "$CAP_PID"
	cpy "$TGT_URI" '
import capture_util as cu
from bson import encode
docs = cu.staged_docs(sys.argv[1], db_name, "c")
ref = cu.reference_events(sys.argv[2], db_name, "c", cu.read_token_file(sys.argv[3]))
events = cu.assemble(docs)
assert not cu.check_seqs(docs) + cu.compare(ref, events)
chunks = [d for d in docs if "chunk" in d]
assert len(chunks) == 2 and [d["chunk"] for d in chunks] == [{"index": 0, "of": 2}, {"index": 1, "of": 2}], [d.get("chunk") for d in docs]
assert all("event" not in d and d["token"] == ref[2]["_id"] and d["operationType"] == "insert" for d in chunks)
assert encode(events[2][1]) == encode(ref[2])
' "$TGT_URI" "$SRC_URI" "$BATS_TEST_TMPDIR/c.token.orig"
	# A crash in the middle of the ordered insert leaves chunk 0 without
	# chunk 1 (and no checkpoint after it): the restart removes the part
	# and stages the event again, whole, under the same seqs.
	cpy "$TGT_URI" '
client[db_name].cdc.delete_one({"ns": db_name + ".c", "seq": 4})
client[db_name].cdc_meta.delete_many({})'
	capture_bg c --batch-ms 50
	wait_until 60 staged_at_least c 4
	stop_capture "$CAP_PID"
	grep -q "removed 1 parts of an event of '$DB.c' left incomplete by a crash" "$BATS_TEST_TMPDIR/capture.log"
	check_exactly_once c
}

@test "while idle the checkpoint heartbeat and token advance; a restart resumes from the checkpoint" {
	probe c
	capture_bg c --batch-ms 50 --status-interval 1 --log-format json
	wait_until 20 checkpoint_is c state = running
	local hb1 tok1
	hb1="$(checkpoint_field c heartbeatAt)"
	tok1="$(checkpoint_field c token)"
	# Writes elsewhere move the source's clock and the postBatchResumeToken.
	cpy "$SRC_URI" 'client[db_name].other.insert_one({"_id": 1})'
	wait_until 20 checkpoint_is c heartbeatAt != "$hb1"
	wait_until 20 checkpoint_is c token != "$tok1"
	[ "$(checkpoint_field c lastSeq)" = 0 ]
	[ "$(checkpoint_field c clusterTime)" != None ]
	# A status line in JSON with the lag.
	wait_until 10 grep -q '"msg": "status"' "$BATS_TEST_TMPDIR/capture.log"
	grep '"msg": "status"' "$BATS_TEST_TMPDIR/capture.log" | tail -1 | "$PY" -c '
import json, sys
s = json.loads(sys.stdin.read())
assert s["ns"].endswith(".c") and s["events"] == 0 and s["lagSeconds"] is not None and s["lagSeconds"] < 5, s
assert "t" in s["clusterTime"] and s["state"] == "idle" and s["pending"] is None, s'
	stop_capture "$CAP_PID"
	cpy "$SRC_URI" 'client[db_name].c.insert_one({"_id": 1})'
	capture_bg c --batch-ms 50
	wait_until 20 staged_at_least c 1
	stop_capture "$CAP_PID"
	grep -q "from the checkpoint" "$BATS_TEST_TMPDIR/capture.log"
	check_exactly_once c
}

@test "restart resumes after the newest safe point; 6.0.9+/7.0 get the split stage; big events become chunks; a token's clusterTime is read as MongoDB encodes it (unit)" {
	run -0 "$CSM_BUILD/test/test_capture"
}
