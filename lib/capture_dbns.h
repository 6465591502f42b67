/*
 * The namespaces a database stream feeds and its position file
 * (capture_db.h): opening each collection's staging (with its lease
 * "capture:<ns>"), finding the one an event is for, and writing the
 * position.
 */
#ifndef CSM_CAPTURE_DBNS_H
#define CSM_CAPTURE_DBNS_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "capture_ns.h"
#include "lease.h"
#include "tokenfile.h"

typedef enum dbns_state {
	DBNS_CAPTURING,
	DBNS_SKIPPING, /* holds events after the position: skips to its last one */
	DBNS_STOPPED,  /* at a drop or rename (or already at open) */
	DBNS_IGNORED,  /* named like the staging collections: never captured */
} dbns_state_t;

typedef struct dbns {
	char *coll; /* owned */
	capture_ns_t cns;
	lease_t *lease; /* owned; NULL when IGNORED */
	dbns_state_t state;
} dbns_t;

typedef struct dbns_set {
	const char *db, *staging_coll, *target_uri; /* borrowed */
	mongoc_client_t *target;                    /* borrowed */
	capture_ns_limits_t limits;
	char *pos_path; /* owned */
	token_file_t pos;
	dbns_t **ns;
	size_t n;
} dbns_set_t;

/* Reads the position file (66 missing, 65 corrupt or another stream's). */
bool dbns_set_init(dbns_set_t *set, const char *db, const char *state_dir, bson_error_t *error);
void dbns_set_cleanup(dbns_set_t *set);

dbns_t *dbns_find(const dbns_set_t *set, const char *coll);

/*
 * Adds coll: its lease, its staging writer and its seqs. at_start: a
 * namespace that holds events staged after the position file was written
 * starts SKIPPING. One already stopped at a DDL event is STOPPED; one named
 * like the staging collections IGNORED (the selection is checked first).
 */
dbns_t *dbns_add(dbns_set_t *set, const char *coll, bool at_start, bson_error_t *error);

/* True when the position file lists coll. */
bool dbns_known(const dbns_set_t *set, const char *coll);

/*
 * Rewrites the position file with token (every earlier event is staged
 * for every namespace) and each namespace's seq and state. 74 on failure.
 */
bool dbns_write_position(dbns_set_t *set, const bson_t *token, optime_t cluster_time,
			 bson_error_t *error);

#endif
