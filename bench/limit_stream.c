/*
 * limit_stream: the capture limit, a bare change stream loop.
 *
 * Usage: limit_stream URI DB COLL COUNT READY_FILE [FULL_DOCUMENT [IDLE_TIMEOUT_S]]
 *
 * Opens a change stream on DB.COLL with fullDocument FULL_DOCUMENT
 * ("default", as cdc-capture asks by default, or "updateLookup"), creates
 * READY_FILE once the stream is open on the server (start the writer then),
 * and reads COUNT events, keeping nothing. Fails when no event arrives for
 * IDLE_TIMEOUT_S seconds (default 60). Prints {"events", "first_to_last_s", "events_per_s",
 * "first_wall_ms", "last_wall_ms"}: the rate from the first event received
 * to the last, the same span cdc-capture is measured over.
 */
#include <fcntl.h>
#include <unistd.h>

#include "bench.h"

#define PROG "limit_stream"

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	mongoc_collection_t *coll = NULL;
	mongoc_change_stream_t *stream = NULL;
	bson_t pipeline = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	const bson_t *event, *error_doc;
	bson_error_t error;
	int64_t count, idle_timeout = 60, events = 0, first_wall = 0, last_wall = 0, idle_since_ms;
	double first = 0, last = 0;
	int fd, rc = 1;

	mongoc_init();
	if (argc < 6 || argc > 8) {
		fprintf(stderr,
			"usage: %s URI DB COLL COUNT READY_FILE [FULL_DOCUMENT [IDLE_TIMEOUT_S]]\n",
			PROG);
		rc = 64;
		goto cleanup;
	}
	if (!bench_parse(PROG, "COUNT", argv[4], 1, INT64_MAX / 2, &count) ||
	    (argc == 8 && !bench_parse(PROG, "IDLE_TIMEOUT_S", argv[7], 1, 86400, &idle_timeout))) {
		rc = 64;
		goto cleanup;
	}
	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	coll = mongoc_client_get_collection(client, argv[2], argv[3]);
	/* cdc-capture's defaults (--batch-size 1000, --batch-ms 200). */
	BSON_APPEND_INT32(&opts, "batchSize", 1000);
	BSON_APPEND_INT32(&opts, "maxAwaitTimeMS", 200);
	if (argc >= 7)
		BSON_APPEND_UTF8(&opts, "fullDocument", argv[6]);
	/* watch() runs the aggregate at once: the stream is open on return. */
	stream = mongoc_collection_watch(coll, &pipeline, &opts);
	if (mongoc_change_stream_error_document(stream, &error, &error_doc)) {
		bench_warn(PROG, "cannot open a change stream on '%s.%s': %s", argv[2], argv[3],
			   error.message);
		goto cleanup;
	}
	if ((fd = open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		bench_warn(PROG, "cannot create '%s'", argv[5]);
		goto cleanup;
	}
	close(fd);

	idle_since_ms = clock_mono_ms();
	while (events < count) {
		if (mongoc_change_stream_next(stream, &event)) {
			last = bench_now();
			if (events == 0) {
				first = last;
				first_wall = clock_wall_ms();
			}
			events++;
			idle_since_ms = clock_mono_ms();
			continue;
		}
		if (mongoc_change_stream_error_document(stream, &error, &error_doc)) {
			bench_warn(PROG, "change stream on '%s.%s' failed: %s", argv[2], argv[3],
				   error.message);
			goto cleanup;
		}
		if (clock_mono_ms() - idle_since_ms > idle_timeout * 1000) {
			bench_warn(PROG, "no event for %lld s after %lld of %lld events",
				   (long long)idle_timeout, (long long)events, (long long)count);
			goto cleanup;
		}
	}
	last_wall = clock_wall_ms();
	printf("{\"events\": %lld, \"first_to_last_s\": %.3f, \"events_per_s\": %.0f, "
	       "\"first_wall_ms\": %lld, \"last_wall_ms\": %lld}\n",
	       (long long)events, last - first,
	       last > first ? (double)(events - 1) / (last - first) : 0.0, (long long)first_wall,
	       (long long)last_wall);
	rc = 0;
cleanup:
	mongoc_change_stream_destroy(stream);
	bson_destroy(&opts);
	bson_destroy(&pipeline);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
