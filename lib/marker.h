/*
 * The restore marker: the one codec of the meta document
 * "restore:<target ns>" in <db>.<staging>_meta on the TARGET
 * (docs/DESIGN.md, "Meta documents"), written by dump-wrap restore once the
 * data and the ordinary indexes are in, and updated by cdc-replay when it
 * has built the deferred indexes. Its presence means "this collection was
 * restored; never restore it again". Field names come from staging_format.h.
 */
#ifndef CSM_MARKER_H
#define CSM_MARKER_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "optime.h"

typedef struct restore_marker {
	char *ns;                  /* target ns, owned */
	char *source_ns;           /* owned; NULL when unknown */
	int64_t completed_at_ms;   /* Unix ms */
	int64_t documents;         /* documents in the dump */
	optime_t dump_end;         /* dumpEndTime; zero when the dump recorded none */
	bson_t deferred_indexes;   /* array of index specs; empty without deferral */
	int64_t unique_created_ms; /* uniqueCreatedAt; 0 until replay built them */
	int64_t ttl_created_ms;    /* ttlCreatedAt; 0 until replay built them */
} restore_marker_t;

void restore_marker_init(restore_marker_t *marker);
void restore_marker_cleanup(restore_marker_t *marker);

/* "<staging>_meta", the meta collection's name; the caller bson_free()s it. */
char *marker_meta_coll_name(const char *staging);

/*
 * Reads the marker of target_ns from the meta collection with read concern
 * majority (a marker is only worth trusting once it survives a failover).
 * *found tells whether it exists; when it does and marker is not NULL, it
 * is read into marker (initialized by the call; the caller cleans it up).
 * Errors are the driver's.
 */
bool marker_read(mongoc_collection_t *meta, const char *target_ns, restore_marker_t *marker,
		 bool *found, bson_error_t *error);

/*
 * Writes marker (replacing an older one) with w: majority, j: true, so it is
 * durable before the caller reports success.
 */
bool marker_write(mongoc_collection_t *meta, const restore_marker_t *marker, bson_error_t *error);

/*
 * Sets uniqueCreatedAt (ttl false) or ttlCreatedAt (ttl true) of the
 * marker of target_ns to now, w: majority, j: true. false + the driver's
 * error, prefixed with the marker's _id.
 */
bool marker_set_created(mongoc_collection_t *meta, const char *target_ns, bool ttl,
			bson_error_t *error);

#endif
