#!/usr/bin/env bats
# cdc-replay at size: the 50,000-event kill -9 test and the memory bound
# (200,000 staged events of 1 KiB). Kept apart from test/cdc-replay.bats so
# that each file stays under ~90 s.

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
}

py() {
	pyrun "$TGT_URI" "import replay_cases as rc, replay_events as rev
$1" "${@:2}"
}

@test "50,000 events: replay killed with kill -9 at 10 random moments converges, done only when applied" {
	run -0 "$PY" "$REPO_ROOT/test/py/replay_kill.py" "$TGT_URI" "$DB" 50000 10 500 42
	echo "$output"
}

@test "memory: 200,000 staged events of 1 KiB replay under 64 MiB peak RSS" {
	py '
from bson.int64 import Int64
ns = db_name + ".c"
staging = rev.ensure_staging(client, db_name)
pad = "p" * 1000
now = rev.datetime.datetime.utcnow()
for start in range(0, 200000, 5000):
    docs = []
    for i in range(start + 1, start + 5001):
        ts = rev.Timestamp(rc.T0 + i // 1000, i % 1000 + 1)
        ev = {"_id": {"_data": "%016X" % i}, "operationType": "insert", "clusterTime": ts,
              "ns": {"db": db_name, "coll": "c"}, "documentKey": {"_id": i},
              "fullDocument": {"_id": i, "pad": pad}}
        docs.append({"ns": ns, "seq": Int64(i), "token": ev["_id"], "clusterTime": ts,
                     "operationType": "insert", "event": ev, "status": "pending", "stagedAt": now})
    staging.insert_many(docs)'
	local t0=$SECONDS
	run -0 /usr/bin/time -f "maxrss_kib=%M" -o "$BATS_TEST_TMPDIR/time" \
		cdc-replay --db "$DB" --coll c --status-interval 0 --drain
	cat "$BATS_TEST_TMPDIR/time"
	echo "replayed 200000 events in $((SECONDS - t0)) s"
	local rss
	rss="$(sed -n 's/^maxrss_kib=//p' "$BATS_TEST_TMPDIR/time")"
	rss_within_budget "$rss"
	py 'assert client[db_name].c.count_documents({}) == 200000'
}
