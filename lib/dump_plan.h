/*
 * The state of an unfinished native dump, kept in its .partial directory
 * so that the same command run again continues it (docs/DESIGN.md, "Dump
 * format", "Resuming a dump"):
 *   <partial>/<db>/<coll>.dump-plan.json        ns, engine, --jobs, the
 *                                               collection's uuid and the
 *                                               partitions' _id bounds
 *   <partial>/<db>/<coll>.part-<k>.bson         partition k's documents
 *   <partial>/<db>/<coll>.part-<k>.checkpoint.json  how much of that file is
 *                                               durable: bytes, documents,
 *                                               the last document's offset
 *                                               and _id, done
 * Every file is written atomically (lib/fsutil); a checkpoint is written
 * only after the data it counts was fsync'd.
 */
#ifndef CSM_DUMP_PLAN_H
#define CSM_DUMP_PLAN_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "digest.h"

/* More partitions than this is never useful (one cursor each). */
#define DUMP_PLAN_MAX_PARTS 64

/* One partition: the _id range [lower, upper) of the _id index and its
 * checkpoint. lower/upper are {_id: v}, empty for "from the start" / "to
 * the end"; last_id is {_id: v} of the last document written, empty when
 * none is. */
typedef struct dump_part {
	bson_t lower;
	bson_t upper;
	int64_t bytes;       /* durable bytes of the partition's file */
	int64_t documents;   /* documents in those bytes */
	int64_t last_offset; /* where the last of them starts */
	bson_t last_id;
	bool done; /* the range was read to its end */
	/* Not saved: the SHA-256 of the whole file when this run copied it to
	 * its end (a plan of one partition), "" otherwise. */
	char sha256[DIGEST_HEX_LEN];
} dump_part_t;

typedef struct dump_plan {
	char *ns;     /* owned */
	char *engine; /* owned: "native" or "external" */
	int jobs;     /* --jobs of the run that made the plan */
	char uuid[33];
	int nparts; /* <= jobs */
	dump_part_t parts[DUMP_PLAN_MAX_PARTS];
} dump_plan_t;

/* Initializes plan with no partition; owned strings are copies. */
void dump_plan_init(dump_plan_t *plan, const char *ns, const char *engine, int jobs,
		    const char *uuid);
void dump_plan_cleanup(dump_plan_t *plan);

/* Appends a partition whose range starts at lower ({_id: v}; NULL or
 * empty: from the start) and ends where the next one starts. */
void dump_plan_add_part(dump_plan_t *plan, const bson_t *lower);

/* "<partial>/<db>/<escaped coll><suffix>": the plan (".dump-plan.json"),
 * or with k >= 0 partition k's data (".bson") or checkpoint
 * (".checkpoint.json") as "<coll>.part-<k><suffix>". bson_free() it. */
char *dump_plan_path(const char *partial, const char *db, const char *coll, int k,
		     const char *suffix);

/* Writes the plan file (without the checkpoints) atomically. */
bool dump_plan_write(const char *path, const dump_plan_t *plan, bson_error_t *error);

/*
 * Reads the plan file at path into plan (initialized by the call). A
 * missing file sets *found false and succeeds; an unreadable one is 65.
 */
bool dump_plan_read(const char *path, dump_plan_t *plan, bool *found, bson_error_t *error);

/* Writes the checkpoint part of ns's partition k atomically (the data it
 * counts must be durable). */
bool dump_part_checkpoint_write(const char *path, const char *ns, int k, const dump_part_t *part,
				bson_error_t *error);

/* Reads partition k's checkpoint into plan->parts[k]; a missing one means
 * nothing durable yet (all zero). Unreadable, or another ns's or
 * partition's: 65. */
bool dump_part_checkpoint_read(const char *path, dump_plan_t *plan, int k, bson_error_t *error);

#endif
