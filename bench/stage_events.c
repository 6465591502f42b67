/*
 * stage_events: stages synthetic change events for the replay benchmark.
 *
 * Usage: stage_events URI DB NS COUNT SIZE [STAGING]
 *
 * Writes COUNT pending staged events for source namespace NS ("db.coll")
 * into DB.STAGING (default "cdc") in the format of lib/staging_format.h,
 * seq 1..COUNT, plus the staging indexes. It writes no capture checkpoint:
 * to cdc-replay --drain that means "capture never ran", so the drain ends
 * once nothing is pending (a checkpoint would have to claim a cluster time
 * after replay's start).
 * The events repeat the group of ten rate_writer writes (50% insert of a
 * SIZE-byte document, 30% update without fullDocument ($set), 20% delete),
 * with tokens and cluster times in event order, as a real source sends them.
 * Prints {"events", "seconds"}.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "staging.h"
#include "staging_format.h"

#define PROG "stage_events"
#define STAGE_BATCH 1000

typedef struct stage_ctx {
	const char *src_db;
	const char *src_coll;
	const char *ns;
	const char *pad;
	uint32_t base_time;
	int64_t now_ms;
} stage_ctx_t;

static void
append_token(bson_t *parent, const char *key, uint32_t t, uint32_t i, int64_t seq)
{
	char data[64];
	bson_t token;

	/* Hex whose string order is event order, as the test server's tokens
	 * (docs/DESIGN.md, "The test server"). */
	snprintf(data, sizeof data, "82%08X%08X%016llX", t, i, (unsigned long long)seq);
	BSON_APPEND_DOCUMENT_BEGIN(parent, key, &token);
	BSON_APPEND_UTF8(&token, "_data", data);
	bson_append_document_end(parent, &token);
}

/* Fills staged (empty) with the staged form of event seq (1-based). */
static void
build_staged(const stage_ctx_t *ctx, int64_t seq, bson_t *staged)
{
	int64_t op = seq - 1, group = op / 10, slot = op % 10;
	int64_t id = group * 5 + (slot < 5 ? slot : slot - 5);
	const char *type = slot < 5 ? "insert" : slot < 8 ? "update" : "delete";
	uint32_t t = ctx->base_time + (uint32_t)(op / 100000), i = (uint32_t)(op % 100000) + 1;
	bson_t event, child, grandchild;
	bson_oid_t oid;

	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(staged, STAGED_F_ID, &oid);
	BSON_APPEND_UTF8(staged, STAGED_F_NS, ctx->ns);
	BSON_APPEND_INT64(staged, STAGED_F_SEQ, seq);
	append_token(staged, STAGED_F_TOKEN, t, i, seq);
	BSON_APPEND_TIMESTAMP(staged, STAGED_F_CLUSTER_TIME, t, i);
	BSON_APPEND_DATE_TIME(staged, STAGED_F_WALL_TIME, (int64_t)t * 1000);
	BSON_APPEND_UTF8(staged, STAGED_F_OPERATION_TYPE, type);

	BSON_APPEND_DOCUMENT_BEGIN(staged, STAGED_F_EVENT, &event);
	append_token(&event, "_id", t, i, seq);
	BSON_APPEND_UTF8(&event, "operationType", type);
	BSON_APPEND_TIMESTAMP(&event, "clusterTime", t, i);
	BSON_APPEND_DATE_TIME(&event, "wallTime", (int64_t)t * 1000);
	BSON_APPEND_DOCUMENT_BEGIN(&event, "ns", &child);
	BSON_APPEND_UTF8(&child, "db", ctx->src_db);
	BSON_APPEND_UTF8(&child, "coll", ctx->src_coll);
	bson_append_document_end(&event, &child);
	BSON_APPEND_DOCUMENT_BEGIN(&event, "documentKey", &child);
	BSON_APPEND_INT64(&child, "_id", id);
	bson_append_document_end(&event, &child);
	if (slot < 5) {
		BSON_APPEND_DOCUMENT_BEGIN(&event, "fullDocument", &child);
		BSON_APPEND_INT64(&child, "_id", id);
		BSON_APPEND_INT64(&child, "n", id);
		BSON_APPEND_UTF8(&child, "pad", ctx->pad);
		bson_append_document_end(&event, &child);
	} else if (slot < 8) {
		BSON_APPEND_DOCUMENT_BEGIN(&event, "updateDescription", &child);
		BSON_APPEND_DOCUMENT_BEGIN(&child, "updatedFields", &grandchild);
		BSON_APPEND_INT64(&grandchild, "u", op);
		bson_append_document_end(&child, &grandchild);
		BSON_APPEND_ARRAY_BEGIN(&child, "removedFields", &grandchild);
		bson_append_array_end(&child, &grandchild);
		BSON_APPEND_ARRAY_BEGIN(&child, "truncatedArrays", &grandchild);
		bson_append_array_end(&child, &grandchild);
		bson_append_document_end(&event, &child);
	}
	bson_append_document_end(staged, &event);

	BSON_APPEND_UTF8(staged, STAGED_F_STATUS, STAGING_STATUS_PENDING);
	BSON_APPEND_DATE_TIME(staged, STAGED_F_STAGED_AT, ctx->now_ms);
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	staging_t *st = NULL;
	mongoc_collection_t *coll = NULL;
	bson_t *docs[STAGE_BATCH] = {NULL};
	bson_t opts = BSON_INITIALIZER;
	bson_error_t error;
	stage_ctx_t ctx = {0};
	char *src_db = NULL, *pad = NULL;
	const char *staging = STAGING_DEFAULT_COLL;
	int64_t count, size, done = 0;
	double started;
	int rc = 1;

	mongoc_init();
	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: %s URI DB NS COUNT SIZE [STAGING]\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if (!bench_parse(PROG, "COUNT", argv[4], 1, 100000000, &count) ||
	    !bench_parse(PROG, "SIZE", argv[5], 39, 1024 * 1024, &size) ||
	    strchr(argv[3], '.') == NULL) {
		fprintf(stderr, "usage: %s URI DB NS COUNT SIZE [STAGING]\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if (argc == 7)
		staging = argv[6];
	src_db = bson_strdup(argv[3]);
	*strchr(src_db, '.') = '\0';
	pad = bench_pad_new(size);
	ctx = (stage_ctx_t){
		.src_db = src_db,
		.src_coll = src_db + strlen(src_db) + 1,
		.ns = argv[3],
		.pad = pad,
		.base_time = (uint32_t)(clock_wall_ms() / 1000) - 3600,
		.now_ms = clock_wall_ms(),
	};

	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	coll = mongoc_client_get_collection(client, argv[2], staging);
	/* the indexes cdc-capture makes */
	if (!(st = staging_new(client, argv[2], staging, argv[3], &error)) ||
	    !staging_ensure_indexes(st, &error)) {
		bench_warn(PROG, "%s", error.message);
		goto cleanup;
	}
	BSON_APPEND_BOOL(&opts, "ordered", false);
	for (size_t i = 0; i < STAGE_BATCH; i++)
		docs[i] = bson_new();
	started = bench_now();
	while (done < count) {
		size_t n = 0;

		for (; n < STAGE_BATCH && done + (int64_t)n < count; n++) {
			bson_reinit(docs[n]);
			build_staged(&ctx, done + (int64_t)n + 1, docs[n]);
		}
		if (!mongoc_collection_insert_many(coll, (const bson_t **)docs, n, &opts, NULL,
						   &error)) {
			bench_warn(PROG, "insert into '%s.%s' failed: %s", argv[2], staging,
				   error.message);
			goto cleanup;
		}
		done += (int64_t)n;
	}

	printf("{\"events\": %lld, \"seconds\": %.3f}\n", (long long)done, bench_now() - started);
	rc = 0;
cleanup:
	for (size_t i = 0; i < STAGE_BATCH; i++)
		bson_destroy(docs[i]);
	bson_destroy(&opts);
	bson_free(pad);
	bson_free(src_db);
	mongoc_collection_destroy(coll);
	staging_destroy(st);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
