/*
 * limit_cursor: the dump limit, bare libmongoc cursors over a collection.
 *
 * Usage: limit_cursor URI DB COLL [CURSORS]
 *
 * Reads every document of DB.COLL with find({}) sorted and hinted on _id
 * (the query dump-wrap's native engine sends, so both ask the server for
 * the same work) and discards it: it only adds up the BSON bytes. With
 * CURSORS (default 1) the _id range is cut where dump-wrap dump --jobs
 * CURSORS cuts it (lib/dump_copy.h) and each partition is read by its own
 * thread and client with the same min/max; the clock runs from the split
 * to the last cursor's end, as the dump's does. Prints {"docs", "bytes",
 * "seconds", "docs_per_s", "mb_per_s"} as one JSON line; MB = 10^6 bytes.
 */
#include <pthread.h>

#include "bench.h"
#include "dump_copy.h"

#define PROG "limit_cursor"

typedef struct reader {
	const char *uri, *db, *coll;
	const dump_part_t *part;
	pthread_t thread;
	int64_t docs, bytes;
	bool ok;
} reader_t;

static void *
read_part(void *arg)
{
	reader_t *r = arg;
	mongoc_client_t *client = bench_client_new(PROG, r->uri);
	mongoc_collection_t *coll = NULL;
	mongoc_cursor_t *cursor = NULL;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, by_id;
	const bson_t *doc, *error_doc;
	bson_error_t error;

	if (client == NULL)
		goto cleanup;
	coll = mongoc_client_get_collection(client, r->db, r->coll);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &by_id);
	BSON_APPEND_INT32(&by_id, "_id", 1);
	bson_append_document_end(&opts, &by_id);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "hint", &by_id);
	BSON_APPEND_INT32(&by_id, "_id", 1);
	bson_append_document_end(&opts, &by_id);
	if (!bson_empty(&r->part->lower))
		BSON_APPEND_DOCUMENT(&opts, "min", &r->part->lower);
	if (!bson_empty(&r->part->upper))
		BSON_APPEND_DOCUMENT(&opts, "max", &r->part->upper);
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		r->docs++;
		r->bytes += doc->len;
	}
	if (mongoc_cursor_error_document(cursor, &error, &error_doc))
		bench_warn(PROG, "reading '%s.%s' failed: %s", r->db, r->coll, error.message);
	else
		r->ok = true;
cleanup:
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	return NULL;
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	reader_t readers[DUMP_PLAN_MAX_PARTS];
	dump_plan_t plan;
	bson_error_t error;
	int64_t docs = 0, bytes = 0, cursors = 1;
	double started, seconds;
	int rc = 1, started_readers = 0;
	bool ok = true;

	mongoc_init();
	memset(&plan, 0, sizeof plan);
	if ((argc != 4 && argc != 5) ||
	    (argc == 5 && !parse_int64(argv[4], 1, DUMP_PLAN_MAX_PARTS, &cursors))) {
		fprintf(stderr, "usage: %s URI DB COLL [CURSORS]\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	started = bench_now();
	dump_plan_init(&plan, "", "native", (int)cursors, "");
	if (!dump_copy_split(client, argv[2], argv[3], (int)cursors, &plan, &error)) {
		bench_warn(PROG, "%s", error.message);
		goto cleanup;
	}
	for (int k = 0; k < plan.nparts; k++) {
		readers[k] = (reader_t){.uri = argv[1], .db = argv[2], .coll = argv[3]};
		readers[k].part = &plan.parts[k];
		if (pthread_create(&readers[k].thread, NULL, read_part, &readers[k]) != 0)
			break;
		started_readers++;
	}
	for (int k = 0; k < started_readers; k++) {
		pthread_join(readers[k].thread, NULL);
		ok = ok && readers[k].ok;
		docs += readers[k].docs;
		bytes += readers[k].bytes;
	}
	seconds = bench_now() - started;
	if (!ok || started_readers < plan.nparts)
		goto cleanup;
	printf("{\"docs\": %lld, \"bytes\": %lld, \"seconds\": %.3f, \"docs_per_s\": %.0f, "
	       "\"mb_per_s\": %.1f}\n",
	       (long long)docs, (long long)bytes, seconds,
	       seconds > 0 ? (double)docs / seconds : 0.0,
	       seconds > 0 ? (double)bytes / 1e6 / seconds : 0.0);
	rc = 0;
cleanup:
	dump_plan_cleanup(&plan);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
