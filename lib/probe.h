/*
 * token-probe's work (docs/DESIGN.md, "Flow" and "Programs"): a change-stream
 * resume point on a source collection taken before the copy starts.
 */
#ifndef CSM_PROBE_H
#define CSM_PROBE_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "optime.h"

typedef enum { PROBE_METHOD_DUMMY, PROBE_METHOD_NOW } probe_method_t;

/* Parses "dummy" | "now"; false when unknown. */
bool probe_method_parse(const char *name, probe_method_t *method);

/* The field naming the sentinel's _id subdocument; no user writes it. */
#define PROBE_SENTINEL_FIELD "changestream-migration-probe"

/*
 * Checks that the source can serve change streams on db.coll: a replica set
 * or mongos (else exit 69, "change streams need a replica set or sharded
 * cluster"), and that the collection exists (else 66). *capped tells
 * whether it is capped.
 */
bool probe_check_source(mongoc_client_t *client, const char *db, const char *coll, bool *capped,
			bson_error_t *error);

/*
 * Takes the resume point. dummy: opens a stream, inserts a sentinel whose
 * _id is {PROBE_SENTINEL_FIELD: ObjectId, host, pid}, deletes exactly that
 * _id and returns the token and clusterTime of its delete event, waiting at
 * most timeout_ms for it; a failed sentinel insert changes nothing. now:
 * read-only, the postBatchResumeToken after a first getMore, and the time it
 * encodes (or the operationTime before the stream opened). coll NULL (now
 * only): the same on the database-level stream of db.
 * token is initialized by the call (bson_destroy it). A stop request
 * (SIGINT/SIGTERM) ends it with csm_error_stopped(), the sentinel deleted
 * if it was inserted.
 */
bool probe_run(mongoc_client_t *client, const char *db, const char *coll, probe_method_t method,
	       int64_t timeout_ms, bson_t *token, optime_t *cluster_time, bson_error_t *error);

#endif
