/*
 * bench_load: fills a collection fast for the benchmarks.
 *
 * Usage: bench_load URI DB COLL COUNT SIZE [FIRST_ID]
 *
 * Inserts COUNT documents {_id: Int64, n: Int64, pad: "..."} of exactly SIZE
 * bytes of BSON each (ids FIRST_ID, FIRST_ID+1, ...; default 0) with
 * unordered insert_many batches of 1000. Prints {"docs", "seconds",
 * "docs_per_s"} as one JSON line.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define PROG "bench_load"
#define LOAD_BATCH 1000

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	mongoc_collection_t *coll = NULL;
	bson_t *docs[LOAD_BATCH] = {NULL};
	bson_t opts = BSON_INITIALIZER;
	bson_error_t error;
	char *pad = NULL;
	int64_t count, size, first_id = 0, done = 0;
	double started;
	int rc = 1;

	mongoc_init();
	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: %s URI DB COLL COUNT SIZE [FIRST_ID]\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if (!bench_parse(PROG, "COUNT", argv[4], 0, INT64_MAX / 2, &count) ||
	    !bench_parse(PROG, "SIZE", argv[5], 39, 16 * 1024 * 1024, &size) ||
	    (argc == 7 && !bench_parse(PROG, "FIRST_ID", argv[6], 0, INT64_MAX / 2, &first_id))) {
		rc = 64;
		goto cleanup;
	}
	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	coll = mongoc_client_get_collection(client, argv[2], argv[3]);
	BSON_APPEND_BOOL(&opts, "ordered", false);
	BSON_APPEND_BOOL(&opts, "validate", false);

	pad = bench_pad_new(size);
	for (size_t i = 0; i < LOAD_BATCH; i++)
		docs[i] = bson_new();

	started = bench_now();
	while (done < count) {
		size_t n = 0;

		for (; n < LOAD_BATCH && done + (int64_t)n < count; n++) {
			int64_t id = first_id + done + (int64_t)n;

			bson_reinit(docs[n]);
			BSON_APPEND_INT64(docs[n], "_id", id);
			BSON_APPEND_INT64(docs[n], "n", id);
			BSON_APPEND_UTF8(docs[n], "pad", pad);
		}
		if (!mongoc_collection_insert_many(coll, (const bson_t **)docs, n, &opts, NULL,
						   &error)) {
			bench_warn(PROG, "insert into '%s.%s' failed: %s", argv[2], argv[3],
				   error.message);
			goto cleanup;
		}
		done += (int64_t)n;
	}
	{
		double seconds = bench_now() - started;

		printf("{\"docs\": %lld, \"seconds\": %.3f, \"docs_per_s\": %.0f}\n",
		       (long long)done, seconds, seconds > 0 ? (double)done / seconds : 0.0);
	}
	rc = 0;
cleanup:
	for (size_t i = 0; i < LOAD_BATCH; i++)
		bson_destroy(docs[i]);
	bson_free(pad);
	bson_destroy(&opts);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
