/*
 * Removing what the migration of one collection left on the target
 * (cdc-cleanup, init_migration.sh --cleanup; docs/DESIGN.md, "Programs"):
 * its staged events, its checkpoint, its restore markers, its leases and,
 * when asked, the restored collection; the staging collections themselves
 * once no namespace is left in them. It takes the leases of the
 * namespace first (capture:<ns>, apply:<target ns>), so it refuses (73)
 * while a capture, replay or restore of it runs anywhere, and none can
 * start while it works.
 */
#ifndef CSM_CLEANUP_H
#define CSM_CLEANUP_H

#include <stdbool.h>
#include <stdio.h>

#include <bson/bson.h>

typedef struct cleanup_opts {
	const char *db;      /* source database: the staging one on the target */
	const char *coll;    /* source collection */
	const char *staging; /* staging collection's name */
	bool drop_target;    /* also drop the restored collection(s) */
} cleanup_opts_t;

/*
 * Cleans up opts' namespace on the target at uri, printing one line per
 * thing removed to out. false + error: 73 a lease is held by a live
 * writer (nothing was removed), 69 unreachable, the driver's otherwise
 * (run it again: every step is idempotent).
 */
bool cleanup_run(const char *uri, const cleanup_opts_t *opts, FILE *out, bson_error_t *error);

#endif
