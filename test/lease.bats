#!/usr/bin/env bats
# The single-writer lease (lib/lease.h) against a server: one writer per
# namespace, across processes and machines, surviving kill -9; and the
# programs that hold it: cdc-replay and dump-wrap restore ("apply:<target
# ns>"), cdc-capture ("capture:<ns>", in test/drivers.bats).

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
	BG_PIDS=()
}

teardown() {
	# A failed test must not leave a program behind (bats would wait for it).
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill -CONT "$pid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# lease_case CASE...: the named cases of test/unit/test_lease.c.
lease_case() {
	run env CSM_TEST_URI="$TGT_URI" CSM_TEST_DB="$DB" "$CSM_BUILD/test/test_lease" "$@"
	if ((status != 0)); then
		echo "$output" >&2
		return 1
	fi
}

# bg NAME COMMAND...: COMMAND in the background, output in
# $BATS_TEST_TMPDIR/NAME.log, its pid in BG (and BG_PIDS, for teardown).
bg() {
	local name="$1"
	shift
	"$@" >"$BATS_TEST_TMPDIR/$name.log" 2>&1 &
	BG=$!
	BG_PIDS+=("$BG")
}

# bg_wait PID SECONDS: wait for PID to exit; its exit code in status.
bg_wait() {
	wait_until "$2" gone "$1"
	status=0
	wait "$1" || status=$?
}

# replay ARGS...: cdc-replay of $DB.c (unless --coll is given later). It
# execs the program (call it through run or bg only), so that a background
# replay's $! is the program's pid.
replay() {
	exec cdc-replay --db "$DB" --coll c --status-interval 0 "$@"
}

# lease_doc NAME EXPR: print EXPR (Python, on the lease document `d`, None
# when absent) for the lease NAME in $DB.cdc_meta.
lease_doc() {
	pyrun "$TGT_URI" "
import datetime
d = client[db_name].cdc_meta.find_one({'_id': 'lease:' + sys.argv[1]})
now = datetime.datetime.utcnow()
print($2)" "$1"
}

# drained_once: one cdc-replay --drain of $DB.c, which exits 0 having
# drained it (its output in $BATS_TEST_TMPDIR/drain.log).
drained_once() {
	cdc-replay --db "$DB" --coll c --status-interval 0 --drain \
		>"$BATS_TEST_TMPDIR/drain.log" 2>&1 &&
		grep -q "drained '$DB.c'" "$BATS_TEST_TMPDIR/drain.log"
}

# holder_is PID NAME PROGRAM: the lease NAME is live, held by PROGRAM as PID.
holder_is() {
	[ "$(lease_doc "$2" "d and 'releasedAt' not in d and d['expiresAt'] > now and \
(d['owner']['pid'], d['owner']['program'])")" = "($1, '$3')" ]
}

# stage_sim N: N random events of $DB.c staged; the simulated source is
# pickled to $BATS_TEST_TMPDIR/sim for same_as_sim.
stage_sim() {
	pyrun "$TGT_URI" '
import pickle, replay_events as rev
sim = rev.SimSource(db_name, "c", seed=7)
rev.stage(client, db_name, db_name + ".c", [sim.random_event(300) for _ in range(int(sys.argv[1]))])
pickle.dump(sim, open(sys.argv[2], "wb"))' "$1" "$BATS_TEST_TMPDIR/sim"
}

# same_as_sim: $DB.c on the target is the simulated source of stage_sim.
same_as_sim() {
	pyrun "$TGT_URI" '
import pickle, replay_events as rev
sim = pickle.load(open(sys.argv[1], "rb"))
d = rev.diff(sim.docs, rev.target_state(client, db_name, "c"))
assert not d, "\n".join(d)' "$BATS_TEST_TMPDIR/sim"
}

@test "a live lease refuses a second writer with 73 naming the holder; released, the next writer takes it" {
	lease_case take_and_refuse
}

@test "a holder on another machine that stops renewing loses the lease at expiry and its next publish is refused" {
	lease_case expired_taken_and_stale_refused
}

@test "the lease of a dead process of this machine is taken over at once, a live one's never" {
	lease_case dead_holder_here_taken_at_once
}

@test "the lease of a killed process of this machine that nobody reaped (a zombie) is taken over at once" {
	lease_case zombie_holder_taken_at_once
}

@test "a lease taken with lease_open stays its holder's while the holder writes nothing for three ttls" {
	lease_case kept_renewed_while_idle
}

# The two-versions race of issue 13: with three replays at --batch-size 100,
# a replay applying a v=1 batch read before another marked it and applied
# the v=2 batch after it leaves 100 documents at v=1, every event done.
@test "three replays of one collection started together: one writes, the others exit 73 naming it; every document ends exact (3 runs)" {
	local run k pid status refused holders host
	host="$(hostname)"
	for run in 1 2 3; do
		"$PY" "$REPO_ROOT/test/py/lease_race.py" stage "$TGT_URI" "$DB" "c$run" 20000
		local pids=()
		for k in 1 2 3; do
			bg "c$run.$k" replay --coll "c$run" --batch-size 100 --drain
			pids+=("$BG")
		done
		refused=0
		for k in 0 1 2; do
			bg_wait "${pids[k]}" 60
			if ((status == 73)); then
				refused=$((refused + 1))
				# Named: the holder is one of the others, by host and pid.
				holders="$(grep -o "'apply:$DB.c$run' is being written by cdc-replay on host $host (pid [0-9]*" \
					"$BATS_TEST_TMPDIR/c$run.$((k + 1)).log" | grep -o '[0-9]*$')"
				[[ -n "$holders" && " ${pids[*]} " == *" $holders "* && "$holders" != "${pids[k]}" ]]
			else
				[ "$status" -eq 0 ]
			fi
		done
		echo "run $run: $refused of 3 refused"
		"$PY" "$REPO_ROOT/test/py/lease_race.py" check "$TGT_URI" "$DB" "c$run" 20000
	done
}

@test "a restore still running and a replay of the same collection exclude each other with 73 naming the holder" {
	local fixtures="$REPO_ROOT/test/fixtures/dump-mongodump/fixture" dump="$BATS_TEST_TMPDIR/dump"
	mkdir -p "$dump/$DB"
	cp "$fixtures/people.bson" "$dump/$DB/c.bson"
	cp "$fixtures/people.metadata.json" "$dump/$DB/c.metadata.json"
	# The restore's first insert waits 4 s on the server: an orphaned restore
	# still at work. The lease's own connection is not held up.
	pyrun "$TGT_URI" '
client.admin.command("configureFailPoint", "failCommand", mode={"times": 1}, data={
    "failCommands": ["insert"], "blockConnection": True, "blockTimeMS": 4000,
    "appName": "changestream-migration/target"})'
	bg restore dump-wrap restore --db "$DB" --coll c --in "$dump" --defer-constraints
	local restore=$BG
	# The collection is created just before the data goes in.
	wait_until 10 pyrun "$TGT_URI" 'assert "c" in client[db_name].list_collection_names()'
	run -73 replay --drain
	[[ "$output" == *"'apply:$DB.c' is being written by dump-wrap restore on host $(hostname) (pid $restore, term 1), whose lease runs until "* ]]
	[[ "$output" == *"stop that process and run this again"* ]]
	bg_wait "$restore" 20
	[ "$status" -eq 0 ]
	[ "$(lease_doc "apply:$DB.c" "'releasedAt' in d")" = True ]
	# The other way round: a restore while a replay follows is refused too.
	bg replay replay
	local follower=$BG
	wait_until 10 grep -q "replaying '$DB.c'" "$BATS_TEST_TMPDIR/replay.log"
	holder_is "$follower" "apply:$DB.c" cdc-replay
	run -73 dump-wrap restore --db "$DB" --coll c --in "$dump"
	[[ "$output" == *"'apply:$DB.c' is being written by cdc-replay on host $(hostname) (pid $follower, term 2)"* ]]
	[[ "$output" != *"restored"* ]]
	kill -TERM "$follower"
	bg_wait "$follower" 10
	[ "$status" -eq 0 ]
	run -0 pyrun "$TGT_URI" "print(client[db_name].c.count_documents({}))"
	[ "$output" = 5 ]
}

@test "a replay killed with kill -9 is taken over at once by the next; a live one refuses it" {
	stage_sim 500
	bg first replay
	local first=$BG
	wait_until 10 grep -q "replaying '$DB.c'" "$BATS_TEST_TMPDIR/first.log"
	run -73 replay --drain
	[[ "$output" == *"is being written by cdc-replay on host $(hostname) (pid $first, "* ]]
	kill -KILL "$first"
	# At once, not after the 30 s of the lease: its holder is gone.
	SECONDS=0
	run -0 replay --drain
	((SECONDS < 10))
	[[ "$output" != *"is being written by"* ]]
	same_as_sim
	[ "$(lease_doc "apply:$DB.c" "d['term']")" = 2 ]
}

@test "a replay frozen past its lease's expiry, taken over meanwhile, is refused at its next write with 73 and writes nothing" {
	# CSM_TEST_LEASE_TTL_MS (tests only): a lease of 1.5 s instead of 30.
	bg stale env CSM_TEST_LEASE_TTL_MS=1500 cdc-replay --db "$DB" --coll c --status-interval 0
	local stale=$BG
	wait_until 10 grep -q "replaying '$DB.c'" "$BATS_TEST_TMPDIR/stale.log"
	kill -STOP "$stale"
	# Another replay takes over once the lease expired (term 2), drains and
	# ends; then there is work again.
	wait_until 10 drained_once
	stage_sim 200
	kill -CONT "$stale"
	bg_wait "$stale" 10
	[ "$status" -eq 73 ]
	grep -q "lost the lease of 'apply:$DB.c' (term 1) to cdc-replay on host $(hostname) (pid [0-9]*, term 2): another writer took over" \
		"$BATS_TEST_TMPDIR/stale.log"
	# Nothing applied, nothing marked.
	run -0 pyrun "$TGT_URI" "
print(client[db_name].c.count_documents({}),
      client[db_name].cdc.count_documents({'status': 'pending'}))"
	[ "$output" = "0 200" ]
}
