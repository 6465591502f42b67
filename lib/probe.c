/*
 * Resume-point probes (probe.h). The dummy probe writes one document whose
 * _id cannot be a user's: a subdocument keyed by PROBE_SENTINEL_FIELD holding
 * a fresh ObjectId, the host name and pid. Only that _id is ever deleted, so
 * no user document can be touched whatever the collection holds.
 */
#include "probe.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "server_codes.h"
#include "stop.h"

#define PROBE_AWAIT_MS 1000

bool
probe_method_parse(const char *name, probe_method_t *method)
{
	if (strcmp(name, "dummy") == 0)
		*method = PROBE_METHOD_DUMMY;
	else if (strcmp(name, "now") == 0)
		*method = PROBE_METHOD_NOW;
	else
		return false;
	return true;
}

static void
set_no_replset_error(bson_error_t *error, const char *db, const char *coll)
{
	csm_error_set(error, CSM_EXIT_UNAVAILABLE,
		      "cannot open a change stream on '%s.%s': the source is a standalone server, "
		      "and change streams need a replica set or sharded cluster; convert it to a "
		      "one-node replica set (replSetInitiate) first",
		      db, coll);
}

/* The stop (SIGINT/SIGTERM) met while probing db.coll: csm_error_stopped(). */
static void
probe_stopped(bson_error_t *error, const char *db, const char *coll)
{
	csm_error_stopped(error, "stopped by a signal while taking the resume point of '%s.%s'", db,
			  coll);
}

/* Rewrites a driver error from a change stream into the project's words. */
static void
explain_stream_error(bson_error_t *error, const char *db, const char *coll)
{
	if (csm_error_server_code(error, NULL) == SERVER_CHANGE_STREAM_NEEDS_REPLICA_SET) {
		set_no_replset_error(error, db, coll);
		return;
	}
	if (csm_error_classify(error, NULL) == CSM_ERRCLASS_AUTH) {
		csm_error_prefix(error,
				 "not authorized to open a change stream on '%s.%s' (needs "
				 "the changeStream and find actions)",
				 db, coll);
		return;
	}
	csm_error_prefix(error, "cannot open a change stream on '%s.%s'", db, coll);
}

bool
probe_check_source(mongoc_client_t *client, const char *db, const char *coll, bool *capped,
		   bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bson_t info = BSON_INITIALIZER;
	bson_iter_t iter;
	bool ok = false;

	*capped = false;
	/* isMaster rather than hello: every server version answers it. */
	BSON_APPEND_INT32(&cmd, "isMaster", 1);
	bson_destroy(&reply);
	if (!mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, error)) {
		csm_error_prefix(error, "cannot ask the source what it is");
		goto cleanup;
	}
	if (!bson_iter_init_find(&iter, &reply, "setName") &&
	    !(bson_iter_init_find(&iter, &reply, "msg") && BSON_ITER_HOLDS_UTF8(&iter) &&
	      strcmp(bson_iter_utf8(&iter, NULL), "isdbgrid") == 0)) {
		set_no_replset_error(error, db, coll);
		goto cleanup;
	}
	bson_destroy(&info);
	if (!catalog_source_collection(client, db, coll, &info, error))
		goto cleanup;
	if (bson_iter_init(&iter, &info) &&
	    bson_iter_find_descendant(&iter, "options.capped", &iter))
		*capped = bson_iter_as_bool(&iter);
	ok = true;

cleanup:
	bson_destroy(&info);
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return ok;
}

/* The operationTime of a ping, when the server reports one. */
static bool
operation_time(mongoc_client_t *client, optime_t *op_time, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bson_t reply;
	bool ok;

	*op_time = OPTIME_ZERO;
	BSON_APPEND_INT32(&cmd, "ping", 1);
	ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, error);
	if (ok)
		optime_from_doc(&reply, "operationTime", op_time);
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return ok;
}

/* Opens a change stream on collection (NULL: database); checks the aggregate's error. */
static mongoc_change_stream_t *
open_stream(mongoc_collection_t *collection, mongoc_database_t *database, const char *db,
	    const char *coll, bson_error_t *error)
{
	bson_t pipeline = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t stages;
	mongoc_change_stream_t *stream;

	BSON_APPEND_ARRAY_BEGIN(&pipeline, "pipeline", &stages);
	bson_append_array_end(&pipeline, &stages);
	BSON_APPEND_INT64(&opts, "maxAwaitTimeMS", PROBE_AWAIT_MS);
	if (collection)
		stream = mongoc_collection_watch(collection, &pipeline, &opts);
	else
		stream = mongoc_database_watch(database, &pipeline, &opts);
	bson_destroy(&opts);
	bson_destroy(&pipeline);
	if (mongoc_change_stream_error_document(stream, error, NULL)) {
		explain_stream_error(error, db, coll);
		mongoc_change_stream_destroy(stream);
		return NULL;
	}
	return stream;
}

static bool
probe_now(mongoc_client_t *client, mongoc_collection_t *collection, mongoc_database_t *database,
	  const char *db, const char *coll, bson_t *token, optime_t *cluster_time,
	  bson_error_t *error)
{
	mongoc_change_stream_t *stream = NULL;
	const bson_t *event = NULL;
	const bson_t *resume_token;
	optime_t before;
	bool ok = false;

	/* Taken before the stream opens, so it is never later than the token:
	 * safe even as a startAtOperationTime. */
	if (!operation_time(client, &before, error)) {
		csm_error_prefix(error, "cannot read the source's operation time");
		return false;
	}
	stream = open_stream(collection, database, db, coll, error);
	if (stream == NULL)
		return false;
	/* An event here is fine too: its token is a point before the dump. */
	mongoc_change_stream_next(stream, &event);
	if (stop_requested()) {
		probe_stopped(error, db, coll);
		goto cleanup;
	}
	if (mongoc_change_stream_error_document(stream, error, NULL)) {
		explain_stream_error(error, db, coll);
		goto cleanup;
	}
	resume_token = mongoc_change_stream_get_resume_token(stream);
	if (resume_token == NULL || bson_empty(resume_token)) {
		csm_error_set(error, CSM_EXIT_UNAVAILABLE,
			      "the source returned no postBatchResumeToken for '%s.%s' (it needs "
			      "MongoDB 4.0.7 or newer); use --method dummy",
			      db, coll);
		goto cleanup;
	}
	bson_destroy(token);
	bson_copy_to(resume_token, token);
	if (!optime_from_token(token, cluster_time))
		*cluster_time = before;
	ok = true;

cleanup:
	mongoc_change_stream_destroy(stream);
	return ok;
}

/* True when event is the delete of the document whose _id is sentinel_id. */
static bool
is_sentinel_delete(const bson_t *event, const bson_t *sentinel_id)
{
	bson_iter_t iter;
	uint32_t len;
	const uint8_t *data;

	if (!bson_iter_init_find(&iter, event, "operationType") || !BSON_ITER_HOLDS_UTF8(&iter) ||
	    strcmp(bson_iter_utf8(&iter, NULL), "delete") != 0)
		return false;
	if (!bson_iter_init(&iter, event) ||
	    !bson_iter_find_descendant(&iter, "documentKey._id", &iter) ||
	    !BSON_ITER_HOLDS_DOCUMENT(&iter))
		return false;
	bson_iter_document(&iter, &len, &data);
	return len == sentinel_id->len && memcmp(data, bson_get_data(sentinel_id), len) == 0;
}

/* The sentinel's _id: {PROBE_SENTINEL_FIELD: a fresh ObjectId, host, pid}. */
static void
sentinel_id_init(bson_t *sentinel_id, char oid_text[25])
{
	char host[256] = "unknown";
	bson_oid_t oid;

	bson_oid_init(&oid, NULL);
	bson_oid_to_string(&oid, oid_text);
	gethostname(host, sizeof host - 1);
	bson_init(sentinel_id);
	BSON_APPEND_OID(sentinel_id, PROBE_SENTINEL_FIELD, &oid);
	BSON_APPEND_UTF8(sentinel_id, "host", host);
	BSON_APPEND_INT32(sentinel_id, "pid", (int32_t)getpid());
}

/* Inserts and then deletes the sentinel {_id: sentinel_id}, w: majority. */
static bool
write_sentinel(mongoc_collection_t *collection, const char *db, const char *coll,
	       const bson_t *sentinel_id, const char *oid_text, bson_error_t *error)
{
	mongoc_write_concern_t *write_concern = mongoc_write_concern_new();
	bson_t sentinel = BSON_INITIALIZER;
	bson_t write_opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bson_iter_t iter;
	bool ok = false;

	BSON_APPEND_DOCUMENT(&sentinel, "_id", sentinel_id);
	mongoc_write_concern_set_wmajority(write_concern, 0);
	mongoc_write_concern_append(write_concern, &write_opts);
	if (!mongoc_collection_insert_one(collection, &sentinel, &write_opts, NULL, error)) {
		csm_error_prefix(error,
				 "cannot insert the probe document into '%s.%s'; nothing was "
				 "changed (--method now takes a resume point without writing)",
				 db, coll);
		goto cleanup;
	}
	bson_destroy(&reply);
	if (!mongoc_collection_delete_one(collection, &sentinel, &write_opts, &reply, error)) {
		csm_error_prefix(error,
				 "inserted the probe document into '%s.%s' but cannot delete it; "
				 "delete {_id: {\"%s\": ObjectId(\"%s\"), ...}} by hand",
				 db, coll, PROBE_SENTINEL_FIELD, oid_text);
		goto cleanup;
	}
	if (bson_iter_init_find(&iter, &reply, "deletedCount") && bson_iter_as_int64(&iter) != 1)
		log_warn("the probe document in '%s.%s' was gone before the probe deleted it", db,
			 coll);
	ok = true;

cleanup:
	bson_destroy(&reply);
	bson_destroy(&write_opts);
	bson_destroy(&sentinel);
	mongoc_write_concern_destroy(write_concern);
	return ok;
}

/* Copies the resume token (_id) and cluster time of the sentinel's delete. */
static bool
take_delete_point(const bson_t *event, const char *db, const char *coll, bson_t *token,
		  optime_t *cluster_time, bson_error_t *error)
{
	bson_iter_t iter;
	uint32_t len;
	const uint8_t *data;
	bson_t view;

	if (!bson_iter_init_find(&iter, event, "_id") || !BSON_ITER_HOLDS_DOCUMENT(&iter)) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "the delete event of the probe document on '%s.%s' has no resume "
			      "token (_id); the pipeline must not remove it",
			      db, coll);
		return false;
	}
	bson_iter_document(&iter, &len, &data);
	bson_init_static(&view, data, len);
	bson_destroy(token);
	bson_copy_to(&view, token);
	if (!optime_from_doc(event, "clusterTime", cluster_time))
		optime_from_token(token, cluster_time);
	return true;
}

/* Reads stream until the sentinel's delete event, for at most timeout_ms. */
static bool
await_sentinel_delete(mongoc_change_stream_t *stream, const char *db, const char *coll,
		      const bson_t *sentinel_id, int64_t timeout_ms, bson_t *token,
		      optime_t *cluster_time, bson_error_t *error)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	const bson_t *event;

	for (;;) {
		if (stop_requested()) {
			probe_stopped(error, db, coll);
			return false;
		}
		if (mongoc_change_stream_next(stream, &event)) {
			if (!is_sentinel_delete(event, sentinel_id))
				continue;
			return take_delete_point(event, db, coll, token, cluster_time, error);
		}
		if (mongoc_change_stream_error_document(stream, error, NULL)) {
			explain_stream_error(error, db, coll);
			return false;
		}
		if (clock_mono_ms() >= deadline) {
			csm_error_set(error, CSM_EXIT_TEMPFAIL,
				      "no change event for the probe document on '%s.%s' within "
				      "%" PRId64
				      " s (it was inserted and deleted); run token-probe "
				      "again",
				      db, coll, timeout_ms / 1000);
			return false;
		}
	}
}

static bool
probe_dummy(mongoc_collection_t *collection, const char *db, const char *coll, int64_t timeout_ms,
	    bson_t *token, optime_t *cluster_time, bson_error_t *error)
{
	mongoc_change_stream_t *stream = NULL;
	bson_t sentinel_id;
	char oid_text[25];
	bool ok = false;

	sentinel_id_init(&sentinel_id, oid_text);
	stream = open_stream(collection, NULL, db, coll, error);
	if (stream == NULL)
		goto cleanup;
	if (stop_requested()) {
		probe_stopped(error, db, coll);
		goto cleanup;
	}
	/* Once inserted, the sentinel is deleted whatever comes. */
	if (!write_sentinel(collection, db, coll, &sentinel_id, oid_text, error))
		goto cleanup;
	ok = await_sentinel_delete(stream, db, coll, &sentinel_id, timeout_ms, token, cluster_time,
				   error);

cleanup:
	mongoc_change_stream_destroy(stream);
	bson_destroy(&sentinel_id);
	return ok;
}

bool
probe_run(mongoc_client_t *client, const char *db, const char *coll, probe_method_t method,
	  int64_t timeout_ms, bson_t *token, optime_t *cluster_time, bson_error_t *error)
{
	mongoc_collection_t *collection = NULL;
	mongoc_database_t *database = NULL;
	bool ok;

	bson_init(token);
	*cluster_time = OPTIME_ZERO;
	if (coll)
		collection = mongoc_client_get_collection(client, db, coll);
	else
		database = mongoc_client_get_database(client, db);
	if (method == PROBE_METHOD_NOW)
		ok = probe_now(client, collection, database, db, coll ? coll : "*", token,
			       cluster_time, error);
	else
		ok = probe_dummy(collection, db, coll, timeout_ms, token, cluster_time, error);
	mongoc_collection_destroy(collection);
	mongoc_database_destroy(database);
	return ok;
}
