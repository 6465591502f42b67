#!/usr/bin/env bats
# mongod-lite part 1: wire protocol, handshake, commands, storage and
# queries, through pymongo (test/py/mlcore_cases.py holds the checks; each
# prints "ok" or exits non-zero with the difference) and through libmongoc
# (test/unit/mlite_client.c).

# shellcheck disable=SC2154 # $stderr is set by bats' run --separate-stderr

setup_file() {
	load helpers
	mlite_start M
}

teardown_file() {
	mlite_stop M
}

setup() {
	load helpers
	test_db
	export CASES_PY="$REPO_ROOT/test/py/mlcore_cases.py"
}

teardown() {
	mlite_stop SOLO
	mlite_stop TERM
	mlite_stop DUR
	mlite_stop AUTH
}

client() {
	"$CSM_BUILD/test/mlite_client" "$@"
}

plain_uri() {
	local uri="$1"
	echo "${uri%%\?*}"
}

@test "pymongo connects with and without replicaSet=rs0; hello is a typed one-node primary" {
	case_ok connect "$M_URI" "$DB" "$(plain_uri "$M_URI")"
}

@test "libmongoc connects with and without replicaSet=rs0: CRUD, bulk writeErrors, cursors" {
	run -0 client "$M_URI" crud "$DB"
	run -0 client "$(plain_uri "$M_URI")" crud "${DB}_plain"
}

@test "a pooled libmongoc client left idle 5 s sends fewer than 20 hellos" {
	needs_mlite
	run -0 client "$M_URI" idle 5
	echo "# hellos while idle: $output" >&3
	((output < 20))
}

@test "documents of every BSON type and of 16 MiB - 1 KiB round-trip byte for byte" {
	case_ok types "$M_URI" "$DB"
}

@test "ordered and unordered bulk writes with duplicates report MongoDB's indexes and counts" {
	case_ok bulk "$M_URI" "$DB"
}

@test "sort and range queries over mixed-type _ids follow BSON comparison order" {
	case_ok order "$M_URI" "$DB"
}

@test "a 100,000-document cursor pages through getMore by batchSize; killCursors frees it (43 after)" {
	case_ok cursor "$M_URI" "$DB" 100000
}

@test "malformed frames close only their connection; checksum and moreToCome flags are honoured" {
	needs_mlite
	case_ok malformed "$M_URI" "$DB"
	grep -q "closing: " "$M_DIR/log"
}

@test "8 clients writing concurrently lose nothing" {
	case_ok concurrent "$M_URI" "$DB" 8 2000
}

@test "bad input gets MongoDB's error codes (59, 2, 14, 9, 40, 66, 43...) and never a crash" {
	case_ok errors "$M_URI" "$DB"
}

@test "query operators match dotted paths, array elements and null-for-missing" {
	case_ok queries "$M_URI" "$DB"
}

@test "update operators, upserts and findAndModify give MongoDB's documents" {
	case_ok updates "$M_URI" "$DB"
}

@test "catalog: options and uuid listed, unique (compound, partial) enforced, rename and drops" {
	case_ok catalog "$M_URI" "$DB"
}

@test "queries through secondary indexes (equality prefix, range, sort, paging while documents move) match a scan" {
	case_ok indexed "$M_URI" "$DB"
}

@test "a retried write with the same lsid and txnNumber is not applied twice" {
	case_ok retry "$M_URI" "$DB"
}

@test "aggregate \$match \$group \$sort \$skip \$limit \$project \$count and count paths" {
	case_ok aggregate "$M_URI" "$DB"
}

@test "updates carry updatedFields as MongoDB logs each modifier, removedFields, no truncatedArrays (those are for pipelines)" {
	case_ok update-description "$M_URI" "$DB"
}

@test "100,000 1 KiB inserts in 1000-document batches and a cursor read back all arrive (rates recorded)" {
	run -0 client "$M_URI" bench "$DB" 100000
	read -r inserts reads <<<"$output"
	echo "# libmongoc: $inserts inserts/s, $reads documents/s read" >&3
}

@test "after kill -9 a --dbpath server replays its journal into the same collections, UUIDs, indexes, documents" {
	needs_mlite
	mkdir -p "$BATS_TEST_TMPDIR/db"
	mlite_start DUR --dbpath "$BATS_TEST_TMPDIR/db" --sync-policy always
	run -0 cases populate "$DUR_URI" "$DB"
	run -0 cases snapshot "$DUR_URI" "$DB"
	local before="$output"
	[[ "$before" == *'"replaced": true'* && "$before" == *'"moved"'* ]]
	mlite_kill9 DUR
	mlite_restart DUR
	run -0 cases snapshot "$DUR_URI" "$DB"
	[ "$output" == "$before" ]
}

@test "--standalone answers hello without setName or hosts" {
	needs_mlite
	mlite_start SOLO --standalone
	run -0 "$PY" -c "
import sys, pymongo
h = pymongo.MongoClient(sys.argv[1]).admin.command('hello')
assert h['isWritablePrimary'] and 'setName' not in h and 'hosts' not in h, h
print('ok')" "$SOLO_URI"
	[[ "$output" == ok ]]
}

@test "the port file holds just the port; SIGTERM exits 0; a bad option exits 64" {
	needs_mlite
	mlite_start TERM
	# shellcheck disable=SC2153 # mlite_start TERM exports TERM_DIR
	run -0 cat "$TERM_DIR/port"
	[[ "$output" =~ ^[0-9]+$ ]]
	kill -TERM "$TERM_PID"
	local rc=0
	wait "$TERM_PID" || rc=$?
	export TERM_PID=
	[ "$rc" -eq 0 ]
	run -64 "$MLITE" --port nope
	[[ "$output" == *"invalid --port 'nope'"* ]]
}

# auth_start [options...]: a server requiring SASL PLAIN as user "alice"
# with the password in a 0600 file; exports AUTH_PW.
auth_start() {
	AUTH_PW='pw-S3cr3t!x'
	printf '%s\n' "$AUTH_PW" >"$BATS_TEST_TMPDIR/pw"
	chmod 600 "$BATS_TEST_TMPDIR/pw"
	mlite_start AUTH --auth-user alice --auth-password-file "$BATS_TEST_TMPDIR/pw" "$@"
}

# auth_plain_uri USER PASSWORD: the AUTH server's URI with PLAIN credentials
# (the password percent-encoded as a URI needs).
auth_plain_uri() {
	local pw
	pw="$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$2")"
	printf 'mongodb://%s:%s@127.0.0.1:%s/?replicaSet=rs0&authMechanism=PLAIN&authSource=%%24external' \
		"$1" "$pw" "$AUTH_PORT"
}

# py_auth: runs Python CODE with `client` on env URI (the password stays out
# of argv); prints what CODE prints, or "code N" of an OperationFailure.
py_auth() {
	URI="$1" "$PY" -c "
import os, pymongo
from pymongo.errors import OperationFailure
client = pymongo.MongoClient(os.environ['URI'], serverSelectionTimeoutMS=5000)
db_name = os.environ['DB']
try:
$2
except OperationFailure as e:
    print('code', e.code, e.details.get('codeName'), e.details.get('errmsg'))
"
}

@test "--auth-user: pymongo and libmongoc log in with SASL PLAIN (\$external) and then read and write" {
	needs_mlite
	auth_start
	local uri
	uri="$(auth_plain_uri alice "$AUTH_PW")"
	run -0 py_auth "$uri" '
    client[db_name].auth.insert_one({"by": "pymongo"})
    print("n", client[db_name].auth.count_documents({}))'
	[ "$output" = "n 1" ]
	# stdout only: libmongoc may warn on stderr (e.g. "Falling back to malloc
	# for counters" when shared memory is short).
	MLITE_AUTH_URI="$uri" run -0 --separate-stderr "$CSM_BUILD/test/mlite_auth_client" "$DB"
	[ "$output" = ok ]
	run -0 py_auth "$uri" '
    print(sorted(d["by"] for d in client[db_name].auth.find()))'
	[ "$output" = "['libmongoc', 'pymongo']" ]
	run -1 grep -F -- "$AUTH_PW" "$AUTH_DIR/log"
}

@test "--auth-user: a wrong password or user fails with 18 AuthenticationFailed in both drivers" {
	needs_mlite
	auth_start --log-level 2
	local bad="wrong-Pa55word"
	run -0 py_auth "$(auth_plain_uri alice "$bad")" '
    client[db_name].auth.insert_one({})'
	[ "$output" = "code 18 AuthenticationFailed Authentication failed." ]
	run -0 py_auth "$(auth_plain_uri mallory "$AUTH_PW")" '
    client[db_name].auth.insert_one({})'
	[ "$output" = "code 18 AuthenticationFailed Authentication failed." ]
	MLITE_AUTH_URI="$(auth_plain_uri alice "$bad")&serverSelectionTimeoutMS=3000" \
		run -1 --separate-stderr "$CSM_BUILD/test/mlite_auth_client" "$DB"
	[[ "$stderr" == *"error 1.11: Authentication failed."* ]]
	grep -q "authentication failed for user 'alice'" "$AUTH_DIR/log"
	run -1 grep -F -e "$bad" -e "$AUTH_PW" "$AUTH_DIR/log"
	# nothing was written by the rejected clients
	run -0 py_auth "$(auth_plain_uri alice "$AUTH_PW")" '
    print(client[db_name].auth.count_documents({}))'
	[ "$output" = 0 ]
}

@test "--auth-user: an unauthenticated connection gets 13 Unauthorized; the handshake still answers" {
	needs_mlite
	auth_start
	local uri="mongodb://127.0.0.1:$AUTH_PORT/?replicaSet=rs0"
	run -0 py_auth "$uri" '
    h = client.admin.command("hello")
    assert h["isWritablePrimary"], h
    client.admin.command("ping")
    client.admin.command("buildInfo")
    client[db_name].auth.insert_one({})'
	[ "$output" = "code 13 Unauthorized command insert requires authentication" ]
	run -0 py_auth "$uri" '
    client[db_name].auth.find_one()'
	[ "$output" = "code 13 Unauthorized command find requires authentication" ]
	MLITE_AUTH_URI="$uri" run -1 --separate-stderr "$CSM_BUILD/test/mlite_auth_client" "$DB"
	[[ "$stderr" == *"error 17.13: command insert requires authentication"* ]]
}

@test "without --auth-user any PLAIN credentials log in; SCRAM is 334; the password file is checked" {
	needs_mlite
	mlite_start AUTH
	run -0 py_auth "mongodb://anyone:any-pw@127.0.0.1:$AUTH_PORT/?replicaSet=rs0&authMechanism=PLAIN&authSource=%24external" '
    client[db_name].auth.insert_one({})
    print("ok")'
	[ "$output" = ok ]
	MLITE_AUTH_URI="mongodb://anyone:any-pw@127.0.0.1:$AUTH_PORT/?replicaSet=rs0&authMechanism=PLAIN&authSource=%24external" \
		run -0 "$CSM_BUILD/test/mlite_auth_client" "$DB"
	run -0 py_auth "mongodb://anyone:any-pw@127.0.0.1:$AUTH_PORT/?replicaSet=rs0" '
    client[db_name].auth.insert_one({})'
	[[ "$output" == "code 334 MechanismUnavailable Received authentication for mechanism SCRAM-SHA-"*" which is unknown or not enabled" ]]
	run -64 "$MLITE" --auth-user alice
	[[ "$output" == *"--auth-user and --auth-password-file go together"* ]]
	run -66 "$MLITE" --auth-user alice --auth-password-file "$BATS_TEST_TMPDIR/none"
	[[ "$output" == *"cannot read --auth-password-file"* ]]
}
