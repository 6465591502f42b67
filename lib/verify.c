/*
 * Source/target comparison for cdc-verify (see verify.h).
 */
#include "verify.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bsoncmp.h"
#include "catalog.h"
#include "clock.h"
#include "error.h"
#include "log.h"

/* Milliseconds between progress lines on stderr. */
#define VERIFY_PROGRESS_MS (5 * 1000)
/* _ids per $in lookup in sample mode. */
#define VERIFY_LOOKUP_CHUNK 1000

/* One side of the merge walk: a cursor in _id order and its current doc. */
typedef struct walk_side {
	mongoc_cursor_t *cursor; /* borrowed */
	const char *where;       /* "source 'db.coll'", for messages */
	const bson_t *doc;       /* current document, borrowed from cursor */
	bson_iter_t id_iter;
	const bson_value_t *id; /* doc's _id, borrowed from doc */
	bson_value_t prev;      /* owned copy of the previous _id */
	bool have_prev;
	bool done;
} walk_side_t;

typedef struct walk {
	const verify_opts_t *opts;
	verify_result_t *result;
	int64_t reported;
	int64_t started_ms;
	int64_t last_progress_ms;
} walk_t;

void
verify_opts_init(verify_opts_t *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->max_report = 20;
	opts->out = stdout;
}

bool
verify_result_equal(const verify_result_t *result)
{
	return result->source_count == result->target_count && result->missing == 0 &&
	       result->extra == 0 && result->different == 0;
}

char *
verify_value_to_json(const bson_value_t *value)
{
	bson_t holder = BSON_INITIALIZER;
	char *json, *start, *end, *out;

	bson_append_value(&holder, "v", 1, value);
	json = bson_as_relaxed_extended_json(&holder, NULL);
	bson_destroy(&holder);
	if (!json)
		return bson_strdup("(unprintable)");
	/* json is '{ "v" : VALUE }': keep VALUE. */
	start = strstr(json, "\"v\" : ");
	end = json + strlen(json);
	if (!start || end - json < 2) {
		out = bson_strdup(json);
	} else {
		start += strlen("\"v\" : ");
		end -= 2; /* " }" */
		out = bson_strndup(start, (size_t)(end - start));
	}
	bson_free(json);
	return out;
}

static void
side_init(walk_side_t *side, mongoc_cursor_t *cursor, const char *where)
{
	memset(side, 0, sizeof *side);
	side->cursor = cursor;
	side->where = where;
}

static void
side_cleanup(walk_side_t *side)
{
	if (side->have_prev)
		bson_value_destroy(&side->prev);
	side->have_prev = false;
}

/*
 * Moves to the next document. At the end, side->doc is NULL. Fails on a
 * cursor error, a document without _id, or _ids out of order (the walk would
 * report false differences: refuse instead).
 */
static bool
side_advance(walk_side_t *side, bson_error_t *error)
{
	const bson_t *doc = NULL;
	const bson_t *reply = NULL;

	if (side->doc) {
		if (side->have_prev)
			bson_value_destroy(&side->prev);
		bson_value_copy(side->id, &side->prev);
		side->have_prev = true;
	}
	side->doc = NULL;
	side->id = NULL;
	if (side->done)
		return true;
	if (!mongoc_cursor_next(side->cursor, &doc)) {
		if (mongoc_cursor_error_document(side->cursor, error, &reply)) {
			csm_error_prefix(error, "cannot read %s", side->where);
			return false;
		}
		side->done = true;
		return true;
	}
	if (!bson_iter_init_find(&side->id_iter, doc, "_id")) {
		csm_error_set(error, CSM_EXIT_DATAERR, "a document of %s has no _id", side->where);
		return false;
	}
	side->id = bson_iter_value(&side->id_iter);
	if (side->have_prev && bsoncmp_value(&side->prev, side->id) >= 0) {
		char *prev_json = verify_value_to_json(&side->prev);
		char *cur_json = verify_value_to_json(side->id);

		csm_error_set(error, CSM_EXIT_SOFTWARE,
			      "%s returned _id %s after _id %s: the server's _id order differs "
			      "from MongoDB's, so the documents cannot be compared by a merge "
			      "walk; report this with the two _ids",
			      side->where, cur_json, prev_json);
		bson_free(prev_json);
		bson_free(cur_json);
		return false;
	}
	side->doc = doc;
	return true;
}

/* The first top-level field whose element bytes differ, or NULL. */
static const char *
first_different_field(const bson_t *a, const bson_t *b, char *buf, size_t buf_len)
{
	bson_iter_t ia, ib;

	if (!bson_iter_init(&ia, a) || !bson_iter_init(&ib, b))
		return NULL;
	for (;;) {
		bool a_more = bson_iter_next(&ia);
		bool b_more = bson_iter_next(&ib);
		uint32_t a_len, b_len;

		if (!a_more && !b_more)
			return NULL;
		if (!a_more || !b_more) {
			bson_strncpy(buf, bson_iter_key(a_more ? &ia : &ib), buf_len);
			return buf;
		}
		/* An element's bytes: type, key and value, from off to next_off. */
		a_len = ia.next_off - ia.off;
		b_len = ib.next_off - ib.off;
		if (a_len != b_len || memcmp(ia.raw + ia.off, ib.raw + ib.off, a_len) != 0) {
			bson_strncpy(buf, bson_iter_key(&ia), buf_len);
			return buf;
		}
	}
}

static void
report(walk_t *walk, const char *kind, const bson_value_t *id, const char *field)
{
	char *json;

	if (walk->reported >= walk->opts->max_report)
		return;
	walk->reported++;
	json = verify_value_to_json(id);
	if (field)
		fprintf(walk->opts->out, "%s: _id %s (first difference at field '%s')\n", kind,
			json, field);
	else
		fprintf(walk->opts->out, "%s: _id %s\n", kind, json);
	bson_free(json);
}

static void
maybe_progress(walk_t *walk)
{
	int64_t now = clock_mono_ms();
	double secs;

	if (now - walk->last_progress_ms < VERIFY_PROGRESS_MS)
		return;
	walk->last_progress_ms = now;
	secs = (double)(now - walk->started_ms) / 1e3;
	log_info("compared %" PRId64 " _ids (%.0f/s): %" PRId64 " missing on target, %" PRId64
		 " extra, %" PRId64 " different",
		 walk->result->compared, secs > 0 ? (double)walk->result->compared / secs : 0.0,
		 walk->result->missing, walk->result->extra, walk->result->different);
}

/*
 * Walks two cursors that return documents in _id order, counting and
 * reporting the differences.
 */
static bool
merge_walk(walk_t *walk, mongoc_cursor_t *src_cursor, const char *src_where,
	   mongoc_cursor_t *dst_cursor, const char *dst_where, bson_error_t *error)
{
	walk_side_t src, dst;
	verify_result_t *result = walk->result;
	char field[128];
	bool ok = false;

	side_init(&src, src_cursor, src_where);
	side_init(&dst, dst_cursor, dst_where);
	if (!side_advance(&src, error) || !side_advance(&dst, error))
		goto cleanup;
	while (src.doc || dst.doc) {
		int c;

		if (!dst.doc)
			c = -1;
		else if (!src.doc)
			c = 1;
		else
			c = bsoncmp_value(src.id, dst.id);
		result->compared++;
		if (c < 0) {
			result->missing++;
			report(walk, "missing on target", src.id, NULL);
			if (!side_advance(&src, error))
				goto cleanup;
		} else if (c > 0) {
			result->extra++;
			report(walk, "extra on target", dst.id, NULL);
			if (!side_advance(&dst, error))
				goto cleanup;
		} else {
			if (src.doc->len != dst.doc->len ||
			    memcmp(bson_get_data(src.doc), bson_get_data(dst.doc), src.doc->len) !=
				    0) {
				bool reordered = walk->opts->ignore_field_order &&
						 bsoncmp_equal_but_order(src.doc, dst.doc);

				*(reordered ? &result->reordered : &result->different) += 1;
				report(walk, reordered ? "field order" : "different", src.id,
				       first_different_field(src.doc, dst.doc, field,
							     sizeof field));
			}
			if (!side_advance(&src, error) || !side_advance(&dst, error))
				goto cleanup;
		}
		maybe_progress(walk);
	}
	ok = true;
cleanup:
	side_cleanup(&src);
	side_cleanup(&dst);
	return ok;
}

static mongoc_cursor_t *
find_in_id_order(mongoc_collection_t *coll, const bson_t *filter, int32_t batch_size)
{
	bson_t opts = BSON_INITIALIZER;
	bson_t sort;
	mongoc_cursor_t *cursor;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	if (batch_size > 0)
		BSON_APPEND_INT32(&opts, "batchSize", batch_size);
	cursor = mongoc_collection_find_with_opts(coll, filter, &opts, NULL);
	bson_destroy(&opts);
	return cursor;
}

static bool
count_of(mongoc_collection_t *coll, bool estimated, const char *where, int64_t *out,
	 bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	int64_t n;

	if (estimated)
		n = mongoc_collection_estimated_document_count(coll, NULL, NULL, NULL, error);
	else
		n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, error);
	bson_destroy(&filter);
	if (n < 0) {
		csm_error_prefix(error, "cannot count %s", where);
		return false;
	}
	*out = n;
	return true;
}

/* A small PRNG for reservoir sampling (splitmix64). */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

typedef struct id_sample {
	bson_value_t *ids; /* owned copies */
	size_t len;
	size_t cap;
} id_sample_t;

static void
id_sample_cleanup(id_sample_t *sample)
{
	for (size_t i = 0; i < sample->len; i++)
		bson_value_destroy(&sample->ids[i]);
	bson_free(sample->ids);
	memset(sample, 0, sizeof *sample);
}

static int
id_qsort_cmp(const void *a, const void *b)
{
	return bsoncmp_value(a, b);
}

/*
 * Samples size _ids of coll with the server's $sample. Returns false with
 * *refused set when the server does not know the stage (the caller falls
 * back); a network error is a plain failure.
 */
static bool
sample_with_server(mongoc_collection_t *coll, int64_t size, id_sample_t *sample, bool *refused,
		   bson_error_t *error)
{
	bson_t *pipeline =
		BCON_NEW("pipeline", "[", "{", "$sample", "{", "size", BCON_INT64(size), "}", "}",
			 "{", "$project", "{", "_id", BCON_INT32(1), "}", "}", "]");
	mongoc_cursor_t *cursor =
		mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
	const bson_t *doc;
	const bson_t *reply = NULL;
	bson_iter_t iter;
	bool ok = true;

	*refused = false;
	while (mongoc_cursor_next(cursor, &doc)) {
		if (!bson_iter_init_find(&iter, doc, "_id"))
			continue;
		if (sample->len == sample->cap) {
			sample->cap = sample->cap ? sample->cap * 2 : 1024;
			sample->ids = bson_realloc(sample->ids, sample->cap * sizeof *sample->ids);
		}
		bson_value_copy(bson_iter_value(&iter), &sample->ids[sample->len++]);
	}
	if (mongoc_cursor_error_document(cursor, error, &reply)) {
		/* A server that answered (unknown stage) refuses; no reply is a
		 * network or selection failure. */
		*refused = reply && !bson_empty(reply);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(pipeline);
	return ok;
}

/* Reads every _id (projection {_id: 1}) and keeps a uniform sample of size. */
static bool
sample_by_reservoir(mongoc_collection_t *coll, int64_t size, const char *where, id_sample_t *sample,
		    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}");
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
	uint64_t state = (uint64_t)clock_mono_ms() ^ ((uint64_t)getpid() << 32);
	const bson_t *doc;
	bson_iter_t iter;
	uint64_t seen = 0;
	bool ok = true;

	sample->cap = (size_t)size;
	sample->ids = bson_malloc0(sample->cap * sizeof *sample->ids);
	while (mongoc_cursor_next(cursor, &doc)) {
		if (!bson_iter_init_find(&iter, doc, "_id"))
			continue;
		seen++;
		if (sample->len < (size_t)size) {
			bson_value_copy(bson_iter_value(&iter), &sample->ids[sample->len++]);
		} else {
			uint64_t slot = next_random(&state) % seen;

			if (slot < (uint64_t)size) {
				bson_value_destroy(&sample->ids[slot]);
				bson_value_copy(bson_iter_value(&iter), &sample->ids[slot]);
			}
		}
	}
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read the _ids of %s", where);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(opts);
	bson_destroy(&filter);
	return ok;
}

/* Compares the sampled _ids, VERIFY_LOOKUP_CHUNK at a time, by merge walk. */
static bool
compare_sample(walk_t *walk, mongoc_collection_t *src, const char *src_where,
	       mongoc_collection_t *dst, const char *dst_where, id_sample_t *sample,
	       bson_error_t *error)
{
	size_t unique = 0;

	if (sample->len > 1)
		qsort(sample->ids, sample->len, sizeof *sample->ids, id_qsort_cmp);
	/* $sample may return an _id twice: keep one. */
	for (size_t i = 0; i < sample->len; i++) {
		if (unique > 0 && bsoncmp_value(&sample->ids[unique - 1], &sample->ids[i]) == 0) {
			bson_value_destroy(&sample->ids[i]);
			continue;
		}
		sample->ids[unique++] = sample->ids[i];
	}
	sample->len = unique;

	for (size_t start = 0; start < sample->len; start += VERIFY_LOOKUP_CHUNK) {
		size_t end = start + VERIFY_LOOKUP_CHUNK;
		bson_t filter = BSON_INITIALIZER;
		bson_t id_doc, in_array;
		mongoc_cursor_t *src_cursor, *dst_cursor;
		bool ok;

		if (end > sample->len)
			end = sample->len;
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &id_doc);
		BSON_APPEND_ARRAY_BEGIN(&id_doc, "$in", &in_array);
		for (size_t i = start; i < end; i++) {
			char key_buf[16];
			const char *key;
			size_t key_len = bson_uint32_to_string((uint32_t)(i - start), &key, key_buf,
							       sizeof key_buf);

			bson_append_value(&in_array, key, (int)key_len, &sample->ids[i]);
		}
		bson_append_array_end(&id_doc, &in_array);
		bson_append_document_end(&filter, &id_doc);
		src_cursor = find_in_id_order(src, &filter, walk->opts->batch_size);
		dst_cursor = find_in_id_order(dst, &filter, walk->opts->batch_size);
		ok = merge_walk(walk, src_cursor, src_where, dst_cursor, dst_where, error);
		mongoc_cursor_destroy(dst_cursor);
		mongoc_cursor_destroy(src_cursor);
		bson_destroy(&filter);
		if (!ok)
			return false;
	}
	return true;
}

/* Both collections must exist: a missing one is exit 66, named. */
static bool
require_both(mongoc_client_t *source, mongoc_client_t *target, const verify_opts_t *opts,
	     const char *to_db, const char *to_coll, const char *src_where, const char *dst_where,
	     bson_error_t *error)
{
	bool exists = false;

	if (!catalog_collection_info(source, opts->db, opts->coll, &exists, NULL, error))
		return false;
	if (!exists) {
		csm_error_set(error, CSM_EXIT_NOINPUT,
			      "%s does not exist: check the database and collection names",
			      src_where);
		return false;
	}
	if (!catalog_collection_info(target, to_db, to_coll, &exists, NULL, error))
		return false;
	if (!exists) {
		csm_error_set(error, CSM_EXIT_NOINPUT,
			      "%s does not exist: nothing to compare yet; run "
			      "sync_migration.sh first, or check --to-db/--to-coll",
			      dst_where);
		return false;
	}
	return true;
}

/* --sample: $sample on the source (or a reservoir where refused), compared. */
static bool
verify_sample(walk_t *walk, mongoc_collection_t *src, const char *src_where,
	      mongoc_collection_t *dst, const char *dst_where, bson_error_t *error)
{
	verify_result_t *result = walk->result;
	int64_t size = walk->opts->sample;
	id_sample_t sample = {0};
	bool refused = false;
	bool ok = false;

	result->sampled = true;
	if (!sample_with_server(src, size, &sample, &refused, error)) {
		if (!refused) {
			csm_error_prefix(error, "cannot sample %s", src_where);
			goto cleanup;
		}
		log_info("the source refused $sample (%s): sampling _ids by reading them",
			 error->message);
		id_sample_cleanup(&sample);
		result->sample_fallback = true;
		if (!sample_by_reservoir(src, size, src_where, &sample, error))
			goto cleanup;
	}
	ok = compare_sample(walk, src, src_where, dst, dst_where, &sample, error);

cleanup:
	id_sample_cleanup(&sample);
	return ok;
}

/* Every document: one merge walk over both collections in _id order. */
static bool
verify_all(walk_t *walk, mongoc_collection_t *src, const char *src_where, mongoc_collection_t *dst,
	   const char *dst_where, bson_error_t *error)
{
	bson_t everything = BSON_INITIALIZER;
	mongoc_cursor_t *src_cursor = find_in_id_order(src, &everything, walk->opts->batch_size);
	mongoc_cursor_t *dst_cursor = find_in_id_order(dst, &everything, walk->opts->batch_size);
	bool ok = merge_walk(walk, src_cursor, src_where, dst_cursor, dst_where, error);

	mongoc_cursor_destroy(dst_cursor);
	mongoc_cursor_destroy(src_cursor);
	bson_destroy(&everything);
	return ok;
}

bool
verify_run(mongoc_client_t *source, mongoc_client_t *target, const verify_opts_t *opts,
	   verify_result_t *result, bson_error_t *error)
{
	const char *to_db = opts->to_db ? opts->to_db : opts->db;
	const char *to_coll = opts->to_coll ? opts->to_coll : opts->coll;
	char *src_where = bson_strdup_printf("source '%s.%s'", opts->db, opts->coll);
	char *dst_where = bson_strdup_printf("target '%s.%s'", to_db, to_coll);
	mongoc_collection_t *src = NULL;
	mongoc_collection_t *dst = NULL;
	walk_t walk = {0};
	bool ok = false;

	memset(result, 0, sizeof *result);
	walk.opts = opts;
	walk.result = result;
	walk.started_ms = walk.last_progress_ms = clock_mono_ms();
	if (!require_both(source, target, opts, to_db, to_coll, src_where, dst_where, error))
		goto cleanup;
	src = mongoc_client_get_collection(source, opts->db, opts->coll);
	dst = mongoc_client_get_collection(target, to_db, to_coll);
	/* Sampling is for huge collections: the fast metadata count there. */
	if (!count_of(src, opts->sample > 0, src_where, &result->source_count, error) ||
	    !count_of(dst, opts->sample > 0, dst_where, &result->target_count, error))
		goto cleanup;
	fprintf(opts->out, "source %s.%s: %" PRId64 " documents\n", opts->db, opts->coll,
		result->source_count);
	fprintf(opts->out, "target %s.%s: %" PRId64 " documents\n", to_db, to_coll,
		result->target_count);
	if (opts->sample > 0)
		ok = verify_sample(&walk, src, src_where, dst, dst_where, error);
	else
		ok = verify_all(&walk, src, src_where, dst, dst_where, error);

cleanup:
	mongoc_collection_destroy(dst);
	mongoc_collection_destroy(src);
	bson_free(dst_where);
	bson_free(src_where);
	return ok;
}
