/* insert, update, delete, findAndModify, find, getMore, killCursors,
 * count, distinct. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "cursor.h"
#include "order.h"
#include "plan.h"
#include "query.h"
#include "router.h"
#include "server.h"
#include "store.h"
#include "update.h"
#include "update_pos.h"

/* ---- shared pieces ---- */

/* The largest document a collection holds (hello's maxBsonObjectSize). */
#define MAX_DOC_BYTES (16 * 1024 * 1024)

static void
append_indexed(bson_t *arr, uint32_t *n, const bson_t *doc)
{
	char key[16];
	const char *kp;
	size_t kl = bson_uint32_to_string((*n)++, &kp, key, sizeof key);
	bson_append_document(arr, kp, (int)kl, doc);
}

/* The array field `field` of the command; 9 when missing, 14 when not an array. */
static bool
array_field(const bson_t *cmd, const char *field, bson_iter_t *out, bson_error_t *error)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, cmd, field)) {
		cmd_error(error, 9, "BSON field '%s' is missing but a required field", field);
		return false;
	}
	if (!BSON_ITER_HOLDS_ARRAY(&it)) {
		cmd_error(error, 14, "BSON field '%s' is the wrong type, expected type 'array'",
			  field);
		return false;
	}
	bson_iter_recurse(&it, out);
	return true;
}

static bool
bool_field(const bson_t *cmd, const char *field, bool dflt)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, cmd, field))
		return dflt;
	return bson_iter_as_bool(&it);
}

static void
add_write_error(bson_t *errors, uint32_t *n, uint32_t index, const bson_error_t *err,
		const bson_t *dup_info)
{
	bson_t we = BSON_INITIALIZER;
	BSON_APPEND_INT32(&we, "index", (int32_t)index);
	BSON_APPEND_INT32(&we, "code", (int32_t)err->code);
	BSON_APPEND_UTF8(&we, "errmsg", err->message);
	if (dup_info && !bson_empty(dup_info))
		bson_concat(&we, dup_info);
	append_indexed(errors, n, &we);
	bson_destroy(&we);
}

/* The document the iterator is on, as a static view; false when it is not one. */
static bool
view_of(bson_iter_t *it, bson_t *view)
{
	const uint8_t *d;
	uint32_t l;
	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		return false;
	bson_iter_document(it, &l, &d);
	bson_init_static(view, d, l);
	return true;
}

/*
 * The frame insert, update and delete share: the target collection, the
 * statements of the command's array field, whether they are ordered, and
 * the writeErrors gathered so far.
 */
typedef struct {
	const char *command, *field; /* "update", "updates" */
	const char *coll;
	bson_iter_t stmts;
	bool ordered;
	bson_t errors;
	uint32_t nerr;
} write_batch_t;

/* Opens the batch of a write command whose statements are in `field`;
 * false + error (nothing to close) when the command is malformed. */
static bool
batch_open(command_ctx_t *ctx, const char *command, const char *field, write_batch_t *b,
	   bson_error_t *error)
{
	b->command = command;
	b->field = field;
	b->coll = cmd_coll_arg(ctx, error);
	if (!b->coll || !array_field(ctx->cmd, field, &b->stmts, error))
		return false;
	b->ordered = bool_field(ctx->cmd, "ordered", true);
	bson_init(&b->errors);
	b->nerr = 0;
	return true;
}

/* Statement index (the one b->stmts is on) as a view; false + 14 when it
 * is not a document. */
static bool
batch_stmt(write_batch_t *b, uint32_t index, bson_t *stmt, bson_error_t *err)
{
	if (view_of(&b->stmts, stmt))
		return true;
	cmd_error(err, 14, "BSON field '%s.%s.%u' is the wrong type, expected type 'object'",
		  b->command, b->field, index);
	return false;
}

/* Records how statement index went (err and dup_info, which may be NULL,
 * when it failed); true when the batch stops there: a failure in an
 * ordered batch. */
static bool
batch_record(write_batch_t *b, uint32_t index, bool ok, const bson_error_t *err,
	     const bson_t *dup_info)
{
	if (ok)
		return false;
	add_write_error(&b->errors, &b->nerr, index, err, dup_info);
	return b->ordered;
}

/* Replies {n, <counts>, writeErrors?} and closes the batch; counts (may be
 * NULL) holds what the command reports besides n. */
static void
batch_reply(write_batch_t *b, int32_t n, const bson_t *counts, bson_t *reply)
{
	BSON_APPEND_INT32(reply, "n", n);
	if (counts)
		bson_concat(reply, counts);
	if (b->nerr)
		BSON_APPEND_ARRAY(reply, "writeErrors", &b->errors);
	bson_destroy(&b->errors);
}

/* Collects copies of the primary keys of documents matching filter (at
 * most limit when > 0). The caller destroys each key and frees the array. */
static size_t
matching_keys(scoll_t *c, const bson_t *filter, size_t limit, bson_t ***keys_out)
{
	bson_t **keys = NULL;
	size_t n = 0, cap = 0;
	plan_t p;
	const bson_t *doc;

	*keys_out = NULL;
	if (!c)
		return 0;
	plan_init(&p, c, filter, NULL, NULL);
	plan_start(&p, NULL, 0);
	while ((doc = plan_next(&p, NULL, NULL))) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			keys = realloc(keys, cap * sizeof *keys);
		}
		bson_t key; /* store_id_key initializes: a bson_new'd one would leak */
		store_id_key(doc, &key);
		keys[n++] = bson_copy(&key);
		bson_destroy(&key);
		if (limit && n >= limit)
			break;
	}
	plan_cleanup(&p);
	*keys_out = keys;
	return n;
}

static void
free_keys(bson_t **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bson_destroy(keys[i]);
	free(keys);
}

/* doc's documentKey in c: the shard key fields, then _id (router.h). */
static void
doc_key(const scoll_t *c, const bson_t *doc, bson_t *o2)
{
	router_document_key(c->db->name, c->name, doc, o2);
}

/* Inserts a copy of doc and logs it; on a clash fills dup_info. */
static bool
insert_logged(command_ctx_t *ctx, scoll_t *c, const bson_t *doc, bson_t *dup_info,
	      bson_error_t *error)
{
	if (doc->len > MAX_DOC_BYTES) {
		cmd_error(error, 10334,
			  "object to insert too large. size in bytes: %u, max size: %d", doc->len,
			  MAX_DOC_BYTES);
		return false;
	}
	if (!(doc = store_insert(c, doc, dup_info, error)))
		return false;
	bson_t o2;
	doc_key(c, doc, &o2);
	bool ok = cmd_oplog(ctx, "i", c->name, doc, &o2, NULL, NULL, error);
	bson_destroy(&o2);
	return ok;
}

/* ---- insert ---- */

/* One document of an insert: its _id moved first (or added) when it is
 * not, then inserted and logged. */
static bool
insert_stmt(command_ctx_t *ctx, scoll_t *c, write_batch_t *b, uint32_t index, bson_t *dup_info,
	    bson_error_t *err)
{
	bson_t view;
	bson_iter_t first;

	if (!batch_stmt(b, index, &view, err))
		return false;
	if (bson_iter_init(&first, &view) && bson_iter_next(&first) &&
	    strcmp(bson_iter_key(&first), "_id") == 0 && !BSON_ITER_HOLDS_ARRAY(&first) &&
	    !BSON_ITER_HOLDS_REGEX(&first) && !BSON_ITER_HOLDS_DOCUMENT(&first) &&
	    bson_iter_type(&first) != BSON_TYPE_UNDEFINED)
		return insert_logged(ctx, c, &view, dup_info, err);
	bson_t fixed;
	bool ok =
		update_id_first(&view, &fixed, err) && insert_logged(ctx, c, &fixed, dup_info, err);
	bson_destroy(&fixed);
	return ok;
}

bool
cmd_insert(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	write_batch_t b;
	scoll_t *c;
	int32_t n = 0;

	if (!batch_open(ctx, "insert", "documents", &b, error))
		return false;
	if (!cmd_coll_for_write(ctx, b.coll, &c, error)) {
		bson_destroy(&b.errors);
		return false;
	}
	for (uint32_t index = 0; bson_iter_next(&b.stmts); index++) {
		bson_error_t err = {0};
		bson_t dup_info = BSON_INITIALIZER;
		bool ok = insert_stmt(ctx, c, &b, index, &dup_info, &err);
		bool stop = batch_record(&b, index, ok, &err, &dup_info);
		bson_destroy(&dup_info);
		n += ok;
		/* an oplog failure stops the batch whatever ordered says */
		if (stop || (!ok && err.code != 11000 && err.code != 2 && err.code != 14 &&
			     err.code != 52 && err.code != 10334))
			break;
	}
	batch_reply(&b, n, NULL, reply);
	return true;
}

/* ---- update ---- */

/* A shard key value change that moves the document to another shard:
 * logged as the delete from the old shard and the insert into the new,
 * as MongoDB's internal transaction writes it. */
static bool
moved_logged(command_ctx_t *ctx, scoll_t *c, const bson_t *old_key, const bson_t *pre,
	     const bson_t *stored, bson_error_t *error)
{
	bson_t new_key;
	doc_key(c, stored, &new_key);
	bool ok = cmd_oplog(ctx, "d", c->name, old_key, old_key, NULL, pre, error) &&
		  cmd_oplog(ctx, "i", c->name, stored, &new_key, NULL, NULL, error);
	bson_destroy(&new_key);
	return ok;
}

/*
 * Updates the stored document old with u; logs "u" (with ud) or "r".
 * *modified is false when the new document is byte-identical.
 */
static bool
update_one_doc(command_ctx_t *ctx, scoll_t *c, const bson_t *q, const bson_t *old,
	       const bson_value_t *u, const bson_t *filters, bool *modified, bson_t *dup_info,
	       bson_t **result, bson_error_t *error)
{
	bson_t neu, ud;
	update_kind_t kind;
	bson_error_t ignored;
	router_key_change_t change;

	*modified = false;
	update_validate(u, &kind, &ignored);
	if (!update_apply(old, u, q, filters, &neu, &ud, error)) {
		bson_destroy(&neu);
		bson_destroy(&ud);
		return false;
	}
	if (neu.len > MAX_DOC_BYTES) {
		cmd_error(error, 17419, "Resulting document after update is larger than %d",
			  MAX_DOC_BYTES);
		bson_destroy(&neu);
		bson_destroy(&ud);
		return false;
	}
	if (neu.len == old->len && memcmp(bson_get_data(&neu), bson_get_data(old), old->len) == 0) {
		if (result)
			*result = bson_copy(&neu);
		bson_destroy(&neu);
		bson_destroy(&ud);
		return true;
	}
	if (!router_check_change(ctx, c->name, q, old, &neu, &change, error)) {
		bson_destroy(&neu);
		bson_destroy(&ud);
		return false;
	}
	bson_t *pre = c->pre_post_images ? bson_copy(old) : NULL;
	bson_t o2;
	doc_key(c, old, &o2);
	const bson_t *stored = store_replace(c, old, &neu, dup_info, error);
	bson_destroy(&neu);
	bool ok = stored != NULL;
	if (ok) {
		*modified = true;
		if (change == ROUTER_KEY_MOVES)
			ok = moved_logged(ctx, c, &o2, pre, stored, error);
		else if (kind == UPDATE_REPLACEMENT || bson_empty(&ud))
			ok = cmd_oplog(ctx, "r", c->name, stored, &o2, NULL, pre, error);
		else
			ok = cmd_oplog(ctx, "u", c->name, stored, &o2, &ud, pre, error);
		if (result)
			*result = bson_copy(stored);
	}
	if (pre)
		bson_destroy(pre);
	bson_destroy(&ud);
	bson_destroy(&o2);
	return ok;
}

/* An upsert that found nothing: builds and inserts the document; *result
 * (when not NULL) receives a copy. */
static bool
upsert_insert(command_ctx_t *ctx, const char *coll, const bson_t *q, const bson_value_t *u,
	      const bson_t *filters, bson_t *id_out, bson_t *dup_info, bson_t **result,
	      bson_error_t *error)
{
	bson_t doc;
	scoll_t *c;
	bson_iter_t it;

	bson_init(id_out);
	if (!update_apply(NULL, u, q, filters, &doc, NULL, error) ||
	    !cmd_coll_for_write(ctx, coll, &c, error)) {
		bson_destroy(&doc);
		return false;
	}
	if (bson_iter_init_find(&it, &doc, "_id"))
		bson_append_iter(id_out, "_id", 3, &it);
	bool ok = insert_logged(ctx, c, &doc, dup_info, error);
	if (ok && result)
		*result = bson_copy(&doc);
	bson_destroy(&doc);
	return ok;
}

bool
cmd_update(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	write_batch_t b;
	bson_t upserted = BSON_INITIALIZER, counts = BSON_INITIALIZER;
	uint32_t nups = 0;
	int32_t n = 0, nmod = 0;

	if (!batch_open(ctx, "update", "updates", &b, error)) {
		bson_destroy(&upserted);
		return false;
	}
	const char *coll = b.coll;
	for (uint32_t index = 0; bson_iter_next(&b.stmts); index++) {
		bson_error_t err = {0};
		bson_t dup_info = BSON_INITIALIZER, stmt, q = BSON_INITIALIZER;
		bson_iter_t f;
		const bson_value_t *u = NULL, *af = NULL;
		bson_value_t u_val, af_val;
		bson_t filters;
		bool upsert = false, multi = false, ok = true;
		update_kind_t kind;

		if (!batch_stmt(&b, index, &stmt, &err)) {
			ok = false;
		} else {
			bson_iter_init(&f, &stmt);
			while (bson_iter_next(&f)) {
				const char *k = bson_iter_key(&f);
				if (strcmp(k, "q") == 0) {
					if (!view_of(&f, &q)) {
						cmd_error(&err, 14,
							  "BSON field 'update.updates.q' is the "
							  "wrong type");
						ok = false;
					}
				} else if (strcmp(k, "u") == 0) {
					u_val = *bson_iter_value(&f);
					u = &u_val;
				} else if (strcmp(k, "upsert") == 0) {
					upsert = bson_iter_as_bool(&f);
				} else if (strcmp(k, "multi") == 0) {
					multi = bson_iter_as_bool(&f);
				} else if (strcmp(k, "arrayFilters") == 0) {
					af_val = *bson_iter_value(&f);
					af = &af_val;
				}
			}
			if (ok && !u) {
				cmd_error(&err, 9,
					  "BSON field 'update.updates.u' is missing but a required "
					  "field");
				ok = false;
			}
			ok = ok && query_validate(&q, &err) && update_validate(u, &kind, &err) &&
			     upos_check(u, kind, af, "update.updates.arrayFilters", &err) &&
			     (!upsert || router_check_upsert(ctx->db, coll, &q, &err));
			if (ok && af)
				bson_init_static(&filters, af->value.v_doc.data,
						 af->value.v_doc.data_len);
			if (ok && multi && kind == UPDATE_REPLACEMENT) {
				cmd_error(&err, 9,
					  "multi update is not supported for replacement-style "
					  "update");
				ok = false;
			}
		}
		if (ok) {
			scoll_t *c = store_get_coll(ctx->db, coll);
			bson_t **keys;
			size_t nk = matching_keys(c, &q, multi ? 0 : 1, &keys);
			for (size_t i = 0; i < nk && ok; i++) {
				const bson_t *old = store_find_doc(c, keys[i]);
				bool modified;
				if (!old)
					continue;
				ok = update_one_doc(ctx, c, &q, old, u, af ? &filters : NULL,
						    &modified, &dup_info, NULL, &err);
				if (ok) {
					n++;
					nmod += modified;
				}
			}
			free_keys(keys, nk);
			if (ok && nk == 0 && upsert) {
				bson_t id;
				ok = upsert_insert(ctx, coll, &q, u, af ? &filters : NULL, &id,
						   &dup_info, NULL, &err);
				if (ok) {
					bson_t entry = BSON_INITIALIZER;
					bson_iter_t idit;
					BSON_APPEND_INT32(&entry, "index", (int32_t)index);
					if (bson_iter_init_find(&idit, &id, "_id"))
						bson_append_iter(&entry, "_id", 3, &idit);
					append_indexed(&upserted, &nups, &entry);
					bson_destroy(&entry);
					n++;
				}
				bson_destroy(&id);
			}
		}
		bool stop = batch_record(&b, index, ok, &err, &dup_info);
		bson_destroy(&dup_info);
		if (stop)
			break;
	}
	BSON_APPEND_INT32(&counts, "nModified", nmod);
	if (nups)
		BSON_APPEND_ARRAY(&counts, "upserted", &upserted);
	batch_reply(&b, n, &counts, reply);
	bson_destroy(&counts);
	bson_destroy(&upserted);
	return true;
}

/* ---- delete ---- */

static bool
delete_logged(command_ctx_t *ctx, scoll_t *c, const bson_t *old, bson_error_t *error)
{
	bson_t o2;
	bson_t *pre = c->pre_post_images ? bson_copy(old) : NULL;
	doc_key(c, old, &o2);
	store_delete(c, old);
	bool ok = cmd_oplog(ctx, "d", c->name, &o2, &o2, NULL, pre, error);
	if (pre)
		bson_destroy(pre);
	bson_destroy(&o2);
	return ok;
}

bool
cmd_delete(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	write_batch_t b;
	int32_t n = 0;

	if (!batch_open(ctx, "delete", "deletes", &b, error))
		return false;
	const char *coll = b.coll;
	for (uint32_t index = 0; bson_iter_next(&b.stmts); index++) {
		bson_error_t err = {0};
		bson_t stmt, q = BSON_INITIALIZER;
		bson_iter_t f;
		int64_t limit = 0;
		bool ok = true, have_limit = false;

		if (!batch_stmt(&b, index, &stmt, &err)) {
			ok = false;
		} else {
			bson_iter_init(&f, &stmt);
			while (bson_iter_next(&f)) {
				if (strcmp(bson_iter_key(&f), "q") == 0 && !view_of(&f, &q)) {
					cmd_error(
						&err, 14,
						"BSON field 'delete.deletes.q' is the wrong type");
					ok = false;
				} else if (strcmp(bson_iter_key(&f), "limit") == 0) {
					have_limit = cmd_as_int64(&f, &limit);
				}
			}
			if (ok && (!have_limit || (limit != 0 && limit != 1))) {
				cmd_error(&err, 9,
					  "The limit field in delete objects must be 0 or 1. Got "
					  "%" PRId64,
					  limit);
				ok = false;
			}
			ok = ok && query_validate(&q, &err);
		}
		if (ok) {
			scoll_t *c = store_get_coll(ctx->db, coll);
			bson_t **keys;
			size_t nk = matching_keys(c, &q, (size_t)limit, &keys);
			for (size_t i = 0; i < nk && ok; i++) {
				const bson_t *old = store_find_doc(c, keys[i]);
				if (!old)
					continue;
				ok = delete_logged(ctx, c, old, &err);
				n += ok;
			}
			free_keys(keys, nk);
		}
		if (batch_record(&b, index, ok, &err, NULL))
			break;
	}
	batch_reply(&b, n, NULL, reply);
	return true;
}

/* ---- findAndModify ---- */

/* The first document matching filter under sort (NULL sort: _id order). */
static const bson_t *
first_match(scoll_t *c, const bson_t *filter, const bson_t *sort)
{
	const bson_t *best = NULL, *doc;
	plan_t p;
	if (!c)
		return NULL;
	plan_init(&p, c, filter, sort, NULL);
	plan_start(&p, NULL, 0);
	while ((doc = plan_next(&p, NULL, NULL))) {
		if (p.sorted || !sort) {
			best = doc;
			break;
		}
		if (!best || query_sort_cmp(sort, bson_get_data(doc), doc->len, bson_get_data(best),
					    best->len) < 0)
			best = doc;
	}
	plan_cleanup(&p);
	return best;
}

bool
cmd_find_and_modify(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll = cmd_coll_arg(ctx, error);
	bson_t query, sort, fields;
	bool have_q, have_sort, have_fields;
	bson_iter_t it;
	const bson_value_t *u = NULL, *af = NULL;
	bson_value_t af_val;
	bson_t filters;
	update_kind_t kind;

	if (!coll || !cmd_doc_field(ctx->cmd, "query", &query, &have_q, error) ||
	    !cmd_doc_field(ctx->cmd, "sort", &sort, &have_sort, error) ||
	    !cmd_doc_field(ctx->cmd, "fields", &fields, &have_fields, error))
		return false;
	bool remove = bool_field(ctx->cmd, "remove", false);
	bool want_new = bool_field(ctx->cmd, "new", false);
	bool upsert = bool_field(ctx->cmd, "upsert", false);
	bson_value_t u_val;
	if (bson_iter_init_find(&it, ctx->cmd, "update")) {
		u_val = *bson_iter_value(&it);
		u = &u_val;
	}
	if (bson_iter_init_find(&it, ctx->cmd, "arrayFilters")) {
		af_val = *bson_iter_value(&it);
		af = &af_val;
	}
	if (remove && u) {
		cmd_error(error, 9, "Cannot specify both an update and remove=true");
		return false;
	}
	if (remove && af) {
		cmd_error(error, 9, "Cannot specify arrayFilters and remove=true");
		return false;
	}
	if (!remove && !u) {
		cmd_error(error, 9, "Either an update or remove=true must be specified");
		return false;
	}
	if (remove && (upsert || want_new)) {
		cmd_error(error, 9, "Cannot specify both upsert=true and remove=true");
		return false;
	}
	if (!query_validate(&query, error) || (have_sort && !query_sort_validate(&sort, error)) ||
	    (have_fields && !query_projection_validate(&fields, error)) ||
	    (u && (!update_validate(u, &kind, error) ||
		   !upos_check(u, kind, af, "findAndModify.arrayFilters", error))) ||
	    (upsert && !router_check_upsert(ctx->db, coll, &query, error)))
		return false;

	if (af)
		bson_init_static(&filters, af->value.v_doc.data, af->value.v_doc.data_len);
	scoll_t *c = store_get_coll(ctx->db, coll);
	const bson_t *old = first_match(c, &query, have_sort ? &sort : NULL);
	bson_t leo = BSON_INITIALIZER;
	bson_t *value = NULL;
	bson_t dup_info = BSON_INITIALIZER;
	bool ok = true;

	if (remove) {
		BSON_APPEND_INT32(&leo, "n", old ? 1 : 0);
		if (old) {
			value = bson_copy(old);
			ok = delete_logged(ctx, c, old, error);
		}
	} else if (old) {
		bson_t *neu = NULL;
		bool modified;
		bson_t *before = bson_copy(old);
		ok = update_one_doc(ctx, c, &query, old, u, af ? &filters : NULL, &modified,
				    &dup_info, &neu, error);
		BSON_APPEND_INT32(&leo, "n", 1);
		BSON_APPEND_BOOL(&leo, "updatedExisting", true);
		if (ok) {
			value = want_new ? neu : before;
			bson_destroy(want_new ? before : neu);
		} else {
			bson_destroy(before);
			if (neu)
				bson_destroy(neu);
		}
	} else if (upsert) {
		bson_t id, *doc = NULL;
		ok = upsert_insert(ctx, coll, &query, u, af ? &filters : NULL, &id, &dup_info, &doc,
				   error);
		BSON_APPEND_INT32(&leo, "n", 1);
		BSON_APPEND_BOOL(&leo, "updatedExisting", false);
		if (ok && bson_iter_init_find(&it, &id, "_id"))
			bson_append_iter(&leo, "upserted", -1, &it);
		if (ok && want_new)
			value = doc;
		else if (doc)
			bson_destroy(doc);
		bson_destroy(&id);
	} else {
		BSON_APPEND_INT32(&leo, "n", 0);
		BSON_APPEND_BOOL(&leo, "updatedExisting", false);
	}
	if (!ok) {
		bson_concat(reply, &dup_info);
		bson_destroy(&dup_info);
		bson_destroy(&leo);
		if (value)
			bson_destroy(value);
		return false;
	}
	BSON_APPEND_DOCUMENT(reply, "lastErrorObject", &leo);
	if (value) {
		bson_t projected = BSON_INITIALIZER;
		query_project(have_fields ? &fields : NULL, bson_get_data(value), value->len,
			      &projected);
		BSON_APPEND_DOCUMENT(reply, "value", &projected);
		bson_destroy(&projected);
		bson_destroy(value);
	} else {
		BSON_APPEND_NULL(reply, "value");
	}
	bson_destroy(&leo);
	bson_destroy(&dup_info);
	return true;
}

/* ---- find ---- */

/* find's min and max: an inclusive lower and an exclusive upper bound on
 * the hinted index, held as index keys {"": v}. This server takes them on
 * the _id index only (the one every collection has). */
typedef struct key_range {
	bson_t min, max;
	bool has_min, has_max;
} key_range_t;

static void
key_range_destroy(key_range_t *r)
{
	if (r->has_min)
		bson_destroy(&r->min);
	if (r->has_max)
		bson_destroy(&r->max);
	r->has_min = r->has_max = false;
}

/* The hint names the _id index: "_id_" or {_id: 1}. */
static bool
hint_is_id(const bson_t *cmd)
{
	bson_iter_t it, in;
	if (!bson_iter_init_find(&it, cmd, "hint"))
		return false;
	if (BSON_ITER_HOLDS_UTF8(&it))
		return strcmp(bson_iter_utf8(&it, NULL), "_id_") == 0;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &in) ||
	    !bson_iter_next(&in) || strcmp(bson_iter_key(&in), "_id") != 0 ||
	    !BSON_ITER_HOLDS_NUMBER(&in) || bson_iter_as_int64(&in) != 1)
		return false;
	return !bson_iter_next(&in);
}

/* min or max ({_id: v}) as the key {"": v}; 51174 when it is not of the
 * hinted index's key pattern. */
static bool
bound_key(const bson_t *cmd, const char *field, bson_t *key, bool *present, bson_error_t *error)
{
	bson_t view;
	bson_iter_t it;
	if (!cmd_doc_field(cmd, field, &view, present, error))
		return false;
	if (!*present)
		return true;
	if (!bson_iter_init(&it, &view) || !bson_iter_next(&it) ||
	    strcmp(bson_iter_key(&it), "_id") != 0 || bson_iter_next(&it)) {
		*present = false;
		cmd_error(error, 51174,
			  "The index chosen is not valid for min/max: the fields of %s() must "
			  "be those of the hinted index {_id: 1}",
			  field);
		return false;
	}
	bson_iter_init_find(&it, &view, "_id");
	bson_init(key);
	bson_append_value(key, "", 0, bson_iter_value(&it));
	return true;
}

/* Reads min and max; a hint is required with either (51173), and min must
 * come before max in the index's order (51175). */
static bool
find_range(const bson_t *cmd, key_range_t *r, bson_error_t *error)
{
	memset(r, 0, sizeof *r);
	if (!bound_key(cmd, "min", &r->min, &r->has_min, error) ||
	    !bound_key(cmd, "max", &r->max, &r->has_max, error))
		goto fail;
	if (!r->has_min && !r->has_max)
		return true;
	if (!bson_has_field(cmd, "hint")) {
		cmd_error(error, 51173,
			  "When using min()/max() a hint of which index to use must be provided");
		goto fail;
	}
	if (!hint_is_id(cmd)) {
		cmd_error(error, 51174, "mongod-lite takes min()/max() with hint {_id: 1} only");
		goto fail;
	}
	if (r->has_min && r->has_max &&
	    order_keys(bson_get_data(&r->min), r->min.len, bson_get_data(&r->max), r->max.len) >=
		    0) {
		cmd_error(error, 51175,
			  "The value provided for min() does not come before the value provided "
			  "for max() in the hint's sort order");
		goto fail;
	}
	return true;
fail:
	key_range_destroy(r);
	return false;
}

/* Starts p's walk at min (inclusive) when there is one. */
static void
range_start(plan_t *p, const key_range_t *r)
{
	if (r->has_min)
		plan_start_at(p, bson_get_data(&r->min), r->min.len);
	else
		plan_start(p, NULL, 0);
}

/* Whether key is at or past max: the walk is over. */
static bool
range_past(const key_range_t *r, const uint8_t *key, uint32_t keylen)
{
	return r->has_max && order_keys(key, keylen, bson_get_data(&r->max), r->max.len) >= 0;
}

/* A find cursor walking an index (or the _id tree) in the order the
 * query wants; between batches it keeps the last position's key, so writes
 * between getMores never invalidate it. */
typedef struct find_cursor {
	char *db, *coll, *index; /* the access path chosen at find */
	bson_t filter, projection, sort;
	bool started;
	uint8_t *last_key;
	uint32_t last_len;
	int64_t skip, remaining; /* remaining < 0: no limit */
	key_range_t range;
} find_cursor_t;

static void
find_mark(find_cursor_t *s, const uint8_t *key, uint32_t len)
{
	if (len > s->last_len || !s->last_key)
		s->last_key = realloc(s->last_key, len);
	memcpy(s->last_key, key, len);
	s->last_len = len;
	s->started = true;
}

static bool
find_next(void *state, int32_t batch_size, int64_t max_time_ms, bson_t *batch, bson_t *extra,
	  bool *exhausted, bson_error_t *error)
{
	find_cursor_t *s = state;
	scoll_t *c = store_get_coll(s->db, s->coll);
	uint32_t count = 0;
	size_t bytes = 0;
	plan_t p;
	const bson_t *doc;
	const uint8_t *key;
	uint32_t keylen;
	(void)max_time_ms;
	(void)extra;

	*exhausted = false;
	if (!c || s->remaining == 0) {
		*exhausted = true;
		return true;
	}
	if (!plan_init(&p, c, &s->filter, &s->sort, s->index)) {
		plan_cleanup(&p);
		cmd_error(error, 175, "query plan killed: index '%s' was dropped", s->index);
		return false;
	}
	if (s->started)
		plan_start(&p, s->last_key, s->last_len);
	else
		range_start(&p, &s->range);
	bool has_proj = !bson_empty(&s->projection);
	for (;;) {
		if (batch_size > 0 && count >= (uint32_t)batch_size) {
			/* nothing after this batch: say so now and spare a getMore */
			plan_t peek = p;
			if (!plan_next(&peek, &key, &keylen) || range_past(&s->range, key, keylen))
				*exhausted = true;
			break;
		}
		if (!(doc = plan_next(&p, &key, &keylen)) || range_past(&s->range, key, keylen)) {
			*exhausted = true;
			break;
		}
		if (s->skip > 0) {
			s->skip--;
			find_mark(s, key, keylen);
			continue;
		}
		bool fit;
		if (has_proj) {
			bson_t out = BSON_INITIALIZER;
			query_project(&s->projection, bson_get_data(doc), doc->len, &out);
			fit = cursor_batch_append(batch, &count, &bytes, &out);
			bson_destroy(&out);
		} else {
			fit = cursor_batch_append(batch, &count, &bytes, doc);
		}
		if (!fit)
			break; /* this document starts the next batch */
		find_mark(s, key, keylen);
		if (s->remaining > 0 && --s->remaining == 0) {
			*exhausted = true;
			break;
		}
	}
	plan_cleanup(&p);
	return true;
}

static void
find_destroy(void *state)
{
	find_cursor_t *s = state;
	free(s->db);
	free(s->coll);
	free(s->index);
	bson_destroy(&s->filter);
	bson_destroy(&s->projection);
	bson_destroy(&s->sort);
	key_range_destroy(&s->range);
	free(s->last_key);
	free(s);
}

static const cursor_ops_t find_ops = {find_next, find_destroy, true};

static __thread const bson_t *sort_spec; /* for qsort */

static int
sort_docs_cmp(const void *a, const void *b)
{
	const bson_t *x = *(bson_t *const *)a, *y = *(bson_t *const *)b;
	return query_sort_cmp(sort_spec, bson_get_data(x), x->len, bson_get_data(y), y->len);
}

/* Sorts docs (n, owned) by sort with a stable tie-break on input order. */
static void
sort_docs(bson_t **docs, size_t n, const bson_t *sort)
{
	sort_spec = sort;
	/* the input is in _id order; qsort is not stable, so add _id as the
	 * last key unless the spec already has it */
	bson_t full = BSON_INITIALIZER;
	bson_concat(&full, sort);
	if (!bson_has_field(sort, "_id"))
		BSON_APPEND_INT32(&full, "_id", 1);
	sort_spec = &full;
	qsort(docs, n, sizeof *docs, sort_docs_cmp);
	bson_destroy(&full);
}

static bool
int_field(const bson_t *cmd, const char *field, int64_t *out, bool *present, bson_error_t *error)
{
	bson_iter_t it;
	*present = false;
	if (!bson_iter_init_find(&it, cmd, field) || BSON_ITER_HOLDS_NULL(&it))
		return true;
	if (!cmd_as_int64(&it, out)) {
		cmd_error(error, 14, "BSON field '%s' is the wrong type, expected a number", field);
		return false;
	}
	*present = true;
	return true;
}

bool
cmd_find(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll = cmd_coll_arg(ctx, error);
	bson_t filter, sort, projection;
	bool have_filter, have_sort, have_proj, have;
	int64_t skip = 0, limit = 0, batch_size = CURSOR_DEFAULT_FIRST_BATCH;
	char ns[512];

	if (!coll || !cmd_doc_field(ctx->cmd, "filter", &filter, &have_filter, error) ||
	    !cmd_doc_field(ctx->cmd, "sort", &sort, &have_sort, error) ||
	    !cmd_doc_field(ctx->cmd, "projection", &projection, &have_proj, error))
		return false;
	if (!int_field(ctx->cmd, "skip", &skip, &have, error) ||
	    !int_field(ctx->cmd, "limit", &limit, &have, error))
		return false;
	bool batch_given;
	if (!int_field(ctx->cmd, "batchSize", &batch_size, &batch_given, error))
		return false;
	if (skip < 0 || batch_size < 0) {
		cmd_error(error, 2, "skip and batchSize must be non-negative");
		return false;
	}
	bool single_batch = bool_field(ctx->cmd, "singleBatch", false);
	if (limit < 0) {
		limit = -limit;
		single_batch = true;
	}
	if (!batch_given)
		batch_size = CURSOR_DEFAULT_FIRST_BATCH;
	if (limit > 0 && (batch_size == 0 || limit < batch_size))
		batch_size = limit;
	if (!query_validate(&filter, error) || !query_sort_validate(&sort, error) ||
	    !query_projection_validate(&projection, error))
		return false;
	key_range_t range;
	if (!find_range(ctx->cmd, &range, error))
		return false;
	snprintf(ns, sizeof ns, "%s.%s", ctx->db, coll);

	scoll_t *c = store_get_coll(ctx->db, coll);
	plan_t p = {0};
	bool ranged = range.has_min || range.has_max;
	bson_init(&p.eq);
	/* min/max bound the hinted index: walk that one ("" is the _id tree) */
	if (!c || (plan_init(&p, c, &filter, &sort, ranged ? "" : NULL) && p.sorted)) {
		/* the walk gives the order: stream it through getMore */
		find_cursor_t *s = store_calloc(sizeof *s);
		s->db = strdup(ctx->db);
		s->coll = strdup(coll);
		s->index = strdup(c ? plan_index_name(&p) : "");
		bson_copy_to(&filter, &s->filter);
		bson_copy_to(&projection, &s->projection);
		bson_copy_to(&sort, &s->sort);
		s->skip = skip;
		s->remaining = limit > 0 ? limit : -1;
		s->range = range;
		plan_cleanup(&p);
		return cursor_first_batch(ns, &find_ops, s, (int32_t)batch_size, single_batch,
					  reply, error);
	}
	/* any other sort: gather, sort, then page */
	bson_t **docs = NULL;
	size_t n = 0, cap = 0;
	const bson_t *doc;
	const uint8_t *key;
	uint32_t keylen;
	range_start(&p, &range);
	while ((doc = plan_next(&p, &key, &keylen)) && !range_past(&range, key, keylen)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			docs = realloc(docs, cap * sizeof *docs);
		}
		docs[n++] = (bson_t *)doc; /* borrowed until projected below */
	}
	plan_cleanup(&p);
	key_range_destroy(&range);
	sort_docs(docs, n, &sort);
	size_t start = (size_t)skip < n ? (size_t)skip : n;
	size_t end = limit > 0 && start + (size_t)limit < n ? start + (size_t)limit : n;
	bson_t **out = malloc((end - start + 1) * sizeof *out);
	for (size_t i = start; i < end; i++) {
		out[i - start] = bson_new();
		query_project(&projection, bson_get_data(docs[i]), docs[i]->len, out[i - start]);
	}
	free(docs);
	return cursor_first_batch(ns, &cursor_doclist_ops, cursor_doclist_new(out, end - start),
				  (int32_t)batch_size, single_batch, reply, error);
}

bool
cmd_get_more(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	int64_t id, batch_size = 0, max_time_ms = 0;
	bool have;
	char ns[512];

	if (!bson_iter_init_find(&it, ctx->cmd, "getMore") || !cmd_as_int64(&it, &id)) {
		cmd_error(error, 14,
			  "BSON field 'getMore.getMore' is the wrong type, expected type 'long'");
		return false;
	}
	if (!bson_iter_init_find(&it, ctx->cmd, "collection") || !BSON_ITER_HOLDS_UTF8(&it)) {
		cmd_error(error, 9,
			  "BSON field 'getMore.collection' is missing but a required field");
		return false;
	}
	snprintf(ns, sizeof ns, "%s.%s", ctx->db, bson_iter_utf8(&it, NULL));
	if (!int_field(ctx->cmd, "batchSize", &batch_size, &have, error) ||
	    !int_field(ctx->cmd, "maxTimeMS", &max_time_ms, &have, error))
		return false;
	if (batch_size < 0 || batch_size > INT32_MAX) {
		cmd_error(error, 2, "batchSize must be non-negative");
		return false;
	}
	return cursor_get_more(id, ns, (int32_t)batch_size, max_time_ms, reply, error);
}

bool
cmd_kill_cursors(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t ids;
	bson_t killed = BSON_INITIALIZER, not_found = BSON_INITIALIZER, empty = BSON_INITIALIZER;
	uint32_t nk = 0, nn = 0;

	if (!cmd_coll_arg(ctx, error) || !array_field(ctx->cmd, "cursors", &ids, error)) {
		bson_destroy(&killed);
		bson_destroy(&not_found);
		bson_destroy(&empty);
		return false;
	}
	while (bson_iter_next(&ids)) {
		int64_t id;
		char key[16];
		const char *kp;
		if (!cmd_as_int64(&ids, &id))
			continue;
		if (cursor_find(id)) {
			cursor_kill(id);
			bson_uint32_to_string(nk++, &kp, key, sizeof key);
			bson_append_int64(&killed, kp, -1, id);
		} else {
			bson_uint32_to_string(nn++, &kp, key, sizeof key);
			bson_append_int64(&not_found, kp, -1, id);
		}
	}
	BSON_APPEND_ARRAY(reply, "cursorsKilled", &killed);
	BSON_APPEND_ARRAY(reply, "cursorsNotFound", &not_found);
	BSON_APPEND_ARRAY(reply, "cursorsAlive", &empty);
	BSON_APPEND_ARRAY(reply, "cursorsUnknown", &empty);
	bson_destroy(&killed);
	bson_destroy(&not_found);
	bson_destroy(&empty);
	return true;
}

bool
cmd_count(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll = cmd_coll_arg(ctx, error);
	bson_t query;
	bool have_q, have;
	int64_t limit = 0, skip = 0, n = 0;

	if (!coll || !cmd_doc_field(ctx->cmd, "query", &query, &have_q, error) ||
	    !int_field(ctx->cmd, "limit", &limit, &have, error) ||
	    !int_field(ctx->cmd, "skip", &skip, &have, error) || !query_validate(&query, error))
		return false;
	if (limit < 0)
		limit = -limit;
	scoll_t *c = store_get_coll(ctx->db, coll);
	if (c && bson_empty(&query)) {
		n = (int64_t)c->docs.count;
	} else if (c) {
		plan_t p;
		plan_init(&p, c, &query, NULL, NULL);
		plan_start(&p, NULL, 0);
		while (plan_next(&p, NULL, NULL))
			n++;
		plan_cleanup(&p);
	}
	n = n > skip ? n - skip : 0;
	if (limit > 0 && n > limit)
		n = limit;
	BSON_APPEND_INT32(reply, "n", (int32_t)n);
	return true;
}

bool
cmd_distinct(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll = cmd_coll_arg(ctx, error);
	bson_t query;
	bool have_q;
	bson_iter_t it;
	tree_t seen = {0};

	if (!coll || !cmd_doc_field(ctx->cmd, "query", &query, &have_q, error) ||
	    !query_validate(&query, error))
		return false;
	if (!bson_iter_init_find(&it, ctx->cmd, "key") || !BSON_ITER_HOLDS_UTF8(&it)) {
		cmd_error(error, 14, "BSON field 'distinct.key' is missing or not a string");
		return false;
	}
	const char *key = bson_iter_utf8(&it, NULL);
	scoll_t *c = store_get_coll(ctx->db, coll);
	if (c) {
		plan_t p;
		const bson_t *doc;
		plan_init(&p, c, &query, NULL, NULL);
		plan_start(&p, NULL, 0);
		while ((doc = plan_next(&p, NULL, NULL))) {
			bson_iter_t v;
			if (!query_lookup(bson_get_data(doc), doc->len, key, &v))
				continue;
			if (BSON_ITER_HOLDS_ARRAY(&v)) {
				bson_iter_t el;
				bson_iter_recurse(&v, &el);
				while (bson_iter_next(&el)) {
					bson_t k = BSON_INITIALIZER;
					bson_append_iter(&k, "", 0, &el);
					tree_insert(&seen, bson_get_data(&k), k.len, NULL, NULL);
					bson_destroy(&k);
				}
			} else {
				bson_t k = BSON_INITIALIZER;
				bson_append_iter(&k, "", 0, &v);
				tree_insert(&seen, bson_get_data(&k), k.len, NULL, NULL);
				bson_destroy(&k);
			}
		}
		plan_cleanup(&p);
	}
	bson_t arr;
	uint32_t i = 0;
	tree_iter_t ti;
	tree_node_t *node;
	BSON_APPEND_ARRAY_BEGIN(reply, "values", &arr);
	tree_iter_seek(&ti, &seen, NULL, 0, false, false);
	while ((node = tree_iter_next(&ti))) {
		bson_iter_t v;
		char kb[16];
		const char *kp;
		bson_iter_init_from_data(&v, node->key, node->keylen);
		bson_iter_next(&v);
		size_t kl = bson_uint32_to_string(i++, &kp, kb, sizeof kb);
		bson_append_iter(&arr, kp, (int)kl, &v);
	}
	bson_append_array_end(reply, &arr);
	tree_clear(&seen, NULL);
	return true;
}
