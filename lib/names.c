/* Name checks (names.h). */
#include "names.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "staging_format.h"

bool
names_check_staging(const char *db, const char *coll, const char *to_db, const char *to_coll,
		    const char *staging, bson_error_t *error)
{
	char meta[256];

	if (!to_db)
		to_db = db;
	if (!to_coll)
		to_coll = coll;
	if (strcmp(to_db, db) != 0)
		return true;
	snprintf(meta, sizeof meta, "%s%s", staging, STAGING_META_SUFFIX);
	if (strcmp(to_coll, staging) != 0 && strcmp(to_coll, meta) != 0)
		return true;
	csm_error_set(error, CSM_EXIT_USAGE,
		      "target collection '%s.%s' is named like the staging collections '%s.%s' and "
		      "'%s.%s' on the target: its documents would mix with the staged events; "
		      "give the staging collection another name with --staging-coll (the same "
		      "for every step of this migration)",
		      to_db, to_coll, db, staging, db, meta);
	return false;
}
