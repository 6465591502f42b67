/*
 * cdc-capture over a database (docs/DESIGN.md, "Flow", "Programs", "Token
 * file"): one database-level change stream (capture_reader.h) feeding one
 * capture_ns_t per collection, each staged with its own seqs exactly as a
 * collection's capture stages them, so per-collection replay is unchanged.
 *
 *	capture_db_t *run = capture_db_new(&config, &colls, source_uri, target_uri, &error);
 *	if (run)
 *		while (capture_db_next(run, &error))
 *			;
 *	capture_db_destroy(run);
 *
 * One position file, <state-dir>/<db>.token (ns "<db>.*", mode 0600,
 * written atomically), says where the stream resumes: it is rewritten only
 * after every event read before its token is staged, for every namespace.
 * Its "namespaces" map names each collection with its highest seq and its
 * state ("capturing", "stopped"). After a crash a namespace can hold
 * events staged after the position was written: on restart it skips
 * stream events until its last staged one has passed, so each event is
 * staged once.
 *
 * With --all-colls a collection first seen in the stream is captured from
 * that event; a drop or rename stops that collection only (its checkpoint
 * says "ddl" and why; its cdc-replay exits 4 at that event) while the
 * others go on; dropDatabase stops them all (exit 4).
 */
#ifndef CSM_CAPTURE_DB_H
#define CSM_CAPTURE_DB_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdio.h>

#include "capture_run.h"
#include "collset.h"

typedef struct capture_db capture_db_t;

/*
 * config->coll is unused. colls (borrowed, outlives the run) says which
 * collections. NULL + error: 64 a staging-named collection, 65 a corrupt
 * position file, 66 no position file or a listed collection missing on the
 * source, 73 another capture holds one of the collections, 69...
 */
capture_db_t *capture_db_new(const capture_config_t *config, const collset_t *colls,
			     const char *source_uri, const char *target_uri, bson_error_t *error);

/* One step, as capture_next (capture_run.h). */
bool capture_db_next(capture_db_t *run, bson_error_t *error);

void capture_db_destroy(capture_db_t *run);

/*
 * Prints the namespaces of the position file of db in state_dir, one
 * "COLL<TAB>STATE" a line (sync_migration.sh --all reads it).
 */
bool capture_db_list(const char *state_dir, const char *db, FILE *out, bson_error_t *error);

#endif
