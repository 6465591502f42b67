/*
 * limit_bulk: the replay limit, the same writes as cdc-replay done as bare
 * ordered bulk writes.
 *
 * Usage: limit_bulk URI DB STAGING NS TARGET_COLL BATCH
 *
 * Reads the pending staged events of NS from DB.STAGING in seq order (one
 * cursor) and applies them to DB.TARGET_COLL as cdc-replay does the events
 * the synthetic workloads produce (docs/DESIGN.md, "Replay rules"):
 * insert/replace and update with fullDocument: replace by documentKey with
 * upsert; update: $set updatedFields / $unset removedFields; delete: delete
 * one by documentKey. Ordered bulk writes of BATCH events, without
 * client-side validation (as cdc-replay: the events came from a server). It marks
 * nothing done and keeps no state: what is left is the floor under replay.
 * Prints {"events", "seconds", "events_per_s", "write_seconds"}: seconds is
 * read + write, write_seconds the time spent in bulk executes alone.
 */
#include <string.h>

#include "bench.h"
#include "staging_format.h"

#define PROG "limit_bulk"

/* Appends the write for event to bulk; false when the event has a shape
 * the synthetic workloads never produce. */
static bool
add_event(mongoc_bulk_operation_t *bulk, const bson_t *event)
{
	bson_iter_t iter;
	const char *type = NULL;
	bson_t key = BSON_INITIALIZER, full = BSON_INITIALIZER, desc = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, update = BSON_INITIALIZER, child;
	const uint8_t *data;
	uint32_t len;
	bool has_full = false, has_desc = false, ok = true;

	if (!bson_iter_init(&iter, event))
		return false;
	while (bson_iter_next(&iter)) {
		const char *name = bson_iter_key(&iter);

		if (strcmp(name, "operationType") == 0 && BSON_ITER_HOLDS_UTF8(&iter)) {
			type = bson_iter_utf8(&iter, NULL);
		} else if (BSON_ITER_HOLDS_DOCUMENT(&iter)) {
			bson_iter_document(&iter, &len, &data);
			if (strcmp(name, "documentKey") == 0) {
				bson_destroy(&key);
				bson_init_static(&key, data, len);
			} else if (strcmp(name, "fullDocument") == 0) {
				bson_destroy(&full);
				bson_init_static(&full, data, len);
				has_full = true;
			} else if (strcmp(name, "updateDescription") == 0) {
				bson_destroy(&desc);
				bson_init_static(&desc, data, len);
				has_desc = true;
			}
		}
	}
	if (type == NULL) {
		ok = false;
	} else if (strcmp(type, "delete") == 0) {
		mongoc_bulk_operation_remove_one(bulk, &key);
	} else if (has_full && (strcmp(type, "insert") == 0 || strcmp(type, "replace") == 0 ||
				strcmp(type, "update") == 0)) {
		BSON_APPEND_BOOL(&opts, "upsert", true);
		BSON_APPEND_BOOL(&opts, "validate", false);
		ok = mongoc_bulk_operation_replace_one_with_opts(bulk, &key, &full, &opts, NULL);
	} else if (has_desc && strcmp(type, "update") == 0) {
		bson_iter_t field;

		if (bson_iter_init_find(&field, &desc, "updatedFields") &&
		    BSON_ITER_HOLDS_DOCUMENT(&field)) {
			bson_iter_document(&field, &len, &data);
			if (len > 5) {
				bson_init_static(&child, data, len);
				BSON_APPEND_DOCUMENT(&update, "$set", &child);
			}
		}
		if (bson_iter_init_find(&field, &desc, "removedFields") &&
		    BSON_ITER_HOLDS_ARRAY(&field)) {
			bson_iter_t name;
			bson_t unset;

			bson_iter_recurse(&field, &name);
			if (bson_iter_next(&name)) {
				BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
				do {
					if (BSON_ITER_HOLDS_UTF8(&name))
						BSON_APPEND_UTF8(&unset,
								 bson_iter_utf8(&name, NULL), "");
				} while (bson_iter_next(&name));
				bson_append_document_end(&update, &unset);
			}
		}
		BSON_APPEND_BOOL(&opts, "validate", false);
		if (!bson_empty(&update))
			ok = mongoc_bulk_operation_update_one_with_opts(bulk, &key, &update, &opts,
									NULL);
	} else {
		ok = false;
	}
	bson_destroy(&update);
	bson_destroy(&opts);
	bson_destroy(&desc);
	bson_destroy(&full);
	bson_destroy(&key);
	return ok;
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	mongoc_collection_t *staging = NULL, *target = NULL;
	mongoc_cursor_t *cursor = NULL;
	mongoc_bulk_operation_t *bulk = NULL;
	bson_t filter = BSON_INITIALIZER, find_opts = BSON_INITIALIZER;
	bson_t bulk_opts = BSON_INITIALIZER, sort;
	const bson_t *staged, *error_doc;
	bson_error_t error;
	bson_iter_t iter;
	int64_t batch, events = 0, in_bulk = 0;
	double started, seconds, write_seconds = 0, t0;
	int rc = 1;

	mongoc_init();
	if (argc != 7) {
		fprintf(stderr, "usage: %s URI DB STAGING NS TARGET_COLL BATCH\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if (!bench_parse(PROG, "BATCH", argv[6], 1, 100000, &batch)) {
		rc = 64;
		goto cleanup;
	}
	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	staging = mongoc_client_get_collection(client, argv[2], argv[3]);
	target = mongoc_client_get_collection(client, argv[2], argv[5]);
	BSON_APPEND_UTF8(&filter, STAGED_F_NS, argv[4]);
	BSON_APPEND_UTF8(&filter, STAGED_F_STATUS, STAGING_STATUS_PENDING);
	BSON_APPEND_DOCUMENT_BEGIN(&find_opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, STAGED_F_SEQ, 1);
	bson_append_document_end(&find_opts, &sort);
	BSON_APPEND_BOOL(&bulk_opts, "ordered", true);

	started = bench_now();
	cursor = mongoc_collection_find_with_opts(staging, &filter, &find_opts, NULL);
	for (;;) {
		bool more = mongoc_cursor_next(cursor, &staged);

		if (more) {
			uint32_t len;
			const uint8_t *data;
			bson_t event;

			if (!bson_iter_init_find(&iter, staged, STAGED_F_EVENT) ||
			    !BSON_ITER_HOLDS_DOCUMENT(&iter)) {
				bench_warn(PROG, "staged event without 'event' (chunked?)");
				goto cleanup;
			}
			bson_iter_document(&iter, &len, &data);
			bson_init_static(&event, data, len);
			if (bulk == NULL)
				bulk = mongoc_collection_create_bulk_operation_with_opts(
					target, &bulk_opts);
			if (!add_event(bulk, &event)) {
				bench_warn(PROG, "cannot apply staged event %lld",
					   (long long)events);
				goto cleanup;
			}
			events++;
			in_bulk++;
		}
		if (bulk != NULL && (in_bulk == batch || (!more && in_bulk > 0))) {
			t0 = bench_now();
			if (!mongoc_bulk_operation_execute(bulk, NULL, &error)) {
				bench_warn(PROG, "bulk write to '%s.%s' failed: %s", argv[2],
					   argv[5], error.message);
				goto cleanup;
			}
			write_seconds += bench_now() - t0;
			mongoc_bulk_operation_destroy(bulk);
			bulk = NULL;
			in_bulk = 0;
		}
		if (!more)
			break;
	}
	if (mongoc_cursor_error_document(cursor, &error, &error_doc)) {
		bench_warn(PROG, "reading '%s.%s' failed: %s", argv[2], argv[3], error.message);
		goto cleanup;
	}
	seconds = bench_now() - started;
	printf("{\"events\": %lld, \"seconds\": %.3f, \"events_per_s\": %.0f, "
	       "\"write_seconds\": %.3f}\n",
	       (long long)events, seconds, seconds > 0 ? (double)events / seconds : 0.0,
	       write_seconds);
	rc = 0;
cleanup:
	mongoc_bulk_operation_destroy(bulk);
	mongoc_cursor_destroy(cursor);
	bson_destroy(&bulk_opts);
	bson_destroy(&find_opts);
	bson_destroy(&filter);
	mongoc_collection_destroy(target);
	mongoc_collection_destroy(staging);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
