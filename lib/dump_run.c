/*
 * dump-wrap's operations (dump_run.h). Both engines produce and consume the
 * same layout, so everything around the data copy is shared: the dump is
 * staged under <root>/.<db>.<coll>.partial and published by dump_publish();
 * restore builds indexes itself after the data with either engine.
 */
#include "dump_run.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "dump_copy.h"
#include "dump_external.h"
#include "dump_format.h"
#include "dump_native.h"
#include "dump_plan.h"
#include "error.h"
#include "fsutil.h"
#include "lease.h"
#include "log.h"
#include "marker.h"
#include "names.h"
#include "progress.h"
#include "retry.h"
#include "stop.h"

/* Retries of the restore marker's write after a transient failure. */
#define DUMP_MARKER_RETRIES 4

bool
dump_engine_parse(const char *name, dump_engine_t *engine)
{
	if (strcmp(name, "auto") == 0)
		*engine = DUMP_ENGINE_AUTO;
	else if (strcmp(name, "native") == 0)
		*engine = DUMP_ENGINE_NATIVE;
	else if (strcmp(name, "external") == 0)
		*engine = DUMP_ENGINE_EXTERNAL;
	else
		return false;
	return true;
}

/*
 * The external tool's path when the engine is external (or auto and the
 * tool is on PATH), NULL for native. Explicit external without the tool:
 * exit code 69.
 */
static bool
pick_engine(dump_engine_t engine, const char *program, char **tool, bson_error_t *error)
{
	*tool = NULL;
	if (engine == DUMP_ENGINE_NATIVE)
		return true;
	*tool = dump_external_find(program);
	if (*tool == NULL && engine == DUMP_ENGINE_EXTERNAL) {
		csm_error_set(error, CSM_EXIT_UNAVAILABLE,
			      "--engine external needs '%s' on PATH; install the MongoDB Database "
			      "Tools or use --engine native",
			      program);
		return false;
	}
	return true;
}

/* False with csm_error_stopped() when a stop was requested before `doing`
 * ("publishing the dump of") ns. */
static bool
not_stopped(const char *doing, const char *ns, bson_error_t *error)
{
	if (!stop_requested())
		return true;
	csm_error_stopped(error, "stopped by a signal before %s '%s'", doing, ns);
	return false;
}

/* Seconds since started_ms, a clock_mono_ms() reading. */
static double
seconds_since(int64_t started_ms)
{
	return (double)(clock_mono_ms() - started_ms) / 1e3;
}

/* Writes the integrity record of the data file in partial. */
static bool
write_record(const dump_run_opts_t *opts, const char *ns, const char *partial,
	     const dump_record_t *record, const char *engine, bson_error_t *error)
{
	char *data_path = dump_file_path(partial, opts->db, opts->coll, ".bson", opts->gzip);
	char *path = dump_file_path(partial, opts->db, opts->coll, DUMP_RECORD_SUFFIX, false);
	const char *data_name = strrchr(data_path, '/') + 1;
	bool ok = dump_record_write(path, ns, data_name, record, engine, error);

	bson_free(path);
	bson_free(data_path);
	return ok;
}

/* Documents and bytes the partitions of plan hold already. */
static void
plan_copied(const dump_plan_t *plan, int64_t *documents, int64_t *bytes)
{
	*documents = *bytes = 0;
	for (int k = 0; k < plan->nparts; k++) {
		*documents += plan->parts[k].documents;
		*bytes += plan->parts[k].bytes;
	}
}

/*
 * The native copy: db.coll's documents through plan's partitions (what
 * they hold already is kept), joined into one data file, its integrity
 * record, then the metadata file and the prelude, into partial. Fills
 * record.
 */
static bool
dump_native(const dump_run_opts_t *opts, mongoc_client_pool_t *pool, mongoc_client_t *client,
	    const char *partial, const dump_metadata_t *metadata, dump_plan_t *plan,
	    dump_record_t *record, bson_error_t *error)
{
	mongoc_collection_t *collection =
		mongoc_client_get_collection(client, opts->db, opts->coll);
	int64_t total =
		mongoc_collection_estimated_document_count(collection, NULL, NULL, NULL, NULL);
	char *label = bson_strdup_printf("dump '%s'", plan->ns);
	progress_t *progress =
		progress_new(label, total > 0 ? total : 0, 0, opts->status_interval_ms);
	char *path = NULL, *version = NULL;
	int64_t docs, bytes;
	bool ok = false;

	mongoc_collection_destroy(collection);
	plan_copied(plan, &docs, &bytes);
	progress_add(progress, docs, bytes);
	/* After what an earlier run copied: only this run's reads are paced,
	 * all partitions' together. */
	progress_set_throttle(progress, opts->throttle);
	if (!dump_copy_run(pool, opts->db, opts->coll, partial, plan, progress, error) ||
	    !dump_copy_assemble(partial, opts->db, opts->coll, plan, opts->gzip, record, error) ||
	    !write_record(opts, plan->ns, partial, record, "native", error))
		goto cleanup;
	progress_finish(progress);
	path = dump_file_path(partial, opts->db, opts->coll, ".metadata.json", opts->gzip);
	if (!dump_metadata_write(path, opts->gzip, metadata, error))
		goto cleanup;
	version = dump_native_server_version(client);
	ok = dump_prelude_write(partial, version, error);

cleanup:
	progress_destroy(progress);
	bson_free(version);
	bson_free(path);
	bson_free(label);
	return ok;
}

/* 65 for an unfinished dump in partial that is not this run's to continue:
 * another collection's, another engine's, other --jobs, or an earlier
 * collection of the same name. */
static bool
plan_fits(const dump_run_opts_t *opts, const dump_plan_t *found, const dump_plan_t *want,
	  const char *partial, bson_error_t *error)
{
	char why[256];

	if (strcmp(found->ns, want->ns) != 0)
		snprintf(why, sizeof why, "it is a dump of '%s'", found->ns);
	else if (strcmp(found->engine, want->engine) != 0)
		snprintf(why, sizeof why, "the %s engine made it, this run uses the %s one",
			 found->engine, want->engine);
	else if (found->jobs != want->jobs)
		snprintf(why, sizeof why,
			 "it was started with --jobs %d, which fixed its partitions; this run "
			 "has --jobs %d",
			 found->jobs, want->jobs);
	else if (found->uuid[0] && want->uuid[0] && strcmp(found->uuid, want->uuid) != 0)
		snprintf(why, sizeof why,
			 "it is of an earlier collection of that name (uuid %s, now %s)",
			 found->uuid, want->uuid);
	else
		return true;
	csm_error_set(error, CSM_EXIT_DATAERR,
		      "cannot continue the unfinished dump in '%s' as a dump of '%s' (--jobs %d, "
		      "engine %s): %s; nothing was published: rerun with its arguments, or "
		      "remove '%s' to dump from the start",
		      partial, want->ns, opts->jobs, want->engine, why, partial);
	return false;
}

/* Reads the checkpoints of every partition of plan. */
static bool
read_checkpoints(const dump_run_opts_t *opts, const char *partial, dump_plan_t *plan,
		 bson_error_t *error)
{
	bool ok = true;

	for (int k = 0; ok && k < plan->nparts; k++) {
		char *path = dump_plan_path(partial, opts->db, opts->coll, k, ".checkpoint.json");

		ok = dump_part_checkpoint_read(path, plan, k, error);
		bson_free(path);
	}
	return ok;
}

/*
 * Makes partial ready for the copy into *plan (initialized by the call):
 * the unfinished native dump found there is continued when it was made
 * with these arguments (plan and checkpoints read, *resumed) and is 65
 * when not; none (or mongodump's, which cannot continue) starts afresh
 * with a new plan, the native one split into partitions.
 */
static bool
prepare_partial(const dump_run_opts_t *opts, mongoc_client_t *client, const char *engine,
		const char *uuid, const char *partial, dump_plan_t *plan, bool *resumed,
		bson_error_t *error)
{
	char *path = dump_plan_path(partial, opts->db, opts->coll, -1, ".dump-plan.json");
	char *db_dir = bson_strdup_printf("%s/%s", partial, opts->db);
	char *ns = bson_strdup_printf("%s.%s", opts->db, opts->coll);
	bool native = strcmp(engine, "native") == 0;
	bool found = false, ok = false;
	dump_plan_t want;

	*resumed = false;
	memset(plan, 0, sizeof *plan);
	dump_plan_init(&want, ns, engine, opts->jobs, uuid);
	if (access(partial, F_OK) == 0) {
		if (!dump_plan_read(path, plan, &found, error))
			goto cleanup;
		if (found && !plan_fits(opts, plan, &want, partial, error))
			goto cleanup;
		if (found && native) {
			*resumed = true;
			ok = read_checkpoints(opts, partial, plan, error);
			goto cleanup;
		}
		dump_plan_cleanup(plan);
	}
	dump_plan_init(plan, ns, engine, opts->jobs, uuid);
	ok = dump_remove_tree(partial, error) && fs_mkdir_p(db_dir, error) &&
	     (!native || dump_copy_split(client, opts->db, opts->coll, opts->jobs, plan, error)) &&
	     dump_plan_write(path, plan, error);

cleanup:
	dump_plan_cleanup(&want);
	bson_free(ns);
	bson_free(db_dir);
	bson_free(path);
	return ok;
}

/*
 * The external copy: mongodump into partial, which must write the metadata,
 * then the integrity record of the data file it wrote (read back once).
 */
static bool
dump_external(const dump_run_opts_t *opts, const char *tool, const char *ns, const char *partial,
	      dump_record_t *record, bson_error_t *error)
{
	char *path;
	bool ok;

	if (!dump_external_dump(tool, opts->uri, opts->db, opts->coll, partial, opts->gzip, error))
		return false;
	path = dump_file_path(partial, opts->db, opts->coll, ".metadata.json", opts->gzip);
	ok = access(path, F_OK) == 0;
	if (!ok)
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "'%s' exited 0 but wrote no '%s'; check its version and output", tool,
			      path);
	bson_free(path);
	if (!ok)
		return false;
	path = dump_file_path(partial, opts->db, opts->coll, ".bson", opts->gzip);
	ok = dump_record_scan(path, opts->gzip, record, error) &&
	     write_record(opts, ns, partial, record, "external", error);
	bson_free(path);
	return ok;
}

/* Says how much of an unfinished dump is continued. */
static void
log_resumed(const dump_plan_t *plan)
{
	int64_t docs, bytes;
	int done = 0;

	plan_copied(plan, &docs, &bytes);
	for (int k = 0; k < plan->nparts; k++)
		done += plan->parts[k].done;
	log_info("continuing the unfinished dump of '%s': %" PRId64 " documents (%.1f MB) "
		 "already copied, %d of %d partitions complete",
		 plan->ns, docs, (double)bytes / 1e6, done, plan->nparts);
}

/*
 * Records the source's cluster time now, after the copy, as the dump-end
 * time in partial; a source without one (standalone) only gets a warning.
 */
static bool
dump_end_record(const dump_run_opts_t *opts, mongoc_client_t *client, const char *ns,
		const char *partial, const char *engine, optime_t *dump_end, bson_error_t *error)
{
	bool have_end = false;
	char *path;
	bool ok;

	/* Any event after this time may be missing from the dump; replay must
	 * reach it before unique indexes are safe to build (docs/DESIGN.md,
	 * "The catch-up window"). */
	if (!dump_native_cluster_time(client, &have_end, dump_end, error))
		return false;
	if (!have_end) {
		log_warn("the source reports no cluster time (a standalone server?): the dump of "
			 "'%s' has no dump-end time",
			 ns);
		return true;
	}
	path = dump_file_path(partial, opts->db, opts->coll, ".dump-end.json", false);
	ok = dump_end_write(path, ns, *dump_end, engine, error);
	bson_free(path);
	return ok;
}

/* --jobs on dump splits the native engine's copy: mongodump reads a
 * collection with one cursor (64 otherwise). */
static bool
jobs_fit(const dump_run_opts_t *opts, const char *tool, bson_error_t *error)
{
	if (tool == NULL || opts->jobs == 1)
		return true;
	csm_error_set(error, CSM_EXIT_USAGE,
		      "dump --jobs %d splits the copy among the native engine's cursors; '%s' "
		      "reads a collection with one: use --engine native, or no --jobs",
		      opts->jobs, tool);
	return false;
}

bool
dump_run_dump(const dump_run_opts_t *opts, bson_error_t *error)
{
	mongoc_client_pool_t *pool = NULL;
	mongoc_client_t *client = NULL;
	dump_metadata_t metadata;
	dump_plan_t plan;
	char *tool = NULL, *partial = NULL, how[512] = "";
	const char *engine;
	int64_t started_ms = clock_mono_ms();
	dump_record_t record = {0};
	optime_t dump_end = OPTIME_ZERO;
	bool resumed = false, discard = false, ok = false;

	memset(&plan, 0, sizeof plan);
	dump_metadata_init(&metadata);
	if (!pick_engine(opts->engine, "mongodump", &tool, error) || !jobs_fit(opts, tool, error))
		goto cleanup;
	engine = tool ? "external" : "native";
	pool = conn_pool_new(opts->uri, "source", error);
	if (pool == NULL)
		goto cleanup;
	client = mongoc_client_pool_pop(pool);
	/* Also the existence check: mongodump would dump a missing collection
	 * as an empty one, and restore would then load nothing. */
	dump_metadata_cleanup(&metadata);
	if (!dump_native_read_metadata(client, opts->db, opts->coll, &metadata, error))
		goto cleanup;
	partial = dump_partial_root(opts->root, opts->db, opts->coll);
	if (!fs_mkdir_p(opts->root, error) ||
	    !prepare_partial(opts, client, engine, metadata.uuid, partial, &plan, &resumed, error))
		goto cleanup;
	if (resumed)
		log_resumed(&plan);
	/* mongodump cannot continue: what it left is of no use. */
	discard = tool != NULL;
	if (!(tool ? dump_external(opts, tool, plan.ns, partial, &record, error)
		   : dump_native(opts, pool, client, partial, &metadata, &plan, &record, error)))
		goto cleanup;
	if (!dump_end_record(opts, client, plan.ns, partial, engine, &dump_end, error) ||
	    !not_stopped("publishing the dump of", plan.ns, error) ||
	    !dump_publish(partial, opts->root, opts->db, opts->coll, opts->gzip, error))
		goto cleanup;
	if (tool)
		snprintf(how, sizeof how, " with %s", tool);
	else if (plan.nparts > 1)
		snprintf(how, sizeof how, " in %d partitions", plan.nparts);
	log_info("dumped %" PRId64 " documents (%.1f MB) of '%s'%s to '%s/%s' in %.1fs; "
		 "dump-end time %u.%u",
		 record.documents, (double)record.bytes / 1e6, plan.ns, how, opts->root, opts->db,
		 seconds_since(started_ms), dump_end.t, dump_end.i);
	ok = true;

cleanup:
	if (!ok && discard)
		dump_remove_tree(partial, NULL);
	if (client != NULL)
		mongoc_client_pool_push(pool, client);
	mongoc_client_pool_destroy(pool);
	dump_plan_cleanup(&plan);
	dump_metadata_cleanup(&metadata);
	bson_free(partial);
	bson_free(tool);
	return ok;
}

/* Counts the documents of db.coll (for the marker after mongorestore). */
static int64_t
count_documents(mongoc_client_t *client, const char *db, const char *coll)
{
	mongoc_collection_t *collection = mongoc_client_get_collection(client, db, coll);
	int64_t count =
		mongoc_collection_estimated_document_count(collection, NULL, NULL, NULL, NULL);

	mongoc_collection_destroy(collection);
	return count > 0 ? count : 0;
}

/* One restore: what it reads and where it writes. */
typedef struct restore {
	const dump_run_opts_t *opts;
	const char *to_db;   /* borrowed from opts */
	const char *to_coll; /* borrowed from opts */
	char *source_ns;     /* owned */
	char *target_ns;     /* owned */
	char *tool;          /* mongorestore's path (owned), NULL for native */
	mongoc_client_pool_t *pool;
	mongoc_client_t *client;   /* popped from pool */
	mongoc_collection_t *meta; /* the restore marker's collection */
	char *meta_name;           /* owned */
	lease_t *lease;            /* "apply:<target ns>", once the restore writes */
	dump_files_t files;
	dump_metadata_t metadata;
	optime_t dump_end; /* OPTIME_ZERO when the dump has none */
	bool have_record;  /* the dump has an integrity record: record */
	dump_record_t record;
	dump_restore_stats_t stats;
} restore_t;

/* With --once: *done when the marker says the restore already completed. */
static bool
restore_done_before(restore_t *r, bool *done, bson_error_t *error)
{
	restore_marker_t existing;
	char when[CLOCK_UTC_SIZE];

	if (!marker_read(r->meta, r->target_ns, &existing, done, error)) {
		csm_error_prefix(error, "cannot read the restore marker of '%s'", r->target_ns);
		return false;
	}
	if (*done) {
		clock_format_utc(existing.completed_at_ms, false, when, sizeof when);
		log_info("restore of '%s' already completed at %s; skipping", r->target_ns, when);
		restore_marker_cleanup(&existing);
	}
	return true;
}

/*
 * Takes the lease "apply:<target ns>" before anything is written, so that a
 * restore and a replay (or two restores) never write the collection
 * together. With --once the marker is read again once the lease is held
 * (the holder before may have just finished): *done when it is there.
 */
static bool
restore_take_lease(restore_t *r, bool *done, bson_error_t *error)
{
	char *name;

	name = bson_strdup_printf("apply:%s", r->target_ns);
	r->lease = lease_open(r->opts->uri, r->opts->db, r->meta_name, name, "dump-wrap restore",
			      error);
	bson_free(name);
	if (!r->lease)
		return false;
	return !r->opts->once || restore_done_before(r, done, error);
}

/* Gives the lease up, if taken: nothing is written after this. */
static void
restore_drop_lease(restore_t *r)
{
	bson_error_t error;

	if (r->lease && !lease_release(r->lease, &error))
		log_warn("%s; it expires by itself", error.message);
	lease_destroy(r->lease);
	r->lease = NULL;
}

/*
 * What can be checked of the data file before anything is written: its
 * size (a plain file), or, for mongorestore, which reads it itself, all of
 * it (one pass over it first). The native load checks the rest as it
 * streams the file (restore_check_read).
 */
static bool
restore_precheck(restore_t *r, bson_error_t *error)
{
	dump_record_t actual = {0};
	struct stat st;

	if (!r->have_record) {
		log_warn("the dump of '%s' has no integrity record '%s' (a dump not made by "
			 "dump-wrap, e.g. by mongodump): whether its data file is complete cannot "
			 "be checked",
			 r->source_ns, r->files.record);
		return true;
	}
	if (r->tool)
		return dump_record_scan(r->files.bson, r->files.gzip, &actual, error) &&
		       dump_record_check(r->files.bson, r->files.record, &r->record, &actual, false,
					 error);
	if (r->files.gzip || stat(r->files.bson, &st) != 0)
		return true;
	actual.bytes = (int64_t)st.st_size;
	return dump_record_check(r->files.bson, r->files.record, &r->record, &actual, true, error);
}

/* After the native load: the file read to its end is what its record says. */
static bool
restore_check_read(const restore_t *r, bson_error_t *error)
{
	if (!r->have_record || r->tool ||
	    dump_record_check(r->files.bson, r->files.record, &r->record, &r->stats.read, false,
			      error))
		return true;
	csm_error_prefix(error, "'%s' is not marked restored", r->target_ns);
	return false;
}

/* Finds the dump and reads its metadata, dump-end time and integrity record. */
static bool
restore_read_dump(restore_t *r, bson_error_t *error)
{
	const dump_run_opts_t *opts = r->opts;
	bool have_end = false;

	if (!dump_locate(opts->root, opts->db, opts->coll, opts->gzip, &r->files, error))
		return false;
	dump_metadata_cleanup(&r->metadata);
	if (!dump_metadata_read(r->files.metadata, r->files.gzip, &r->metadata, error) ||
	    !dump_end_read(r->files.dump_end, &have_end, &r->dump_end, error) ||
	    !dump_record_read(r->files.record, r->source_ns, &r->have_record, &r->record, error) ||
	    !restore_precheck(r, error))
		return false;
	if (opts->defer_constraints && !have_end)
		log_warn(
			"the dump of '%s' has no dump-end time: cdc-replay will build the deferred "
			"indexes only when it drains",
			r->source_ns);
	return true;
}

/* The native load: the collection with its options, then the documents. */
static bool
restore_native(restore_t *r, bson_error_t *error)
{
	struct stat st;
	int64_t total_bytes = 0;
	progress_t *progress;
	char *label;
	bool created = false;
	bool ok;

	if (!lease_hold(r->lease, error) ||
	    !dump_native_create_collection(r->client, r->to_db, r->to_coll, &r->metadata.options,
					   &created, error))
		return false;
	if (!created)
		log_info("'%s' exists: documents are added to it (duplicates are counted and "
			 "skipped)",
			 r->target_ns);
	if (!r->files.gzip && stat(r->files.bson, &st) == 0)
		total_bytes = (int64_t)st.st_size;
	label = bson_strdup_printf("restore '%s'", r->target_ns);
	progress = progress_new(label, 0, total_bytes, r->opts->status_interval_ms);
	ok = dump_native_restore_data(r->pool, r->to_db, r->to_coll, r->files.bson, r->files.gzip,
				      r->opts->jobs, progress, r->lease, &r->stats, error);
	if (ok)
		progress_finish(progress);
	progress_destroy(progress);
	bson_free(label);
	return ok;
}

/* The external load: mongorestore without indexes, then a count. */
static bool
restore_external(restore_t *r, bson_error_t *error)
{
	const dump_run_opts_t *opts = r->opts;

	/* mongorestore's inserts cannot wait for the lease: it is held around them. */
	if (!lease_hold(r->lease, error) ||
	    !dump_external_restore(r->tool, opts->uri, opts->db, opts->coll, r->to_db, r->to_coll,
				   opts->root, r->files.gzip, opts->jobs, error))
		return false;
	r->stats.documents = r->stats.inserted = count_documents(r->client, r->to_db, r->to_coll);
	return true;
}

/*
 * Writes the marker, retrying a transient failure (a write concern timeout:
 * secondaries lagging) a few times: the upsert is idempotent.
 */
static bool
marker_write_retried(restore_t *r, const restore_marker_t *marker, bson_error_t *error)
{
	char *what = bson_strdup_printf("writing the restore marker of '%s' on the target",
					r->target_ns);
	retry_t retry;
	bool ok;

	retry_init(&retry, DUMP_MARKER_RETRIES);
	while (!(ok = marker_write(r->meta, marker, error)) &&
	       csm_error_is_transient(error, NULL) && retry_wait(&retry, what, error))
		;
	bson_free(what);
	return ok;
}

/* The name of the index spec at it (an array element), or NULL; *ttl
 * tells whether it has expireAfterSeconds. */
static const char *
spec_name(const bson_iter_t *it, bool *ttl)
{
	bson_iter_t field;
	const char *name = NULL;

	*ttl = false;
	if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &field))
		return NULL;
	while (bson_iter_next(&field)) {
		if (strcmp(bson_iter_key(&field), "expireAfterSeconds") == 0)
			*ttl = true;
		else if (strcmp(bson_iter_key(&field), "name") == 0 && BSON_ITER_HOLDS_UTF8(&field))
			name = bson_iter_utf8(&field, NULL);
	}
	return name;
}

/* True when every deferred spec of one kind (ttl: with expireAfterSeconds)
 * names an index the target collection has now. */
static bool
deferred_on_target(const bson_t *deferred, const bson_t *indexes, bool ttl)
{
	bson_iter_t it, index;
	const char *name, *other;
	bool is_ttl, other_ttl, present;

	if (!bson_iter_init(&it, deferred))
		return false;
	while (bson_iter_next(&it)) {
		if (!(name = spec_name(&it, &is_ttl)))
			return false;
		if (is_ttl != ttl)
			continue;
		present = false;
		if (!bson_iter_init(&index, indexes))
			return false;
		while (!present && bson_iter_next(&index))
			present =
				(other = spec_name(&index, &other_ttl)) && strcmp(other, name) == 0;
		if (!present)
			return false;
	}
	return true;
}

/*
 * A restore replaces the marker whole; uniqueCreatedAt and ttlCreatedAt of
 * the one before stay when the indexes they vouch for are on the target
 * now (documents added to a collection replay had finished), so replay does
 * not wait for a window it already passed. After --drop, or a collection
 * dropped meanwhile, they are gone: replay builds the indexes again.
 */
static bool
restore_keep_created(restore_t *r, restore_marker_t *marker, bson_error_t *error)
{
	restore_marker_t old;
	dump_metadata_t now;
	bool found = false, ok;

	if (!marker_read(r->meta, r->target_ns, &old, &found, error)) {
		csm_error_prefix(error, "cannot read the restore marker of '%s'", r->target_ns);
		return false;
	}
	if (!found)
		return true;
	dump_metadata_init(&now);
	ok = (!old.unique_created_ms && !old.ttl_created_ms) ||
	     dump_native_read_metadata(r->client, r->to_db, r->to_coll, &now, error);
	if (ok && old.unique_created_ms &&
	    deferred_on_target(&marker->deferred_indexes, &now.indexes, false))
		marker->unique_created_ms = old.unique_created_ms;
	if (ok && old.ttl_created_ms &&
	    deferred_on_target(&marker->deferred_indexes, &now.indexes, true))
		marker->ttl_created_ms = old.ttl_created_ms;
	if (ok && (marker->unique_created_ms || marker->ttl_created_ms))
		log_info("'%s' keeps the deferred indexes cdc-replay built before (%s%s): its "
			 "restore marker still says so",
			 r->target_ns, marker->unique_created_ms ? "unique" : "",
			 marker->ttl_created_ms ? (marker->unique_created_ms ? ", TTL" : "TTL")
						: "");
	dump_metadata_cleanup(&now);
	restore_marker_cleanup(&old);
	return ok;
}

/*
 * After the data: the indexes (unique and TTL ones deferred into the marker
 * with --defer-constraints), then the restore marker. *built and
 * *deferred_count count the indexes.
 */
static bool
restore_finish(restore_t *r, int *built, int *deferred_count, bson_error_t *error)
{
	restore_marker_t marker;
	bool ok = false;

	/* The deferred specs go straight into the marker's array. */
	restore_marker_init(&marker);
	if (!lease_hold(r->lease, error) ||
	    !dump_native_create_indexes(r->client, r->to_db, r->to_coll, &r->metadata.indexes,
					r->opts->defer_constraints, &marker.deferred_indexes, built,
					deferred_count, error))
		goto cleanup;
	marker.ns = bson_strdup(r->target_ns);
	marker.source_ns = bson_strdup(r->source_ns);
	marker.completed_at_ms = clock_wall_ms();
	marker.documents = r->stats.documents;
	marker.dump_end = r->dump_end;
	/* A restore that lost its lease writes no marker: it counts as not done. */
	if (!restore_keep_created(r, &marker, error) || !lease_hold(r->lease, error))
		goto cleanup;
	if (!marker_write_retried(r, &marker, error)) {
		csm_error_prefix(error, "restored '%s' but cannot write its restore marker",
				 r->target_ns);
		goto cleanup;
	}
	ok = true;

cleanup:
	restore_marker_cleanup(&marker);
	return ok;
}

bool
dump_run_restore(const dump_run_opts_t *opts, bson_error_t *error)
{
	restore_t r;
	int64_t started_ms = clock_mono_ms();
	int built = 0, deferred_count = 0;
	bool done = false;
	bool ok = false;

	memset(&r, 0, sizeof r);
	r.opts = opts;
	r.to_db = opts->to_db ? opts->to_db : opts->db;
	r.to_coll = opts->to_coll ? opts->to_coll : opts->coll;
	r.source_ns = bson_strdup_printf("%s.%s", opts->db, opts->coll);
	r.target_ns = bson_strdup_printf("%s.%s", r.to_db, r.to_coll);
	dump_metadata_init(&r.metadata);
	if (!names_check_staging(opts->db, opts->coll, opts->to_db, opts->to_coll, opts->staging,
				 error) ||
	    !pick_engine(opts->engine, "mongorestore", &r.tool, error))
		goto cleanup;
	r.pool = conn_pool_new(opts->uri, "target", error);
	if (r.pool == NULL)
		goto cleanup;
	r.client = mongoc_client_pool_pop(r.pool);
	r.meta_name = marker_meta_coll_name(opts->staging);
	r.meta = mongoc_client_get_collection(r.client, opts->db, r.meta_name);
	if (opts->once && !restore_done_before(&r, &done, error))
		goto cleanup;
	if (!done && (!restore_read_dump(&r, error) || !restore_take_lease(&r, &done, error)))
		goto cleanup;
	if (done) {
		ok = true;
		goto cleanup;
	}
	if (opts->drop && (!lease_hold(r.lease, error) ||
			   !dump_native_drop_collection(r.client, r.to_db, r.to_coll, error)))
		goto cleanup;
	if (!(r.tool ? restore_external(&r, error) : restore_native(&r, error)) ||
	    !not_stopped("building the indexes and the restore marker of", r.target_ns, error) ||
	    !restore_check_read(&r, error) || !restore_finish(&r, &built, &deferred_count, error))
		goto cleanup;
	log_info("restored %" PRId64 " documents of '%s' into '%s' in %.1fs (%" PRId64
		 " inserted, %" PRId64 " duplicate keys skipped); %d indexes built, %d deferred",
		 r.stats.documents, r.source_ns, r.target_ns, seconds_since(started_ms),
		 r.stats.inserted, r.stats.duplicates, built, deferred_count);
	ok = true;

cleanup:
	restore_drop_lease(&r);
	mongoc_collection_destroy(r.meta);
	bson_free(r.meta_name);
	if (r.client != NULL)
		mongoc_client_pool_push(r.pool, r.client);
	mongoc_client_pool_destroy(r.pool);
	dump_metadata_cleanup(&r.metadata);
	dump_files_cleanup(&r.files);
	bson_free(r.target_ns);
	bson_free(r.source_ns);
	bson_free(r.tool);
	return ok;
}
