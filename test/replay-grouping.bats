#!/usr/bin/env bats
# cdc-replay sends a batch's writes arranged by document into the fewest
# write commands (docs/DESIGN.md, "Replay rules", Applying): each
# document's order is kept, the order across documents is not, and a
# failure of the arranged bulk applies the batch again in order.

# shellcheck disable=SC2154 # $output is set by bats' run
# shellcheck disable=SC2030,SC2031 # a test that runs on two databases sets DB in its own subshell

setup_file() {
	load helpers
	pair_start SRC TGT
}

teardown_file() {
	load helpers
	pair_stop
}

setup() {
	load helpers
	pair_setup
}

py() {
	pyrun "$TGT_URI" "import replay_cases as rc, replay_events as rev
$1" "${@:2}"
}

# replay ARGS...: cdc-replay on $DB.c, bounded in time.
replay() {
	timeout 120 cdc-replay --db "$DB" --coll c --status-interval 0 "$@"
}

@test "the arrangement keeps each document's order in the fewest write commands (unit cases)" {
	run "$CSM_BUILD/test/test_apply_order"
	echo "$output"
	((status == 0))
}

@test "a unique value freed by one document and taken by another in one batch: the arranged bulk meets the index, the batch is applied again in order" {
	# On the target (no restore marker: no catch-up window) A holds email x.
	# The batch: C updated, A deleted, B inserted with x, C deleted. In the
	# fewest commands the updates go first (C's update, then its delete, needs
	# U then D), so B's insert meets A's x before A's delete.
	py '
c = client[db_name].c
c.create_index("email", unique=True)
c.insert_many([{"_id": 1, "email": "x"}, {"_id": 3, "n": 0}])
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [
    e.upd(rc.k(3), {"n": 1}),
    e.ev("delete", rc.k(1)),
    e.ev("insert", rc.k(2), fullDocument={"_id": 2, "email": "x"}),
    e.ev("delete", rc.k(3)),
])'
	run -0 replay --drain --log-level debug --log-format json
	echo "$output"
	[[ "$output" == *"4 writes arranged by document into 2 write commands (4 in the batch's order)"* ]]
	py '
d = rev.diff({2: {"_id": 2, "email": "x"}}, rev.target_state(client, db_name, "c"))
assert not d, "\n".join(d)
rc.all_done(client, db_name, db_name + ".c")'
	"$PY" -c '
import json, sys
fin = [json.loads(l) for l in sys.stdin if "\"finished\"" in l]
assert fin and fin[-1].get("orderedFallbacks", 0) >= 1, fin' <<<"$output"
}

@test "a shard key change (a delete and an insert of one _id under other documentKeys) keeps its order: no fallback" {
	py '
c = client[db_name].c
c.insert_many([{"_id": 5, "sk": 1}, {"_id": 3, "sk": 0, "n": 0}])
e = rc.Events(db_name, "c")
rev.stage(client, db_name, db_name + ".c", [
    e.upd(rc.ck(0, 3), {"n": 1}),
    e.ev("delete", rc.ck(1, 5)),
    e.ev("insert", rc.ck(2, 5), fullDocument={"_id": 5, "sk": 2}),
    e.ev("delete", rc.ck(0, 3)),
])'
	run -0 replay --drain --log-level debug --log-format json
	echo "$output"
	[[ "$output" == *"4 writes arranged by document into 3 write commands"* ]]
	py '
d = rev.diff({5: {"_id": 5, "sk": 2}}, rev.target_state(client, db_name, "c"))
assert not d, "\n".join(d)'
	"$PY" -c '
import json, sys
fin = [json.loads(l) for l in sys.stdin if "\"finished\"" in l]
assert fin and "orderedFallbacks" not in fin[-1], fin' <<<"$output"
}

@test "random events (deletes, inserts of deleted _ids again, updates, replaces) converge in arranged batches, with one worker and with lanes" {
	local workers base="$DB"
	for workers in 1 3; do
		DB="${base}_w$workers"
		py '
sim = rev.SimSource(db_name, "c", seed=20)
evs = [sim.random_event(40) for _ in range(4000)]
for ev in evs:  # as a 6.1+ source sends them: no path is read on the target
    if "updateDescription" in ev:
        ev["updateDescription"]["disambiguatedPaths"] = {}
rev.stage(client, db_name, db_name + ".c", evs)
open(sys.argv[1], "wb").write(__import__("pickle").dumps(sim.docs))' "$BATS_TEST_TMPDIR/want"
		run -0 replay --drain --batch-size 1000 --workers "$workers" --log-level debug
		[[ "$output" == *"writes arranged by document into"* ]] || ((workers > 1))
		py '
want = __import__("pickle").loads(open(sys.argv[1], "rb").read())
d = rev.diff(want, rev.target_state(client, db_name, "c"))
assert not d, "\n".join(d)
rc.all_done(client, db_name, db_name + ".c")' "$BATS_TEST_TMPDIR/want"
	done
}

@test "a random mixed workload replays byte-identical in arranged batches, with one worker and with lanes" {
	local seed="${CSM_DIFF_SEED:-$RANDOM}" workers base="$DB"
	echo "seed $seed (CSM_DIFF_SEED=$seed reruns it)"
	for workers in 1 3; do
		DB="${base}_w$workers"
		STATE="$BATS_TEST_TMPDIR/state-$workers"
		mkdir -p "$STATE"
		run -0 "$PY" "$REPO_ROOT/test/py/diff_workload.py" prepare "$SRC_URI" "$TGT_URI" \
			"$DB" "$STATE" "$seed"
		run -0 "$PY" "$REPO_ROOT/test/py/diff_workload.py" run-staged "$SRC_URI" "$TGT_URI" \
			"$DB" "$seed" 5000
		run -0 replay --drain --batch-size 1000 --workers "$workers" --log-level debug
		# The batches did go out arranged (fewer commands than in order).
		[[ "$output" == *"writes arranged by document into"* ]] || ((workers > 1))
		run "$PY" "$REPO_ROOT/test/py/diff_workload.py" compare "$SRC_URI" "$TGT_URI" \
			"$DB" "$seed"
		echo "$output"
		((status == 0))
	done
}

@test "a capped target keeps the staged order across documents: no arranging, no lanes" {
	# A capped collection's insertion order is its natural order and decides
	# what it drops first when full: reordering across documents would
	# leave another collection than the source's.
	local workers
	for workers in 1 2; do
		py '
coll = "c%s" % sys.argv[1]
c = client[db_name].create_collection(coll, capped=True, size=1 << 20)
c.insert_many([{"_id": 1, "n": 0}, {"_id": 3, "n": 0}])
e = rc.Events(db_name, coll)
rev.stage(client, db_name, db_name + "." + coll, [
    e.upd(rc.k(3), {"n": 1}),
    e.ev("delete", rc.k(1)),
    e.ev("insert", rc.k(2), fullDocument={"_id": 2, "n": 2}),
    e.ev("delete", rc.k(3)),
])' "$workers"
		run -0 timeout 120 cdc-replay --db "$DB" --coll "c$workers" --status-interval 0 \
			--drain --log-level debug --workers "$workers"
		echo "$output"
		[[ "$output" == *"is capped on the target: its writes go out in the order of the staged events"* ]]
		[[ "$output" != *"arranged by document"* ]]
		[[ "$output" != *"lanes"* ]]
		py '
coll = "c%s" % sys.argv[1]
d = rev.diff({2: {"_id": 2, "n": 2}}, rev.target_state(client, db_name, coll))
assert not d, "\n".join(d)
rc.all_done(client, db_name, db_name + "." + coll)' "$workers"
	done
}
