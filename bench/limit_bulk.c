/*
 * limit_bulk: the replay limit, the same writes as cdc-replay sends,
 * without marking anything done.
 *
 * Usage: limit_bulk URI DB STAGING NS TARGET_COLL BATCH [staged-order]
 *
 * Reads the pending staged events of NS from DB.STAGING in seq order (one
 * cursor), turns each BATCH of them into cdc-replay's write models
 * (lib/apply.c, docs/DESIGN.md, "Replay rules") and applies them to
 * DB.TARGET_COLL as one ordered bulk write arranged by document into the
 * fewest write commands (lib/apply_order.c), as cdc-replay does with one
 * worker (with staged-order: each batch in the order it was staged, as
 * cdc-replay sent it before it arranged them). It marks nothing done and
 * keeps no state: what is left is the
 * floor under replay. An event that needs the target document read first,
 * or is staged in parts, is an error (the synthetic workloads make none).
 * Prints {"events", "seconds", "events_per_s", "write_seconds"}: seconds is
 * read + write, write_seconds the time spent in bulk executes alone.
 */
#include <string.h>

#include "apply.h"
#include "apply_order.h"
#include "bench.h"
#include "staging_format.h"

#define PROG "limit_bulk"

/* Sends ops as one ordered bulk, arranged by document unless order is
 * NULL; adds the time the execute took to *write_seconds. */
static bool
send_ops(mongoc_collection_t *target, apply_op_list_t *ops, apply_order_t *order,
	 double *write_seconds, bson_error_t *error)
{
	bson_t opts = BSON_INITIALIZER;
	mongoc_bulk_operation_t *bulk;
	double t0;
	bool ok = true;

	if (ops->len == 0)
		return true;
	if (order)
		apply_order_arrange(order, ops->ops, NULL, ops->len);
	BSON_APPEND_BOOL(&opts, "ordered", true);
	bulk = mongoc_collection_create_bulk_operation_with_opts(target, &opts);
	for (size_t i = 0; i < ops->len && ok; i++)
		ok = apply_op_to_bulk(bulk, &ops->ops[order ? order->order[i] : i], error);
	t0 = bench_now();
	ok = ok && mongoc_bulk_operation_execute(bulk, NULL, error) != 0;
	*write_seconds += bench_now() - t0;
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&opts);
	apply_op_list_clear(ops);
	return ok;
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	mongoc_collection_t *staging = NULL, *target = NULL;
	mongoc_cursor_t *cursor = NULL;
	apply_op_list_t ops;
	apply_order_t order;
	bson_t filter = BSON_INITIALIZER, find_opts = BSON_INITIALIZER, sort;
	const bson_t *staged, *error_doc;
	bson_error_t error;
	int64_t batch, events = 0, in_batch = 0;
	double started, seconds, write_seconds = 0;
	bool arrange = true;
	int rc = 1;

	mongoc_init();
	apply_op_list_init(&ops);
	apply_order_init(&order);
	if (argc == 8 && strcmp(argv[7], "staged-order") == 0) {
		arrange = false;
	} else if (argc != 7) {
		fprintf(stderr, "usage: %s URI DB STAGING NS TARGET_COLL BATCH [staged-order]\n",
			PROG);
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

	started = bench_now();
	cursor = mongoc_collection_find_with_opts(staging, &filter, &find_opts, NULL);
	for (;;) {
		bool more = mongoc_cursor_next(cursor, &staged);

		if (more) {
			bson_t event;

			if (!apply_whole_event(staged, &event)) {
				bench_warn(PROG, "staged event %lld is in parts",
					   (long long)events);
				goto cleanup;
			}
			if (!apply_event_ops(&event, (size_t)in_batch, &ops, &error)) {
				bench_warn(PROG, "cannot apply staged event %lld: %s",
					   (long long)events, error.message);
				goto cleanup;
			}
			if (ops.needs_target) {
				bench_warn(PROG, "staged event %lld needs the target document read",
					   (long long)events);
				goto cleanup;
			}
			events++;
			in_batch++;
		}
		if (in_batch == batch || (!more && in_batch > 0)) {
			if (!send_ops(target, &ops, arrange ? &order : NULL, &write_seconds,
				      &error)) {
				bench_warn(PROG, "bulk write to '%s.%s' failed: %s", argv[2],
					   argv[5], error.message);
				goto cleanup;
			}
			in_batch = 0;
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
	apply_order_destroy(&order);
	apply_op_list_destroy(&ops);
	mongoc_cursor_destroy(cursor);
	bson_destroy(&find_opts);
	bson_destroy(&filter);
	mongoc_collection_destroy(target);
	mongoc_collection_destroy(staging);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
