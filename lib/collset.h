/*
 * Which collections of a database one change stream covers (docs/DESIGN.md,
 * "Programs", database mode): --colls a,b,c, --colls-file F (one name a
 * line; blank lines and lines starting with # skipped) or --all-colls.
 */
#ifndef CSM_COLLSET_H
#define CSM_COLLSET_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct collset {
	bool all;     /* --all-colls: names is what the source held at start */
	char **names; /* NULL-terminated, owned */
	size_t n;
} collset_t;

void collset_init(collset_t *set);
void collset_cleanup(collset_t *set);

/* Adds one name (64 when empty or holding '/'); a repeated one once. */
bool collset_add(collset_t *set, const char *name, bson_error_t *error);
/* Adds the names of "a,b,c" given to option (named in errors); 64 on an
 * empty name or one with '/'. */
bool collset_add_list(collset_t *set, const char *list, const char *option, bson_error_t *error);
/* Adds the names in file path; 66 when missing, 64 as above. */
bool collset_add_file(collset_t *set, const char *path, bson_error_t *error);
bool collset_has(const collset_t *set, const char *name);

/*
 * Checks the names against the staging collections (64, names.h); with
 * all, a source database holding them is refused the same way: capture
 * never reads its own staging.
 */
bool collset_check_staging(const collset_t *set, const char *db, const char *staging,
			   bson_error_t *error);

/*
 * Fills the set from the source: with all, every collection of db
 * (catalog_list_collections); otherwise checks that each listed one exists
 * (66 naming the first missing one).
 */
bool collset_resolve(collset_t *set, mongoc_client_t *source, const char *db, bson_error_t *error);

/*
 * The $match stage of a listed set, into match (initialized by the call):
 * events of its collections, a rename into one of them, dropDatabase and
 * invalidate. false (match empty) for --all-colls, which needs none.
 */
bool collset_match(const collset_t *set, bson_t *match);

#endif
