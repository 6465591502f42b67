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
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "dump_external.h"
#include "dump_format.h"
#include "dump_native.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "marker.h"
#include "progress.h"

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

/* Seconds since started_ms, a clock_mono_ms() reading. */
static double
seconds_since(int64_t started_ms)
{
	return (double)(clock_mono_ms() - started_ms) / 1e3;
}

bool
dump_run_dump(const dump_run_opts_t *opts, bson_error_t *error)
{
	mongoc_client_t *client = NULL;
	dump_metadata_t metadata;
	progress_t *progress = NULL;
	char *tool = NULL, *partial = NULL, *path = NULL, *version = NULL, *db_dir = NULL;
	char *label = NULL, *ns = NULL;
	int64_t started_ms = clock_mono_ms();
	int64_t docs = 0, bytes = 0, total = 0;
	optime_t dump_end = OPTIME_ZERO;
	bool have_end = false;
	bool ok = false;

	dump_metadata_init(&metadata);
	ns = bson_strdup_printf("%s.%s", opts->db, opts->coll);
	if (!pick_engine(opts->engine, "mongodump", &tool, error))
		goto cleanup;
	client = conn_client_new(opts->uri, "source", error);
	if (client == NULL)
		goto cleanup;
	/* Also the existence check: mongodump would dump a missing collection
	 * as an empty one, and restore would then load nothing. */
	dump_metadata_cleanup(&metadata);
	if (!dump_native_read_metadata(client, opts->db, opts->coll, &metadata, error))
		goto cleanup;
	partial = dump_partial_root(opts->root, opts->db, opts->coll);
	db_dir = bson_strdup_printf("%s/%s", partial, opts->db);
	if (!fs_mkdir_p(opts->root, error) || !dump_remove_tree(partial, error) ||
	    !fs_mkdir_p(db_dir, error))
		goto cleanup;
	if (tool == NULL) {
		mongoc_collection_t *collection =
			mongoc_client_get_collection(client, opts->db, opts->coll);

		total = mongoc_collection_estimated_document_count(collection, NULL, NULL, NULL,
								   NULL);
		mongoc_collection_destroy(collection);
		label = bson_strdup_printf("dump '%s'", ns);
		progress = progress_new(label, total > 0 ? total : 0, 0, opts->status_interval_ms);
		path = dump_file_path(partial, opts->db, opts->coll, ".bson", opts->gzip);
		if (!dump_native_dump_data(client, opts->db, opts->coll, path, opts->gzip, progress,
					   &docs, &bytes, error))
			goto cleanup;
		progress_finish(progress);
		bson_free(path);
		path = dump_file_path(partial, opts->db, opts->coll, ".metadata.json", opts->gzip);
		if (!dump_metadata_write(path, opts->gzip, &metadata, error))
			goto cleanup;
		version = dump_native_server_version(client);
		if (!dump_prelude_write(partial, version, error))
			goto cleanup;
	} else {
		if (!dump_external_dump(tool, opts->uri, opts->db, opts->coll, partial, opts->gzip,
					error))
			goto cleanup;
		bson_free(path);
		path = dump_file_path(partial, opts->db, opts->coll, ".metadata.json", opts->gzip);
		if (access(path, F_OK) != 0) {
			csm_error_set(
				error, CSM_EXIT_DATAERR,
				"'%s' exited 0 but wrote no '%s'; check its version and output",
				tool, path);
			goto cleanup;
		}
	}
	/* Any event after this time may be missing from the dump; replay must
	 * reach it before unique indexes are safe to build (SPEC §6). */
	if (!dump_native_cluster_time(client, &have_end, &dump_end, error))
		goto cleanup;
	if (have_end) {
		bson_free(path);
		path = dump_file_path(partial, opts->db, opts->coll, ".dump-end.json", false);
		if (!dump_end_write(path, ns, dump_end, tool ? "external" : "native", error))
			goto cleanup;
	} else {
		log_warn("the source reports no cluster time (a standalone server?): the dump of "
			 "'%s' has no dump-end time",
			 ns);
	}
	if (!dump_publish(partial, opts->root, opts->db, opts->coll, opts->gzip, error))
		goto cleanup;
	if (tool == NULL)
		log_info("dumped %" PRId64 " documents (%.1f MB) of '%s' to '%s/%s' in %.1fs; "
			 "dump-end time %u.%u",
			 docs, (double)bytes / 1e6, ns, opts->root, opts->db,
			 seconds_since(started_ms), dump_end.t, dump_end.i);
	else
		log_info("dumped '%s' with %s to '%s/%s' in %.1fs; dump-end time %u.%u", ns, tool,
			 opts->root, opts->db, seconds_since(started_ms), dump_end.t, dump_end.i);
	ok = true;

cleanup:
	if (!ok && partial != NULL)
		dump_remove_tree(partial, NULL);
	progress_destroy(progress);
	mongoc_client_destroy(client);
	dump_metadata_cleanup(&metadata);
	bson_free(ns);
	bson_free(label);
	bson_free(db_dir);
	bson_free(version);
	bson_free(path);
	bson_free(partial);
	bson_free(tool);
	return ok;
}

/* "2026-11-25T18:00:00Z" for ms since the epoch. */
static void
format_time(int64_t ms, char *buf, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
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

bool
dump_run_restore(const dump_run_opts_t *opts, bson_error_t *error)
{
	const char *to_db = opts->to_db ? opts->to_db : opts->db;
	const char *to_coll = opts->to_coll ? opts->to_coll : opts->coll;
	mongoc_client_pool_t *pool = NULL;
	mongoc_client_t *client = NULL;
	mongoc_collection_t *meta = NULL;
	char *meta_name = NULL;
	dump_files_t files;
	dump_metadata_t metadata;
	restore_marker_t marker;
	dump_restore_stats_t stats;
	progress_t *progress = NULL;
	char *tool = NULL, *label = NULL, *source_ns = NULL, *target_ns = NULL;
	int64_t started_ms = clock_mono_ms();
	bson_t deferred;
	optime_t dump_end = OPTIME_ZERO;
	bool have_end = false, found = false, created = false;
	int built = 0, deferred_count = 0;
	bool ok = false;

	memset(&files, 0, sizeof files);
	memset(&stats, 0, sizeof stats);
	dump_metadata_init(&metadata);
	restore_marker_init(&marker);
	source_ns = bson_strdup_printf("%s.%s", opts->db, opts->coll);
	target_ns = bson_strdup_printf("%s.%s", to_db, to_coll);
	if (!pick_engine(opts->engine, "mongorestore", &tool, error))
		goto cleanup;
	pool = conn_pool_new(opts->uri, "target", error);
	if (pool == NULL)
		goto cleanup;
	client = mongoc_client_pool_pop(pool);
	meta_name = marker_meta_coll_name(opts->staging);
	meta = mongoc_client_get_collection(client, opts->db, meta_name);
	if (opts->once) {
		restore_marker_t existing;

		if (!marker_read(meta, target_ns, &existing, &found, error)) {
			csm_error_prefix(error, "cannot read the restore marker of '%s'",
					 target_ns);
			goto cleanup;
		}
		if (found) {
			char when[32];

			format_time(existing.completed_at_ms, when, sizeof when);
			log_info("restore of '%s' already completed at %s; skipping", target_ns,
				 when);
			restore_marker_cleanup(&existing);
			ok = true;
			goto cleanup;
		}
	}
	if (!dump_locate(opts->root, opts->db, opts->coll, opts->gzip, &files, error))
		goto cleanup;
	dump_metadata_cleanup(&metadata);
	if (!dump_metadata_read(files.metadata, files.gzip, &metadata, error))
		goto cleanup;
	if (!dump_end_read(files.dump_end, &have_end, &dump_end, error))
		goto cleanup;
	if (opts->defer_constraints && !have_end)
		log_warn(
			"the dump of '%s' has no dump-end time: cdc-replay will build the deferred "
			"indexes only when it drains",
			source_ns);
	if (opts->drop && !dump_native_drop_collection(client, to_db, to_coll, error))
		goto cleanup;
	if (tool == NULL) {
		struct stat st;
		int64_t total_bytes = 0;

		if (!dump_native_create_collection(client, to_db, to_coll, &metadata.options,
						   &created, error))
			goto cleanup;
		if (!created)
			log_info("'%s' exists: documents are added to it (duplicates are counted "
				 "and skipped)",
				 target_ns);
		if (!files.gzip && stat(files.bson, &st) == 0)
			total_bytes = (int64_t)st.st_size;
		label = bson_strdup_printf("restore '%s'", target_ns);
		progress = progress_new(label, 0, total_bytes, opts->status_interval_ms);
		if (!dump_native_restore_data(pool, to_db, to_coll, files.bson, files.gzip,
					      opts->jobs, progress, &stats, error))
			goto cleanup;
		progress_finish(progress);
	} else {
		if (!dump_external_restore(tool, opts->uri, opts->db, opts->coll, to_db, to_coll,
					   opts->root, files.gzip, opts->jobs, error))
			goto cleanup;
		stats.documents = stats.inserted = count_documents(client, to_db, to_coll);
	}
	bson_init(&deferred);
	if (!dump_native_create_indexes(client, to_db, to_coll, &metadata.indexes,
					opts->defer_constraints, &deferred, &built, &deferred_count,
					error)) {
		bson_destroy(&deferred);
		goto cleanup;
	}
	bson_destroy(&marker.deferred_indexes);
	bson_copy_to(&deferred, &marker.deferred_indexes);
	bson_destroy(&deferred);
	marker.ns = bson_strdup(target_ns);
	marker.source_ns = bson_strdup(source_ns);
	marker.completed_at_ms = clock_wall_ms();
	marker.documents = stats.documents;
	marker.dump_end = dump_end;
	if (!marker_write(meta, &marker, error)) {
		csm_error_prefix(error, "restored '%s' but cannot write its restore marker",
				 target_ns);
		goto cleanup;
	}
	log_info("restored %" PRId64 " documents of '%s' into '%s' in %.1fs (%" PRId64
		 " inserted, %" PRId64 " duplicate keys skipped); %d indexes built, %d deferred",
		 stats.documents, source_ns, target_ns, seconds_since(started_ms), stats.inserted,
		 stats.duplicates, built, deferred_count);
	ok = true;

cleanup:
	progress_destroy(progress);
	mongoc_collection_destroy(meta);
	bson_free(meta_name);
	if (client != NULL)
		mongoc_client_pool_push(pool, client);
	mongoc_client_pool_destroy(pool);
	restore_marker_cleanup(&marker);
	dump_metadata_cleanup(&metadata);
	dump_files_cleanup(&files);
	bson_free(label);
	bson_free(target_ns);
	bson_free(source_ns);
	bson_free(tool);
	return ok;
}
