/*
 * limit_cursor: the dump limit, a bare libmongoc cursor over a collection.
 *
 * Usage: limit_cursor URI DB COLL
 *
 * Reads every document of DB.COLL with find({}) sorted and hinted on _id
 * (the query dump-wrap's native engine sends, so both ask the server for
 * the same work) and discards it: it only adds up the BSON bytes. Prints {"docs", "bytes",
 * "seconds", "docs_per_s", "mb_per_s"} as one JSON line; MB = 10^6 bytes.
 */
#include "bench.h"

#define PROG "limit_cursor"

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	mongoc_collection_t *coll = NULL;
	mongoc_cursor_t *cursor = NULL;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, by_id;
	const bson_t *doc;
	const bson_t *error_doc;
	bson_error_t error;
	int64_t docs = 0, bytes = 0;
	double started, seconds;
	int rc = 1;

	mongoc_init();
	if (argc != 4) {
		fprintf(stderr, "usage: %s URI DB COLL\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	coll = mongoc_client_get_collection(client, argv[2], argv[3]);

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &by_id);
	BSON_APPEND_INT32(&by_id, "_id", 1);
	bson_append_document_end(&opts, &by_id);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "hint", &by_id);
	BSON_APPEND_INT32(&by_id, "_id", 1);
	bson_append_document_end(&opts, &by_id);

	started = bench_now();
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		docs++;
		bytes += doc->len;
	}
	if (mongoc_cursor_error_document(cursor, &error, &error_doc)) {
		bench_warn(PROG, "reading '%s.%s' failed: %s", argv[2], argv[3], error.message);
		goto cleanup;
	}
	seconds = bench_now() - started;
	printf("{\"docs\": %lld, \"bytes\": %lld, \"seconds\": %.3f, \"docs_per_s\": %.0f, "
	       "\"mb_per_s\": %.1f}\n",
	       (long long)docs, (long long)bytes, seconds,
	       seconds > 0 ? (double)docs / seconds : 0.0,
	       seconds > 0 ? (double)bytes / 1e6 / seconds : 0.0);
	rc = 0;
cleanup:
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
