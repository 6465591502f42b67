/*
 * mlite_client: drives mongod-lite through libmongoc, the driver the tools
 * use, for test/mongod-lite-core.bats.
 *
 *   mlite_client URI crud DB      CRUD round trips, bulk writes, cursors
 *   mlite_client URI idle SECONDS pooled client left idle; prints the hellos
 *                                 the server answered meanwhile
 *   mlite_client URI bench DB N   N 1 KiB inserts in 1000-doc batches, then a
 *                                 cursor read; prints "insert_per_s read_per_s"
 *
 * Exit status 0 when every check held; failures are printed to stderr.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "numparse.h"

static int failures;

#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "mlite_client:%d: ", __LINE__);                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* Documents per second: n in ms milliseconds (0 when too fast to time). */
static double
per_second(int64_t n, int64_t ms)
{
	return ms > 0 ? (double)n * 1000.0 / (double)ms : 0.0;
}

/* serverStatus.hellos through client */
static int64_t
hellos(mongoc_client_t *client)
{
	bson_t cmd = BSON_INITIALIZER, reply;
	bson_iter_t it;
	int64_t n = -1;
	BSON_APPEND_INT32(&cmd, "serverStatus", 1);
	if (mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, NULL) &&
	    bson_iter_init_find(&it, &reply, "hellos"))
		n = bson_iter_as_int64(&it);
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return n;
}

static void
every_type_doc(bson_t *doc)
{
	bson_oid_t oid;
	bson_decimal128_t dec;
	uint8_t bin[4] = {1, 2, 3, 4};
	bson_t sub = BSON_INITIALIZER, arr = BSON_INITIALIZER;

	bson_oid_init_from_string(&oid, "5f0c1a2b3c4d5e6f70819203");
	bson_decimal128_from_string("1.25", &dec);
	BSON_APPEND_UTF8(&sub, "k", "v");
	BSON_APPEND_INT32(&arr, "0", 1);
	BSON_APPEND_UTF8(&arr, "1", "two");
	BSON_APPEND_UTF8(doc, "_id", "every-type");
	BSON_APPEND_DOUBLE(doc, "double", 1.5);
	BSON_APPEND_UTF8(doc, "string", "h\xc3\xa9llo");
	BSON_APPEND_DOCUMENT(doc, "object", &sub);
	BSON_APPEND_ARRAY(doc, "array", &arr);
	BSON_APPEND_BINARY(doc, "bin", BSON_SUBTYPE_BINARY, bin, 4);
	BSON_APPEND_UNDEFINED(doc, "undefined");
	BSON_APPEND_OID(doc, "oid", &oid);
	BSON_APPEND_BOOL(doc, "bool", true);
	BSON_APPEND_DATE_TIME(doc, "date", 1700000000123);
	BSON_APPEND_NULL(doc, "null");
	BSON_APPEND_REGEX(doc, "regex", "^a.*b$", "i");
	BSON_APPEND_DBPOINTER(doc, "dbpointer", "db.coll", &oid);
	BSON_APPEND_CODE(doc, "code", "function() {}");
	BSON_APPEND_SYMBOL(doc, "symbol", "sym");
	BSON_APPEND_CODE_WITH_SCOPE(doc, "codews", "function() {}", &sub);
	BSON_APPEND_INT32(doc, "int32", -7);
	BSON_APPEND_TIMESTAMP(doc, "ts", 1700000000, 5);
	BSON_APPEND_INT64(doc, "int64", INT64_C(1) << 40);
	BSON_APPEND_DECIMAL128(doc, "decimal", &dec);
	BSON_APPEND_MINKEY(doc, "minkey");
	BSON_APPEND_MAXKEY(doc, "maxkey");
	bson_destroy(&sub);
	bson_destroy(&arr);
}

static int
run_crud(mongoc_client_t *client, const char *db)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, "crud");
	bson_error_t error;
	bson_t reply, doc = BSON_INITIALIZER, filter = BSON_INITIALIZER;
	const bson_t *got;

	/* every BSON type round-trips byte for byte */
	every_type_doc(&doc);
	EXPECT(mongoc_collection_insert_one(coll, &doc, NULL, NULL, &error), "insert: %s",
	       error.message);
	BSON_APPEND_UTF8(&filter, "_id", "every-type");
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	EXPECT(mongoc_cursor_next(cursor, &got), "find returned nothing");
	if (got)
		EXPECT(bson_equal(got, &doc), "round trip differs: %s",
		       bson_as_canonical_extended_json(got, NULL));
	EXPECT(!mongoc_cursor_error(cursor, &error), "cursor: %s", error.message);
	mongoc_cursor_destroy(cursor);

	/* ordered bulk with a duplicate in the middle stops there */
	mongoc_bulk_operation_t *bulk =
		mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
	for (int i = 0; i < 5; i++) {
		bson_t d = BSON_INITIALIZER;
		BSON_APPEND_INT32(&d, "_id", i == 2 ? 1 : i);
		mongoc_bulk_operation_insert(bulk, &d);
		bson_destroy(&d);
	}
	uint32_t ok = mongoc_bulk_operation_execute(bulk, &reply, &error);
	bson_iter_t it;
	EXPECT(!ok && error.code == 11000, "ordered bulk: want 11000, got %u %s", error.code,
	       error.message);
	EXPECT(bson_iter_init_find(&it, &reply, "nInserted") && bson_iter_as_int64(&it) == 2,
	       "ordered bulk nInserted: %s", bson_as_relaxed_extended_json(&reply, NULL));
	EXPECT(bson_iter_init(&it, &reply) &&
		       bson_iter_find_descendant(&it, "writeErrors.0.index", &it) &&
		       bson_iter_as_int64(&it) == 2,
	       "ordered bulk index: %s", bson_as_relaxed_extended_json(&reply, NULL));
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);

	/* unordered: everything but the duplicate lands */
	bson_t opts = BSON_INITIALIZER;
	BSON_APPEND_BOOL(&opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
	for (int i = 10; i < 15; i++) {
		bson_t d = BSON_INITIALIZER;
		BSON_APPEND_INT32(&d, "_id", i == 12 ? 0 : i);
		mongoc_bulk_operation_insert(bulk, &d);
		bson_destroy(&d);
	}
	ok = mongoc_bulk_operation_execute(bulk, &reply, &error);
	EXPECT(!ok && error.code == 11000, "unordered bulk: want 11000, got %u", error.code);
	EXPECT(bson_iter_init_find(&it, &reply, "nInserted") && bson_iter_as_int64(&it) == 4,
	       "unordered bulk nInserted: %s", bson_as_relaxed_extended_json(&reply, NULL));
	EXPECT(bson_iter_init(&it, &reply) &&
		       bson_iter_find_descendant(&it, "writeErrors.0.index", &it) &&
		       bson_iter_as_int64(&it) == 2,
	       "unordered bulk index: %s", bson_as_relaxed_extended_json(&reply, NULL));
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&opts);

	/* update, replace, delete with int32 counts */
	bson_t q = BSON_INITIALIZER, u = BSON_INITIALIZER, set;
	BSON_APPEND_INT32(&q, "_id", 10);
	BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
	BSON_APPEND_UTF8(&set, "state", "changed");
	bson_append_document_end(&u, &set);
	EXPECT(mongoc_collection_update_one(coll, &q, &u, NULL, &reply, &error), "update: %s",
	       error.message);
	EXPECT(bson_iter_init_find(&it, &reply, "modifiedCount") && bson_iter_as_int64(&it) == 1,
	       "modifiedCount: %s", bson_as_relaxed_extended_json(&reply, NULL));
	bson_destroy(&reply);
	EXPECT(mongoc_collection_delete_one(coll, &q, NULL, &reply, &error), "delete: %s",
	       error.message);
	EXPECT(bson_iter_init_find(&it, &reply, "deletedCount") && bson_iter_as_int64(&it) == 1,
	       "deletedCount");
	bson_destroy(&reply);
	int64_t n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, &error);
	EXPECT(n == 1, "count_documents: %" PRId64 " %s", n, error.message);

	/* a cursor over more than one batch */
	bson_t empty = BSON_INITIALIZER, fopts = BSON_INITIALIZER;
	BSON_APPEND_INT32(&fopts, "batchSize", 2);
	cursor = mongoc_collection_find_with_opts(coll, &empty, &fopts, NULL);
	int seen = 0;
	while (mongoc_cursor_next(cursor, &got))
		seen++;
	EXPECT(!mongoc_cursor_error(cursor, &error), "cursor: %s", error.message);
	EXPECT(seen == 6, "cursor saw %d documents, want 6", seen);
	mongoc_cursor_destroy(cursor);

	bson_destroy(&fopts);
	bson_destroy(&empty);
	bson_destroy(&q);
	bson_destroy(&u);
	bson_destroy(&doc);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
	return failures ? 1 : 0;
}

static int
run_bench(mongoc_client_t *client, const char *db, int total)
{
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, "bench");
	bson_error_t error;
	char pad[1000];
	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';

	int64_t t0 = clock_mono_ms();
	for (int start = 0; start < total; start += 1000) {
		bson_t *docs[1000];
		int n = total - start < 1000 ? total - start : 1000;
		for (int i = 0; i < n; i++) {
			docs[i] = bson_new();
			BSON_APPEND_INT32(docs[i], "_id", start + i);
			BSON_APPEND_UTF8(docs[i], "pad", pad);
		}
		bool ok = mongoc_collection_insert_many(coll, (const bson_t **)docs, (size_t)n,
							NULL, NULL, &error);
		for (int i = 0; i < n; i++)
			bson_destroy(docs[i]);
		if (!ok) {
			fprintf(stderr, "mlite_client: bench insert: %s\n", error.message);
			return 1;
		}
	}
	int64_t t1 = clock_mono_ms();
	bson_t empty = BSON_INITIALIZER;
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &empty, NULL, NULL);
	const bson_t *got;
	int seen = 0;
	while (mongoc_cursor_next(cursor, &got))
		seen++;
	int64_t t2 = clock_mono_ms();
	if (mongoc_cursor_error(cursor, &error) || seen != total) {
		fprintf(stderr, "mlite_client: bench read %d of %d: %s\n", seen, total,
			error.message);
		return 1;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&empty);
	printf("%.0f %.0f\n", per_second(total, t1 - t0), per_second(total, t2 - t1));
	mongoc_collection_destroy(coll);
	return 0;
}

int
main(int argc, char **argv)
{
	mongoc_uri_t *uri = NULL;
	mongoc_client_pool_t *pool = NULL;
	mongoc_client_t *client = NULL;
	bson_error_t error;
	int rc = 2;

	if (argc < 4) {
		fprintf(stderr, "usage: mlite_client URI crud DB | idle SECONDS | bench DB N\n");
		return 2;
	}
	mongoc_init();
	uri = mongoc_uri_new_with_error(argv[1], &error);
	if (!uri) {
		fprintf(stderr, "mlite_client: bad URI: %s\n", error.message);
		goto cleanup;
	}
	pool = mongoc_client_pool_new(uri);
	client = mongoc_client_pool_pop(pool);
	bson_t ping = BSON_INITIALIZER;
	BSON_APPEND_INT32(&ping, "ping", 1);
	if (!mongoc_client_command_simple(client, "admin", &ping, NULL, NULL, &error)) {
		fprintf(stderr, "mlite_client: ping: %s\n", error.message);
		bson_destroy(&ping);
		goto cleanup;
	}
	bson_destroy(&ping);
	if (strcmp(argv[2], "crud") == 0) {
		rc = run_crud(client, argv[3]);
	} else if (strcmp(argv[2], "idle") == 0) {
		int64_t seconds;
		if (!parse_int64(argv[3], 0, 3600, &seconds)) {
			fprintf(stderr, "mlite_client: invalid SECONDS '%s'\n", argv[3]);
			goto cleanup;
		}
		int64_t before = hellos(client);
		sleep((unsigned)seconds);
		int64_t after = hellos(client);
		printf("%" PRId64 "\n", after - before);
		rc = before >= 0 && after >= 0 ? 0 : 1;
	} else if (strcmp(argv[2], "bench") == 0 && argc > 4) {
		int64_t total;
		if (!parse_int64(argv[4], 1, INT32_MAX, &total)) {
			fprintf(stderr, "mlite_client: invalid N '%s'\n", argv[4]);
			goto cleanup;
		}
		rc = run_bench(client, argv[3], (int)total);
	} else {
		fprintf(stderr, "mlite_client: unknown mode '%s'\n", argv[2]);
	}
cleanup:
	if (client)
		mongoc_client_pool_push(pool, client);
	mongoc_client_pool_destroy(pool);
	mongoc_uri_destroy(uri);
	mongoc_cleanup();
	return rc;
}
