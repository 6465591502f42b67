/*
 * Change event -> write models (docs/DESIGN.md, "Replay rules") and
 * reassembly of staged parts (docs/DESIGN.md, "Staged events").
 */
#include "apply.h"

#include <stdlib.h>
#include <string.h>

#include "apply_exact.h"
#include "apply_order.h"
#include "error.h"
#include "exitcodes.h"
#include "staging_format.h"

void
apply_op_list_init(apply_op_list_t *list)
{
	list->ops = NULL;
	list->len = 0;
	list->cap = 0;
	list->needs_target = false;
}

void
apply_op_list_clear(apply_op_list_t *list)
{
	for (size_t i = 0; i < list->len; i++) {
		bson_destroy(list->ops[i].filter);
		bson_destroy(list->ops[i].doc);
	}
	list->len = 0;
	list->needs_target = false;
}

void
apply_op_list_destroy(apply_op_list_t *list)
{
	apply_op_list_clear(list);
	bson_free(list->ops);
	apply_op_list_init(list);
}

/* A new op at the end of list, its documents initialized empty. */
static apply_op_t *
op_list_push(apply_op_list_t *list, apply_op_kind_t kind, const bson_t *filter, size_t event_index)
{
	apply_op_t *op;

	if (list->len == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 64;
		list->ops = bson_realloc(list->ops, list->cap * sizeof *list->ops);
	}
	op = &list->ops[list->len++];
	op->kind = kind;
	op->filter = bson_copy(filter);
	op->doc = bson_new();
	op->upsert = false;
	op->event_index = event_index;
	op->doc_hash = apply_order_doc_hash(filter);
	return op;
}

apply_kind_t
apply_classify(const char *operation_type)
{
	static const char *const data[] = {"insert", "replace", "update", "delete"};
	static const char *const stop[] = {"drop", "rename", "dropDatabase", "invalidate"};
	static const char *const noop[] = {"create",           "createIndexes",
					   "dropIndexes",      "modify",
					   "shardCollection",  "refineCollectionShardKey",
					   "reshardCollection"};

	for (size_t i = 0; i < sizeof data / sizeof *data; i++)
		if (strcmp(operation_type, data[i]) == 0)
			return APPLY_KIND_DATA;
	for (size_t i = 0; i < sizeof stop / sizeof *stop; i++)
		if (strcmp(operation_type, stop[i]) == 0)
			return APPLY_KIND_STOP;
	for (size_t i = 0; i < sizeof noop / sizeof *noop; i++)
		if (strcmp(operation_type, noop[i]) == 0)
			return APPLY_KIND_NOOP;
	return APPLY_KIND_UNKNOWN;
}

/* Reads a top-level array (array true) or document field into a static
 * view; false if absent or of the other types. */
static bool
get_nested(const bson_t *doc, const char *key, bool array, bson_t *out)
{
	bson_iter_t iter;
	const uint8_t *data;
	uint32_t len;

	if (!bson_iter_init_find(&iter, doc, key))
		return false;
	if (array && BSON_ITER_HOLDS_ARRAY(&iter))
		bson_iter_array(&iter, &len, &data);
	else if (!array && BSON_ITER_HOLDS_DOCUMENT(&iter))
		bson_iter_document(&iter, &len, &data);
	else
		return false;
	return bson_init_static(out, data, len);
}

static bool
get_doc(const bson_t *doc, const char *key, bson_t *out)
{
	return get_nested(doc, key, false, out);
}

/* True when MongoDB refuses paths a and b in one update document: the same
 * path, or one a prefix of the other at a dot. */
static bool
paths_conflict(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == lb)
		return strcmp(a, b) == 0;
	if (la > lb) {
		const char *t = a;
		size_t tl = la;
		a = b;
		la = lb;
		b = t;
		lb = tl;
	}
	return strncmp(a, b, la) == 0 && b[la] == '.';
}

/*
 * Builds the update documents of one updateDescription, greedily: each
 * modification joins the current update unless its path conflicts with one
 * already there, which starts the next update. Order: truncations, then
 * removals, then sets (MongoDB's own diff applies them in that order).
 */
typedef struct update_builder {
	bson_t push, unset, set;
	const char **paths; /* borrowed from the event */
	size_t n_paths, cap_paths;
	size_t n_push; /* paths[0..n_push) are truncations */
	size_t n_unset_end;
	apply_op_list_t *ops; /* where finished updates go */
	const bson_t *filter; /* their documentKey */
	size_t event_index;
} update_builder_t;

/* What a path of the update does, in the order they are added. */
typedef enum { PATH_TRUNCATE, PATH_UNSET, PATH_SET } path_kind_t;

static void
builder_init(update_builder_t *b, apply_op_list_t *ops, const bson_t *filter, size_t event_index)
{
	memset(b, 0, sizeof *b);
	bson_init(&b->push);
	bson_init(&b->unset);
	bson_init(&b->set);
	b->ops = ops;
	b->filter = filter;
	b->event_index = event_index;
}

static void
builder_destroy(update_builder_t *b)
{
	bson_destroy(&b->push);
	bson_destroy(&b->unset);
	bson_destroy(&b->set);
	bson_free(b->paths);
}

/* Ends the current update (when it has anything) as an op. */
static void
builder_flush(update_builder_t *b)
{
	apply_op_t *op;

	if (b->n_paths == 0)
		return;
	op = op_list_push(b->ops, APPLY_OP_UPDATE, b->filter, b->event_index);
	if (!bson_empty(&b->push))
		BSON_APPEND_DOCUMENT(op->doc, "$push", &b->push);
	if (!bson_empty(&b->unset))
		BSON_APPEND_DOCUMENT(op->doc, "$unset", &b->unset);
	if (!bson_empty(&b->set))
		BSON_APPEND_DOCUMENT(op->doc, "$set", &b->set);
	bson_reinit(&b->push);
	bson_reinit(&b->unset);
	bson_reinit(&b->set);
	b->n_paths = 0;
	b->n_push = 0;
	b->n_unset_end = 0;
}

/* Makes room for path of kind in the current update: flushes it when path
 * conflicts with a path already there. Sets are never checked against
 * sets, nor removals against removals: one change event never holds two
 * such paths that conflict. */
static void
builder_make_room(update_builder_t *b, const char *path, path_kind_t kind)
{
	size_t end = b->n_paths; /* a truncation: against everything */

	if (kind == PATH_UNSET)
		end = b->n_push;
	else if (kind == PATH_SET)
		end = b->n_unset_end;
	for (size_t i = 0; i < end; i++) {
		if (paths_conflict(b->paths[i], path)) {
			builder_flush(b);
			return;
		}
	}
}

/* Records path, of kind, as part of the current update. */
static void
builder_add_path(update_builder_t *b, const char *path, path_kind_t kind)
{
	if (b->n_paths == b->cap_paths) {
		b->cap_paths = b->cap_paths ? b->cap_paths * 2 : 16;
		b->paths = bson_realloc(b->paths, b->cap_paths * sizeof *b->paths);
	}
	b->paths[b->n_paths++] = path;
	if (kind == PATH_TRUNCATE)
		b->n_push = b->n_paths;
	if (kind != PATH_SET)
		b->n_unset_end = b->n_paths;
}

/* Adds one truncatedArrays entry {field, newSize}: $push {$each: [],
 * $slice: newSize}. false when the entry is malformed. */
static bool
builder_truncate(update_builder_t *b, const bson_iter_t *entry_iter)
{
	bson_t entry, each, spec;
	bson_iter_t f;
	const char *field = NULL;
	int64_t new_size = -1;
	const uint8_t *data;
	uint32_t len;

	if (!BSON_ITER_HOLDS_DOCUMENT(entry_iter))
		return false;
	bson_iter_document(entry_iter, &len, &data);
	if (!bson_init_static(&entry, data, len))
		return false;
	if (bson_iter_init_find(&f, &entry, "field") && BSON_ITER_HOLDS_UTF8(&f))
		field = bson_iter_utf8(&f, NULL);
	if (bson_iter_init_find(&f, &entry, "newSize") && BSON_ITER_HOLDS_NUMBER(&f))
		new_size = bson_iter_as_int64(&f);
	if (!field || new_size < 0)
		return false;
	builder_make_room(b, field, PATH_TRUNCATE);
	BSON_APPEND_DOCUMENT_BEGIN(&b->push, field, &spec);
	BSON_APPEND_ARRAY_BEGIN(&spec, "$each", &each);
	bson_append_array_end(&spec, &each);
	if (new_size <= INT32_MAX)
		bson_append_int32(&spec, "$slice", 6, (int32_t)new_size);
	else
		bson_append_int64(&spec, "$slice", 6, new_size);
	bson_append_document_end(&b->push, &spec);
	builder_add_path(b, field, PATH_TRUNCATE);
	return true;
}

/* Adds the three parts of desc (an updateDescription) to the builder in
 * MongoDB's order. false + exit 65 on a malformed part. */
static bool
builder_add_description(update_builder_t *b, const bson_t *desc, bson_error_t *error)
{
	bson_t part;
	bson_iter_t iter;

	if (get_nested(desc, "truncatedArrays", true, &part) && bson_iter_init(&iter, &part)) {
		while (bson_iter_next(&iter)) {
			if (!builder_truncate(b, &iter)) {
				csm_error_set(error, CSM_EXIT_DATAERR,
					      "updateDescription.truncatedArrays entry is not "
					      "{field, newSize}");
				return false;
			}
		}
	}
	if (get_nested(desc, "removedFields", true, &part) && bson_iter_init(&iter, &part)) {
		while (bson_iter_next(&iter)) {
			if (!BSON_ITER_HOLDS_UTF8(&iter)) {
				csm_error_set(error, CSM_EXIT_DATAERR,
					      "updateDescription.removedFields holds a non-string");
				return false;
			}
			builder_make_room(b, bson_iter_utf8(&iter, NULL), PATH_UNSET);
			bson_append_utf8(&b->unset, bson_iter_utf8(&iter, NULL), -1, "", 0);
			builder_add_path(b, bson_iter_utf8(&iter, NULL), PATH_UNSET);
		}
	}
	if (get_doc(desc, "updatedFields", &part) && bson_iter_init(&iter, &part)) {
		while (bson_iter_next(&iter)) {
			builder_make_room(b, bson_iter_key(&iter), PATH_SET);
			bson_append_value(&b->set, bson_iter_key(&iter), -1,
					  bson_iter_value(&iter));
			builder_add_path(b, bson_iter_key(&iter), PATH_SET);
		}
	}
	return true;
}

/* Appends the stages of pipeline to ops as updates of at most
 * EXACT_MAX_STAGES stages each. */
static void
pipeline_ops(const bson_t *pipeline, const bson_t *filter, size_t event_index, apply_op_list_t *ops)
{
	bson_iter_t iter;
	apply_op_t *op = NULL;
	uint32_t n = 0;
	char slot[16];
	const char *slot_key;

	bson_iter_init(&iter, pipeline);
	while (bson_iter_next(&iter)) {
		if (!op || n == EXACT_MAX_STAGES) {
			op = op_list_push(ops, APPLY_OP_UPDATE, filter, event_index);
			n = 0;
		}
		bson_uint32_to_string(n++, &slot_key, slot, sizeof slot);
		bson_append_value(op->doc, slot_key, -1, bson_iter_value(&iter));
	}
}

/* The update op(s) of an update event without fullDocument; target as for
 * apply_event_ops_read (NULL: not read). */
static bool
update_description_ops(const bson_t *event, const bson_t *filter, const exact_target_t *target,
		       size_t event_index, apply_op_list_t *ops, bson_error_t *error)
{
	bson_t desc, pipeline = BSON_INITIALIZER;
	update_builder_t b;
	exact_mode_t mode;
	uint32_t n_stages = 0;
	bool ok;

	if (!get_doc(event, "updateDescription", &desc)) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "update event has neither fullDocument nor updateDescription");
		return false;
	}
	if (!apply_exact_mode(&desc, target, &mode, error))
		return false;
	if (mode == EXACT_NEEDS_TARGET) {
		/* apply_event_ops_read gives a target: never twice. */
		ops->needs_target = true;
		return true;
	}
	if (mode == EXACT_PIPELINE) {
		ok = apply_exact_stages(&desc, target, &pipeline, &n_stages, error);
		if (ok)
			pipeline_ops(&pipeline, filter, event_index, ops);
		bson_destroy(&pipeline);
		return ok;
	}
	builder_init(&b, ops, filter, event_index);
	ok = builder_add_description(&b, &desc, error);
	if (ok)
		builder_flush(&b);
	builder_destroy(&b);
	return ok;
}

/* The op writing doc whole by documentKey, upsert: a replacement, or, for
 * a document with a top-level '$' field (which a replacement would read as
 * an update operator, code 52), the pipeline [{$replaceWith: {$literal:
 * doc}}]. */
static void
whole_document_op(const bson_t *key, const bson_t *doc, size_t event_index, apply_op_list_t *ops)
{
	apply_op_t *op;
	bson_t stage, with;

	if (!apply_exact_has_dollar_field(doc)) {
		op = op_list_push(ops, APPLY_OP_REPLACE, key, event_index);
		bson_concat(op->doc, doc);
		op->upsert = true;
		return;
	}
	op = op_list_push(ops, APPLY_OP_UPDATE, key, event_index);
	BSON_APPEND_DOCUMENT_BEGIN(op->doc, "0", &stage);
	BSON_APPEND_DOCUMENT_BEGIN(&stage, "$replaceWith", &with);
	BSON_APPEND_DOCUMENT(&with, "$literal", doc);
	bson_append_document_end(&stage, &with);
	bson_append_document_end(op->doc, &stage);
	op->upsert = true;
}

/* apply_event_ops and apply_event_ops_read; read: target is what the
 * caller read. */
static bool
event_ops(const bson_t *event, bool read, const exact_target_t *target, size_t event_index,
	  apply_op_list_t *ops, bson_error_t *error)
{
	bson_iter_t iter;
	const char *type = NULL;
	bson_t key, full;
	bool has_full = false;

	if (bson_iter_init_find(&iter, event, "operationType") && BSON_ITER_HOLDS_UTF8(&iter))
		type = bson_iter_utf8(&iter, NULL);
	if (!type) {
		csm_error_set(error, CSM_EXIT_DATAERR, "change event has no operationType");
		return false;
	}
	if (apply_classify(type) != APPLY_KIND_DATA) {
		csm_error_set(error, CSM_EXIT_DATAERR, "'%s' is not a data change event", type);
		return false;
	}
	if (!get_doc(event, "documentKey", &key) || bson_empty(&key)) {
		csm_error_set(error, CSM_EXIT_DATAERR, "%s event has no documentKey", type);
		return false;
	}
	/* fullDocument: null means the document was gone at lookup time. */
	has_full = get_doc(event, "fullDocument", &full);

	if (strcmp(type, "delete") == 0) {
		op_list_push(ops, APPLY_OP_DELETE, &key, event_index);
		return true;
	}
	if (has_full) {
		whole_document_op(&key, &full, event_index, ops);
		return true;
	}
	if (strcmp(type, "update") == 0) {
		/* An update of a document the target does not hold does nothing. */
		if (read && !target->doc)
			return true;
		return update_description_ops(event, &key, target, event_index, ops, error);
	}
	csm_error_set(error, CSM_EXIT_DATAERR, "%s event has no fullDocument", type);
	return false;
}

bool
apply_event_ops(const bson_t *event, size_t event_index, apply_op_list_t *ops, bson_error_t *error)
{
	return event_ops(event, false, NULL, event_index, ops, error);
}

bool
apply_event_ops_read(const bson_t *event, const bson_t *target, bool settled, size_t event_index,
		     apply_op_list_t *ops, bson_error_t *error)
{
	exact_target_t t = {target, settled};

	return event_ops(event, true, &t, event_index, ops, error);
}

bool
apply_op_to_bulk(mongoc_bulk_operation_t *bulk, const apply_op_t *op, bson_error_t *error)
{
	bson_t opts = BSON_INITIALIZER;
	bool ok = false;

	BSON_APPEND_BOOL(&opts, "validate", false);
	switch (op->kind) {
	case APPLY_OP_REPLACE:
		BSON_APPEND_BOOL(&opts, "upsert", op->upsert);
		ok = mongoc_bulk_operation_replace_one_with_opts(bulk, op->filter, op->doc, &opts,
								 error);
		break;
	case APPLY_OP_UPDATE:
		if (op->upsert)
			BSON_APPEND_BOOL(&opts, "upsert", true);
		ok = mongoc_bulk_operation_update_one_with_opts(bulk, op->filter, op->doc, &opts,
								error);
		break;
	case APPLY_OP_DELETE:
		bson_reinit(&opts);
		ok = mongoc_bulk_operation_remove_one_with_opts(bulk, op->filter, &opts, error);
		break;
	}
	bson_destroy(&opts);
	return ok;
}

/* Reads an int32/int64/double field as int32; false when absent or not a
 * number. */
static bool
get_int(const bson_t *doc, const char *key, int32_t *out)
{
	bson_iter_t iter;
	int64_t v;

	if (!bson_iter_init_find(&iter, doc, key) || !BSON_ITER_HOLDS_NUMBER(&iter))
		return false;
	v = bson_iter_as_int64(&iter);
	if (v < 0 || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

bool
apply_part_info(const bson_t *staged, int32_t *index, int32_t *of, bool *is_chunk,
		bson_error_t *error)
{
	bson_t event, part;

	*is_chunk = false;
	if (get_doc(staged, STAGED_F_CHUNK, &part)) {
		bson_iter_t iter;

		*is_chunk = true;
		if (!get_int(&part, STAGED_F_CHUNK_INDEX, index) ||
		    !get_int(&part, STAGED_F_CHUNK_OF, of) || *of < 1 || *index >= *of) {
			csm_error_set(error, CSM_EXIT_DATAERR, "malformed chunk {index, of}");
			return false;
		}
		if (!bson_iter_init_find(&iter, staged, STAGED_F_EVENT_BYTES) ||
		    !BSON_ITER_HOLDS_BINARY(&iter)) {
			csm_error_set(error, CSM_EXIT_DATAERR, "chunk part has no eventBytes");
			return false;
		}
		return true;
	}
	if (!get_doc(staged, STAGED_F_EVENT, &event)) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "staged document has neither event nor chunk");
		return false;
	}
	if (get_doc(&event, "splitEvent", &part)) {
		int32_t fragment;

		if (!get_int(&part, "fragment", &fragment) || !get_int(&part, "of", of) ||
		    fragment < 1 || fragment > *of) {
			csm_error_set(error, CSM_EXIT_DATAERR,
				      "malformed event.splitEvent {fragment, of}");
			return false;
		}
		*index = fragment - 1;
		return true;
	}
	*index = 0;
	*of = 1;
	return true;
}

bool
apply_whole_event(const bson_t *staged, bson_t *event)
{
	bson_iter_t iter;
	bool found = false;

	if (!bson_iter_init(&iter, staged))
		return false;
	while (bson_iter_next(&iter)) {
		const char *key = bson_iter_key(&iter);

		if (strcmp(key, STAGED_F_CHUNK) == 0)
			return false;
		if (!found && strcmp(key, STAGED_F_EVENT) == 0 && BSON_ITER_HOLDS_DOCUMENT(&iter)) {
			const uint8_t *data;
			uint32_t len;

			bson_iter_document(&iter, &len, &data);
			found = bson_init_static(event, data, len);
		}
	}
	return found && !bson_has_field(event, "splitEvent");
}

/* The eventBytes of a chunk part (apply_part_info checked it is there):
 * *len bytes, borrowed from part. */
static const uint8_t *
chunk_bytes(const bson_t *part, uint32_t *len)
{
	bson_iter_t iter;
	const uint8_t *data;

	bson_iter_init_find(&iter, part, STAGED_F_EVENT_BYTES);
	bson_iter_binary(&iter, NULL, len, &data);
	return data;
}

static bson_t *
reassemble_chunks(const bson_t *const *parts, size_t n, bson_error_t *error)
{
	size_t total = 0, off = 0;
	uint8_t *buf;
	bson_t view;
	bson_t *event;
	size_t err_offset;
	uint32_t len;

	for (size_t i = 0; i < n; i++) {
		chunk_bytes(parts[i], &len);
		total += len;
	}
	if (total < 5 || total > (size_t)INT32_MAX) {
		csm_error_set(error, CSM_EXIT_DATAERR, "chunked event of %zu bytes is not BSON",
			      total);
		return NULL;
	}
	buf = bson_malloc(total);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *data = chunk_bytes(parts[i], &len);

		memcpy(buf + off, data, len);
		off += len;
	}
	if (!bson_init_static(&view, buf, total) ||
	    !bson_validate(&view, BSON_VALIDATE_NONE, &err_offset)) {
		bson_free(buf);
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "chunked event's eventBytes do not form a BSON document");
		return NULL;
	}
	event = bson_copy(&view);
	bson_free(buf);
	return event;
}

bson_t *
apply_reassemble(const bson_t *const *parts, size_t n, bson_error_t *error)
{
	int32_t index, of;
	bool first_chunk, is_chunk;
	bson_t *event;

	if (n == 0) {
		csm_error_set(error, CSM_EXIT_DATAERR, "event with no staged part");
		return NULL;
	}
	if (!apply_part_info(parts[0], &index, &of, &first_chunk, error))
		return NULL;
	if ((size_t)of != n) {
		csm_error_set(error, CSM_EXIT_DATAERR, "event staged in %d parts, %zu found", of,
			      n);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		int32_t pof;

		if (!apply_part_info(parts[i], &index, &pof, &is_chunk, error))
			return NULL;
		if (is_chunk != first_chunk || pof != of || (size_t)index != i) {
			csm_error_set(error, CSM_EXIT_DATAERR,
				      "event parts out of order: part %d of %d where %zu expected",
				      index + 1, pof, i + 1);
			return NULL;
		}
	}
	if (first_chunk)
		return reassemble_chunks(parts, n, error);
	if (n == 1) {
		bson_t whole;

		/* Nearly every event is whole: one copy instead of a rebuild
		 * field by field (a quarter of replay's CPU in the bench). */
		get_doc(parts[0], STAGED_F_EVENT, &whole);
		if (!bson_has_field(&whole, "splitEvent"))
			return bson_copy(&whole);
	}
	event = bson_new();
	for (size_t i = 0; i < n; i++) {
		bson_t fragment;
		bson_iter_t iter;

		get_doc(parts[i], STAGED_F_EVENT, &fragment);
		bson_iter_init(&iter, &fragment);
		while (bson_iter_next(&iter)) {
			const char *key = bson_iter_key(&iter);

			if (strcmp(key, "splitEvent") == 0 || (n > 1 && bson_has_field(event, key)))
				continue;
			bson_append_value(event, key, -1, bson_iter_value(&iter));
		}
	}
	return event;
}
