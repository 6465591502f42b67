/*
 * rate_writer: the source workload of the capture and end-to-end benchmarks.
 *
 * Usage: rate_writer URI DB COLL COUNT RATE SIZE [FIRST_ID]
 *
 * Writes COUNT operations (0 = until SIGINT/SIGTERM) to DB.COLL, in ordered
 * bulk writes, as a repeating group of ten that yields exactly one change
 * event per operation: five inserts of new documents of SIZE bytes (ids from
 * FIRST_ID up), three $set updates and two deletes of documents of the same
 * group — 50% insert, 30% update, 20% delete.
 * RATE 0 writes as fast as the server takes bulks of 1000; RATE R > 0 paces
 * the operations at R per second from the start (every 10 ms it writes what
 * is due), so a slow server shows as a shortfall in the printed rate.
 * Prints {"ops", "seconds", "ops_per_s", "start_wall_ms", "end_wall_ms"}.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "stop.h"

#define PROG "rate_writer"
#define WRITER_BATCH 1000

/* Appends operation number op (0-based) to bulk. */
static void
add_op(mongoc_bulk_operation_t *bulk, int64_t op, int64_t first_id, const char *pad)
{
	int64_t group = op / 10, slot = op % 10;
	int64_t base = first_id + group * 5;
	bson_t doc = BSON_INITIALIZER, selector = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t set;

	if (slot < 5) {
		BSON_APPEND_INT64(&doc, "_id", base + slot);
		BSON_APPEND_INT64(&doc, "n", base + slot);
		BSON_APPEND_UTF8(&doc, "pad", pad);
		mongoc_bulk_operation_insert(bulk, &doc);
	} else if (slot < 8) {
		BSON_APPEND_INT64(&selector, "_id", base + slot - 5);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		BSON_APPEND_INT64(&set, "u", op);
		bson_append_document_end(&update, &set);
		mongoc_bulk_operation_update_one(bulk, &selector, &update, false);
	} else {
		BSON_APPEND_INT64(&selector, "_id", base + slot - 5);
		mongoc_bulk_operation_remove_one(bulk, &selector);
	}
	bson_destroy(&update);
	bson_destroy(&selector);
	bson_destroy(&doc);
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	mongoc_collection_t *coll = NULL;
	mongoc_bulk_operation_t *bulk = NULL;
	bson_t opts = BSON_INITIALIZER;
	bson_error_t error;
	char *pad = NULL;
	int64_t count, rate, size, first_id = 0, done = 0, start_wall_ms;
	double started, seconds;
	int rc = 1;

	mongoc_init();
	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: %s URI DB COLL COUNT RATE SIZE [FIRST_ID]\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if (!bench_parse(PROG, "COUNT", argv[4], 0, INT64_MAX / 2, &count) ||
	    !bench_parse(PROG, "RATE", argv[5], 0, 10000000, &rate) ||
	    !bench_parse(PROG, "SIZE", argv[6], 39, 16 * 1024 * 1024, &size) ||
	    (argc == 8 && !bench_parse(PROG, "FIRST_ID", argv[7], 0, INT64_MAX / 4, &first_id))) {
		rc = 64;
		goto cleanup;
	}
	stop_install_handlers();
	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	coll = mongoc_client_get_collection(client, argv[2], argv[3]);
	BSON_APPEND_BOOL(&opts, "ordered", true);
	pad = bench_pad_new(size);

	start_wall_ms = clock_wall_ms();
	started = bench_now();
	while (!stop_requested() && (count == 0 || done < count)) {
		int64_t due = WRITER_BATCH;

		if (rate > 0) {
			due = (int64_t)((bench_now() - started) * (double)rate) - done;
			if (due <= 0) {
				stop_sleep_ms(10);
				continue;
			}
			if (due > WRITER_BATCH)
				due = WRITER_BATCH;
		}
		if (count > 0 && due > count - done)
			due = count - done;
		bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
		for (int64_t i = 0; i < due; i++)
			add_op(bulk, done + i, first_id, pad);
		if (!mongoc_bulk_operation_execute(bulk, NULL, &error)) {
			bench_warn(PROG, "bulk write to '%s.%s' failed: %s", argv[2], argv[3],
				   error.message);
			goto cleanup;
		}
		mongoc_bulk_operation_destroy(bulk);
		bulk = NULL;
		done += due;
	}
	seconds = bench_now() - started;
	printf("{\"ops\": %lld, \"seconds\": %.3f, \"ops_per_s\": %.0f, \"start_wall_ms\": %lld, "
	       "\"end_wall_ms\": %lld}\n",
	       (long long)done, seconds, seconds > 0 ? (double)done / seconds : 0.0,
	       (long long)start_wall_ms, (long long)clock_wall_ms());
	rc = 0;
cleanup:
	mongoc_bulk_operation_destroy(bulk);
	bson_free(pad);
	bson_destroy(&opts);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
