/*
 * limit_insert: the restore limit, a bare insert_many loop over a dump file.
 *
 * Usage: limit_insert URI DB COLL FILE BATCH [JOBS]
 *
 * Inserts every document of FILE (concatenated BSON, mongodump's .bson) into
 * DB.COLL with unordered insert_many calls of BATCH documents, from JOBS
 * threads (default 1) that each take a contiguous share of the file. The
 * file is mapped, not copied, and not validated client-side (restore does
 * not either). Prints {"docs", "seconds", "docs_per_s"}.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define PROG "limit_insert"
#define MAX_JOBS 64

typedef struct insert_job {
	mongoc_client_pool_t *pool;
	const char *db;
	const char *coll;
	const uint8_t *data;
	const size_t *offsets; /* offsets[i] = start of document i */
	size_t first, end;     /* document index range [first, end) */
	size_t batch;
	bool ok;
} insert_job_t;

static void *
insert_job_run(void *arg)
{
	insert_job_t *job = arg;
	mongoc_client_t *client = mongoc_client_pool_pop(job->pool);
	mongoc_collection_t *coll = mongoc_client_get_collection(client, job->db, job->coll);
	bson_t *views = bson_malloc0(job->batch * sizeof(bson_t));
	const bson_t **docs = bson_malloc0(job->batch * sizeof(bson_t *));
	bson_t opts = BSON_INITIALIZER;
	bson_error_t error;

	/* As dump-wrap restore: the documents came from a server. */
	BSON_APPEND_BOOL(&opts, "ordered", false);
	BSON_APPEND_BOOL(&opts, "validate", false);
	job->ok = true;
	for (size_t i = job->first; i < job->end && job->ok;) {
		size_t n = 0;

		for (; n < job->batch && i < job->end; n++, i++) {
			uint32_t len;

			memcpy(&len, job->data + job->offsets[i], 4);
			len = BSON_UINT32_FROM_LE(len);
			if (!bson_init_static(&views[n], job->data + job->offsets[i], len)) {
				bench_warn(PROG, "document %zu is not valid BSON", i);
				job->ok = false;
				break;
			}
			docs[n] = &views[n];
		}
		if (job->ok && n > 0 &&
		    !mongoc_collection_insert_many(coll, docs, n, &opts, NULL, &error)) {
			bench_warn(PROG, "insert into '%s.%s' failed: %s", job->db, job->coll,
				   error.message);
			job->ok = false;
		}
	}
	bson_destroy(&opts);
	bson_free(docs);
	bson_free(views);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(job->pool, client);
	return NULL;
}

/* Fills *offsets with the start of every document of data[0..size). */
static bool
scan_offsets(const uint8_t *data, size_t size, size_t **offsets, size_t *count)
{
	size_t cap = 1024, n = 0, pos = 0;
	size_t *out = bson_malloc(cap * sizeof(size_t));

	while (pos + 5 <= size) {
		uint32_t len;

		memcpy(&len, data + pos, 4);
		len = BSON_UINT32_FROM_LE(len);
		if (len < 5 || len > size - pos) {
			bson_free(out);
			return false;
		}
		if (n == cap) {
			cap *= 2;
			out = bson_realloc(out, cap * sizeof(size_t));
		}
		out[n++] = pos;
		pos += len;
	}
	if (pos != size) {
		bson_free(out);
		return false;
	}
	*offsets = out;
	*count = n;
	return true;
}

int
main(int argc, char **argv)
{
	mongoc_uri_t *uri = NULL;
	mongoc_client_pool_t *pool = NULL;
	mongoc_client_t *client = NULL;
	insert_job_t jobs[MAX_JOBS];
	pthread_t threads[MAX_JOBS];
	size_t *offsets = NULL, count = 0;
	uint8_t *data = MAP_FAILED;
	struct stat st = {0};
	int64_t batch, njobs = 1;
	int fd = -1;
	double started, seconds;
	bool ok = true;
	int rc = 1;

	mongoc_init();
	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: %s URI DB COLL FILE BATCH [JOBS]\n", PROG);
		rc = 64;
		goto cleanup;
	}
	if (!bench_parse(PROG, "BATCH", argv[5], 1, 100000, &batch) ||
	    (argc == 7 && !bench_parse(PROG, "JOBS", argv[6], 1, MAX_JOBS, &njobs))) {
		rc = 64;
		goto cleanup;
	}
	/* Fail early on a dead server, outside the timed part. */
	if ((client = bench_client_new(PROG, argv[1])) == NULL)
		goto cleanup;
	if ((uri = mongoc_uri_new(argv[1])) == NULL)
		goto cleanup;
	pool = mongoc_client_pool_new(uri);
	mongoc_client_pool_max_size(pool, (uint32_t)njobs);
	mongoc_client_pool_set_appname(pool, PROG);

	started = bench_now();
	if ((fd = open(argv[4], O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
		bench_warn(PROG, "cannot open '%s': %s", argv[4], strerror(errno));
		goto cleanup;
	}
	if (st.st_size > 0) {
		data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (data == MAP_FAILED) {
			bench_warn(PROG, "cannot map '%s': %s", argv[4], strerror(errno));
			goto cleanup;
		}
		if (!scan_offsets(data, (size_t)st.st_size, &offsets, &count)) {
			bench_warn(PROG, "'%s' is not a sequence of BSON documents", argv[4]);
			goto cleanup;
		}
	}
	for (int64_t j = 0; j < njobs; j++) {
		jobs[j] = (insert_job_t){
			.pool = pool,
			.db = argv[2],
			.coll = argv[3],
			.data = data,
			.offsets = offsets,
			.first = count * (size_t)j / (size_t)njobs,
			.end = count * (size_t)(j + 1) / (size_t)njobs,
			.batch = (size_t)batch,
		};
		if (pthread_create(&threads[j], NULL, insert_job_run, &jobs[j]) != 0) {
			bench_warn(PROG, "cannot start a thread");
			njobs = j;
			ok = false;
			break;
		}
	}
	for (int64_t j = 0; j < njobs; j++) {
		pthread_join(threads[j], NULL);
		ok = ok && jobs[j].ok;
	}
	if (!ok)
		goto cleanup;
	seconds = bench_now() - started;
	printf("{\"docs\": %zu, \"seconds\": %.3f, \"docs_per_s\": %.0f}\n", count, seconds,
	       seconds > 0 ? (double)count / seconds : 0.0);
	rc = 0;
cleanup:
	bson_free(offsets);
	if (data != MAP_FAILED)
		munmap(data, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	mongoc_client_pool_destroy(pool);
	mongoc_uri_destroy(uri);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
