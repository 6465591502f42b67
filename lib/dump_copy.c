/*
 * The native dump's partitioned, resumable copy (dump_copy.h).
 *
 * Why min/max on the _id index and not {_id: {$gt: last}}: a comparison
 * filter matches values of its own type bracket only (MongoDB's
 * "Comparison/Sort Order"), so after a last _id of 7 it would skip every
 * string, ObjectId or date _id. An index range crosses brackets in the
 * index's own order, which is the order the copy wrote.
 */
#include "dump_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bsoncmp.h"
#include "clock.h"
#include "error.h"
#include "first_error.h"
#include "fsutil.h"
#include "stop.h"

#define DUMP_PROGRESS_EVERY 512
#define DUMP_PART_BUFFER (256 * 1024)
/*
 * What the getMores of all partitions should bring at once, in bytes, and
 * the least one cursor asks for. Without a batchSize the server fills a
 * reply up to 16 MiB, and libmongoc holds about five times a reply per
 * cursor (its read buffer, grown by doubling, and a copy): 60 MiB for one
 * cursor, 170 MiB for four. Batches sized to these, from the average size
 * of the documents read so far, keep the bytes in flight per round trip
 * the same whatever --jobs is.
 */
#define DUMP_BATCH_BYTES (4 * 1024 * 1024)
#define DUMP_BATCH_BYTES_MIN (1024 * 1024)

/* ---- split ---- */

/* Appends {sort, hint} on {_id: 1} to opts. */
static void
append_id_order(bson_t *opts)
{
	bson_t by_id;

	BSON_APPEND_DOCUMENT_BEGIN(opts, "sort", &by_id);
	BSON_APPEND_INT32(&by_id, "_id", 1);
	bson_append_document_end(opts, &by_id);
	BSON_APPEND_DOCUMENT_BEGIN(opts, "hint", &by_id);
	BSON_APPEND_INT32(&by_id, "_id", 1);
	bson_append_document_end(opts, &by_id);
}

/* {_id: v} of the document at position skip of the _id index into bound
 * (initialized by the caller); *found false past the end. */
static bool
id_at(mongoc_collection_t *collection, int64_t skip, bson_t *bound, bool *found,
      bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, projection;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bson_iter_t it;
	bool ok;

	append_id_order(&opts);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &projection);
	BSON_APPEND_INT32(&projection, "_id", 1);
	bson_append_document_end(&opts, &projection);
	BSON_APPEND_INT64(&opts, "skip", skip);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cursor = mongoc_collection_find_with_opts(collection, &filter, &opts, NULL);
	*found = mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "_id");
	if (*found)
		bson_append_iter(bound, "_id", 3, &it);
	ok = !mongoc_cursor_error(cursor, error);
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

bool
dump_copy_split(mongoc_client_t *client, const char *db, const char *coll, int jobs,
		dump_plan_t *plan, bson_error_t *error)
{
	mongoc_collection_t *collection = mongoc_client_get_collection(client, db, coll);
	int64_t count = jobs > 1 ? mongoc_collection_estimated_document_count(collection, NULL,
									      NULL, NULL, error)
				 : 0;
	int parts = count < jobs ? (int)(count > 0 ? count : 1) : jobs;
	bool ok = count >= 0;

	if (!ok)
		csm_error_prefix(error, "cannot count '%s.%s' to split it into partitions", db,
				 coll);
	dump_plan_add_part(plan, NULL);
	for (int k = 1; ok && k < parts; k++) {
		const bson_t *prev = &plan->parts[plan->nparts - 1].lower;
		bson_t bound = BSON_INITIALIZER;
		bson_iter_t a, b;
		bool found = false;

		ok = id_at(collection, count * k / parts, &bound, &found, error);
		if (!ok)
			csm_error_prefix(error, "cannot split '%s.%s' into partitions", db, coll);
		/* Bounds must rise: an estimate larger than the truth ends early. */
		if (ok && found &&
		    (bson_empty(prev) ||
		     (bson_iter_init_find(&a, &bound, "_id") &&
		      bson_iter_init_find(&b, prev, "_id") &&
		      bsoncmp_value(bson_iter_value(&a), bson_iter_value(&b)) > 0)))
			dump_plan_add_part(plan, &bound);
		bson_destroy(&bound);
	}
	mongoc_collection_destroy(collection);
	return ok;
}

/* ---- one partition ---- */

typedef struct copy_shared {
	mongoc_client_pool_t *pool;
	const char *db;
	const char *coll;
	const char *partial;
	dump_plan_t *plan;
	progress_t *progress;
	first_error_t failure; /* the partition that failed first */
} copy_shared_t;

/*
 * Makes a partition's checkpoints durable beside its copy: the reader
 * hands a snapshot of its state over and reads on while the file is
 * fsync'd and the checkpoint written, so the copy waits for the disk only
 * at its end (the fsync covers at least the snapshot's bytes, written
 * before the hand-over).
 */
typedef struct syncer {
	pthread_t thread;
	bool inited; /* the lock, condition and snapshot */
	bool started;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t changed;
	bool busy; /* a snapshot is being made durable */
	bool closing;
	bool failed;
	bson_error_t error;
	dump_part_t snapshot; /* last_id and the counts only */
} syncer_t;

/*
 * Digests the one data file by reading it back behind the writer, on a
 * thread of its own: the reading thread never waits for SHA-256, and a
 * continued copy digests the part it keeps while it copies the rest.
 */
typedef struct chaser {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t changed;
	int64_t written; /* bytes the writer has flushed to the file */
	bool finished;   /* the writer is done: digest up to written, stop */
	bool failed;
	digest_t *digest;
	char sha256[DIGEST_HEX_LEN];
} chaser_t;

/* A partition's file being appended to. */
typedef struct part_file {
	FILE *fp;
	int fd;
	int k;
	const char *ns;
	char *path;
	char *checkpoint_path;
	int64_t checkpoint_ms; /* clock_mono_ms() of the last checkpoint */
	syncer_t syncer;
	chaser_t chaser; /* started for a plan of one partition */
} part_file_t;

/* Tells the chaser that the file holds bytes (or, finished, all it will). */
static void
chaser_advance(part_file_t *file, int64_t bytes, bool finished)
{
	chaser_t *c = &file->chaser;

	if (!c->started)
		return;
	pthread_mutex_lock(&c->lock);
	c->written = bytes;
	c->finished = finished;
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
}

/* Writes what the file's buffer holds: bytes in all. */
static bool
flushed(part_file_t *file, int64_t bytes, bson_error_t *error)
{
	if (fflush(file->fp) == 0) {
		chaser_advance(file, bytes, false);
		return true;
	}
	csm_error_set(error, CSM_EXIT_IOERR, "cannot write '%s': %s", file->path, strerror(errno));
	return false;
}

/* fsyncs the file, then writes part as its checkpoint. */
static bool
make_durable(const part_file_t *file, const dump_part_t *part, bson_error_t *error)
{
	if (fsync(file->fd) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot write '%s': %s", file->path,
			      strerror(errno));
		return false;
	}
	return dump_part_checkpoint_write(file->checkpoint_path, file->ns, file->k, part, error);
}

static void *
syncer_main(void *arg)
{
	part_file_t *file = arg;
	syncer_t *s = &file->syncer;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		bson_error_t error;
		bool ok;

		while (!s->busy && !s->closing)
			pthread_cond_wait(&s->changed, &s->lock);
		if (!s->busy)
			break;
		/* The reader leaves the snapshot alone while busy. */
		pthread_mutex_unlock(&s->lock);
		ok = make_durable(file, &s->snapshot, &error);
		pthread_mutex_lock(&s->lock);
		s->busy = false;
		if (!ok && !s->failed) {
			s->failed = true;
			memcpy(&s->error, &error, sizeof error);
		}
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Starts file's syncer; without one, checkpoints are made in line. */
static void
syncer_start(part_file_t *file)
{
	syncer_t *s = &file->syncer;

	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	bson_init(&s->snapshot.last_id);
	s->inited = true;
	s->started = pthread_create(&s->thread, NULL, syncer_main, file) == 0;
}

/* Waits for the snapshot being made durable, and ends the syncer. */
static void
syncer_stop(part_file_t *file)
{
	syncer_t *s = &file->syncer;

	if (!s->started)
		return;
	pthread_mutex_lock(&s->lock);
	s->closing = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->started = false;
}

/* Fails (65) naming the file and its checkpoint, with what is wrong. */
static bool
mismatch(const part_file_t *file, const char *what, bson_error_t *error)
{
	csm_error_set(error, CSM_EXIT_DATAERR,
		      "the unfinished dump's file '%s' does not match its checkpoint '%s' (%s); "
		      "nothing was published: remove the .partial directory to dump from the "
		      "start",
		      file->path, file->checkpoint_path, what);
	return false;
}

/* The checkpoint's last document is at last_offset, ends at bytes and has
 * its last _id. */
static bool
check_last_doc(const part_file_t *file, const dump_part_t *part, bson_error_t *error)
{
	int64_t len = part->bytes - part->last_offset;
	uint8_t *data;
	uint32_t doc_len;
	bson_t doc, id = BSON_INITIALIZER;
	bson_iter_t it;
	bool ok;

	if (part->documents == 0)
		return part->bytes == 0 || mismatch(file, "bytes but no documents", error);
	if (len < 5 || len > 48 * 1024 * 1024)
		return mismatch(file, "the last document's length", error);
	data = bson_malloc((size_t)len);
	ok = pread(file->fd, data, (size_t)len, (off_t)part->last_offset) == (ssize_t)len;
	memcpy(&doc_len, data, sizeof doc_len);
	ok = ok && BSON_UINT32_FROM_LE(doc_len) == (uint32_t)len &&
	     bson_init_static(&doc, data, (size_t)len) && bson_iter_init_find(&it, &doc, "_id") &&
	     bson_append_iter(&id, "_id", 3, &it) && bson_equal(&id, &part->last_id);
	bson_destroy(&id);
	bson_free(data);
	return ok || mismatch(file, "its last document is not the one it names", error);
}

/* Reads file->fd from its start up to what the writer flushed, into the
 * digest, until the writer has finished. */
static void *
chaser_main(void *arg)
{
	part_file_t *file = arg;
	chaser_t *c = &file->chaser;
	uint8_t *buf = bson_malloc(DUMP_PART_BUFFER);
	int64_t at = 0;

	pthread_mutex_lock(&c->lock);
	while (!c->failed && (at < c->written || !c->finished)) {
		int64_t until;

		while (at == c->written && !c->finished)
			pthread_cond_wait(&c->changed, &c->lock);
		until = c->written;
		pthread_mutex_unlock(&c->lock);
		while (at < until) {
			size_t want = (size_t)(until - at < DUMP_PART_BUFFER ? until - at
									     : DUMP_PART_BUFFER);
			ssize_t got = pread(file->fd, buf, want, (off_t)at);

			if (got <= 0)
				break;
			digest_update(c->digest, buf, (size_t)got);
			at += got;
		}
		pthread_mutex_lock(&c->lock);
		c->failed = at < until;
	}
	if (!c->failed)
		digest_final_hex(c->digest, c->sha256);
	pthread_mutex_unlock(&c->lock);
	bson_free(buf);
	return NULL;
}

/* Starts digesting the file's first bytes (what a continued copy keeps);
 * without a chaser the data file is read once when joined. */
static void
chaser_start(part_file_t *file, int64_t bytes)
{
	chaser_t *c = &file->chaser;

	if ((c->digest = digest_new()) == NULL)
		return;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->changed, NULL);
	c->written = bytes;
	c->started = pthread_create(&c->thread, NULL, chaser_main, file) == 0;
	if (!c->started) {
		pthread_cond_destroy(&c->changed);
		pthread_mutex_destroy(&c->lock);
	}
}

/* Waits for the chaser to digest the file's bytes; its SHA-256 into sha256
 * (64 hex digits), or "" when it has none. */
static void
chaser_finish(part_file_t *file, int64_t bytes, char sha256[DIGEST_HEX_LEN])
{
	chaser_t *c = &file->chaser;

	sha256[0] = '\0';
	if (c->started) {
		chaser_advance(file, bytes, true);
		pthread_join(c->thread, NULL);
		c->started = false;
		if (!c->failed)
			bson_strncpy(sha256, c->sha256, DIGEST_HEX_LEN);
		pthread_cond_destroy(&c->changed);
		pthread_mutex_destroy(&c->lock);
	}
	digest_destroy(c->digest);
	c->digest = NULL;
}

/*
 * Opens partition k's file for appending at its checkpoint: cut back to
 * the checkpoint's bytes (what came after was never made durable).
 */
static bool
part_open(copy_shared_t *shared, int k, part_file_t *file, bson_error_t *error)
{
	const dump_part_t *part = &shared->plan->parts[k];
	struct stat st;

	file->k = k;
	file->ns = shared->plan->ns;
	file->path = dump_plan_path(shared->partial, shared->db, shared->coll, k, ".bson");
	file->checkpoint_path =
		dump_plan_path(shared->partial, shared->db, shared->coll, k, ".checkpoint.json");
	file->checkpoint_ms = clock_mono_ms();
	file->fd = open(file->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (file->fd < 0 || fstat(file->fd, &st) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot open '%s': %s", file->path,
			      strerror(errno));
		return false;
	}
	if ((int64_t)st.st_size < part->bytes) {
		char what[96];

		snprintf(what, sizeof what, "it holds %lld bytes, the checkpoint counts %lld",
			 (long long)st.st_size, (long long)part->bytes);
		return mismatch(file, what, error);
	}
	if (!check_last_doc(file, part, error))
		return false;
	if (ftruncate(file->fd, (off_t)part->bytes) != 0 ||
	    lseek(file->fd, (off_t)part->bytes, SEEK_SET) < 0 ||
	    (file->fp = fdopen(dup(file->fd), "w")) == NULL) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot resume writing '%s': %s", file->path,
			      strerror(errno));
		return false;
	}
	setvbuf(file->fp, NULL, _IOFBF, DUMP_PART_BUFFER);
	/* The one data file: digested as it is written, it need not be read
	 * again to be joined. */
	if (shared->plan->nparts == 1 && !part->done)
		chaser_start(file, part->bytes);
	syncer_start(file);
	return true;
}

static void
part_close(part_file_t *file)
{
	char unused[DIGEST_HEX_LEN];

	/* Before the descriptor it reads goes. */
	chaser_finish(file, 0, unused);
	syncer_stop(file);
	if (file->syncer.inited) {
		bson_destroy(&file->syncer.snapshot.last_id);
		pthread_cond_destroy(&file->syncer.changed);
		pthread_mutex_destroy(&file->syncer.lock);
	}
	if (file->fp != NULL)
		fclose(file->fp);
	if (file->fd >= 0)
		close(file->fd);
	bson_free(file->path);
	bson_free(file->checkpoint_path);
}

/* Makes what was written durable, then says so in the checkpoint: in line
 * (the partition's end, a stop, a failure), or handed to the syncer, which
 * is skipped while the one before is not done yet. */
static bool
part_checkpoint(copy_shared_t *shared, int k, part_file_t *file, bool in_line, bson_error_t *error)
{
	syncer_t *s = &file->syncer;
	bool ok = true;

	if (in_line || !s->started) {
		syncer_stop(file);
		file->checkpoint_ms = clock_mono_ms();
		return flushed(file, shared->plan->parts[k].bytes, error) &&
		       make_durable(file, &shared->plan->parts[k], error);
	}
	pthread_mutex_lock(&s->lock);
	if (s->failed) {
		memcpy(error, &s->error, sizeof *error);
		ok = false;
	} else if (!s->busy && !(ok = flushed(file, shared->plan->parts[k].bytes, error))) {
		/* error says why */
	} else if (!s->busy) {
		const dump_part_t *part = &shared->plan->parts[k];

		s->snapshot.bytes = part->bytes;
		s->snapshot.documents = part->documents;
		s->snapshot.last_offset = part->last_offset;
		bson_reinit(&s->snapshot.last_id);
		bson_concat(&s->snapshot.last_id, &part->last_id);
		s->busy = true;
		file->checkpoint_ms = clock_mono_ms();
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* find's options for the rest of part: min at its last _id (or its lower
 * bound), max at its upper bound. */
static void
part_find_opts(const dump_part_t *part, bson_t *opts)
{
	append_id_order(opts);
	if (!bson_empty(&part->last_id))
		BSON_APPEND_DOCUMENT(opts, "min", &part->last_id);
	else if (!bson_empty(&part->lower))
		BSON_APPEND_DOCUMENT(opts, "min", &part->lower);
	if (!bson_empty(&part->upper))
		BSON_APPEND_DOCUMENT(opts, "max", &part->upper);
}

/* Appends doc to the partition and moves its checkpoint state on. */
static bool
part_append(part_file_t *file, dump_part_t *part, const bson_t *doc, bson_error_t *error)
{
	bson_iter_t it;

	if (fwrite(bson_get_data(doc), 1, doc->len, file->fp) != doc->len) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot write '%s': %s", file->path,
			      strerror(errno));
		return false;
	}
	part->last_offset = part->bytes;
	part->bytes += doc->len;
	part->documents++;
	bson_reinit(&part->last_id);
	if (bson_iter_init_find(&it, doc, "_id"))
		bson_append_iter(&part->last_id, "_id", 3, &it);
	return true;
}

/* The first document of a resumed read is the checkpoint's last one
 * (min is inclusive): already written. */
static bool
already_written(const dump_part_t *part, const bson_t *doc)
{
	bson_iter_t a, b;

	return !bson_empty(&part->last_id) && bson_iter_init_find(&a, doc, "_id") &&
	       bson_iter_init_find(&b, &part->last_id, "_id") &&
	       bsoncmp_value(bson_iter_value(&a), bson_iter_value(&b)) == 0;
}

/* The next getMores' batchSize: a partition's share of DUMP_BATCH_BYTES
 * in documents of the average size read so far. */
static void
size_batches(mongoc_cursor_t *cursor, int parts, int64_t docs, int64_t bytes)
{
	int64_t share = DUMP_BATCH_BYTES / parts;
	int64_t n;

	if (share < DUMP_BATCH_BYTES_MIN)
		share = DUMP_BATCH_BYTES_MIN;
	n = bytes > 0 ? share * docs / bytes : 1;

	mongoc_cursor_set_batch_size(cursor, (uint32_t)(n < 1 ? 1 : n > 100000 ? 100000 : n));
}

/* Reads partition k's rest from cursor into file; false with error on a
 * stop, a failure elsewhere, a write or a cursor error. */
static bool
part_read(copy_shared_t *shared, int k, mongoc_cursor_t *cursor, part_file_t *file,
	  bson_error_t *error)
{
	dump_part_t *part = &shared->plan->parts[k];
	int64_t pending_docs = 0, pending_bytes = 0, seen_docs = 0, seen_bytes = 0;
	bool first = true;
	const bson_t *doc;

	while (mongoc_cursor_next(cursor, &doc)) {
		if (seen_docs++ % DUMP_PROGRESS_EVERY == 0)
			size_batches(cursor, shared->plan->nparts, seen_docs,
				     seen_bytes + doc->len);
		seen_bytes += doc->len;
		if (stop_requested() || first_error_get(&shared->failure, NULL)) {
			csm_error_stopped(error,
					  "stopped by a signal while dumping '%s' after %" PRId64
					  " documents (partition %d)",
					  shared->plan->ns, part->documents, k);
			return false;
		}
		if (first && already_written(part, doc)) {
			first = false;
			continue;
		}
		first = false;
		if (!part_append(file, part, doc, error))
			return false;
		pending_docs++;
		pending_bytes += doc->len;
		if (pending_docs == DUMP_PROGRESS_EVERY) {
			progress_add(shared->progress, pending_docs, pending_bytes);
			pending_docs = pending_bytes = 0;
		}
		if (clock_mono_ms() - file->checkpoint_ms >= DUMP_CHECKPOINT_MS &&
		    !part_checkpoint(shared, k, file, false, error))
			return false;
	}
	progress_add(shared->progress, pending_docs, pending_bytes);
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error,
				 "cannot read '%s' (partition %d) after %" PRId64 " documents",
				 shared->plan->ns, k, part->documents);
		return false;
	}
	return true;
}

/* Copies the rest of partition k; the end is checkpointed as done. */
static bool
part_copy(copy_shared_t *shared, int k, bson_error_t *error)
{
	dump_part_t *part = &shared->plan->parts[k];
	part_file_t file = {.fd = -1};
	mongoc_client_t *client = mongoc_client_pool_pop(shared->pool);
	mongoc_collection_t *collection =
		mongoc_client_get_collection(client, shared->db, shared->coll);
	mongoc_cursor_t *cursor = NULL;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bool ok = false;

	if (!part_open(shared, k, &file, error))
		goto cleanup;
	part_find_opts(part, &opts);
	cursor = mongoc_collection_find_with_opts(collection, &filter, &opts, NULL);
	if (!part_read(shared, k, cursor, &file, error)) {
		/* Keep what was written for the next run (a write error may
		 * well fail this too: the last checkpoint stands then). */
		part_checkpoint(shared, k, &file, true, NULL);
		goto cleanup;
	}
	part->done = true;
	ok = part_checkpoint(shared, k, &file, true, error);
	if (ok)
		chaser_finish(&file, part->bytes, part->sha256);

cleanup:
	part_close(&file);
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	mongoc_collection_destroy(collection);
	mongoc_client_pool_push(shared->pool, client);
	return ok;
}

typedef struct part_job {
	copy_shared_t *shared;
	int k;
	pthread_t thread;
	bool started;
} part_job_t;

static void *
part_main(void *arg)
{
	part_job_t *job = arg;
	bson_error_t error;

	if (!part_copy(job->shared, job->k, &error))
		first_error_set(&job->shared->failure, &error);
	return NULL;
}

bool
dump_copy_run(mongoc_client_pool_t *pool, const char *db, const char *coll, const char *partial,
	      dump_plan_t *plan, progress_t *progress, bson_error_t *error)
{
	copy_shared_t shared = {.pool = pool, .db = db, .coll = coll, .partial = partial};
	part_job_t jobs[DUMP_PLAN_MAX_PARTS];
	bool ok = true;

	shared.plan = plan;
	shared.progress = progress;
	first_error_init(&shared.failure);
	memset(jobs, 0, sizeof jobs);
	for (int k = 0; k < plan->nparts; k++) {
		if (plan->parts[k].done)
			continue;
		jobs[k].shared = &shared;
		jobs[k].k = k;
		if (pthread_create(&jobs[k].thread, NULL, part_main, &jobs[k]) != 0) {
			csm_error_set(error, CSM_EXIT_SOFTWARE, "cannot start a dump thread: %s",
				      strerror(errno));
			first_error_set(&shared.failure, error);
			break;
		}
		jobs[k].started = true;
	}
	for (int k = 0; k < plan->nparts; k++)
		if (jobs[k].started)
			pthread_join(jobs[k].thread, NULL);
	if (first_error_get(&shared.failure, error))
		ok = false;
	first_error_destroy(&shared.failure);
	return ok;
}

/* ---- assemble ---- */

/* Fails (65) unless partition k's file held what its checkpoint says. */
static bool
part_holds(const char *path, const dump_part_t *part, int64_t documents, int64_t bytes,
	   bson_error_t *error)
{
	if (part->done && documents == part->documents && bytes == part->bytes)
		return true;
	csm_error_set(error, CSM_EXIT_DATAERR,
		      "the unfinished dump's file '%s' holds %" PRId64 " documents (%" PRId64
		      " bytes), its checkpoint says %" PRId64 " (%" PRId64 " bytes)%s; nothing "
		      "was published: remove the .partial directory to dump from the start",
		      path, documents, bytes, part->documents, part->bytes,
		      part->done ? "" : " and it is not done");
	return false;
}

/* Copies partition file path's documents to out, checked against part. */
static bool
append_part(dump_out_t *out, const char *path, const dump_part_t *part, bson_error_t *error)
{
	dump_in_t *in = dump_in_open(path, false, error);
	int64_t documents = 0;
	const bson_t *doc;
	bool eof = false;
	bool ok = true;

	if (in == NULL)
		return false;
	while (ok && (doc = dump_in_next(in, &eof, error)) != NULL) {
		documents++;
		ok = dump_out_write(out, bson_get_data(doc), doc->len, error);
	}
	ok = ok && eof && part_holds(path, part, documents, dump_in_offset(in), error);
	dump_in_close(in, false, NULL);
	return ok;
}

/* The partition file's record: from what this run wrote when it wrote it
 * whole (its size checked), else from reading it once. */
static bool
single_record(const char *part_path, const dump_part_t *part, dump_record_t *record,
	      bson_error_t *error)
{
	struct stat st;

	if (part->sha256[0] == '\0')
		return dump_record_scan(part_path, false, record, error);
	if (stat(part_path, &st) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot read '%s': %s", part_path,
			      strerror(errno));
		return false;
	}
	record->documents = part->documents;
	record->bytes = (int64_t)st.st_size;
	bson_strncpy(record->sha256, part->sha256, sizeof record->sha256);
	return true;
}

/* One partition, no gzip: the file itself becomes the data file. */
static bool
link_single(const char *part_path, const char *bson_path, const dump_part_t *part,
	    dump_record_t *record, bson_error_t *error)
{
	char *dir;
	bool ok;

	if (!single_record(part_path, part, record, error) ||
	    !part_holds(part_path, part, record->documents, record->bytes, error))
		return false;
	/* A link, not a rename: a crash before publishing leaves the
	 * partition whole for the next run, which links again. */
	if ((unlink(bson_path) != 0 && errno != ENOENT) || link(part_path, bson_path) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot link '%s' to '%s': %s", part_path,
			      bson_path, strerror(errno));
		return false;
	}
	dir = bson_strdup(bson_path);
	*strrchr(dir, '/') = '\0';
	ok = fs_fsync_dir(dir, error);
	bson_free(dir);
	return ok;
}

bool
dump_copy_assemble(const char *partial, const char *db, const char *coll, const dump_plan_t *plan,
		   bool gzip, dump_record_t *record, bson_error_t *error)
{
	char *bson_path = dump_file_path(partial, db, coll, ".bson", gzip);
	char *part_path = NULL;
	dump_out_t *out = NULL;
	bool ok = false;

	memset(record, 0, sizeof *record);
	if (plan->nparts == 1 && !gzip) {
		part_path = dump_plan_path(partial, db, coll, 0, ".bson");
		ok = link_single(part_path, bson_path, &plan->parts[0], record, error);
		goto cleanup;
	}
	if ((out = dump_out_open(bson_path, gzip, error)) == NULL)
		goto cleanup;
	for (int k = 0; k < plan->nparts; k++) {
		bson_free(part_path);
		part_path = dump_plan_path(partial, db, coll, k, ".bson");
		if (!append_part(out, part_path, &plan->parts[k], error))
			goto cleanup;
		record->documents += plan->parts[k].documents;
		record->bytes += plan->parts[k].bytes;
	}
	dump_out_sha256(out, record->sha256);
	ok = dump_out_close(out, error);
	out = NULL;

cleanup:
	if (out != NULL)
		dump_out_close(out, NULL);
	bson_free(part_path);
	bson_free(bson_path);
	return ok;
}
