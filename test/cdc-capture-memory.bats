#!/usr/bin/env bats
# cdc-capture memory: bounded by the batch, not by how many events flow.

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
}

@test "peak RSS stays under 64 MiB while staging 200,000 events of 1 KiB" {
	local n=${CAPTURE_RSS_EVENTS:-200000}
	"$PY" -m capture_util token "$SRC_URI" "$DB" c "$BATS_TEST_TMPDIR/$DB.c.token"
	pyrun "$SRC_URI" '
n = int(sys.argv[1])
c = client[db_name].c
pad = "p" * 1000
for start in range(0, n, 1000):
    c.insert_many([{"_id": i, "pad": pad} for i in range(start, min(n, start + 1000))])
# The drop ends the capture by itself (exit 4) after every insert is staged.
c.drop()
' "$n"
	run -4 --separate-stderr /usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/rss" \
		cdc-capture --db "$DB" --coll c --state-dir "$BATS_TEST_TMPDIR"
	# The collection's create event (showExpandedEvents), n inserts, the drop.
	[[ "$stderr" == *"stopped at a 'drop' event on '$DB.c' (staged as seq $((n + 2)))"* ]]
	local rss_kib
	rss_kib="$(tail -1 "$BATS_TEST_TMPDIR/rss")"
	echo "peak RSS: $rss_kib KiB" >&3
	rss_within_budget "$rss_kib"
	[ "$(pyrun "$TGT_URI" 'print(client[db_name].cdc.count_documents({}))')" -eq $((n + 2)) ]
}
