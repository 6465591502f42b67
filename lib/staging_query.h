/*
 * Reads of the staged documents of one ns that operators and upkeep need
 * (cdc-status, --purge-applied): the first or last staged document of a
 * status, and counts. Field names come from staging_format.h; every read
 * goes through the {ns: 1, status: 1, seq: 1} index (or {ns: 1, seq: 1}).
 */
#ifndef CSM_STAGING_QUERY_H
#define CSM_STAGING_QUERY_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The staged document of ns with the lowest (newest false) or highest
 * (newest true) seq, of status (STAGING_STATUS_*; NULL: any), without its
 * event and eventBytes, copied into doc (initialized by the call when
 * found; the caller destroys it) when doc is not NULL, its seq into *seq
 * (0 when none). false + the driver's error, prefixed with the ns.
 */
bool staging_query_edge(mongoc_collection_t *staging, const char *ns, const char *status,
			bool newest, int64_t *seq, bson_t *doc, bson_error_t *error);

/* The staged documents of ns of status (NULL: any) into *n. */
bool staging_query_count(mongoc_collection_t *staging, const char *ns, const char *status,
			 int64_t *n, bson_error_t *error);

#endif
