#!/usr/bin/env bats
# Database mode, continued (README "Database mode"): --verify after a drain
# that stopped some collections at a drop or rename (exit 4), post-images
# (--full-document required|whenAvailable) over a database stream; and two
# things of dump-wrap the catch-up window relies on: a dump without a
# dump-end time leaves none of an older dump behind, and a restore again
# keeps what cdc-replay recorded of the indexes it built.
# $stderr is set by bats' run --separate-stderr; the Python sources in single
# quotes hold MongoDB's $ operators, not shell expansions.
# shellcheck disable=SC2154,SC2016

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
	CAP_PID=""
}

teardown() {
	if [[ -n "$CAP_PID" ]]; then
		kill -TERM "$CAP_PID" 2>/dev/null || true
		wait "$CAP_PID" 2>/dev/null || true
	fi
	driver_teardown
	[[ -z "${SOLO_PID:-}" ]] || mlite_stop SOLO
}

util() {
	"$PY" "$REPO_ROOT/test/py/dbmode_util.py" "$@"
}

# post_images COLL...: the collections keep change stream post-images.
post_images() {
	pyrun "$SRC_URI" '
for c in sys.argv[1:]:
    client[db_name].command("collMod", c, changeStreamPreAndPostImages={"enabled": True})' "$@"
}

@test "--drain --verify in database mode: the drained collections are verified, those stopped at a rename left out; 4, or 1 when one differs" {
	util load "$SRC_URI" "$DB" 3 10
	run -0 "$INIT" --state-dir "$STATE" --dump-dir "$DUMP" - - "$DB" --all
	pyrun "$SRC_URI" 'd = client[db_name]
d.c00.update_one({"_id": 1}, {"$set": {"v": 100}})
d.c01.delete_one({"_id": 2})
d.c02.rename("c03")'
	run -4 --separate-stderr "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain \
		--verify - - "$DB" --all
	echo "$output" >&3
	echo "$stderr" >&3
	[[ "$output" == *"except those stopped at a drop or rename: c02 c03"* ]] ||
		[[ "$output" == *"except those stopped at a drop or rename: c03 c02"* ]]
	[[ "$output" == *"c00: equal"* && "$output" == *"c01: equal"* ]]
	# c03 holds documents no event brought: without --except it is missing.
	[[ "$output" == *"c03: not compared (--except)"* ]]
	[[ "$output" == *"c02: only on the target"* ]]
	[[ "$output" == *"total: 2 collections, 2 equal, 0 different, 1 not compared"* ]]
	[[ "$stderr" == *"every collection drained except these"* ]]
	# A drained collection that differs: the verify's 1, not the drain's 4.
	pyrun "$DST_URI" 'client[db_name].c01.update_one({"_id": 3}, {"$set": {"v": -1}})'
	run -1 "$SYNC" --state-dir "$STATE" --dump-dir "$DUMP" --drain --verify - - "$DB" --all
	[[ "$output" == *"c01: different (0 missing, 0 extra, 1 different)"* ]]
	[[ "$output" == *"total: 2 collections, 1 equal, 1 different, 1 not compared"* ]]
}

@test "cdc-verify --except is for --all and takes names" {
	run -64 cdc-verify --db "$DB" --coll c --except c
	[[ "$output" == *"--except is for --all"* ]]
	run -64 cdc-verify --all --db "$DB" --except a,,b
	[[ "$output" == *"must be neither empty nor hold '/'"* ]]
}

@test "--full-document required over a database: 64 naming the collections without post-images; whenAvailable warns and captures" {
	util load "$SRC_URI" "$DB" 3 5
	post_images c00
	run -64 "$INIT" --full-document required --state-dir "$STATE" --dump-dir "$DUMP" \
		- - "$DB" --all
	echo "$output" >&3
	[[ "$output" == *"these collections of '$DB' on the source do not keep them: c01, c02"* ]]
	[[ "$output" == *"--resume-dump"* ]]
	# Nothing was staged: the refusal comes before the stream is read.
	[ "$("$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$DST_URI" "$DB" "$DB.c00" count)" = 0 ]
	run -0 "$INIT" --resume-dump --full-document whenAvailable --state-dir "$STATE" \
		--dump-dir "$DUMP" - - "$DB" --all
	wait_until 20 grep -q "keep no post-images" "$STATE/$DB.capture.log"
	grep "keep no post-images" "$STATE/$DB.capture.log" | grep -q "only: c01, c02$"
	pyrun "$SRC_URI" 'd = client[db_name]
d.c00.update_one({"_id": 1}, {"$set": {"v": 10}})
d.c01.update_one({"_id": 1}, {"$set": {"v": 11}})'
	"$PY" "$REPO_ROOT/test/py/e2e_stage.py" "$DST_URI" "$DB" "$DB.c01" wait-above 0 any 30
	# The post-image where the collection keeps them, none where it does not.
	pyrun "$DST_URI" '
e0 = client[db_name].cdc.find_one({"ns": db_name + ".c00", "operationType": "update"})["event"]
e1 = client[db_name].cdc.find_one({"ns": db_name + ".c01", "operationType": "update"})["event"]
assert e0["fullDocument"] == {"_id": 1, "v": 10, "s": "x"}, e0
assert e1.get("fullDocument") is None, e1
assert "updateDescription" in e1, e1'
}

@test "--full-document required over a database: post-images of every collection; one created later without them is the server's error" {
	util load "$SRC_URI" "$DB" 2 5
	post_images c00 c01
	run -0 token-probe --db "$DB" --all-colls --method now --state-dir "$STATE"
	log="$BATS_TEST_TMPDIR/capture.log"
	cdc-capture --db "$DB" --all-colls --full-document required --state-dir "$STATE" \
		--batch-ms 50 >"$log" 2>&1 &
	CAP_PID=$!
	wait_until 20 grep -q 'capturing .* collections' "$log"
	pyrun "$SRC_URI" 'd = client[db_name]
d.c01.update_one({"_id": 2}, {"$set": {"v": 20}})
d.n_new.insert_one({"_id": 1, "v": 0})
d.n_new.update_one({"_id": 1}, {"$set": {"v": 1}})'
	status=0
	wait "$CAP_PID" || status=$?
	CAP_PID=""
	cat "$log" >&3
	[ "$status" -eq 65 ]
	grep -q "post-image was not found for event on '$DB.n_new'" "$log"
	# What came before it is staged, with its post-image.
	pyrun "$DST_URI" '
e = client[db_name].cdc.find_one({"ns": db_name + ".c01", "operationType": "update"})["event"]
assert e["fullDocument"] == {"_id": 2, "v": 20, "s": "xx"}, e'
}

@test "a dump from a source without cluster time removes the older dump's dump-end time; a standalone reports none" {
	mlite_start SOLO --standalone
	# As MongoDB: operationTime and $clusterTime only on replica sets and
	# sharded clusters.
	pyrun "$SOLO_URI" '
r = client.admin.command("ping")
assert "operationTime" not in r and "$clusterTime" not in r, r'
	pyrun "$SRC_URI" '
r = client.admin.command("ping")
assert "operationTime" in r and "$clusterTime" in r, r'
	pyrun "$SRC_URI" 'client[db_name].c.insert_many([{"_id": i} for i in range(3)])'
	pyrun "$SOLO_URI" 'client[db_name].c.insert_many([{"_id": i} for i in range(5)])'
	run -0 dump-wrap dump --db "$DB" --coll c --out "$DUMP"
	[ -s "$DUMP/$DB/c.dump-end.json" ]
	SOURCE_URI="$SOLO_URI" run -0 dump-wrap dump --db "$DB" --coll c --out "$DUMP"
	[[ "$output" == *"reports no cluster time"* ]]
	[ ! -e "$DUMP/$DB/c.dump-end.json" ]
	# The restore sees the new dump as it is: no dump-end time, 5 documents.
	run -0 dump-wrap restore --db "$DB" --coll c --in "$DUMP" --defer-constraints
	[[ "$output" == *"has no dump-end time"* ]]
	pyrun "$DST_URI" '
m = client[db_name].cdc_meta.find_one({"_id": "restore:%s.c" % db_name})
assert "dumpEndTime" not in m and m["documents"] == 5, m'
}

@test "a restore again keeps uniqueCreatedAt while the unique index is on the target; after --drop it is gone" {
	pyrun "$SRC_URI" 'c = client[db_name].c
c.insert_many([{"_id": i, "u": i} for i in range(4)])
c.create_index("u", unique=True)'
	run -0 dump-wrap dump --db "$DB" --coll c --out "$DUMP"
	run -0 dump-wrap restore --once --db "$DB" --coll c --in "$DUMP" --defer-constraints
	# What cdc-replay leaves once it built the deferred unique index.
	pyrun "$DST_URI" 'import datetime
d = client[db_name]
d.c.create_index("u", unique=True)
d.cdc_meta.update_one({"_id": "restore:%s.c" % db_name},
                      {"$set": {"uniqueCreatedAt": datetime.datetime(2026, 1, 2)}})'
	run -0 dump-wrap restore --db "$DB" --coll c --in "$DUMP" --defer-constraints
	[[ "$output" == *"keeps the deferred indexes cdc-replay built before (unique)"* ]]
	pyrun "$DST_URI" 'import datetime
m = client[db_name].cdc_meta.find_one({"_id": "restore:%s.c" % db_name})
assert m["uniqueCreatedAt"] == datetime.datetime(2026, 1, 2), m
assert [i["name"] for i in m["deferredIndexes"]] == ["u_1"], m'
	run -0 dump-wrap restore --drop --db "$DB" --coll c --in "$DUMP" --defer-constraints
	pyrun "$DST_URI" '
m = client[db_name].cdc_meta.find_one({"_id": "restore:%s.c" % db_name})
assert "uniqueCreatedAt" not in m, m
assert "u_1" not in client[db_name].c.index_information()'
}

@test "mongod-lite: a database stream that requires post-images passes over what its leading \$match filters out, as MongoDB" {
	pyrun "$SRC_URI" '
d = client[db_name]
d.create_collection("with", changeStreamPreAndPostImages={"enabled": True})
d.create_collection("without")
start = d.command("ping")["operationTime"]
d["with"].insert_one({"_id": 1})
d.without.insert_one({"_id": 1})
d.without.update_one({"_id": 1}, {"$set": {"a": 1}})
d["with"].update_one({"_id": 1}, {"$set": {"a": 2}})
with d.watch([{"$match": {"ns.coll": "with"}}], full_document="required",
             start_at_operation_time=start) as s:
    assert next(s)["operationType"] == "insert"
    e = next(s)
    assert e["operationType"] == "update" and e["fullDocument"] == {"_id": 1, "a": 2}, e
# A $match on the image itself cannot go first: the lookup fails.
for pipeline in ([], [{"$match": {"fullDocument.a": 2}}]):
    try:
        with d.watch(pipeline, full_document="required", start_at_operation_time=start) as s:
            for _ in range(4):
                next(s)
        raise SystemExit("no error for %r" % pipeline)
    except pymongo.errors.OperationFailure as e:
        assert e.code == 47, e'
}
