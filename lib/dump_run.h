/*
 * dump-wrap's two operations, engine-independent (docs/DESIGN.md, "Programs"
 * and "The catch-up window"): which engine runs, where a dump is staged and
 * published, the dump-end time, and on restore the collection, index builds,
 * constraint deferral and the restore marker.
 */
#ifndef CSM_DUMP_RUN_H
#define CSM_DUMP_RUN_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "throttle.h"

typedef enum { DUMP_ENGINE_AUTO, DUMP_ENGINE_NATIVE, DUMP_ENGINE_EXTERNAL } dump_engine_t;

/* Parses "auto" | "native" | "external"; false when unknown. */
bool dump_engine_parse(const char *name, dump_engine_t *engine);

typedef struct dump_run_opts {
	const char *uri;  /* source for dump, target for restore; borrowed */
	const char *db;   /* source database */
	const char *coll; /* source collection */
	const char *root; /* --out / --in */
	dump_engine_t engine;
	int jobs; /* restore inserters (>= 1) */
	bool gzip;
	int64_t status_interval_ms;
	throttle_t *throttle; /* dump, native engine: paces the copy; NULL none; borrowed */
	/* restore only */
	const char *to_db;   /* defaults to db */
	const char *to_coll; /* defaults to coll */
	const char *staging; /* staging collection name (marker in <db>.<staging>_meta) */
	bool drop;
	bool defer_constraints;
	bool once;
} dump_run_opts_t;

/*
 * Dumps db.coll to <root>/<db>/<coll>.bson + .metadata.json (+ the
 * dump-end file and prelude.json) through a .partial directory that is
 * published only when complete. Errors carry their exit code.
 */
bool dump_run_dump(const dump_run_opts_t *opts, bson_error_t *error);

/*
 * Restores the dump of db.coll into to_db.to_coll: collection and options
 * first, then the data, then the indexes (unique and TTL ones recorded in
 * the marker instead with defer_constraints), then the restore marker (w:
 * majority, j: true). With once, an existing marker means "done": a message
 * and success without touching anything. A target collection named like
 * the staging collections is refused first (64, names.h).
 */
bool dump_run_restore(const dump_run_opts_t *opts, bson_error_t *error);

#endif
