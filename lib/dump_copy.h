/*
 * The native dump's copy of the documents: the collection's _id range cut
 * into partitions, each read by its own cursor (min/max on the _id index,
 * sorted and hinted {_id: 1}) into its own file with a checkpoint, so that
 * a killed copy continues where its checkpoints say; then the partitions
 * joined into the one data file mongodump writes (docs/DESIGN.md, "Dump
 * format", "Resuming a dump").
 */
#ifndef CSM_DUMP_COPY_H
#define CSM_DUMP_COPY_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "dump_format.h"
#include "dump_plan.h"
#include "progress.h"

/* How often a partition's copy makes its progress durable. */
#define DUMP_CHECKPOINT_MS 500

/*
 * Adds up to jobs partitions of db.coll to plan (which has none): the
 * bounds are the _ids at every (count / jobs)-th position of the _id index
 * (estimated count; one find with skip and limit 1 each, covered by the
 * index). A collection with fewer documents than jobs gets fewer.
 */
bool dump_copy_split(mongoc_client_t *client, const char *db, const char *coll, int jobs,
		     dump_plan_t *plan, bson_error_t *error);

/*
 * Copies every partition of plan that is not done, one thread with a client
 * from pool each, into the partition files under partial, continuing each
 * from its checkpoint (plan->parts, read by the caller): the file is cut
 * back to the checkpoint's bytes and the read starts at its last _id. A
 * file shorter than its checkpoint, or whose last document is not the one
 * the checkpoint names, is 65. Progress goes to progress (may be NULL). A
 * stop or a failure checkpoints what was written first.
 */
bool dump_copy_run(mongoc_client_pool_t *pool, const char *db, const char *coll,
		   const char *partial, dump_plan_t *plan, progress_t *progress,
		   bson_error_t *error);

/*
 * Joins the partition files into <partial>/<db>/<coll>.bson (gzip'd when
 * gzip) and fills record (documents, bytes, SHA-256). One partition and no
 * gzip: the file is linked, read once for the digest. A partition file
 * that does not hold what its checkpoint says is 65.
 */
bool dump_copy_assemble(const char *partial, const char *db, const char *coll,
			const dump_plan_t *plan, bool gzip, dump_record_t *record,
			bson_error_t *error);

#endif
