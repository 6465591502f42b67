/* Name checks (names.h). */
#include "names.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "staging_format.h"

/* What a migration of a collection named like the staging collections
 * would do, and what to do instead: the end of both messages. */
#define NAMES_COLLISION_ADVICE                                                                     \
	"its documents would mix with the staged events; give the staging collection another "     \
	"name with --staging-coll (the same for every step of this migration)"

/* True when coll is <staging> or <staging>_meta; *meta gets the latter. */
static bool
is_staging_name(const char *coll, const char *staging, char *meta, size_t meta_size)
{
	snprintf(meta, meta_size, "%s%s", staging, STAGING_META_SUFFIX);
	return strcmp(coll, staging) == 0 || strcmp(coll, meta) == 0;
}

bool
names_check_staging(const char *db, const char *coll, const char *to_db, const char *to_coll,
		    const char *staging, bson_error_t *error)
{
	char meta[256];

	if (!to_db)
		to_db = db;
	if (!to_coll)
		to_coll = coll;
	if (strcmp(to_db, db) != 0 || !is_staging_name(to_coll, staging, meta, sizeof meta))
		return true;
	csm_error_set(error, CSM_EXIT_USAGE,
		      "target collection '%s.%s' is named like the staging collections '%s.%s' and "
		      "'%s.%s' on the target: " NAMES_COLLISION_ADVICE,
		      to_db, to_coll, db, staging, db, meta);
	return false;
}

bool
names_check_source(const char *db, const char *coll, const char *staging, bson_error_t *error)
{
	char meta[256];

	if (!is_staging_name(coll, staging, meta, sizeof meta))
		return true;
	csm_error_set(error, CSM_EXIT_USAGE,
		      "collection '%s.%s' is named like the staging collections '%s.%s' and "
		      "'%s.%s' on the target, where it is restored unless --to-db or --to-coll "
		      "say otherwise: " NAMES_COLLISION_ADVICE,
		      db, coll, db, staging, db, meta);
	return false;
}
