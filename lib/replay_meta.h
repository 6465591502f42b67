/*
 * What cdc-replay makes of the restore marker (lib/marker.h): the catch-up
 * window's end and the deferred indexes, split into the unique ones (built
 * once the window is applied) and the TTL ones (built at cutover), and the
 * building of those indexes (docs/DESIGN.md, "The catch-up window").
 */
#ifndef CSM_REPLAY_META_H
#define CSM_REPLAY_META_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "marker.h"
#include "optime.h"

/* The restore marker as replay needs it: a view built from restore_marker_t. */
typedef struct replay_marker {
	bool found;
	optime_t dump_end;   /* the window's end; zero when the dump recorded none */
	bson_t unique_specs; /* array of deferred unique index specs (no TTL) */
	bson_t ttl_specs;    /* array of deferred TTL index specs */
	size_t n_unique;
	size_t n_ttl;
	bool unique_created; /* uniqueCreatedAt is set (or nothing to create) */
	bool ttl_created;    /* ttlCreatedAt is set (or nothing to create) */
	bool unique_marked;  /* uniqueCreatedAt is set */
	bool ttl_marked;     /* ttlCreatedAt is set */
} replay_marker_t;

/* An empty view (no marker: nothing deferred); replay_marker_cleanup()
 * frees it. */
void replay_marker_init(replay_marker_t *view);
void replay_marker_cleanup(replay_marker_t *view);

/*
 * Fills view (initialized by the caller, refilled) from marker: deferred
 * specs with expireAfterSeconds are TTL ones, the others unique ones.
 * marker stays the caller's.
 */
void replay_marker_view(replay_marker_t *view, const restore_marker_t *marker);

/*
 * Reads the restore marker of target_ns from meta (marker_read) into view
 * (cleaned and refilled). A missing marker is not an error: found false,
 * nothing deferred. false + the driver's error on a read failure.
 */
bool replay_marker_load(mongoc_collection_t *meta, const char *target_ns, replay_marker_t *view,
			bson_error_t *error);

/*
 * Creates the deferred unique (ttl false) or TTL (ttl true) indexes on
 * target (an index that already exists with the same spec is fine), then
 * sets uniqueCreatedAt / ttlCreatedAt in the marker (marker_set_created)
 * and in *view. A duplicate key while building a unique index is a real
 * conflict: false + exit 65 naming the index, the duplicate key and the
 * _ids holding it. Other failures: the driver's error (the caller retries
 * transient ones; creating again is harmless).
 */
bool replay_marker_create_deferred(mongoc_collection_t *meta, mongoc_collection_t *target,
				   const char *target_ns, replay_marker_t *view, bool ttl,
				   bson_error_t *error);

/*
 * Adds spec (a unique or TTL index of a createIndexes event) to the
 * deferredIndexes of the restore marker of target_ns (w: majority, j:
 * true; nothing when one of that name is there already) and refills view
 * from it, so that it is built with the other deferred ones ("The catch-up
 * window"). false + the driver's error (the caller retries transient ones;
 * deferring again is harmless); a marker gone meanwhile is exit 65.
 */
bool replay_marker_defer(mongoc_collection_t *meta, const char *target_ns, replay_marker_t *view,
			 const bson_t *spec, bson_error_t *error);

/*
 * A modify event's index part (name or keyPattern, expireAfterSeconds) for
 * an index that is still deferred: sets expireAfterSeconds of the deferred
 * spec it names in the restore marker of target_ns (w: majority, j: true)
 * and refills view; *deferred tells whether one matched (then the target
 * has no such index to modify yet). false + the driver's error.
 */
bool replay_marker_retime(mongoc_collection_t *meta, const char *target_ns, replay_marker_t *view,
			  const bson_t *index, bool *deferred, bson_error_t *error);

#endif
