#!/usr/bin/env bats
# dump-wrap dump that survives a crash and splits the copy: a native dump
# killed mid-copy continues from its checkpoints when run again with the
# same arguments, --jobs N reads the _id range in N partitions and still
# publishes one mongodump-format COLL.bson, and an unfinished dump that the
# run's arguments cannot continue is refused with 65, nothing published
# (docs/DESIGN.md, "Dump format", "Resuming a dump").

setup_file() {
	load helpers
	pair_start SRC TGT
	export MIX_DB="mix$$" MIX_N=12000
	# ~48 MB of documents whose _ids cross every type bracket: three
	# getMores of 16 MiB at most, so a kill lands between two of them.
	"$PY" -m dump_mixed_fill "$SRC_URI" "$MIX_DB" docs "$MIX_N"
	pyrun "$SRC_URI" "client[sys.argv[1]].other.insert_many([{'_id': i} for i in range(5)])" \
		"$MIX_DB"
	export REF="$BATS_FILE_TMPDIR/ref"
	SOURCE_URI="$SRC_URI" dump-wrap dump --db "$MIX_DB" --coll docs --out "$REF" \
		--engine native 2>/dev/null
}

teardown_file() {
	pair_stop
}

setup() {
	load helpers
	pair_setup
	OUT="$BATS_TEST_TMPDIR/dump"
	PARTIAL="$OUT/.$MIX_DB.docs.partial/$MIX_DB"
}

teardown() {
	slow_getmore off
}

# slow_getmore MS|off: every getMore of the toolkit's source client waits
# MS milliseconds first (one batch is 16 MiB at most), or no longer.
slow_getmore() {
	if [[ "$1" == off ]]; then
		pyrun "$SRC_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
		return
	fi
	pyrun "$SRC_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="alwaysOn",
    data={"failCommands": ["getMore"], "blockConnection": True, "blockTimeMS": int(sys.argv[1]),
          "appName": "changestream-migration/source"})' "$1"
}

# progressed: a partition's checkpoint of the unfinished dump counts
# documents made durable.
progressed() {
	grep -qs "\"documents\" : { \"\$numberLong\" : \"[1-9]" "$PARTIAL"/*.checkpoint.json
}

# dump_until SIGNAL [dump-wrap dump options...]: a dump of MIX_DB.docs,
# slowed down, sent SIGNAL once a checkpoint shows progress; status is its
# exit code.
dump_until() {
	local signal="$1"
	shift
	slow_getmore 1500
	dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT" "$@" 2>"$BATS_TEST_TMPDIR/killed.log" &
	local pid=$!
	wait_until 30 progressed
	signal_and_reap "$signal" "$pid"
	slow_getmore off
}

# same_as_ref FILE: the published data file holds exactly the bytes of the
# uninterrupted one-cursor dump.
same_as_ref() {
	cmp "$1" "$REF/$MIX_DB/docs.bson"
}

# restored_equal: the published dump restores into the target as a copy
# of the source, document for document.
restored_equal() {
	run -0 dump-wrap restore --db "$MIX_DB" --coll docs --in "$OUT" --to-db "$DB"
	run -0 "$PY" -m dump_compare "$SRC_URI" "$MIX_DB.docs" "$TGT_URI" "$DB.docs"
	[[ "$output" == "identical: $((MIX_N + 2)) documents" ]]
}

# bson_docs FILE: the documents of a BSON file as mongodump writes it,
# counted by the bson package's own reader.
bson_docs() {
	"$PY" -c "
import bson, sys
print(sum(1 for _ in bson.decode_file_iter(open(sys.argv[1], 'rb'))))" "$1"
}

@test "the plan and checkpoints keep every _id's BSON type; a checkpoint of another partition or without its last _id is 65" {
	run -0 "$CSM_BUILD/test/test_dump_plan"
}

@test "mongod-lite: find's min is inclusive and max exclusive on the _id index across type brackets; a hint is required" {
	pyrun "$SRC_URI" "
import datetime
c = client[db_name].m
c.insert_many([{'_id': v} for v in [1, 2.5, 'a', 'b', {'x': 1}, ObjectId(b'000000000001'), True]])
f = lambda **kw: [d['_id'] for d in c.find({}, sort=[('_id', 1)], hint=[('_id', 1)], **kw)]
assert f(min={'_id': 2.5}, max={'_id': {'x': 1}}) == [2.5, 'a', 'b'], f(min={'_id': 2.5})
assert f(min={'_id': 'b'}, batch_size=1) == ['b', {'x': 1}, ObjectId(b'000000000001'), True]
assert f(max={'_id': 'a'}) == [1, 2.5]
for kw, code in [({'min': {'y': 1}}, 51174), ({'min': {'_id': 'b'}, 'max': {'_id': 1}}, 51175)]:
    try:
        f(**kw)
        raise SystemExit('no error for %r' % kw)
    except pymongo.errors.OperationFailure as e:
        assert e.code == code, (kw, e.code)
try:
    list(c.find({}, min={'_id': 1}))
    raise SystemExit('min without a hint worked')
except pymongo.errors.OperationFailure as e:
    assert e.code == 51173, e.code
"
}

@test "a dump killed with -9 mid-copy continues from its checkpoint past every _id type and publishes what an uninterrupted dump does" {
	dump_until KILL --engine native
	((status == 137))
	[ ! -e "$OUT/$MIX_DB/docs.metadata.json" ]
	progressed
	run -0 dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT" --engine native
	[[ "$output" == *"continuing the unfinished dump of '$MIX_DB.docs': "[1-9]*" documents"* ]]
	[[ "$output" == *"dumped $((MIX_N + 2)) documents"* ]]
	[ ! -e "$OUT/.$MIX_DB.docs.partial" ]
	same_as_ref "$OUT/$MIX_DB/docs.bson"
	grep -q "\"documents\" : { \"\$numberLong\" : \"$((MIX_N + 2))\" }" \
		"$OUT/$MIX_DB/docs.integrity.json"
	restored_equal
}

@test "--jobs 4 killed with -9 continues every partition; the one COLL.bson is mongodump's format, restored whole" {
	dump_until KILL --jobs 4
	((status == 137))
	[ -e "$PARTIAL/docs.part-3.bson" ]
	run -0 dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT" --jobs 4
	[[ "$output" == *"continuing the unfinished dump"*"of 4 partitions complete"* ]]
	same_as_ref "$OUT/$MIX_DB/docs.bson"
	[ "$(bson_docs "$OUT/$MIX_DB/docs.bson")" = $((MIX_N + 2)) ]
	[ ! -e "$OUT/$MIX_DB/docs.part-0.bson" ]
	restored_equal
}

@test "--jobs 2 --gzip publishes the same documents compressed; --jobs above the count splits as far as it can" {
	run -0 dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT" --jobs 2 --gzip
	gzip -dc "$OUT/$MIX_DB/docs.bson.gz" | cmp - "$REF/$MIX_DB/docs.bson"
	pyrun "$SRC_URI" "client[db_name].few.insert_many([{'_id': 'b'}, {'_id': 1}, {'_id': True}])"
	run -0 dump-wrap dump --db "$DB" --coll few --out "$OUT" --jobs 8
	pyrun "$SRC_URI" "
import bson
ids = [d['_id'] for d in bson.decode_file_iter(open(sys.argv[1], 'rb'))]
assert ids == [1, 'b', True], ids" "$OUT/$DB/few.bson"
}

@test "a dump stopped by SIGTERM keeps its checkpoint and exits 75; rerun with other --jobs, engine or collection is 65, nothing published" {
	dump_until TERM --jobs 2
	((status == 75))
	grep -q "native engine's copy continues from its checkpoints" "$BATS_TEST_TMPDIR/killed.log"
	progressed
	run -65 dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT" --jobs 3
	[[ "$output" == *"it was started with --jobs 2"*"nothing was published"* ]]
	run -65 dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT"
	[[ "$output" == *"--jobs 2"* ]]
	# another engine's: a mongodump that would succeed is never run
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\ntouch "%s/ran"\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/bin/mongodump"
	chmod +x "$BATS_TEST_TMPDIR/bin/mongodump"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -65 dump-wrap dump --db "$MIX_DB" --coll docs \
		--out "$OUT" --engine external
	[[ "$output" == *"the native engine made it, this run uses the external one"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
	# another collection's
	mv "$OUT/.$MIX_DB.docs.partial" "$OUT/.$MIX_DB.other.partial"
	mv "$OUT/.$MIX_DB.other.partial/$MIX_DB/docs.dump-plan.json" \
		"$OUT/.$MIX_DB.other.partial/$MIX_DB/other.dump-plan.json"
	run -65 dump-wrap dump --db "$MIX_DB" --coll other --out "$OUT" --jobs 2
	[[ "$output" == *"it is a dump of '$MIX_DB.docs'"* ]]
	[ ! -e "$OUT/$MIX_DB" ]
	[ -e "$OUT/.$MIX_DB.other.partial/$MIX_DB/docs.part-0.bson" ]
}

@test "a checkpoint that does not match its partition file, or of an earlier collection of that name, is 65 and nothing is published" {
	dump_until KILL
	local part="$PARTIAL/docs.part-0.bson" checkpoint="$PARTIAL/docs.part-0.checkpoint.json"
	cp "$part" "$BATS_TEST_TMPDIR/part" && cp "$checkpoint" "$BATS_TEST_TMPDIR/checkpoint"
	# the file is shorter than what its checkpoint made durable
	truncate -s 100 "$part"
	run -65 dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT"
	[[ "$output" == *"'$part' does not match its checkpoint"*"it holds 100 bytes"* ]]
	# the checkpoint names another last document
	cp "$BATS_TEST_TMPDIR/part" "$part"
	sed -i 's/"lastId" : { "_id" : [^}]*}/"lastId" : { "_id" : "nope"/' "$checkpoint"
	run -65 dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT"
	[[ "$output" == *"its last document is not the one it names"* ]]
	# the plan is of a collection dropped and created again since
	cp "$BATS_TEST_TMPDIR/checkpoint" "$checkpoint"
	sed -i 's/"uuid" : "[0-9a-f]*"/"uuid" : "00000000000000000000000000000000"/' \
		"$PARTIAL/docs.dump-plan.json"
	run -65 dump-wrap dump --db "$MIX_DB" --coll docs --out "$OUT"
	[[ "$output" == *"an earlier collection of that name"* ]]
	[ ! -e "$OUT/$MIX_DB" ]
}

@test "dump --jobs with the external engine is refused with 64 before anything is read" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\ntouch "%s/ran"\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/bin/mongodump"
	chmod +x "$BATS_TEST_TMPDIR/bin/mongodump"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -64 dump-wrap dump --db "$MIX_DB" --coll docs \
		--out "$OUT" --jobs 2
	[[ "$output" == *"use --engine native"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/ran" ] && [ ! -e "$OUT" ]
}

@test "a restore killed with -9 mid-load continues when run again: the overlap counts as duplicate keys" {
	pyrun "$TGT_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="alwaysOn",
    data={"failCommands": ["insert"], "blockConnection": True, "blockTimeMS": 300,
          "appName": "changestream-migration/target"})'
	dump-wrap restore --db "$MIX_DB" --coll docs --in "$REF" --to-db "$DB" --jobs 2 \
		2>"$BATS_TEST_TMPDIR/restore.log" &
	local pid=$!
	wait_until 30 pyrun "$TGT_URI" 'assert client[db_name].docs.estimated_document_count() > 0'
	signal_and_reap KILL "$pid"
	pyrun "$TGT_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	run -0 dump-wrap restore --db "$MIX_DB" --coll docs --in "$REF" --to-db "$DB"
	[[ "$output" =~ "restored $((MIX_N + 2)) documents".*"("[0-9]+" inserted, "[1-9][0-9]*" duplicate keys skipped)" ]]
	run -0 "$PY" -m dump_compare "$SRC_URI" "$MIX_DB.docs" "$TGT_URI" "$DB.docs"
}
