/*
 * dump-wrap's external engine: runs mongodump / mongorestore. The URI, and
 * so any password, reaches them only through a 0600 YAML --config file in a
 * private 0700 temporary directory, removed as soon as the tool exits
 * (docs/DESIGN.md, "Programs" and "Connections and secrets"): never through
 * argv, where ps would show it. What the tools print (stdout and stderr)
 * is logged line by line, so it is redacted like every log line; a stop
 * request (SIGINT/SIGTERM) is passed on to the tool as SIGTERM (SIGKILL
 * 5 s later), the config file is removed, and the call fails with
 * csm_error_stopped().
 */
#ifndef CSM_DUMP_EXTERNAL_H
#define CSM_DUMP_EXTERNAL_H

#include <bson/bson.h>
#include <stdbool.h>

/* The path of program in a PATH directory, or NULL when it is not there.
 * The caller bson_free()s it. */
char *dump_external_find(const char *program);

/*
 * Runs `mongodump --config=F --db=db --collection=coll --out=out_root
 * [--gzip]`. Its output goes to the log. A non-zero exit is exit code 69
 * naming the status.
 */
bool dump_external_dump(const char *mongodump, const char *uri, const char *db, const char *coll,
			const char *out_root, bool gzip, bson_error_t *error);

/*
 * Runs `mongorestore --config=F --dir=root --nsInclude=db.coll
 * [--nsFrom=db.coll --nsTo=to_db.to_coll] --noIndexRestore
 * --numInsertionWorkersPerCollection=jobs [--gzip]`: data and collection
 * options only; the caller builds the indexes (so --defer-constraints works
 * the same with both engines).
 */
bool dump_external_restore(const char *mongorestore, const char *uri, const char *db,
			   const char *coll, const char *to_db, const char *to_coll,
			   const char *root, bool gzip, int jobs, bson_error_t *error);

#endif
