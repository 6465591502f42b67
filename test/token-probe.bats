#!/usr/bin/env bats
# token-probe: a resume point taken before the copy, without ever touching a
# user document; every refusal has its exit code and names its cause
# (docs/DESIGN.md, "Programs", "Token file", "Exit codes").

setup_file() {
	load helpers
	mlite_start SRC
	# A real deployment under test (MONGO_TEST_URI) has no standalone twin.
	if [[ -z "${MONGO_TEST_URI:-}" ]]; then mlite_start ALONE --standalone; fi
}

teardown_file() {
	mlite_stop SRC
	mlite_stop ALONE
}

setup() {
	load helpers
	test_db
	export SOURCE_URI="$SRC_URI"
	STATE="$BATS_TEST_TMPDIR/state"
}

pu() {
	"$PY" -m dump_probe_util "$@"
}

make_coll() {
	pyrun "$SRC_URI" "client[db_name].create_collection(sys.argv[1])" "$1"
}

@test "dummy probe writes a 0600 token file whose token resumes right after the probe" {
	make_coll c
	pyrun "$SRC_URI" "client[db_name].c.insert_many([{'_id': i} for i in range(5)])"
	run -0 token-probe --db "$DB" --coll c --state-dir "$STATE"
	[[ "$output" == *"wrote the resume point of '$DB.c'"* ]]
	[ "$(file_mode "$STATE/$DB.c.token")" = 600 ]
	run -0 "$PY" -c "
import json, sys
t = json.load(open(sys.argv[1]))
assert t['ns'] == sys.argv[2], t
assert t['writer'] == 'token-probe/dummy', t
assert t['resumeToken']['_data'], t
assert t['clusterTime']['t'] > 0, t
print('ok')" "$STATE/$DB.c.token" "$DB.c"
	run -0 pu resume-check "$SRC_URI" "$DB" c "$STATE/$DB.c.token"
}

@test "dummy probe leaves documents with odd _ids (-1, null, MinKey, {}, \"\") untouched" {
	make_coll odd
	pu odd-ids "$SRC_URI" "$DB" odd
	pu snapshot "$SRC_URI" "$DB" odd >"$BATS_TEST_TMPDIR/before"
	run -0 token-probe --db "$DB" --coll odd --state-dir "$STATE"
	pu snapshot "$SRC_URI" "$DB" odd >"$BATS_TEST_TMPDIR/after"
	run -0 diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	grep -qx 'count 9' "$BATS_TEST_TMPDIR/after"
}

@test "dummy probe whose sentinel insert is refused stops with the cause and changes nothing" {
	make_coll guarded
	pyrun "$SRC_URI" "client[db_name].guarded.insert_one({'_id': 1})"
	pyrun "$SRC_URI" "client.admin.command('configureFailPoint', 'failCommand', mode={'times': 1},
		data={'failCommands': ['insert'], 'errorCode': 13})"
	pu snapshot "$SRC_URI" "$DB" guarded >"$BATS_TEST_TMPDIR/before"
	run -77 token-probe --db "$DB" --coll guarded --state-dir "$STATE"
	[[ "$output" == *"cannot insert the probe document into '$DB.guarded'"* ]]
	[[ "$output" == *"nothing was changed"* ]]
	[ ! -e "$STATE/$DB.guarded.token" ]
	pu snapshot "$SRC_URI" "$DB" guarded >"$BATS_TEST_TMPDIR/after"
	run -0 diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
}

@test "SIGTERM or SIGINT during the probe deletes its sentinel, writes no token file and exits 75" {
	make_coll c
	pyrun "$SRC_URI" "client[db_name].c.insert_one({'_id': 1})"
	local sig pid
	for sig in TERM INT; do
		# the sentinel's delete waits 2 s: the signal comes while it is there
		pyrun "$SRC_URI" "client.admin.command('configureFailPoint', 'failCommand', mode={'times': 1},
		data={'failCommands': ['delete'], 'blockConnection': True, 'blockTimeMS': 2000,
		      'appName': 'changestream-migration/source'})"
		token-probe --db "$DB" --coll c --state-dir "$STATE" >"$BATS_TEST_TMPDIR/log" 2>&1 &
		pid=$!
		# shellcheck disable=SC2016 # $exists is MongoDB's, in Python
		wait_until 10 pyrun "$SRC_URI" '
assert client[db_name].c.count_documents({"_id.changestream-migration-probe": {"$exists": True}}) == 1'
		signal_and_reap "$sig" "$pid"
		cat "$BATS_TEST_TMPDIR/log"
		((status == 75))
		grep -q "stopped by a signal while taking the resume point of '$DB.c'; no token file was written: run token-probe again" \
			"$BATS_TEST_TMPDIR/log"
		[ ! -e "$STATE/$DB.c.token" ]
		run -0 pyrun "$SRC_URI" 'print(client[db_name].c.count_documents({}))'
		[ "$output" = 1 ]
	done
}

@test "now probe writes nothing to the source and still saves a resumable token" {
	make_coll quiet
	pyrun "$SRC_URI" "client[db_name].quiet.insert_many([{'_id': i} for i in range(3)])"
	run -0 pu watch-quiet "$SRC_URI" "$DB" quiet -- \
		"$CSM_BIN/token-probe" --db "$DB" --coll quiet --method now --state-dir "$STATE"
	run -0 pyrun "$SRC_URI" "print(client[db_name].quiet.count_documents({}))"
	[ "$output" = 3 ]
	run -0 "$PY" -c "
import json, sys
t = json.load(open(sys.argv[1]))
assert t['writer'] == 'token-probe/now', t
assert t['clusterTime']['t'] > 0, t
print('ok')" "$STATE/$DB.quiet.token"
	# The check above wrote after the probe: take a fresh point to resume from.
	run -0 token-probe --db "$DB" --coll quiet --method now --state-dir "$STATE" --force
	run -0 pu resume-check "$SRC_URI" "$DB" quiet "$STATE/$DB.quiet.token"
}

@test "an existing token file is kept: exit 73 saying a migration may be running; --force replaces it" {
	make_coll c
	mkdir -p "$STATE"
	echo '{"keep": "me"}' >"$STATE/$DB.c.token"
	run -73 token-probe --db "$DB" --coll c --state-dir "$STATE"
	echo "$output"
	[[ "$output" == *"already exists"* ]]
	[[ "$output" == *"migration of '$DB.c' may be running"* ]]
	[ "$(cat "$STATE/$DB.c.token")" = '{"keep": "me"}' ]
	run -0 token-probe --db "$DB" --coll c --state-dir "$STATE" --force
	echo "$output"
	grep -q resumeToken "$STATE/$DB.c.token"
}

@test "a missing collection exits 66 naming it" {
	run -66 token-probe --db "$DB" --coll nosuch --state-dir "$STATE"
	[[ "$output" == *"no collection '$DB.nosuch'"* ]]
	[ ! -e "$STATE/$DB.nosuch.token" ]
}

@test "a standalone source exits 69: change streams need a replica set or sharded cluster" {
	[[ -z "${MONGO_TEST_URI:-}" ]] || skip "needs mongod-lite --standalone"
	pyrun "$ALONE_URI" "client[db_name].create_collection('c')"
	SOURCE_URI="$ALONE_URI" run -69 token-probe --db "$DB" --coll c --state-dir "$STATE"
	[[ "$output" == *"change streams need a replica set or sharded cluster"* ]]
	SOURCE_URI="$ALONE_URI" run -69 token-probe --db "$DB" --coll c --method now \
		--state-dir "$STATE"
	[[ "$output" == *"change streams need a replica set or sharded cluster"* ]]
}

@test "an unreachable source exits 69 without showing the password" {
	SOURCE_URI="mongodb://probe:s3cr3tpw@127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300" \
		run -69 token-probe --db "$DB" --coll c --state-dir "$STATE"
	[[ "$output" == *"cannot reach the source server"* ]]
	[[ "$output" != *s3cr3tpw* ]]
}

@test "a capped collection refuses the dummy probe (its insert could evict a document)" {
	pyrun "$SRC_URI" "client[db_name].create_collection('cap', capped=True, size=4096)"
	run -64 token-probe --db "$DB" --coll cap --state-dir "$STATE"
	[[ "$output" == *"use --method now"* ]]
	run -0 token-probe --db "$DB" --coll cap --method now --state-dir "$STATE"
}

@test "a collection named like the staging collections is refused with 64 naming --staging-coll" {
	make_coll cdc
	make_coll stage_meta
	run -64 token-probe --db "$DB" --coll cdc --state-dir "$STATE"
	[[ "$output" == *"collection '$DB.cdc' is named like the staging collections '$DB.cdc' and '$DB.cdc_meta'"*"--staging-coll"* ]]
	run -64 token-probe --db "$DB" --coll stage_meta --staging-coll stage --state-dir "$STATE"
	[ ! -e "$STATE" ]
	# Another staging name (the one capture and sync will get) lets it through.
	run -0 token-probe --db "$DB" --coll cdc --staging-coll stage --state-dir "$STATE"
	[ -s "$STATE/$DB.cdc.token" ]
}

@test "bad usage exits 64 with the synopsis" {
	run -64 token-probe --coll c
	[[ "$output" == *"--db and --coll are required"* ]]
	[[ "$output" == *"usage: token-probe"* ]]
	run -64 token-probe --db d --coll c --method later
	[[ "$output" == *"invalid value 'later' for --method"* ]]
	run -0 token-probe --help
	[[ "$output" == *"--method now"* ]]
	# A misuse reads "token-probe: reason", then the synopsis, on stderr only.
	run -64 --separate-stderr token-probe --db d --coll c --timeout 0
	[ -z "$output" ]
	# shellcheck disable=SC2154 # stderr_lines: set by run --separate-stderr
	[[ "${stderr_lines[0]}" == "token-probe: invalid value '0' for --timeout"* ]]
	[[ "${stderr_lines[1]}" == "usage: token-probe --db DB --coll COLL"* ]]
	SOURCE_URI='' run -64 --separate-stderr token-probe --db d --coll c --state-dir "$STATE"
	[[ "${stderr_lines[0]}" == "token-probe: no source URI: "* ]]
	[[ "${stderr_lines[1]}" == "usage: token-probe --db DB --coll COLL"* ]]
	run -64 --separate-stderr token-probe --db d --coll c stray
	[[ "${stderr_lines[0]}" == "token-probe: unexpected argument 'stray'" ]]
}

@test "-h prints the synopsis and every exit status on stdout" {
	run -0 --separate-stderr token-probe -h
	[[ "${lines[0]}" == "usage: token-probe --db DB --coll COLL"* ]]
	[ -z "$stderr" ]
	exit_codes_listed "$output" 0 64 66 69 73 74 75 77
	[[ "$output" == *"73  an output that must not be overwritten already exists: the token file exists"* ]]
}
