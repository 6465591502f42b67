/*
 * What cdc-replay reads from and writes to <db>.<staging>_meta
 * (lib/staging_format.h): the restore marker's catch-up window and deferred
 * indexes (SPEC §6), and capture's checkpoint (lag, --drain).
 */
#ifndef CSM_REPLAY_META_H
#define CSM_REPLAY_META_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The restore marker as replay needs it. */
typedef struct replay_marker {
	bool found;
	bool has_dump_end;
	uint32_t dump_end_t;
	uint32_t dump_end_i;
	bson_t unique_specs;  /* array of deferred unique index specs (no TTL) */
	bson_t ttl_specs;     /* array of deferred TTL index specs */
	size_t n_unique;
	size_t n_ttl;
	bool unique_created;  /* uniqueCreatedAt is set (or nothing to create) */
	bool ttl_created;     /* ttlCreatedAt is set (or nothing to create) */
} replay_marker_t;

/* Capture's checkpoint of one ns. */
typedef struct replay_checkpoint {
	bool found;
	uint32_t ct_t; /* clusterTime; 0 when absent */
	uint32_t ct_i;
	int64_t heartbeat_ms; /* heartbeatAt; 0 when absent */
	char state[32];       /* "" when absent */
} replay_checkpoint_t;

void replay_marker_init(replay_marker_t *marker);
void replay_marker_cleanup(replay_marker_t *marker);

/*
 * Reads the restore marker "restore:<target_ns>" from meta into marker
 * (cleaned and refilled). A missing marker is not an error: found false,
 * nothing deferred. Deferred specs with expireAfterSeconds are TTL ones,
 * the others unique ones. false + the driver's error on a read failure.
 */
bool replay_marker_load(mongoc_collection_t *meta, const char *target_ns,
			replay_marker_t *marker, bson_error_t *error);

/*
 * Creates the deferred unique (ttl false) or TTL (ttl true) indexes on
 * target (an index that already exists with the same spec is fine), then
 * sets uniqueCreatedAt / ttlCreatedAt in the marker (w: majority) and in
 * *marker. A duplicate key while building a unique index is a real
 * conflict: false + exit 65 naming the index, the duplicate key and the
 * _ids holding it. Other failures: the driver's error (the caller retries
 * transient ones; creating again is harmless).
 */
bool replay_marker_create_deferred(mongoc_collection_t *meta, mongoc_collection_t *target,
				   const char *target_ns, replay_marker_t *marker, bool ttl,
				   bson_error_t *error);

/* Reads "checkpoint:<ns>" from meta into cp; cp->found false when none. */
bool replay_checkpoint_load(mongoc_collection_t *meta, const char *ns, replay_checkpoint_t *cp,
			    bson_error_t *error);

/* <0, 0, >0 as Timestamp (at, ai) sorts before, with, after (bt, bi). */
int replay_ts_cmp(uint32_t at, uint32_t ai, uint32_t bt, uint32_t bi);

#endif
