/*
 * capture_wait: waits for cdc-capture to stage COUNT events and reports when
 * it staged the first and the last.
 *
 * Usage: capture_wait URI DB STAGING NS COUNT TIMEOUT_S
 *
 * Polls the checkpoint of NS in DB.STAGING_meta (lastSeq) every 100 ms, and
 * the staged event seq COUNT itself every second, until seq COUNT is staged
 * or TIMEOUT_S seconds pass. Then reads stagedAt of seq 1 and seq COUNT.
 * Prints {"events", "first_staged_ms", "last_staged_ms", "events_per_s",
 * "observed_wall_ms"}.
 */
#include <string.h>

#include "bench.h"
#include "staging_format.h"
#include "stop.h"

#define PROG "capture_wait"

/* stagedAt of staged event seq of ns, or -1 when it is not staged (yet). */
static int64_t
staged_at(mongoc_collection_t *coll, const char *ns, int64_t seq)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bson_iter_t iter;
	int64_t at = -1;

	BSON_APPEND_UTF8(&filter, STAGED_F_NS, ns);
	BSON_APPEND_INT64(&filter, STAGED_F_SEQ, seq);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &doc) &&
	    bson_iter_init_find(&iter, doc, STAGED_F_STAGED_AT) && BSON_ITER_HOLDS_DATE_TIME(&iter))
		at = bson_iter_date_time(&iter);
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return at;
}

/* The checkpoint's lastSeq of ns, or -1. */
static int64_t
checkpoint_last_seq(mongoc_collection_t *meta, const char *checkpoint_id)
{
	bson_t filter = BSON_INITIALIZER;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bson_iter_t iter;
	int64_t last = -1;

	BSON_APPEND_UTF8(&filter, META_F_ID, checkpoint_id);
	cursor = mongoc_collection_find_with_opts(meta, &filter, NULL, NULL);
	if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&iter, doc, META_F_LAST_SEQ) &&
	    BSON_ITER_HOLDS_NUMBER(&iter))
		last = bson_iter_as_int64(&iter);
	mongoc_cursor_destroy(cursor);
	bson_destroy(&filter);
	return last;
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	mongoc_collection_t *staging = NULL, *meta = NULL;
	char *meta_name = NULL, *checkpoint_id = NULL;
	int64_t count, timeout, first_ms, last_ms = -1;
	int64_t deadline_ms;
	int polls = 0, rc = 1;

	mongoc_init();
	if (argc != 7) {
		fprintf(stderr, "usage: %s URI DB STAGING NS COUNT TIMEOUT_S\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if (!bench_parse(PROG, "COUNT", argv[5], 1, INT64_MAX / 2, &count) ||
	    !bench_parse(PROG, "TIMEOUT_S", argv[6], 1, 86400, &timeout)) {
		rc = 64;
		goto cleanup;
	}
	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	meta_name = bson_strdup_printf("%s%s", argv[3], STAGING_META_SUFFIX);
	checkpoint_id = bson_strdup_printf("%s%s", STAGING_CHECKPOINT_ID_PREFIX, argv[4]);
	staging = mongoc_client_get_collection(client, argv[2], argv[3]);
	meta = mongoc_client_get_collection(client, argv[2], meta_name);

	deadline_ms = clock_mono_ms() + timeout * 1000;
	for (;;) {
		if (checkpoint_last_seq(meta, checkpoint_id) >= count || polls % 10 == 9)
			last_ms = staged_at(staging, argv[4], count);
		if (last_ms >= 0)
			break;
		if (clock_mono_ms() > deadline_ms) {
			bench_warn(PROG, "'%s' has not staged event %lld of '%s' after %lld s",
				   argv[2], (long long)count, argv[4], (long long)timeout);
			goto cleanup;
		}
		stop_sleep_ms(100);
		polls++;
	}
	first_ms = staged_at(staging, argv[4], 1);
	printf("{\"events\": %lld, \"first_staged_ms\": %lld, \"last_staged_ms\": %lld, "
	       "\"events_per_s\": %.0f, \"observed_wall_ms\": %lld}\n",
	       (long long)count, (long long)first_ms, (long long)last_ms,
	       last_ms > first_ms ? (double)(count - 1) * 1000.0 / (double)(last_ms - first_ms)
				  : 0.0,
	       (long long)clock_wall_ms());
	rc = 0;
cleanup:
	bson_free(checkpoint_id);
	bson_free(meta_name);
	mongoc_collection_destroy(meta);
	mongoc_collection_destroy(staging);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
