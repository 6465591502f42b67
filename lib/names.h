/*
 * Checks on the names an operator gives: a migrated collection must never
 * share a name with the staging collections on the target
 * (docs/DESIGN.md, "Staged events").
 */
#ifndef CSM_NAMES_H
#define CSM_NAMES_H

#include <bson/bson.h>
#include <stdbool.h>

/*
 * The staged events of db live in db.<staging> and db.<staging>_meta on the
 * target. Fails (exit 64, naming the collision and --staging-coll) when the
 * target collection to_db.to_coll is one of them; to_db and to_coll default
 * to db and coll when NULL, as every program defaults them.
 */
bool names_check_staging(const char *db, const char *coll, const char *to_db, const char *to_coll,
			 const char *staging, bson_error_t *error);

/*
 * The same check for a program that knows only the source collection
 * db.coll (token-probe, cdc-capture): it fails (exit 64) when coll is
 * <staging> or <staging>_meta, whatever the target's names will be, since
 * the target collection takes the source's names by default.
 */
bool names_check_source(const char *db, const char *coll, const char *staging, bson_error_t *error);

#endif
