/*
 * The native dump/restore engine (dump_native.h).
 *
 * Restore pipeline: the calling thread reads the dump and cuts it into
 * batches of raw BSON bytes; batch k goes to worker k % jobs, whose queue
 * holds at most DUMP_QUEUE_DEPTH batches, so the reader blocks instead of
 * buffering. Each worker inserts with an unordered bulk write through its
 * own pooled client. A retry after a transient error re-sends the whole
 * batch: documents that did land come back as duplicate keys, which are
 * counted, never fatal, so a retry is always safe.
 */
#include "dump_native.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "catalog.h"
#include "error.h"
#include "first_error.h"
#include "log.h"
#include "retry.h"
#include "server_codes.h"
#include "stop.h"

#define DUMP_QUEUE_DEPTH 2
#define DUMP_INSERT_ATTEMPTS 5

/* ---- metadata ---- */

/*
 * Fills metadata's type, create options and uuid from db.coll's
 * listCollections entry. A view is refused (exit 65).
 */
static bool
metadata_from_info(const bson_t *info, const char *db, const char *coll, dump_metadata_t *metadata,
		   bson_error_t *error)
{
	bson_iter_t iter;
	bson_subtype_t subtype;
	uint32_t len;
	const uint8_t *data;
	bson_t view;

	metadata->collection_name = bson_strdup(coll);
	metadata->type = bson_strdup("collection");
	if (bson_iter_init_find(&iter, info, "type") && BSON_ITER_HOLDS_UTF8(&iter)) {
		const char *type = bson_iter_utf8(&iter, NULL);

		if (strcmp(type, "view") == 0) {
			csm_error_set(error, CSM_EXIT_DATAERR,
				      "'%s.%s' is a view, not a collection: migrate the collection "
				      "it reads from",
				      db, coll);
			return false;
		}
		bson_free(metadata->type);
		metadata->type = bson_strdup(type);
	}
	if (bson_iter_init_find(&iter, info, "options") && BSON_ITER_HOLDS_DOCUMENT(&iter)) {
		bson_iter_document(&iter, &len, &data);
		if (bson_init_static(&view, data, len)) {
			bson_destroy(&metadata->options);
			bson_copy_to(&view, &metadata->options);
		}
	}
	if (bson_iter_init(&iter, info) && bson_iter_find_descendant(&iter, "info.uuid", &iter) &&
	    BSON_ITER_HOLDS_BINARY(&iter)) {
		bson_iter_binary(&iter, &subtype, &len, &data);
		if (len == 16) {
			for (uint32_t k = 0; k < 16; k++)
				snprintf(metadata->uuid + 2 * k, 3, "%02x", data[k]);
		}
	}
	return true;
}

/* Replaces metadata's indexes with db.coll's index specs (listIndexes). */
static bool
read_index_specs(mongoc_client_t *client, const char *db, const char *coll,
		 dump_metadata_t *metadata, bson_error_t *error)
{
	mongoc_collection_t *collection = mongoc_client_get_collection(client, db, coll);
	mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(collection, NULL);
	bson_t indexes = BSON_INITIALIZER;
	const bson_t *spec;
	uint32_t n = 0;
	bool ok = false;

	while (mongoc_cursor_next(cursor, &spec)) {
		char key[16];
		const char *key_str;

		bson_uint32_to_string(n++, &key_str, key, sizeof key);
		BSON_APPEND_DOCUMENT(&indexes, key_str, spec);
	}
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot list indexes of '%s.%s'", db, coll);
	} else {
		bson_destroy(&metadata->indexes);
		bson_copy_to(&indexes, &metadata->indexes);
		ok = true;
	}
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(collection);
	bson_destroy(&indexes);
	return ok;
}

bool
dump_native_read_metadata(mongoc_client_t *client, const char *db, const char *coll,
			  dump_metadata_t *metadata, bson_error_t *error)
{
	bson_t info;
	bool ok;

	dump_metadata_init(metadata);
	ok = catalog_source_collection(client, db, coll, &info, error) &&
	     metadata_from_info(&info, db, coll, metadata, error) &&
	     read_index_specs(client, db, coll, metadata, error);
	if (!ok) {
		dump_metadata_cleanup(metadata);
		dump_metadata_init(metadata);
	}
	bson_destroy(&info);
	return ok;
}

/* ---- restore ---- */

typedef struct batch {
	uint8_t *data; /* concatenated BSON documents */
	size_t len;
	size_t cap;
	int ndocs;
	struct batch *next;
} batch_t;

typedef struct restore_shared {
	mongoc_client_pool_t *pool;
	const char *db;
	const char *coll;
	progress_t *progress;
	lease_t *lease;       /* borrowed, thread-safe (lease_open's); NULL: none */
	pthread_mutex_t lock; /* guards the counts */
	int64_t inserted;
	int64_t duplicates;
	first_error_t failure; /* the worker that failed first */
} restore_shared_t;

typedef struct worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	batch_t *head;
	batch_t *tail;
	int queued;
	bool closed;
	restore_shared_t *shared;
} worker_t;

static void
batch_free(batch_t *batch)
{
	if (batch == NULL)
		return;
	bson_free(batch->data);
	bson_free(batch);
}

static void
batch_append(batch_t *batch, const uint8_t *data, size_t len)
{
	if (batch->len + len > batch->cap) {
		size_t cap = batch->cap ? batch->cap : 256 * 1024;

		while (cap < batch->len + len)
			cap *= 2;
		batch->data = bson_realloc(batch->data, cap);
		batch->cap = cap;
	}
	memcpy(batch->data + batch->len, data, len);
	batch->len += len;
	batch->ndocs++;
}

/* error (in domain) from a server error document {code, errmsg} at doc. */
static void
error_from_doc(const bson_iter_t *doc, uint32_t domain, const char *message, bson_error_t *error)
{
	bson_iter_t field;
	int32_t code = 0;

	if (BSON_ITER_HOLDS_DOCUMENT(doc) && bson_iter_recurse(doc, &field)) {
		while (bson_iter_next(&field)) {
			if (strcmp(bson_iter_key(&field), "code") == 0)
				code = (int32_t)bson_iter_as_int64(&field);
			else if (strcmp(bson_iter_key(&field), "errmsg") == 0 &&
				 BSON_ITER_HOLDS_UTF8(&field))
				message = bson_iter_utf8(&field, NULL);
		}
	}
	bson_set_error(error, domain, (uint32_t)code, "%s", message);
}

/*
 * The first of reply's writeConcernErrors as a server error in error's
 * MONGOC_ERROR_WRITE_CONCERN domain (64 WriteConcernFailed: the documents
 * are on the primary, its secondaries lag); false when there is none.
 */
static bool
write_concern_error(const bson_t *reply, bson_error_t *error)
{
	bson_iter_t iter, errors;

	if (!bson_iter_init_find(&iter, reply, "writeConcernErrors") ||
	    !BSON_ITER_HOLDS_ARRAY(&iter) || !bson_iter_recurse(&iter, &errors) ||
	    !bson_iter_next(&errors))
		return false;
	error_from_doc(&errors, MONGOC_ERROR_WRITE_CONCERN, "write concern error", error);
	return true;
}

/*
 * Sorts a failed bulk reply's write errors into duplicates (counted) and
 * others (fatal: the first fills error). Returns false when the failure was
 * not (only) per-document write errors: a write concern error (error is
 * then the write concern error, transient, so the batch is sent again and
 * what landed comes back as duplicates), or the bulk's own.
 */
static bool
classify_write_errors(const bson_t *reply, int64_t *duplicates, bool *fatal, bson_error_t *error)
{
	bson_iter_t iter, errors;
	bson_error_t concern;
	bool any = false;

	*duplicates = 0;
	*fatal = false;
	if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
	    !bson_iter_recurse(&iter, &errors))
		return false;
	while (bson_iter_next(&errors)) {
		bson_error_t item;

		any = true;
		if (!BSON_ITER_HOLDS_DOCUMENT(&errors))
			continue;
		error_from_doc(&errors, MONGOC_ERROR_SERVER, "", &item);
		if (csm_error_classify(&item, NULL) == CSM_ERRCLASS_DUPLICATE_KEY) {
			*duplicates += 1;
		} else if (!*fatal) {
			*fatal = true;
			memcpy(error, &item, sizeof *error);
		}
	}
	/* A write error that is no duplicate is the cause; else a write
	 * concern error is (libmongoc reports the duplicates then). */
	if (!*fatal && write_concern_error(reply, &concern)) {
		memcpy(error, &concern, sizeof *error);
		return false;
	}
	return any;
}

/*
 * Sends batch once as an unordered bulk insert and counts what landed into
 * shared. True when the batch is done: inserted, or rejected only as
 * duplicate keys. Otherwise false with error (the first non-duplicate write
 * error, or the bulk's own) and *reply holding the server's reply (the
 * caller destroys it either way), so the caller can classify the failure.
 */
static bool
insert_batch_once(mongoc_collection_t *collection, const batch_t *batch, restore_shared_t *shared,
		  bson_t *reply, bson_error_t *error)
{
	bson_t bulk_opts = BSON_INITIALIZER;
	bson_t insert_opts = BSON_INITIALIZER;
	mongoc_bulk_operation_t *bulk;
	size_t offset = 0;
	int64_t duplicates = 0;
	bool fatal = false;
	bool done;

	BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
	/* Dumped documents are what the server already accepted; field names
	 * with dots or dollars are legal there since 5.0. */
	BSON_APPEND_BOOL(&insert_opts, "validate", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(collection, &bulk_opts);
	while (offset < batch->len) {
		uint32_t doc_len;
		bson_t doc;

		memcpy(&doc_len, batch->data + offset, sizeof doc_len);
		doc_len = BSON_UINT32_FROM_LE(doc_len);
		bson_init_static(&doc, batch->data + offset, doc_len);
		mongoc_bulk_operation_insert_with_opts(bulk, &doc, &insert_opts, NULL);
		offset += doc_len;
	}
	done = mongoc_bulk_operation_execute(bulk, reply, error) != 0;
	if (!done && classify_write_errors(reply, &duplicates, &fatal, error) && !fatal)
		done = true;
	if (done) {
		bson_iter_t iter;
		int64_t inserted = 0;

		if (bson_iter_init_find(&iter, reply, "nInserted"))
			inserted = bson_iter_as_int64(&iter);
		pthread_mutex_lock(&shared->lock);
		shared->inserted += inserted;
		shared->duplicates += duplicates;
		pthread_mutex_unlock(&shared->lock);
	}
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&insert_opts);
	bson_destroy(&bulk_opts);
	return done;
}

/*
 * Inserts one batch, retrying a transient failure (lib/retry.h) up to
 * DUMP_INSERT_ATTEMPTS tries in all. False with error otherwise.
 */
static bool
insert_batch(mongoc_collection_t *collection, const batch_t *batch, restore_shared_t *shared,
	     bson_error_t *error)
{
	char *what = NULL;
	retry_t retry;
	bool done;

	retry_init(&retry, DUMP_INSERT_ATTEMPTS - 1);
	for (;;) {
		bson_t reply = BSON_INITIALIZER;
		bool transient;

		/* A lost lease (73) sends nothing more; one not renewed yet waits. */
		if (shared->lease && !lease_hold(shared->lease, error))
			done = false;
		else
			done = insert_batch_once(collection, batch, shared, &reply, error);
		transient = !done && csm_error_is_transient(error, &reply);
		bson_destroy(&reply);
		if (!transient)
			break;
		if (what == NULL)
			what = bson_strdup_printf("inserting a batch into '%s.%s' on the target",
						  shared->db, shared->coll);
		if (!retry_wait(&retry, what, error))
			break;
	}
	bson_free(what);
	return done;
}

static void *
worker_main(void *arg)
{
	worker_t *worker = arg;
	restore_shared_t *shared = worker->shared;
	mongoc_client_t *client = mongoc_client_pool_pop(shared->pool);
	mongoc_collection_t *collection =
		mongoc_client_get_collection(client, shared->db, shared->coll);

	for (;;) {
		batch_t *batch;
		bson_error_t error;

		pthread_mutex_lock(&worker->lock);
		while (worker->head == NULL && !worker->closed)
			pthread_cond_wait(&worker->changed, &worker->lock);
		batch = worker->head;
		if (batch != NULL) {
			worker->head = batch->next;
			if (worker->head == NULL)
				worker->tail = NULL;
			worker->queued--;
			pthread_cond_broadcast(&worker->changed);
		}
		pthread_mutex_unlock(&worker->lock);
		if (batch == NULL)
			break;
		/* After a failure or a stop the rest is drained unsent; a batch
		 * left unsent by a stop fails the restore (no marker). */
		if (!first_error_get(&shared->failure, NULL) && stop_requested()) {
			csm_error_stopped(&error, "stopped by a signal while restoring '%s.%s'",
					  shared->db, shared->coll);
			first_error_set(&shared->failure, &error);
		} else if (!first_error_get(&shared->failure, NULL)) {
			if (insert_batch(collection, batch, shared, &error)) {
				progress_add(shared->progress, batch->ndocs, (int64_t)batch->len);
			} else {
				if (!csm_error_is_stopped(&error))
					csm_error_prefix(&error, "cannot insert into '%s.%s'",
							 shared->db, shared->coll);
				first_error_set(&shared->failure, &error);
			}
		}
		batch_free(batch);
	}
	mongoc_collection_destroy(collection);
	mongoc_client_pool_push(shared->pool, client);
	return NULL;
}

/* Queues batch on worker, waiting while its queue is full. */
static void
worker_push(worker_t *worker, batch_t *batch)
{
	pthread_mutex_lock(&worker->lock);
	while (worker->queued >= DUMP_QUEUE_DEPTH)
		pthread_cond_wait(&worker->changed, &worker->lock);
	batch->next = NULL;
	if (worker->tail != NULL)
		worker->tail->next = batch;
	else
		worker->head = batch;
	worker->tail = batch;
	worker->queued++;
	pthread_cond_broadcast(&worker->changed);
	pthread_mutex_unlock(&worker->lock);
}

static void
worker_close(worker_t *worker)
{
	pthread_mutex_lock(&worker->lock);
	worker->closed = true;
	pthread_cond_broadcast(&worker->changed);
	pthread_mutex_unlock(&worker->lock);
}

/* Starts jobs insert threads on shared. False with error when one fails to
 * start; those started are marked so and must be finished. */
static bool
workers_start(worker_t *workers, int jobs, restore_shared_t *shared, bson_error_t *error)
{
	for (int k = 0; k < jobs; k++) {
		pthread_mutex_init(&workers[k].lock, NULL);
		pthread_cond_init(&workers[k].changed, NULL);
		workers[k].shared = shared;
	}
	for (int k = 0; k < jobs; k++) {
		if (pthread_create(&workers[k].thread, NULL, worker_main, &workers[k]) != 0) {
			csm_error_set(error, CSM_EXIT_SOFTWARE, "cannot start an insert thread: %s",
				      strerror(errno));
			return false;
		}
		workers[k].started = true;
	}
	return true;
}

/*
 * Reads the dump and deals it out in batches, batch k to worker k % jobs,
 * until the end, a read error (false, error filled) or a worker's failure.
 * *documents counts the documents read.
 */
static bool
feed_workers(dump_in_t *in, worker_t *workers, int jobs, restore_shared_t *shared,
	     int64_t *documents, bson_error_t *error)
{
	batch_t *batch = NULL;
	int next_worker = 0;
	bool read_failed = false;

	while (!first_error_get(&shared->failure, NULL)) {
		bool eof = false;
		const bson_t *doc;

		if (stop_requested()) {
			csm_error_stopped(
				error,
				"stopped by a signal while restoring '%s.%s' after %" PRId64
				" documents read",
				shared->db, shared->coll, *documents);
			read_failed = true;
			break;
		}
		doc = dump_in_next(in, &eof, error);
		if (doc == NULL) {
			read_failed = !eof;
			break;
		}
		*documents += 1;
		if (batch != NULL && (batch->ndocs >= DUMP_BATCH_MAX_DOCS ||
				      batch->len + doc->len > DUMP_BATCH_MAX_BYTES)) {
			worker_push(&workers[next_worker], batch);
			next_worker = (next_worker + 1) % jobs;
			batch = NULL;
		}
		if (batch == NULL)
			batch = bson_malloc0(sizeof *batch);
		batch_append(batch, bson_get_data(doc), doc->len);
	}
	if (batch != NULL && !read_failed)
		worker_push(&workers[next_worker], batch);
	else
		batch_free(batch);
	return !read_failed;
}

/* Closes the queues of the started workers and waits for them. */
static void
workers_finish(worker_t *workers, int jobs)
{
	for (int k = 0; k < jobs; k++) {
		if (!workers[k].started)
			continue;
		worker_close(&workers[k]);
		pthread_join(workers[k].thread, NULL);
	}
}

/* Frees what is left in the queues, the locks and workers itself. */
static void
workers_free(worker_t *workers, int jobs)
{
	if (workers == NULL)
		return;
	for (int k = 0; k < jobs; k++) {
		batch_t *left = workers[k].head;

		while (left != NULL) {
			batch_t *next = left->next;

			batch_free(left);
			left = next;
		}
		pthread_cond_destroy(&workers[k].changed);
		pthread_mutex_destroy(&workers[k].lock);
	}
	bson_free(workers);
}

bool
dump_native_restore_data(mongoc_client_pool_t *pool, const char *db, const char *coll,
			 const char *bson_path, bool gzip, int jobs, progress_t *progress,
			 lease_t *lease, dump_restore_stats_t *stats, bson_error_t *error)
{
	restore_shared_t shared;
	worker_t *workers = NULL;
	dump_in_t *in = NULL;
	bool ok = false;

	memset(stats, 0, sizeof *stats);
	memset(&shared, 0, sizeof shared);
	shared.pool = pool;
	shared.db = db;
	shared.coll = coll;
	shared.progress = progress;
	shared.lease = lease;
	pthread_mutex_init(&shared.lock, NULL);
	first_error_init(&shared.failure);
	if (jobs < 1)
		jobs = 1;
	in = dump_in_open(bson_path, gzip, error);
	if (in == NULL)
		goto cleanup;
	workers = bson_malloc0(sizeof *workers * (size_t)jobs);
	/* A read error wins over a worker's: it is the cause of the two. */
	ok = workers_start(workers, jobs, &shared, error) &&
	     feed_workers(in, workers, jobs, &shared, &stats->documents, error);
	workers_finish(workers, jobs);
	stats->inserted = shared.inserted;
	stats->duplicates = shared.duplicates;
	stats->read.documents = stats->documents;
	stats->read.bytes = dump_in_offset(in);
	dump_in_sha256(in, stats->read.sha256);
	if (ok && first_error_get(&shared.failure, error))
		ok = false;
	if (ok) {
		ok = dump_in_close(in, true, error);
		in = NULL;
	}

cleanup:
	if (in != NULL)
		dump_in_close(in, false, NULL);
	workers_free(workers, jobs);
	first_error_destroy(&shared.failure);
	pthread_mutex_destroy(&shared.lock);
	return ok;
}

/* ---- catalog ---- */

bool
dump_native_create_collection(mongoc_client_t *client, const char *db, const char *coll,
			      const bson_t *options, bool *created, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bool exists = false;
	bool ok = false;

	*created = false;
	if (!catalog_collection_info(client, db, coll, &exists, NULL, error))
		goto cleanup;
	if (exists) {
		ok = true;
		goto cleanup;
	}
	BSON_APPEND_UTF8(&cmd, "create", coll);
	if (options != NULL && !bson_empty(options))
		bson_concat(&cmd, options);
	if (!mongoc_client_command_with_opts(client, db, &cmd, NULL, NULL, NULL, error)) {
		/* Created meanwhile: that is what we wanted. */
		if (csm_error_server_code(error, NULL) == SERVER_NAMESPACE_EXISTS) {
			ok = true;
			goto cleanup;
		}
		csm_error_prefix(error, "cannot create '%s.%s'", db, coll);
		goto cleanup;
	}
	*created = true;
	ok = true;

cleanup:
	bson_destroy(&cmd);
	return ok;
}

bool
dump_native_drop_collection(mongoc_client_t *client, const char *db, const char *coll,
			    bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&cmd, "drop", coll);
	ok = mongoc_client_command_with_opts(client, db, &cmd, NULL, NULL, NULL, error);
	/* NamespaceNotFound, or "ns not found" from older servers. */
	if (!ok && (csm_error_server_code(error, NULL) == SERVER_NAMESPACE_NOT_FOUND ||
		    strstr(error->message, "ns not found") != NULL))
		ok = true;
	if (!ok)
		csm_error_prefix(error, "cannot drop '%s.%s'", db, coll);
	bson_destroy(&cmd);
	return ok;
}

bool
dump_index_is_constraint(const bson_t *spec)
{
	bson_iter_t iter;

	if (bson_iter_init_find(&iter, spec, "name") && BSON_ITER_HOLDS_UTF8(&iter) &&
	    strcmp(bson_iter_utf8(&iter, NULL), "_id_") == 0)
		return false;
	if (bson_iter_init_find(&iter, spec, "expireAfterSeconds"))
		return true;
	return bson_iter_init_find(&iter, spec, "unique") && bson_iter_as_bool(&iter);
}

/* Copies spec without the fields createIndexes rejects or ignores ("ns"). */
static void
append_clean_spec(bson_t *array, uint32_t index, const bson_t *spec)
{
	char key[16];
	const char *key_str;
	bson_t clean;
	bson_iter_t iter;

	bson_uint32_to_string(index, &key_str, key, sizeof key);
	BSON_APPEND_DOCUMENT_BEGIN(array, key_str, &clean);
	if (bson_iter_init(&iter, spec)) {
		while (bson_iter_next(&iter)) {
			if (strcmp(bson_iter_key(&iter), "ns") == 0)
				continue;
			bson_append_iter(&clean, NULL, 0, &iter);
		}
	}
	bson_append_document_end(array, &clean);
}

bool
dump_native_create_indexes(mongoc_client_t *client, const char *db, const char *coll,
			   const bson_t *index_specs, bool defer, bson_t *deferred, int *built,
			   int *deferred_count, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bson_t array;
	bson_iter_t iter;
	uint32_t n_build = 0;
	uint32_t n_defer = 0;
	bson_string_t *unique_names = bson_string_new(NULL);
	bool ok = false;

	*built = *deferred_count = 0;
	BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &array);
	if (bson_iter_init(&iter, index_specs)) {
		while (bson_iter_next(&iter)) {
			uint32_t len;
			const uint8_t *data;
			bson_t spec;
			bson_iter_t name_iter;
			const char *name = "?";

			if (!BSON_ITER_HOLDS_DOCUMENT(&iter))
				continue;
			bson_iter_document(&iter, &len, &data);
			if (!bson_init_static(&spec, data, len))
				continue;
			if (bson_iter_init_find(&name_iter, &spec, "name") &&
			    BSON_ITER_HOLDS_UTF8(&name_iter))
				name = bson_iter_utf8(&name_iter, NULL);
			if (strcmp(name, "_id_") == 0)
				continue;
			if (defer && dump_index_is_constraint(&spec)) {
				append_clean_spec(deferred, n_defer++, &spec);
				continue;
			}
			if (dump_index_is_constraint(&spec))
				bson_string_append_printf(unique_names, "%s'%s'",
							  unique_names->len ? ", " : "", name);
			append_clean_spec(&array, n_build++, &spec);
		}
	}
	bson_append_array_end(&cmd, &array);
	*deferred_count = (int)n_defer;
	if (n_build == 0) {
		ok = true;
		goto cleanup;
	}
	if (!mongoc_client_command_with_opts(client, db, &cmd, NULL, NULL, NULL, error)) {
		if (csm_error_classify(error, NULL) == CSM_ERRCLASS_DUPLICATE_KEY) {
			char detail[sizeof error->message];

			bson_strncpy(detail, error->message, sizeof detail);
			csm_error_set(
				error, CSM_EXIT_DATAERR,
				"cannot build the indexes of '%s.%s': the restored data violates a "
				"unique index (%s): %s; restore with --defer-constraints and let "
				"cdc-replay build it after the catch-up",
				db, coll, unique_names->str, detail);
		} else {
			csm_error_prefix(error, "cannot build the indexes of '%s.%s'", db, coll);
		}
		goto cleanup;
	}
	*built = (int)n_build;
	ok = true;

cleanup:
	bson_string_free(unique_names, true);
	bson_destroy(&cmd);
	return ok;
}

/* ---- server facts ---- */

bool
dump_native_cluster_time(mongoc_client_t *client, bool *found, optime_t *cluster_time,
			 bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bson_t reply;
	bson_iter_t iter;
	bool ok;

	*found = false;
	*cluster_time = OPTIME_ZERO;
	BSON_APPEND_INT32(&cmd, "ping", 1);
	ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, error);
	if (ok) {
		if (optime_from_doc(&reply, "operationTime", cluster_time)) {
			*found = true;
		} else if (bson_iter_init(&iter, &reply) &&
			   bson_iter_find_descendant(&iter, "$clusterTime.clusterTime", &iter) &&
			   BSON_ITER_HOLDS_TIMESTAMP(&iter)) {
			bson_iter_timestamp(&iter, &cluster_time->t, &cluster_time->i);
			*found = true;
		}
	} else {
		csm_error_prefix(error, "cannot read the source's cluster time");
	}
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return ok;
}

char *
dump_native_server_version(mongoc_client_t *client)
{
	bson_t cmd = BSON_INITIALIZER;
	bson_t reply;
	bson_iter_t iter;
	char *version = NULL;

	BSON_APPEND_INT32(&cmd, "buildInfo", 1);
	if (mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, NULL) &&
	    bson_iter_init_find(&iter, &reply, "version") && BSON_ITER_HOLDS_UTF8(&iter))
		version = bson_strdup(bson_iter_utf8(&iter, NULL));
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return version;
}
