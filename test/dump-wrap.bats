#!/usr/bin/env bats
# dump-wrap: the bulk copy. mongodump's on-disk format both ways, a dump that
# is either complete or absent, restore that builds indexes after the data,
# defers constraints on request and never runs twice with --once, bounded
# memory, and credentials never in argv (docs/DESIGN.md, "Programs",
# "Connections and secrets", "Dump format", "The catch-up window").
#
# DUMP_TEST_DOCS (default 200000) sizes the big round trip.

setup_file() {
	load helpers
	pair_start SRC TGT
	export BIG_N="${DUMP_TEST_DOCS:-200000}"
	export BIG_DB="big$$"
	export BIG_OUT="$BATS_FILE_TMPDIR/bigdump"
	# ~1 KiB documents of mixed types and sizes in a capped collection with a
	# unique secondary index (indexes built after the fill: it is faster).
	# No TTL index: real servers refuse one on a capped collection.
	pyrun "$SRC_URI" "client[sys.argv[1]].create_collection('docs', capped=True, size=2**40)" \
		"$BIG_DB"
	"$PY" -m dump_fill "$SRC_URI" "$BIG_DB" docs "$BIG_N" --avg-size 1024
	pyrun "$SRC_URI" "
db = client[sys.argv[1]]
db.docs.create_index('u', unique=True)
db.docs.create_index([('i32', 1), ('flag', -1)])" "$BIG_DB"
	SOURCE_URI="$SRC_URI" /usr/bin/time -f %M -o "$BATS_FILE_TMPDIR/dump.rss" \
		"$CSM_BIN/dump-wrap" dump --db "$BIG_DB" --coll docs --out "$BIG_OUT" \
		2>"$BATS_FILE_TMPDIR/dump.log"
}

teardown_file() {
	pair_stop
}

setup() {
	load helpers
	pair_setup
	OUT="$BATS_TEST_TMPDIR/dump"
	FIXTURES="$REPO_ROOT/test/fixtures"
}

compare() {
	"$PY" -m dump_compare "$@"
}

# marker NS [DB]: the restore marker of target NS as relaxed JSON.
marker() {
	pyrun "$TGT_URI" "
from bson.json_util import dumps
print(dumps(client[sys.argv[2]].cdc_meta.find_one({'_id': 'restore:' + sys.argv[1]})))" \
		"$1" "${2:-$DB}"
}

# cut_at_boundary FILE: truncate the BSON file FILE at the first document
# boundary at or past half its size, as a copy cut short would leave it.
cut_at_boundary() {
	"$PY" -c "
import sys
p = sys.argv[1]
d = open(p, 'rb').read()
off = 0
while off < len(d) // 2:
    off += int.from_bytes(d[off:off + 4], 'little')
open(p, 'wb').write(d[:off])" "$1"
}

# record_is FILE DATA_BYTES_CMD...: the integrity record FILE holds N
# documents and the byte count and SHA-256 of what the command prints.
record_is() {
	local record="$1" docs="$2"
	shift 2
	"$@" | "$PY" -c "
import hashlib, json, sys
r = json.load(open(sys.argv[1]))
d = sys.stdin.buffer.read()
got = (int(r['documents']['\$numberLong']), int(r['bytes']['\$numberLong']), r['sha256'])
assert got == (int(sys.argv[2]), len(d), hashlib.sha256(d).hexdigest()), (got, len(d))
print(r['ns'], r['file'], r['engine'])" "$record" "$docs"
}

@test "native dump writes mongodump's layout: data, metadata with indexes, options and uuid, dump-end time" {
	local d="$BIG_OUT/$BIG_DB"
	[ -s "$d/docs.bson" ]
	[ "$(stat -c %s "$d/docs.bson")" -gt $((BIG_N * 200)) ]
	run -0 "$PY" -c "
import json, sys, re
m = json.load(open(sys.argv[1]))
assert m['collectionName'] == 'docs' and m['type'] == 'collection', m
assert re.fullmatch('[0-9a-f]{32}', m['uuid']), m['uuid']
assert m['options']['capped'] is True, m['options']
names = {i['name']: i for i in m['indexes']}
assert names['u_1']['unique'] is True, names
assert '_id_' in names and 'i32_1_flag_-1' in names, names
e = json.load(open(sys.argv[2]))
assert e['ns'] == sys.argv[3] and e['dumpEndTime']['\$timestamp']['t'] > 0, e
print('ok')" "$d/docs.metadata.json" "$d/docs.dump-end.json" "$BIG_DB.docs"
	[ -s "$BIG_OUT/prelude.json" ]
	[ "$(file_mode "$d/docs.bson")" = 600 ]
	run ls -A "$BIG_OUT"
	[[ "$output" != *partial* ]]
	grep -q "dumped $BIG_N documents" "$BATS_FILE_TMPDIR/dump.log"
}

@test "dump of $BIG_N ~1 KiB documents peaks under 64 MiB RSS" {
	local kib
	kib="$(tail -n1 "$BATS_FILE_TMPDIR/dump.rss")"
	echo "dump peak RSS ${kib} KiB"
	rss_within_budget "$kib"
}

@test "dump --jobs 4 of the same documents peaks under 64 MiB RSS and writes the same bytes" {
	# Four cursors, each holding its server batch: 16 MiB batches made this
	# ~170 MiB; batches sized to ~4 MiB keep it inside the budget.
	local kib
	run -0 /usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/dump4.rss" \
		dump-wrap dump --db "$BIG_DB" --coll docs --out "$OUT" --jobs 4
	kib="$(tail -n1 "$BATS_TEST_TMPDIR/dump4.rss")"
	echo "dump --jobs 4 peak RSS ${kib} KiB"
	rss_within_budget "$kib"
	cmp "$OUT/$BIG_DB/docs.bson" "$BIG_OUT/$BIG_DB/docs.bson"
}

@test "restore into another server gives identical documents, indexes and options, under 64 MiB RSS" {
	run -0 /usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/restore.rss" \
		dump-wrap restore --db "$BIG_DB" --coll docs --in "$BIG_OUT" --jobs 4
	[[ "$output" == *"restored $BIG_N documents"* ]]
	[[ "$output" == *"0 duplicate keys skipped"* ]]
	local kib
	kib="$(tail -n1 "$BATS_TEST_TMPDIR/restore.rss")"
	echo "restore peak RSS ${kib} KiB"
	rss_within_budget "$kib"
	run -0 compare "$SRC_URI" "$BIG_DB.docs" "$TGT_URI" "$BIG_DB.docs" --indexes --options
	[[ "$output" == "identical: $BIG_N documents" ]]
	run -0 marker "$BIG_DB.docs" "$BIG_DB"
	[[ "$output" == *'"documents": '"$BIG_N"* ]]
	[[ "$output" == *'"deferredIndexes": []'* ]]
	# shellcheck disable=SC2016 # a literal $timestamp key, not an expansion
	[[ "$output" == *'"dumpEndTime": {"$timestamp"'* ]]
}

@test "restore --defer-constraints loads data and ordinary indexes; unique and TTL specs go to the marker" {
	run -0 dump-wrap restore --db legacy --coll things --in "$FIXTURES/dump-legacy" \
		--to-db "$DB" --to-coll things --defer-constraints --staging-coll stg
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" \
		--to-db "$DB" --to-coll people --defer-constraints --staging-coll stg
	run -0 pyrun "$TGT_URI" "
db = client[db_name]
print(sorted(db.people.index_information()), db.people.count_documents({}))
print(sorted(db.things.index_information()), db.things.count_documents({}))"
	[ "${lines[0]}" = "['_id_', 'age_-1_name_1'] 5" ]
	[ "${lines[1]}" = "['_id_', 'ts_1'] 3" ]
	run -0 pyrun "$TGT_URI" "
m = client['fixture'].stg_meta.find_one({'_id': 'restore:%s.people' % db_name})
print([(i['name'], i.get('unique'), i.get('expireAfterSeconds')) for i in m['deferredIndexes']])
print(m['documents'], m['sourceNs'], m['ns'], 'ns' in m['deferredIndexes'][0])
m = client['legacy'].stg_meta.find_one({'_id': 'restore:%s.things' % db_name})
print(m['deferredIndexes'], m['documents'])"
	[ "${lines[0]}" = "[('email_1', True, None), ('joined_1', None, 2147483647)]" ]
	[ "${lines[1]}" = "5 fixture.people $DB.people False" ]
	[ "${lines[2]}" = "[] 3" ]
}

@test "restore without --defer-constraints builds every index, from real mongodump and legacy metadata" {
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" \
		--to-db "$DB"
	run -0 dump-wrap restore --db legacy --coll things --in "$FIXTURES/dump-legacy" --to-db "$DB"
	run -0 pyrun "$TGT_URI" "
db = client[db_name]
ix = db.people.index_information()
print(sorted(ix), ix['email_1'].get('unique'), ix['joined_1'].get('expireAfterSeconds'))
print(sorted(db.things.index_information()))
print(db.things.options())"
	[ "${lines[0]}" = "['_id_', 'age_-1_name_1', 'email_1', 'joined_1'] True 2147483647" ]
	[ "${lines[1]}" = "['_id_', 'ts_1']" ]
	[ "${lines[2]}" = "{'capped': True, 'size': 1048576}" ]
	# The documents are the fixture's bytes, odd _ids included.
	run -0 pyrun "$TGT_URI" "
import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
c = client[db_name].get_collection('people', codec_options=CodecOptions(document_class=RawBSONDocument))
got = sorted(d.raw for d in c.find())
want = sorted(d.raw for d in bson.decode_file_iter(open(sys.argv[1], 'rb'), codec_options=CodecOptions(document_class=RawBSONDocument)))
print(got == want, len(got))" "$FIXTURES/dump-mongodump/fixture/people.bson"
	[ "$output" = "True 5" ]
}

@test "a dump whose data violates its unique index: exit 65 naming it, or deferred with --defer-constraints" {
	# As a dump taken while a unique value moved between documents can be.
	pyrun "$SRC_URI" "client[db_name].c.insert_many([{'_id': 1, 'e': 'x'}, {'_id': 2, 'e': 'x'}])"
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT"
	"$PY" -c "
import json, sys
p = sys.argv[1]
m = json.load(open(p))
m['indexes'].append({'v': 2, 'key': {'e': 1}, 'name': 'e_1', 'unique': True})
open(p, 'w').write(json.dumps(m))" "$OUT/$DB/c.metadata.json"
	run -65 dump-wrap restore --db "$DB" --coll c --in "$OUT"
	[[ "$output" == *"cannot build the indexes of '$DB.c': the restored data violates a unique index ('e_1')"* ]]
	[[ "$output" == *"--defer-constraints"* ]]
	run -0 dump-wrap restore --db "$DB" --coll c --in "$OUT" --drop --defer-constraints
	run -0 pyrun "$TGT_URI" "
m = client[db_name].cdc_meta.find_one({'_id': 'restore:%s.c' % db_name})
print([i['name'] for i in m['deferredIndexes']], sorted(client[db_name].c.index_information()))"
	[ "$output" = "['e_1'] ['_id_']" ]
}

@test "restore --once skips a completed restore without touching the data" {
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" \
		--to-db "$DB" --once
	pyrun "$TGT_URI" "client[db_name].people.delete_one({'_id': -1})"
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" \
		--to-db "$DB" --once --drop
	[[ "$output" == *"restore of '$DB.people' already completed at "*"; skipping"* ]]
	run -0 pyrun "$TGT_URI" "print(client[db_name].people.count_documents({}))"
	[ "$output" = 4 ]
}

@test "a restore insert failing with a retryable error is retried with backoff and completes" {
	pyrun "$TGT_URI" '
client.admin.command("configureFailPoint", "failCommand", mode={"times": 3}, data={
    "failCommands": ["insert"], "errorCode": 91, "errorLabels": ["RetryableWriteError"],
    "appName": "changestream-migration/target"})'
	run dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB"
	pyrun "$TGT_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	((status == 0))
	[[ "$output" == *"retrying"*"inserting a batch into '$DB.people' on the target"* ]]
	[[ "$output" == *"restored 5 documents"* ]]
	run -0 pyrun "$TGT_URI" "print(client[db_name].people.count_documents({}))"
	[ "$output" = 5 ]
}

@test "restoring twice counts duplicate keys instead of failing" {
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB"
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB"
	[[ "$output" == *"0 inserted, 5 duplicate keys skipped"* ]]
}

@test "--gzip dump and restore round trip; names are query-escaped in file names" {
	pyrun "$SRC_URI" "
db = client[db_name]
db['with/slash'].insert_many([{'_id': i, 's': 'v' * i} for i in range(300)])
db['with/slash'].create_index('s')"
	run -0 dump-wrap dump --db "$DB" --coll with/slash --out "$OUT" --gzip
	run -0 gzip -t "$OUT/$DB/with%2Fslash.bson.gz" "$OUT/$DB/with%2Fslash.metadata.json.gz"
	[ ! -e "$OUT/$DB/with%2Fslash.bson" ]
	run -0 dump-wrap restore --db "$DB" --coll with/slash --in "$OUT"
	run -0 compare "$SRC_URI" "$DB.with/slash" "$TGT_URI" "$DB.with/slash" --indexes
	# And a real mongodump's escaped name reads back.
	run -0 dump-wrap restore --db fixture --coll with/slash --in "$FIXTURES/dump-mongodump" \
		--to-db "$DB" --to-coll slash2
	run -0 pyrun "$TGT_URI" "print(client[db_name].slash2.find_one())"
	[ "$output" = "{'_id': 1, 'x': 'slash'}" ]
}

@test "a dump is published whole: a stale .partial is replaced and an old dump overwritten" {
	pyrun "$SRC_URI" "client[db_name].c.insert_many([{'_id': i} for i in range(10)])"
	mkdir -p "$OUT/.$DB.c.partial/$DB"
	echo junk >"$OUT/.$DB.c.partial/$DB/c.bson"
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT"
	[ ! -e "$OUT/.$DB.c.partial" ]
	pyrun "$SRC_URI" "client[db_name].c.insert_one({'_id': 10})"
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT"
	run -0 dump-wrap restore --db "$DB" --coll c --in "$OUT"
	[[ "$output" == *"restored 11 documents"* ]]
}

@test "a dump without its metadata file is refused with exit 65; a missing dump with 66" {
	mkdir -p "$OUT/$DB"
	cp "$FIXTURES/dump-mongodump/fixture/people.bson" "$OUT/$DB/c.bson"
	run -65 dump-wrap restore --db "$DB" --coll c --in "$OUT"
	[[ "$output" == *"has no metadata file"*"incomplete"* ]]
	run -66 dump-wrap restore --db "$DB" --coll nosuch --in "$OUT"
	[[ "$output" == *"no dump of '$DB.nosuch'"* ]]
	run -0 pyrun "$TGT_URI" "print(client[db_name].list_collection_names())"
	[ "$output" = "[]" ]
}

@test "restore into a collection named like the staging collections is refused with 64 naming --staging-coll" {
	local args before
	# The fixture's database on the target is shared with other tests.
	before="$(pyrun "$TGT_URI" "print(client['fixture'].cdc_meta.count_documents({}))")"
	for args in "--coll cdc" "--coll cdc_meta" "--coll people --to-coll cdc" \
		"--coll people --to-db fixture --to-coll cdc_meta" "--coll people --to-coll s --staging-coll s"; do
		# shellcheck disable=SC2086 # the options are split on purpose
		run -64 dump-wrap restore --db fixture $args --in "$FIXTURES/dump-mongodump"
		[[ "$output" == *"is named like the staging collections"*"--staging-coll"* ]]
	done
	run -0 pyrun "$TGT_URI" "
db = client['fixture']
print(sorted({'cdc', 's'} & set(db.list_collection_names())), db.cdc_meta.count_documents({}))"
	[ "$output" = "[] $before" ]
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB" \
		--to-coll cdc
}

@test "a dump cut at a document boundary or emptied is refused with 65 naming the file and both counts before anything is restored; a changed byte is caught by its digest" {
	pyrun "$SRC_URI" "client[db_name].c.insert_many([{'_id': i, 'p': 'x' * 50} for i in range(100)])"
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT"
	local size
	size="$(stat -c %s "$OUT/$DB/c.bson")"
	cut_at_boundary "$OUT/$DB/c.bson"
	run -65 dump-wrap restore --db "$DB" --coll c --in "$OUT" --once --defer-constraints
	[[ "$output" == *"dump data '$OUT/$DB/c.bson' is incomplete or damaged: it holds $(stat -c %s "$OUT/$DB/c.bson") bytes, its integrity record '$OUT/$DB/c.integrity.json' says $size bytes (100 documents)"* ]]
	truncate -s 0 "$OUT/$DB/c.bson"
	run -65 dump-wrap restore --db "$DB" --coll c --in "$OUT" --once --defer-constraints
	[[ "$output" == *"it holds 0 bytes"*"says $size bytes (100 documents)"* ]]
	[ "$(marker "$DB.c")" = null ]
	run -0 pyrun "$TGT_URI" "print(client[db_name].list_collection_names())"
	[ "$output" = "[]" ]
	# A byte changed in place keeps the counts, not the digest: the load
	# finds it and marks nothing.
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT"
	"$PY" -c "
import sys
d = open(sys.argv[1], 'rb').read()
open(sys.argv[1], 'wb').write(d.replace(b'xxxxx', b'xxxxz', 1))" "$OUT/$DB/c.bson"
	run -65 dump-wrap restore --db "$DB" --coll c --in "$OUT" --once
	[[ "$output" == *"it holds 100 documents ($size bytes, sha256 "*"says 100 documents ($size bytes, sha256 "* ]]
	[ "$(marker "$DB.c")" = null ]
	# Dumped again, it has its record, and restores whole.
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT"
	[ "$(file_mode "$OUT/$DB/c.integrity.json")" = 600 ]
	run -0 record_is "$OUT/$DB/c.integrity.json" 100 cat "$OUT/$DB/c.bson"
	[ "$output" = "$DB.c c.bson native" ]
	run -0 dump-wrap restore --db "$DB" --coll c --in "$OUT" --once
	[[ "$output" == *"restored 100 documents"* ]]
}

@test "--gzip: the integrity record is of the uncompressed BSON; a .gz cut at a document boundary is refused with 65 after its load and not marked restored" {
	pyrun "$SRC_URI" "client[db_name].c.insert_many([{'_id': i, 'p': 'y' * 40} for i in range(60)])"
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT" --gzip
	gzip -dc "$OUT/$DB/c.bson.gz" >"$BATS_TEST_TMPDIR/c.bson"
	cut_at_boundary "$BATS_TEST_TMPDIR/c.bson"
	gzip -c "$BATS_TEST_TMPDIR/c.bson" >"$OUT/$DB/c.bson.gz"
	run -65 dump-wrap restore --db "$DB" --coll c --in "$OUT" --once
	[[ "$output" == *"'$DB.c' is not marked restored: dump data '$OUT/$DB/c.bson.gz' is incomplete or damaged: it holds 30 documents ("*"its integrity record '$OUT/$DB/c.integrity.json' says 60 documents ("* ]]
	[ "$(marker "$DB.c")" = null ]
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT" --gzip
	run -0 record_is "$OUT/$DB/c.integrity.json" 60 gzip -dc "$OUT/$DB/c.bson.gz"
	[ "$output" = "$DB.c c.bson.gz native" ]
}

@test "a dump without an integrity record (mongodump's) is restored as before, with one warning that it cannot be checked" {
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB"
	[[ "$output" == *"restored 5 documents"* ]]
	run -0 grep -c "has no integrity record '$FIXTURES/dump-mongodump/fixture/people.integrity.json' (a dump not made by dump-wrap, e.g. by mongodump): whether its data file is complete cannot be checked" <<<"$output"
	[ "$output" = 1 ]
}

@test "a corrupt data file is refused with exit 65" {
	mkdir -p "$OUT/$DB"
	cp "$FIXTURES/dump-mongodump/fixture/people.metadata.json" "$OUT/$DB/c.metadata.json"
	head -c 300 "$FIXTURES/dump-mongodump/fixture/people.bson" >"$OUT/$DB/c.bson"
	run -65 dump-wrap restore --db "$DB" --coll c --in "$OUT"
	[[ "$output" == *"corrupt or truncated BSON"* ]]
}

@test "dump of a missing collection exits 66; an unreachable source 69 without the password" {
	run -66 dump-wrap dump --db "$DB" --coll nosuch --out "$OUT"
	[[ "$output" == *"no collection '$DB.nosuch'"* ]]
	[ ! -e "$OUT/$DB/nosuch.metadata.json" ]
	SOURCE_URI="mongodb://u:hunter2pw@127.0.0.1:1/?serverSelectionTimeoutMS=300" \
		run -69 dump-wrap dump --db "$DB" --coll c --out "$OUT"
	[[ "$output" != *hunter2pw* ]]
}

@test "external engine: mongodump gets the URI only through a 0600 config file, deleted afterwards" {
	local fake="$BATS_TEST_TMPDIR/fakebin"
	mkdir -p "$fake"
	local record="$BATS_TEST_TMPDIR/record"
	ln -s "$FIXTURES/fake-mongodump" "$fake/mongodump"
	pyrun "$SRC_URI" "client[db_name].c.insert_one({'_id': 1})"
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR"
	FAKE_MONGO_RECORD="$record" PATH="$fake:$PATH" run -0 dump-wrap dump --db "$DB" --coll c \
		--out "$OUT"
	cat "$record"
	grep -qx "tool: mongodump" "$record"
	grep -qx "arg: --db=$DB" "$record"
	grep -qx "arg: --collection=c" "$record"
	grep -qx "arg: --out=$OUT/.$DB.c.partial" "$record"
	grep -qx "config-mode: 600" "$record"
	grep -qxF "config: uri: \"$SRC_URI\"" "$record"
	# No argument holds the URI: grep finds no such line (status 1, not 0 or 2).
	run -1 grep '^arg:.*mongodb://' "$record"
	# The config file and its private directory are gone.
	run ls -A "$TMPDIR"
	[ -z "$output" ]
	[ -s "$OUT/$DB/c.metadata.json" ]
	[ -s "$OUT/$DB/c.dump-end.json" ]
	# dump-wrap records what mongodump wrote before it publishes the dump.
	run -0 record_is "$OUT/$DB/c.integrity.json" 5 cat "$OUT/$DB/c.bson"
	[ "$output" = "$DB.c c.bson external" ]
}

@test "external engine: mongorestore is run without indexes; dump-wrap builds or defers them and writes the marker" {
	local fake="$BATS_TEST_TMPDIR/fakebin"
	mkdir -p "$fake"
	local record="$BATS_TEST_TMPDIR/record"
	ln -s "$FIXTURES/fake-mongodump" "$fake/mongorestore"
	FAKE_MONGO_RECORD="$record" PATH="$fake:$PATH" run -0 dump-wrap restore --db fixture \
		--coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB" --to-coll p2 \
		--defer-constraints --jobs 3
	cat "$record"
	grep -qx "tool: mongorestore" "$record"
	grep -qx "arg: --nsInclude=fixture.people" "$record"
	grep -qx "arg: --nsFrom=fixture.people" "$record"
	grep -qx "arg: --nsTo=$DB.p2" "$record"
	grep -qx "arg: --noIndexRestore" "$record"
	grep -qx "arg: --numInsertionWorkersPerCollection=3" "$record"
	grep -qx "config-mode: 600" "$record"
	grep -qxF "config: uri: \"$TGT_URI\"" "$record"
	# No argument holds the URI: grep finds no such line (status 1, not 0 or 2).
	run -1 grep '^arg:.*mongodb://' "$record"
	run -0 pyrun "$TGT_URI" "
print(sorted(client[db_name].p2.index_information()))
m = client['fixture'].cdc_meta.find_one({'_id': 'restore:%s.p2' % db_name})
print([i['name'] for i in m['deferredIndexes']])"
	[ "${lines[0]}" = "['_id_', 'age_-1_name_1']" ]
	[ "${lines[1]}" = "['email_1', 'joined_1']" ]
}

@test "external engine: a dump that does not match its integrity record is refused with 65 before mongorestore runs" {
	local fake="$BATS_TEST_TMPDIR/fakebin"
	mkdir -p "$fake"
	ln -s "$FIXTURES/fake-mongodump" "$fake/mongorestore"
	pyrun "$SRC_URI" "client[db_name].c.insert_many([{'_id': i} for i in range(20)])"
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT" --engine native
	cut_at_boundary "$OUT/$DB/c.bson"
	FAKE_MONGO_RECORD="$BATS_TEST_TMPDIR/record" PATH="$fake:$PATH" run -65 dump-wrap restore \
		--db "$DB" --coll c --in "$OUT" --engine external
	[[ "$output" == *"dump data '$OUT/$DB/c.bson' is incomplete or damaged: it holds 10 documents ("*"says 20 documents ("* ]]
	[ ! -e "$BATS_TEST_TMPDIR/record" ]
}

@test "--engine external without mongodump on PATH exits 69 naming the tool" {
	PATH="/usr/bin:/bin" run -69 "$CSM_BIN/dump-wrap" dump --db "$DB" --coll c --out "$OUT" \
		--engine external
	[[ "$output" == *"needs 'mongodump' on PATH"* ]]
}

@test "progress: a status line on a pipe, a redrawn bar with rate and ETA on a TTY" {
	pyrun "$SRC_URI" "client[db_name].c.insert_many([{'_id': i, 'p': 'x' * 100} for i in range(2000)])"
	run -0 dump-wrap dump --db "$DB" --coll c --out "$OUT"
	[[ "$output" == *"copy finished"*"docs=2000"* ]]
	[[ "$output" != *$'\r'* ]]
	run -0 script -qec "'$CSM_BIN/dump-wrap' dump --db '$DB' --coll c --out '$OUT'" /dev/null
	[[ "$output" == *$'\r'"dump '$DB.c'  2000/2000 docs 100%"*"MB/s"*"done in"* ]]
}

@test "bad usage exits 64 with the synopsis" {
	run -64 dump-wrap
	[[ "$output" == *"expected a command, dump or restore"* ]]
	run -64 dump-wrap dump --db d --coll c
	[[ "$output" == *"dump takes --out DIR"* ]]
	run -64 dump-wrap restore --db d --coll c --in x --jobs 0
	[[ "$output" == *"invalid value '0' for --jobs"* ]]
	run -64 dump-wrap dump --db d --coll c --out x --drop
	run -0 dump-wrap --help
	[[ "$output" == *"--defer-constraints"* ]]
	# A misuse reads "dump-wrap: reason", then the synopsis, on stderr only.
	run -64 --separate-stderr dump-wrap dump --db d --coll c --out x --log-level loud
	[ -z "$output" ]
	# shellcheck disable=SC2154 # stderr_lines: set by run --separate-stderr
	[[ "${stderr_lines[0]}" == "dump-wrap: invalid value 'loud' for --log-level"* ]]
	[[ "${stderr_lines[1]}" == "usage: dump-wrap dump --db DB"* ]]
	run -64 --separate-stderr dump-wrap restore --db d --coll c --in x --to-db ""
	[[ "${stderr_lines[0]}" == "dump-wrap: --to-db and --to-coll must not be empty" ]]
}

@test "-h and --help print the synopsis and every exit status on stdout, before or after the command" {
	local form
	for form in "-h" "--help" "dump -h" "restore --help"; do
		# shellcheck disable=SC2086 # the form is two words on purpose
		run -0 --separate-stderr dump-wrap $form
		[[ "${lines[0]}" == "usage: dump-wrap dump --db DB --coll COLL --out DIR"* ]]
		[ -z "$stderr" ]
	done
	exit_codes_listed "$output" 0 64 65 66 69 74 75 77
	[[ "$output" == *"65  corrupt token or state file, bad dump, or a real conflict: "* ]]
}

@test "a URI option of the other side is refused naming the option, never its value" {
	run -64 --separate-stderr dump-wrap restore --db d --coll c --in x \
		--source-uri "mongodb://u:s3kr1tpw@127.0.0.1:1/"
	[[ "${stderr_lines[0]}" == "dump-wrap: restore writes to the target: use --target-uri-file or TARGET_URI, not --source-uri" ]]
	[[ "$stderr" != *s3kr1tpw* ]]
	run -64 --separate-stderr dump-wrap dump --db d --coll c --out x \
		--target-uri "mongodb://u:s3kr1tpw@127.0.0.1:1/"
	[[ "${stderr_lines[0]}" == "dump-wrap: dump reads the source: use --source-uri-file or SOURCE_URI, not --target-uri" ]]
	[[ "$stderr" != *s3kr1tpw* ]]
}

# fake_tool NAME: the recording stand-in (test/fixtures/fake-mongodump)
# first on PATH as NAME; sets FAKE_PATH, RECORD, and FAKE_TMPDIR (empty,
# for dump-wrap's TMPDIR).
fake_tool() {
	mkdir -p "$BATS_TEST_TMPDIR/fakebin"
	ln -sf "$FIXTURES/fake-mongodump" "$BATS_TEST_TMPDIR/fakebin/$1"
	FAKE_PATH="$BATS_TEST_TMPDIR/fakebin:$PATH"
	RECORD="$BATS_TEST_TMPDIR/record"
	export FAKE_MONGO_RECORD="$RECORD"
	FAKE_TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$FAKE_TMPDIR"
}

@test "external engine: every line mongodump and mongorestore print is logged with the password hidden" {
	fake_tool mongodump
	pyrun "$SRC_URI" "client[db_name].c.insert_one({'_id': 1})"
	# mongod-lite takes any PLAIN login when started without --auth-user
	local pw="pw-Zebra9q"
	local uri="mongodb://migrator:$pw@127.0.0.1:$SRC_PORT/?replicaSet=rs0&authMechanism=PLAIN&authSource=%24external"
	SOURCE_URI="$uri" FAKE_MONGO_SAY_URI=1 FAKE_MONGO_EXIT=1 TMPDIR="$FAKE_TMPDIR" PATH="$FAKE_PATH" \
		run -69 --separate-stderr dump-wrap dump --db "$DB" --coll c --out "$OUT"
	echo "$stderr"
	# the stand-in did get the real URI, and printed it
	grep -qF "config: uri: \"$uri\"" "$RECORD"
	[[ "$output$stderr" != *"$pw"* && "$output$stderr" != *Zebra9q* ]]
	[[ "$stderr" == *"dump-wrap info: mongodump: "*"connecting to mongodb://migrator:***@127.0.0.1:$SRC_PORT/"* ]]
	[[ "$stderr" == *"dump-wrap warn: mongodump: "*"failed to connect to mongodb://migrator:***@"* ]]
	[[ "$stderr" == *"dump-wrap warn: mongodump: "*"authentication with password *** failed"* ]]
	[[ "$stderr" == *"'$BATS_TEST_TMPDIR/fakebin/mongodump' failed with exit status 1"* ]]
	ln -sf "$FIXTURES/fake-mongodump" "$BATS_TEST_TMPDIR/fakebin/mongorestore"
	TARGET_URI="${uri/$SRC_PORT/$TGT_PORT}" FAKE_MONGO_SAY_URI=1 FAKE_MONGO_EXIT=1 \
		TMPDIR="$FAKE_TMPDIR" PATH="$FAKE_PATH" run -69 --separate-stderr dump-wrap restore --db fixture \
		--coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB"
	[[ "$output$stderr" != *"$pw"* && "$output$stderr" != *Zebra9q* ]]
	[[ "$stderr" == *"dump-wrap warn: mongorestore: "*"failed to connect to mongodb://migrator:***@"* ]]
	run ls -A "$FAKE_TMPDIR"
	[ -z "$output" ]
}

@test "SIGTERM or SIGINT while mongodump runs stops it, removes its config file, publishes nothing and exits 75" {
	fake_tool mongodump
	pyrun "$SRC_URI" "client[db_name].c.insert_one({'_id': 1})"
	local sig pid
	for sig in TERM INT; do
		rm -f "$RECORD"
		FAKE_MONGO_SLEEP=60 TMPDIR="$FAKE_TMPDIR" PATH="$FAKE_PATH" dump-wrap dump --db "$DB" --coll c \
			--out "$OUT" >"$BATS_TEST_TMPDIR/log" 2>&1 &
		pid=$!
		wait_until 10 grep -q "^config: uri:" "$RECORD"
		# the URI is on disk while the tool runs
		run -0 grep -rlF "uri: " "$FAKE_TMPDIR"
		signal_and_reap "$sig" "$pid"
		cat "$BATS_TEST_TMPDIR/log"
		((status == 75))
		grep -qx "signal: TERM" "$RECORD"
		grep -q "stopped by a signal while '.*mongodump' ran; no dump was published" \
			"$BATS_TEST_TMPDIR/log"
		run ls -A "$FAKE_TMPDIR"
		[ -z "$output" ]
		[ ! -e "$OUT/$DB/c.metadata.json" ]
		[ ! -e "$OUT/.$DB.c.partial" ]
	done
}

@test "native dump and restore stopped by SIGTERM end within seconds, exit 75: no dump published, no restore marker" {
	pyrun "$SRC_URI" "client[db_name].c.insert_many([{'_id': i, 'pad': 'x' * (1 << 20)} for i in range(40)])"
	# every getMore (16 MiB at most) of the dump waits 2 s first
	pyrun "$SRC_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="alwaysOn", data={
    "failCommands": ["getMore"], "blockConnection": True, "blockTimeMS": 2000,
    "appName": "changestream-migration/source"})'
	dump-wrap dump --db "$DB" --coll c --out "$OUT" --engine native >"$BATS_TEST_TMPDIR/log" 2>&1 &
	local pid=$!
	wait_until 10 test -s "$OUT/.$DB.c.partial/$DB/c.part-0.bson"
	signal_and_reap TERM "$pid"
	pyrun "$SRC_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	cat "$BATS_TEST_TMPDIR/log"
	((status == 75 && REAP_MS < 4000))
	grep -q "stopped by a signal while dumping '$DB.c' after [0-9]* documents (partition 0); no dump was published" \
		"$BATS_TEST_TMPDIR/log"
	# what was copied stays for the rerun to continue (test/dump-resume.bats)
	[ -e "$OUT/.$DB.c.partial/$DB/c.part-0.checkpoint.json" ]
	[ ! -e "$OUT/$DB/c.metadata.json" ]

	pyrun "$TGT_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="alwaysOn", data={
    "failCommands": ["insert"], "blockConnection": True, "blockTimeMS": 2000,
    "appName": "changestream-migration/target"})'
	dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB" \
		--engine native >"$BATS_TEST_TMPDIR/log" 2>&1 &
	pid=$!
	wait_until 10 pyrun "$TGT_URI" 'assert "people" in client[db_name].list_collection_names()'
	signal_and_reap TERM "$pid"
	pyrun "$TGT_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	cat "$BATS_TEST_TMPDIR/log"
	((status == 75 && REAP_MS < 4000))
	grep -q "no restore marker was written" "$BATS_TEST_TMPDIR/log"
	[ "$(marker "$DB.people" fixture)" = null ]
	# the rerun restores (what landed counts as duplicates) and writes it
	run -0 dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB"
	[ "$(marker "$DB.people" fixture)" != null ]
}

# wce_failpoint URI TIMES COMMAND...: the next TIMES writes of the
# COMMANDs by the toolkit's target client get a write concern timeout (64,
# the secondaries lag) after succeeding on the primary.
wce_failpoint() {
	pyrun "$1" '
client.admin.command("configureFailPoint", "failCommand", mode={"times": int(sys.argv[1])}, data={
    "failCommands": sys.argv[2:], "appName": "changestream-migration/target",
    "writeConcernError": {"code": 64, "codeName": "WriteConcernFailed",
                          "errmsg": "waiting for replication timed out",
                          "errInfo": {"wtimeout": True}}})' "${@:2}"
}

@test "a write concern timeout (64, secondaries lagging) on a restore insert or its marker is retried, then it completes" {
	# inserts: each retry re-sends the batch, what landed comes back as
	# duplicate keys beside the write concern error
	wce_failpoint "$TGT_URI" 3 insert
	run dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB"
	pyrun "$TGT_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	echo "$output"
	((status == 0))
	[[ "$output" == *"retrying what=\"inserting a batch into '$DB.people' on the target\""*"waiting for replication timed out"* ]]
	[[ "$output" == *"restored 5 documents"* ]]
	[ "$(marker "$DB.people" fixture)" != null ]
	# the marker's upsert
	wce_failpoint "$TGT_URI" 2 update
	run dump-wrap restore --db fixture --coll people --in "$FIXTURES/dump-mongodump" --to-db "$DB" \
		--to-coll p2
	pyrun "$TGT_URI" 'client.admin.command("configureFailPoint", "failCommand", mode="off")'
	echo "$output"
	((status == 0))
	[[ "$output" == *"retrying what=\"writing the restore marker of '$DB.p2' on the target\""*"waiting for replication timed out"* ]]
	[ "$(marker "$DB.p2" fixture)" != null ]
}
