/* Update application and updateDescription (see update.h). */
#include "update.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "docdiff.h"
#include "order.h"
#include "pipeline.h"
#include "query.h"
#include "server.h"
#include "update_fast.h"
#include "update_pos.h"

/* ---- a mutable document: containers expand lazily on first touch ---- */

typedef struct mnode {
	char *key;
	bson_value_t val; /* scalars: an owned copy; containers not yet expanded: raw copy */
	bool expanded;    /* container whose children are in kids */
	struct mnode **kids;
	size_t n, cap;
} mnode_t;

static bool
is_container(const mnode_t *m)
{
	return m->val.value_type == BSON_TYPE_DOCUMENT || m->val.value_type == BSON_TYPE_ARRAY;
}

static mnode_t *
mnode_new(const char *key, size_t klen)
{
	mnode_t *m = calloc(1, sizeof *m);
	m->key = bson_strndup(key, klen);
	m->val.value_type = BSON_TYPE_NULL;
	return m;
}

static void mnode_free(mnode_t *m);

static void
mnode_clear(mnode_t *m)
{
	if (m->expanded) {
		for (size_t i = 0; i < m->n; i++)
			mnode_free(m->kids[i]);
		free(m->kids);
		m->kids = NULL;
		m->n = m->cap = 0;
		m->expanded = false;
	} else {
		bson_value_destroy(&m->val);
	}
	memset(&m->val, 0, sizeof m->val);
	m->val.value_type = BSON_TYPE_NULL;
}

static void
mnode_free(mnode_t *m)
{
	if (!m)
		return;
	mnode_clear(m);
	bson_free(m->key);
	free(m);
}

static void
mnode_set(mnode_t *m, const bson_value_t *v)
{
	mnode_clear(m);
	bson_value_copy(v, &m->val);
}

static void
mnode_push(mnode_t *parent, mnode_t *kid)
{
	if (parent->n == parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 8;
		parent->kids = realloc(parent->kids, parent->cap * sizeof *parent->kids);
	}
	parent->kids[parent->n++] = kid;
}

static void
mnode_insert_at(mnode_t *parent, size_t pos, mnode_t *kid)
{
	mnode_push(parent, kid);
	memmove(parent->kids + pos + 1, parent->kids + pos,
		(parent->n - 1 - pos) * sizeof *parent->kids);
	parent->kids[pos] = kid;
}

/* Makes m an expanded empty container of type t. */
static void
mnode_make_container(mnode_t *m, bson_type_t t)
{
	mnode_clear(m);
	m->val.value_type = t;
	m->expanded = true;
}

static void
mnode_expand(mnode_t *m)
{
	bson_iter_t it;
	if (m->expanded || !is_container(m))
		return;
	bson_value_t raw = m->val;
	memset(&m->val, 0, sizeof m->val);
	m->val.value_type = raw.value_type;
	m->expanded = true;
	bson_iter_init_from_data(&it, raw.value.v_doc.data, raw.value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		mnode_t *k = mnode_new(bson_iter_key(&it), bson_iter_key_len(&it));
		bson_value_copy(bson_iter_value(&it), &k->val);
		mnode_push(m, k);
	}
	bson_value_destroy(&raw);
}

static void mnode_append_to(const mnode_t *m, bson_t *out, const char *key, int klen);

static void
mnode_kids_to(const mnode_t *m, bson_t *out)
{
	bool arr = m->val.value_type == BSON_TYPE_ARRAY;
	for (size_t i = 0; i < m->n; i++) {
		char buf[16];
		const char *k = m->kids[i]->key;
		int kl = -1;
		if (arr)
			kl = (int)bson_uint32_to_string((uint32_t)i, &k, buf, sizeof buf);
		mnode_append_to(m->kids[i], out, k, kl);
	}
}

static void
mnode_append_to(const mnode_t *m, bson_t *out, const char *key, int klen)
{
	if (!m->expanded) {
		bson_append_value(out, key, klen, &m->val);
		return;
	}
	bson_t child;
	if (m->val.value_type == BSON_TYPE_ARRAY)
		bson_append_array_begin(out, key, klen, &child);
	else
		bson_append_document_begin(out, key, klen, &child);
	mnode_kids_to(m, &child);
	if (m->val.value_type == BSON_TYPE_ARRAY)
		bson_append_array_end(out, &child);
	else
		bson_append_document_end(out, &child);
}

static mnode_t *
mnode_from_doc(const bson_t *doc)
{
	mnode_t *root = mnode_new("", 0);
	bson_value_t v = {.value_type = BSON_TYPE_DOCUMENT};
	v.value.v_doc.data = (uint8_t *)bson_get_data(doc);
	v.value.v_doc.data_len = doc->len;
	bson_value_copy(&v, &root->val);
	mnode_expand(root);
	return root;
}

static int
kid_index(const mnode_t *m, const char *key, size_t klen)
{
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->kids[i]->key) == klen && memcmp(m->kids[i]->key, key, klen) == 0)
			return (int)i;
	return -1;
}

static bool
parse_index(const char *s, size_t n, size_t *out)
{
	if (n == 0 || n > 9)
		return false;
	size_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * Finds the node at path. With create, makes missing parts (documents
 * on the way, null-padding arrays); *parent_out is the node's parent. NULL when absent (no create)
 * or not viable (error set).
 */
static mnode_t *
mnode_path(mnode_t *root, const char *path, bool create, mnode_t **parent_out, bson_error_t *error)
{
	mnode_t *cur = root, *parent = NULL;
	const char *p = path;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t cl = dot ? (size_t)(dot - p) : strlen(p);
		if (cl == 0) {
			cmd_error(error, 56, "An empty update path is not valid.");
			return NULL;
		}
		if (!is_container(cur)) {
			if (create)
				cmd_error(error, 28,
					  "Cannot create field '%.*s' in element {%s: ...}",
					  (int)cl, p, cur->key);
			return NULL;
		}
		mnode_expand(cur);
		mnode_t *next = NULL;
		if (cur->val.value_type == BSON_TYPE_ARRAY) {
			size_t idx;
			if (!parse_index(p, cl, &idx)) {
				if (create)
					cmd_error(
						error, 28,
						"Cannot create field '%.*s' in element {%s: [...]}",
						(int)cl, p, cur->key);
				return NULL;
			}
			if (idx >= cur->n) {
				if (!create)
					return NULL;
				while (cur->n <= idx)
					mnode_push(cur, mnode_new("", 0));
				/* padded with nulls, the new element a document
				 * when the path goes on (pathsupport::createPathAt) */
				if (dot)
					mnode_make_container(cur->kids[idx], BSON_TYPE_DOCUMENT);
			}
			next = cur->kids[idx];
		} else {
			int i = kid_index(cur, p, cl);
			if (i < 0) {
				if (!create)
					return NULL;
				next = mnode_new(p, cl);
				mnode_push(cur, next);
				if (dot)
					mnode_make_container(next, BSON_TYPE_DOCUMENT);
			} else {
				next = cur->kids[i];
			}
		}
		parent = cur;
		cur = next;
		if (!dot)
			break;
		p = dot + 1;
	}
	if (parent_out)
		*parent_out = parent;
	return cur;
}

static void
mnode_remove(mnode_t *root, const char *path)
{
	mnode_t *parent = NULL;
	mnode_t *m = mnode_path(root, path, false, &parent, NULL);
	if (!m || !parent)
		return;
	if (parent->val.value_type == BSON_TYPE_ARRAY) {
		bson_value_t null_v = {.value_type = BSON_TYPE_NULL};
		mnode_set(m, &null_v); /* $unset of an element leaves null, like mongod */
		return;
	}
	for (size_t i = 0; i < parent->n; i++) {
		if (parent->kids[i] == m) {
			memmove(parent->kids + i, parent->kids + i + 1,
				(parent->n - i - 1) * sizeof *parent->kids);
			parent->n--;
			break;
		}
	}
	mnode_free(m);
}

/* The value of m as a bson_value_t; containers are serialized into tmp. */
static void
mnode_value(const mnode_t *m, bson_t *tmp, bson_value_t *out)
{
	if (!m->expanded) {
		*out = m->val;
		return;
	}
	bson_init(tmp);
	mnode_kids_to(m, tmp);
	out->value_type = m->val.value_type;
	out->value.v_doc.data = (uint8_t *)bson_get_data(tmp);
	out->value.v_doc.data_len = tmp->len;
}

/* ---- validation ---- */

typedef enum {
	U_SET,
	U_UNSET,
	U_INC,
	U_MUL,
	U_MIN,
	U_MAX,
	U_PUSH,
	U_ADDTOSET,
	U_POP,
	U_PULL,
	U_PULLALL,
	U_RENAME,
	U_SETONINSERT,
	U_CURRENTDATE,
	U_NONE
} uop_t;

static uop_t
uop_of(const char *name)
{
	static const char *names[] = {"$set",     "$unset",  "$inc",         "$mul",        "$min",
				      "$max",     "$push",   "$addToSet",    "$pop",        "$pull",
				      "$pullAll", "$rename", "$setOnInsert", "$currentDate"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i], name) == 0)
			return (uop_t)i;
	return U_NONE;
}

bool
update_validate(const bson_value_t *u, update_kind_t *kind, bson_error_t *error)
{
	bson_iter_t it;

	if (u->value_type == BSON_TYPE_ARRAY) {
		*kind = UPDATE_PIPELINE;
		bson_iter_init_from_data(&it, u->value.v_doc.data, u->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			bson_iter_t st;
			if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
				cmd_error(error, 14,
					  "Each element of the 'pipeline' array must be an object");
				return false;
			}
			bson_iter_recurse(&it, &st);
			if (!bson_iter_next(&st)) {
				cmd_error(error, 40323,
					  "A pipeline stage specification object must contain "
					  "exactly one field.");
				return false;
			}
			if (!pipeline_stage_allowed(bson_iter_key(&st), error))
				return false;
		}
		return true;
	}
	if (u->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 14, "Update argument must be either an object or an array");
		return false;
	}
	bson_iter_init_from_data(&it, u->value.v_doc.data, u->value.v_doc.data_len);
	if (!bson_iter_next(&it) || bson_iter_key(&it)[0] != '$') {
		*kind = UPDATE_REPLACEMENT;
		bson_iter_init_from_data(&it, u->value.v_doc.data, u->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			if (bson_iter_key(&it)[0] == '$') {
				cmd_error(
					error, 52,
					"The dollar ($) prefixed field '%s' in '%s' is not allowed "
					"in the context of an update's replacement document.",
					bson_iter_key(&it), bson_iter_key(&it));
				return false;
			}
		}
		return true;
	}
	*kind = UPDATE_OPERATORS;
	bson_iter_init_from_data(&it, u->value.v_doc.data, u->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (uop_of(k) == U_NONE) {
			cmd_error(error, 9,
				  "Unknown modifier: %s. Expected a valid update modifier or "
				  "pipeline-style update specified as an array",
				  k);
			return false;
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
			cmd_error(error, 9,
				  "Modifiers operate on fields but we found type %s instead. For "
				  "example: {$mod: {<field>: ...}} not {%s: ...}",
				  "scalar", k);
			return false;
		}
	}
	return true;
}

/* ---- applying ---- */

/* What one modifier did at path, as MongoDB's log builder records it:
 * the value there now (REC_SET), a removal (REC_UNSET), or elements
 * appended to an array that held old_len (REC_APPEND); REC_GROUP is an
 * array whose `$[...]` children reached several elements (update_pos.h). */
typedef enum { REC_SET, REC_UNSET, REC_APPEND, REC_GROUP } rec_kind_t;

typedef struct {
	const char *path;
	rec_kind_t kind;
	size_t old_len;
	bool no_log;  /* an array above it logs for it */
	bool dynamic; /* a concrete path of a positional one */
	const upos_group_t *group;
} rec_t;

typedef struct {
	rec_t *recs;
	size_t n, cap;
} recs_t;

static void
rec_add(recs_t *r, const char *path, rec_kind_t kind, size_t old_len)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->recs = realloc(r->recs, r->cap * sizeof *r->recs);
	}
	r->recs[r->n].path = path;
	r->recs[r->n].kind = kind;
	r->recs[r->n].old_len = old_len;
	r->recs[r->n].no_log = r->recs[r->n].dynamic = false;
	r->recs[r->n].group = NULL;
	r->n++;
}

static bool
is_number(const bson_value_t *v)
{
	return order_is_number(v->value_type);
}

static void
arith(const bson_value_t *a, const bson_value_t *b, bool mul, bson_value_t *out)
{
	bool a_dbl = a->value_type == BSON_TYPE_DOUBLE || a->value_type == BSON_TYPE_DECIMAL128;
	bool b_dbl = b->value_type == BSON_TYPE_DOUBLE || b->value_type == BSON_TYPE_DECIMAL128;

	if (a_dbl || b_dbl) {
		double x = (double)order_number_value(a), y = (double)order_number_value(b);
		out->value_type = BSON_TYPE_DOUBLE;
		out->value.v_double = mul ? x * y : x + y;
		return;
	}
	int64_t x = a->value_type == BSON_TYPE_INT32 ? a->value.v_int32 : a->value.v_int64;
	int64_t y = b->value_type == BSON_TYPE_INT32 ? b->value.v_int32 : b->value.v_int64;
	int64_t r;
	bool overflow = mul ? __builtin_mul_overflow(x, y, &r) : __builtin_add_overflow(x, y, &r);
	if (overflow) {
		out->value_type = BSON_TYPE_DOUBLE;
		out->value.v_double = mul ? (double)x * (double)y : (double)x + (double)y;
		return;
	}
	if (a->value_type == BSON_TYPE_INT32 && b->value_type == BSON_TYPE_INT32 &&
	    r >= INT32_MIN && r <= INT32_MAX) {
		out->value_type = BSON_TYPE_INT32;
		out->value.v_int32 = (int32_t)r;
	} else {
		out->value_type = BSON_TYPE_INT64;
		out->value.v_int64 = r;
	}
}

static bool
ensure_array(mnode_t *m, const char *path, const char *op, bson_error_t *error)
{
	if (m->val.value_type != BSON_TYPE_ARRAY) {
		cmd_error(error, 2,
			  "The field '%s' must be an array but is of a different type (%s)", path,
			  op);
		return false;
	}
	mnode_expand(m);
	return true;
}

static int
node_cmp_for_sort(const mnode_t *x, const mnode_t *y, const bson_value_t *spec_value)
{
	bson_t tx, ty;
	bson_value_t vx, vy;
	int c;
	mnode_value(x, &tx, &vx);
	mnode_value(y, &ty, &vy);
	if (spec_value->value_type == BSON_TYPE_DOCUMENT) {
		bson_t spec;
		bson_init_static(&spec, spec_value->value.v_doc.data,
				 spec_value->value.v_doc.data_len);
		if (vx.value_type == BSON_TYPE_DOCUMENT && vy.value_type == BSON_TYPE_DOCUMENT)
			c = query_sort_cmp(&spec, vx.value.v_doc.data, vx.value.v_doc.data_len,
					   vy.value.v_doc.data, vy.value.v_doc.data_len);
		else
			c = order_values(&vx, &vy);
	} else {
		c = order_values(&vx, &vy);
		if (order_number_value(spec_value) < 0)
			c = -c;
	}
	if (x->expanded)
		bson_destroy(&tx);
	if (y->expanded)
		bson_destroy(&ty);
	return c;
}

/* $push's $sort: a stable merge sort by spec (no global state, so
 * concurrent updates need no lock around it). */
static void
sort_kids(mnode_t **kids, size_t n, const bson_value_t *spec, mnode_t **tmp)
{
	if (n < 2)
		return;
	size_t half = n / 2;
	sort_kids(kids, half, spec, tmp);
	sort_kids(kids + half, n - half, spec, tmp);
	size_t i = 0, j = half, w = 0;
	while (i < half && j < n)
		tmp[w++] = node_cmp_for_sort(kids[j], kids[i], spec) < 0 ? kids[j++] : kids[i++];
	while (i < half)
		tmp[w++] = kids[i++];
	while (j < n)
		tmp[w++] = kids[j++];
	memcpy(kids, tmp, n * sizeof *kids);
}

/* *append is set when the values went to the end of a non-empty array
 * with no $position, $sort or $slice (MongoDB then logs just them). */
static bool
do_push(mnode_t *arr, const bson_value_t *arg, bool add_to_set, bool *append, bson_error_t *error)
{
	bson_iter_t it;
	const bson_value_t *each = NULL, *slice = NULL, *position = NULL, *sort = NULL;
	bson_value_t each_v, slice_v, position_v, sort_v;

	if (arg->value_type == BSON_TYPE_DOCUMENT) {
		bson_iter_init_from_data(&it, arg->value.v_doc.data, arg->value.v_doc.data_len);
		if (bson_iter_next(&it) && strcmp(bson_iter_key(&it), "$each") == 0) {
			bson_iter_init_from_data(&it, arg->value.v_doc.data,
						 arg->value.v_doc.data_len);
			while (bson_iter_next(&it)) {
				const char *k = bson_iter_key(&it);
				if (strcmp(k, "$each") == 0)
					each_v = *bson_iter_value(&it), each = &each_v;
				else if (strcmp(k, "$slice") == 0)
					slice_v = *bson_iter_value(&it), slice = &slice_v;
				else if (strcmp(k, "$position") == 0)
					position_v = *bson_iter_value(&it), position = &position_v;
				else if (strcmp(k, "$sort") == 0)
					sort_v = *bson_iter_value(&it), sort = &sort_v;
				else {
					cmd_error(error, 2, "Unrecognized clause in $push: %s", k);
					return false;
				}
			}
			if (each->value_type != BSON_TYPE_ARRAY) {
				cmd_error(error, 2,
					  "The argument to $each in $push must be an array");
				return false;
			}
			if ((slice && !is_number(slice)) || (position && !is_number(position))) {
				cmd_error(error, 2, "$slice and $position must be numbers");
				return false;
			}
		}
	}
	size_t pos = arr->n;
	*append = arr->n > 0 && !sort && !slice;
	if (position) {
		long double p = order_number_value(position);
		if (p < 0)
			p = (long double)arr->n + p < 0 ? 0 : (long double)arr->n + p;
		pos = p > (long double)arr->n ? arr->n : (size_t)p;
		*append = *append && p > (long double)arr->n;
	}
	bson_iter_t el;
	const bson_value_t *single = arg;
	bool use_each = each != NULL;
	if (use_each)
		bson_iter_init_from_data(&el, each->value.v_doc.data, each->value.v_doc.data_len);
	for (;;) {
		const bson_value_t *v;
		if (use_each) {
			if (!bson_iter_next(&el))
				break;
			v = bson_iter_value(&el);
		} else {
			if (!single)
				break;
			v = single;
			single = NULL;
		}
		if (add_to_set) {
			bool found = false;
			for (size_t i = 0; i < arr->n && !found; i++) {
				bson_t t;
				bson_value_t cur;
				mnode_value(arr->kids[i], &t, &cur);
				found = cur.value_type == v->value_type &&
					order_values(&cur, v) == 0;
				if (arr->kids[i]->expanded)
					bson_destroy(&t);
			}
			if (found)
				continue;
		}
		mnode_t *k = mnode_new("", 0);
		mnode_set(k, v);
		mnode_insert_at(arr, pos++, k);
	}
	if (sort) {
		mnode_t **tmp = malloc((arr->n ? arr->n : 1) * sizeof *tmp);
		sort_kids(arr->kids, arr->n, sort, tmp);
		free(tmp);
	}
	if (slice) {
		long double s = order_number_value(slice);
		if (s >= 0 && (size_t)s < arr->n) {
			for (size_t i = (size_t)s; i < arr->n; i++)
				mnode_free(arr->kids[i]);
			arr->n = (size_t)s;
		} else if (s < 0 && (size_t)(-s) < arr->n) {
			size_t keep = (size_t)(-s), drop = arr->n - keep;
			for (size_t i = 0; i < drop; i++)
				mnode_free(arr->kids[i]);
			memmove(arr->kids, arr->kids + drop, keep * sizeof *arr->kids);
			arr->n = keep;
		}
	}
	return true;
}

static void
do_pull(mnode_t *arr, const bson_value_t *cond, bool pull_all)
{
	size_t w = 0;
	for (size_t i = 0; i < arr->n; i++) {
		bson_t t;
		bson_value_t cur;
		bool match = false;
		mnode_value(arr->kids[i], &t, &cur);
		if (pull_all) {
			bson_iter_t el;
			bson_iter_init_from_data(&el, cond->value.v_doc.data,
						 cond->value.v_doc.data_len);
			while (bson_iter_next(&el) && !match)
				match = order_values(&cur, bson_iter_value(&el)) == 0;
		} else {
			match = query_match_value(&cur, cond);
		}
		if (arr->kids[i]->expanded)
			bson_destroy(&t);
		if (match)
			mnode_free(arr->kids[i]);
		else
			arr->kids[w++] = arr->kids[i];
	}
	arr->n = w;
}

/* True when paths a and b overlap: equal, or one a dotted prefix of the other. */
static bool
paths_conflict(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t l = la < lb ? la : lb;
	if (strncmp(a, b, l) != 0)
		return false;
	if (la == lb)
		return true;
	return (la < lb ? b[l] : a[l]) == '.';
}

/* The node at path, made (and *made true) when it is missing; NULL +
 * error when it cannot be made. */
static mnode_t *
mnode_find_or_make(mnode_t *root, const char *path, bool *made, bson_error_t *error)
{
	mnode_t *m = mnode_path(root, path, false, NULL, NULL);

	*made = !m;
	return m ? m : mnode_path(root, path, true, NULL, error);
}

/* Applies one modifier at path to root. */
static bool
apply_op(mnode_t *root, uop_t op, const char *path, const bson_value_t *arg, bool inserting,
	 recs_t *recs, bson_error_t *error)
{
	mnode_t *m, *parent = NULL;
	bool made, append;
	size_t old_len;

	switch (op) {
	case U_SETONINSERT:
		if (!inserting)
			break;
		/* fall through */
	case U_SET:
		if (!(m = mnode_path(root, path, true, NULL, error)))
			return false;
		mnode_set(m, arg);
		rec_add(recs, path, REC_SET, 0);
		break;
	case U_UNSET:
		mnode_remove(root, path);
		rec_add(recs, path, REC_UNSET, 0);
		break;
	case U_INC:
	case U_MUL:
		if (!is_number(arg)) {
			cmd_error(error, 14, "Cannot %s with non-numeric argument: {%s: ...}",
				  op == U_INC ? "increment" : "multiply", path);
			return false;
		}
		if (!(m = mnode_find_or_make(root, path, &made, error)))
			return false;
		if (made) {
			if (op == U_INC) {
				mnode_set(m, arg);
			} else {
				bson_value_t zero = {.value_type = arg->value_type};
				bson_value_t r;
				if (arg->value_type == BSON_TYPE_DECIMAL128)
					zero.value_type = BSON_TYPE_DOUBLE;
				arith(&zero, arg, true, &r);
				mnode_set(m, &r);
			}
		} else {
			if (!is_number(&m->val) || m->expanded) {
				cmd_error(error, 14,
					  "Cannot apply %s to a value of non-numeric type. "
					  "The field '%s' is not numeric",
					  op == U_INC ? "$inc" : "$mul", path);
				return false;
			}
			bson_value_t r;
			arith(&m->val, arg, op == U_MUL, &r);
			mnode_set(m, &r);
		}
		rec_add(recs, path, REC_SET, 0);
		break;
	case U_MIN:
	case U_MAX:
		if (!(m = mnode_find_or_make(root, path, &made, error)))
			return false;
		if (made) {
			mnode_set(m, arg);
		} else {
			bson_t t;
			bson_value_t cur;
			mnode_value(m, &t, &cur);
			int c = order_values(arg, &cur);
			if (m->expanded)
				bson_destroy(&t);
			if ((op == U_MIN && c < 0) || (op == U_MAX && c > 0))
				mnode_set(m, arg);
		}
		rec_add(recs, path, REC_SET, 0);
		break;
	case U_CURRENTDATE: {
		if (!(m = mnode_path(root, path, true, NULL, error)))
			return false;
		bson_value_t v;
		bool ts = false;
		if (arg->value_type == BSON_TYPE_DOCUMENT) {
			bson_iter_t t;
			if (bson_iter_init_from_data(&t, arg->value.v_doc.data,
						     arg->value.v_doc.data_len) &&
			    bson_iter_find(&t, "$type") && BSON_ITER_HOLDS_UTF8(&t))
				ts = strcmp(bson_iter_utf8(&t, NULL), "timestamp") == 0;
		}
		if (ts) {
			v.value_type = BSON_TYPE_TIMESTAMP;
			v.value.v_timestamp.timestamp = (uint32_t)(clock_wall_ms() / 1000);
			v.value.v_timestamp.increment = 1;
		} else {
			v.value_type = BSON_TYPE_DATE_TIME;
			v.value.v_datetime = clock_wall_ms();
		}
		mnode_set(m, &v);
		rec_add(recs, path, REC_SET, 0);
		break;
	}
	case U_PUSH:
	case U_ADDTOSET:
		if (!(m = mnode_find_or_make(root, path, &made, error)))
			return false;
		if (made)
			mnode_make_container(m, BSON_TYPE_ARRAY);
		if (!ensure_array(m, path, op == U_PUSH ? "$push" : "$addToSet", error))
			return false;
		old_len = m->n;
		if (op == U_ADDTOSET && arg->value_type == BSON_TYPE_DOCUMENT) {
			bson_iter_t e;
			if (bson_iter_init_from_data(&e, arg->value.v_doc.data,
						     arg->value.v_doc.data_len) &&
			    bson_iter_next(&e) && strcmp(bson_iter_key(&e), "$each") == 0) {
				if (!BSON_ITER_HOLDS_ARRAY(&e)) {
					cmd_error(error, 2,
						  "The argument to $each in $addToSet must "
						  "be an array");
					return false;
				}
				bson_iter_t el;
				bson_iter_recurse(&e, &el);
				while (bson_iter_next(&el))
					if (!do_push(m, bson_iter_value(&el), true, &append, error))
						return false;
				rec_add(recs, path, made ? REC_SET : REC_APPEND, old_len);
				break;
			}
		}
		if (!do_push(m, arg, op == U_ADDTOSET, &append, error))
			return false;
		append = !made && (append || op == U_ADDTOSET);
		rec_add(recs, path, append ? REC_APPEND : REC_SET, old_len);
		break;
	case U_POP:
	case U_PULL:
	case U_PULLALL:
		m = mnode_path(root, path, false, &parent, NULL);
		if (!m)
			break;
		if (!ensure_array(m, path, "$pull", error))
			return false;
		if (op == U_POP) {
			if (m->n > 0) {
				if (order_number_value(arg) < 0) {
					mnode_free(m->kids[0]);
					memmove(m->kids, m->kids + 1, (m->n - 1) * sizeof *m->kids);
				} else {
					mnode_free(m->kids[m->n - 1]);
				}
				m->n--;
			}
		} else {
			if (op == U_PULLALL && arg->value_type != BSON_TYPE_ARRAY) {
				cmd_error(error, 2, "$pullAll requires an array argument");
				return false;
			}
			do_pull(m, arg, op == U_PULLALL);
		}
		rec_add(recs, path, REC_SET, 0);
		break;
	case U_RENAME: {
		if (arg->value_type != BSON_TYPE_UTF8) {
			cmd_error(error, 2, "The 'to' field for $rename must be a string: %s",
				  path);
			return false;
		}
		const char *to = arg->value.v_utf8.str;
		if (paths_conflict(path, to)) {
			cmd_error(error, 2,
				  "The source and target field for $rename must not be on "
				  "the same path: %s: \"%s\"",
				  path, to);
			return false;
		}
		m = mnode_path(root, path, false, &parent, NULL);
		if (!m)
			break;
		bson_t t;
		bson_value_t v, copy;
		mnode_value(m, &t, &v);
		bson_value_copy(&v, &copy);
		if (m->expanded)
			bson_destroy(&t);
		mnode_remove(root, path);
		mnode_t *dst = mnode_path(root, to, true, NULL, error);
		if (!dst) {
			bson_value_destroy(&copy);
			return false;
		}
		mnode_set(dst, &copy);
		bson_value_destroy(&copy);
		rec_add(recs, path, REC_UNSET, 0);
		rec_add(recs, to, REC_SET, 0);
		break;
	}
	case U_NONE:
		break;
	}
	return true;
}

/* One modifier of an operator update, with the path it sorts by ($rename:
 * its target, where MongoDB's update tree holds it). */
typedef struct {
	uop_t op;
	const char *path;
	const char *sort_path;
	bson_value_t arg;
	size_t seq;
	bool no_log, dynamic;
} uop_entry_t;

int
update_component_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	bool an = al > 0 && a[0] >= '0' && a[0] <= '9' && !(a[0] == '0' && al > 1);
	bool bn = bl > 0 && b[0] >= '0' && b[0] <= '9' && !(b[0] == '0' && bl > 1);
	if (an && bn && al != bl)
		return al < bl ? -1 : 1;
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int
uop_entry_cmp(const void *x, const void *y)
{
	const uop_entry_t *ex = x, *ey = y;
	const char *a = ex->sort_path, *b = ey->sort_path;
	for (;;) {
		const char *da = strchr(a, '.'), *db = strchr(b, '.');
		size_t al = da ? (size_t)(da - a) : strlen(a),
		       bl = db ? (size_t)(db - b) : strlen(b);
		int c = update_component_cmp(a, al, b, bl);
		if (c)
			return c;
		if (!da || !db) {
			if (da != db)
				return da ? 1 : -1;
			return ex->seq < ey->seq ? -1 : ex->seq > ey->seq;
		}
		a = da + 1;
		b = db + 1;
	}
}

/* Modifiers cannot write $-prefixed names (a pipeline with $setField
 * can): 52 as MongoDB's storage validation answers. */
static bool
dollar_free_path(const char *path, bson_error_t *error)
{
	for (const char *p = path; p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL) {
		/* "$" and "$[...]" are positional operators, not names */
		if (*p != '$' || p[1] == '.' || p[1] == '\0' || p[1] == '[')
			continue;
		const char *dot = strchr(p, '.');
		cmd_error(error, 52,
			  "The dollar ($) prefixed field '%.*s' in '%s' is not valid for "
			  "storage.",
			  (int)(dot ? (size_t)(dot - p) : strlen(p)), p, path);
		return false;
	}
	return true;
}

/* Where an update's positional paths are resolved: the update's filter
 * (`$`), its arrayFilters, and the positions they give (update_pos.h). */
typedef struct {
	const bson_t *query;
	const bson_t *filters;
	bson_t doc; /* the document before any modifier, when expanded */
	upos_t pos;
	bool expanded;
} pos_ctx_t;

/* Replaces each positional entry of *ops by the concrete paths it stands
 * for in root, in order. */
static bool
expand_ops(mnode_t *root, uop_entry_t **ops, size_t *n, pos_ctx_t *pc, bson_error_t *error)
{
	bool any = false;
	for (size_t k = 0; k < *n && !any; k++)
		any = upos_is_dynamic((*ops)[k].path);
	if (!any)
		return true;
	bson_init(&pc->doc);
	mnode_kids_to(root, &pc->doc);
	upos_init(&pc->pos, &pc->doc, pc->query, pc->filters);
	pc->expanded = true;
	for (size_t k = 0; k < *n; k++)
		if (upos_is_dynamic((*ops)[k].path) &&
		    !upos_expand(&pc->pos, (*ops)[k].path, k, error))
			return false;
	upos_finish(&pc->pos);
	size_t total = *n + pc->pos.npaths, w = 0, next = 0;
	uop_entry_t *out = malloc((total ? total : 1) * sizeof *out);
	for (size_t k = 0; k < *n; k++) {
		if (!upos_is_dynamic((*ops)[k].path)) {
			out[w] = (*ops)[k];
			out[w++].seq = next++;
			continue;
		}
		for (size_t i = 0; i < pc->pos.npaths; i++) {
			if (pc->pos.paths[i].entry != k)
				continue;
			out[w] = (*ops)[k];
			out[w].path = out[w].sort_path = pc->pos.paths[i].path;
			out[w].no_log = pc->pos.paths[i].no_log;
			out[w].dynamic = true;
			out[w++].seq = next++;
		}
	}
	free(*ops);
	*ops = out;
	*n = w;
	return true;
}

/*
 * Applies every modifier of u in MongoDB 5.0+'s order: by path, field
 * names as strings and array indexes by number, whatever order the
 * update lists them in. New fields therefore land in that order.
 * Positional paths are first resolved into the paths they stand for.
 */
static bool
apply_ops_in_order(mnode_t *root, const bson_value_t *u, bool inserting, pos_ctx_t *pc,
		   recs_t *recs, bson_error_t *error)
{
	bson_iter_t it, fields;
	uop_entry_t *ops = NULL;
	size_t n = 0, cap = 0;
	bool ok = true;

	bson_iter_init_from_data(&it, u->value.v_doc.data, u->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		uop_t op = uop_of(bson_iter_key(&it));
		bson_iter_recurse(&it, &fields);
		while (bson_iter_next(&fields)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				ops = realloc(ops, cap * sizeof *ops);
			}
			if (!dollar_free_path(bson_iter_key(&fields), error)) {
				free(ops);
				return false;
			}
			uop_entry_t *e = &ops[n];
			memset(e, 0, sizeof *e);
			e->op = op;
			e->path = e->sort_path = bson_iter_key(&fields);
			e->arg = *bson_iter_value(&fields);
			e->seq = n++;
			if (op == U_RENAME && e->arg.value_type == BSON_TYPE_UTF8)
				e->sort_path = e->arg.value.v_utf8.str;
		}
	}
	if (!expand_ops(root, &ops, &n, pc, error)) {
		free(ops);
		return false;
	}
	if (n > 1)
		qsort(ops, n, sizeof *ops, uop_entry_cmp);
	for (size_t k = 0; k < n && ok; k++) {
		size_t before = recs->n;
		ok = apply_op(root, ops[k].op, ops[k].path, &ops[k].arg, inserting, recs, error);
		for (size_t r = before; r < recs->n; r++) {
			recs->recs[r].no_log = ops[k].no_log;
			recs->recs[r].dynamic = ops[k].dynamic;
		}
	}
	for (size_t g = 0; ok && pc->expanded && g < pc->pos.ngroups; g++) {
		if (!pc->pos.groups[g].logs)
			continue;
		rec_add(recs, pc->pos.groups[g].path, REC_GROUP, 0);
		recs->recs[recs->n - 1].group = &pc->pos.groups[g];
	}
	free(ops);
	return ok;
}

bool
update_identical(const bson_value_t *a, const bson_value_t *b)
{
	if (a->value_type != b->value_type)
		return false;
	if (a->value_type == BSON_TYPE_DOCUMENT || a->value_type == BSON_TYPE_ARRAY)
		return a->value.v_doc.data_len == b->value.v_doc.data_len &&
		       memcmp(a->value.v_doc.data, b->value.v_doc.data, a->value.v_doc.data_len) ==
			       0;
	if (a->value_type == BSON_TYPE_DOUBLE)
		return memcmp(&a->value.v_double, &b->value.v_double, sizeof(double)) == 0;
	return order_values(a, b) == 0;
}

static bool
lookup(const bson_t *doc, const char *path, bson_iter_t *it)
{
	return query_lookup(bson_get_data(doc), doc->len, path, it);
}

/* A path old lacked: MongoDB logs an insert at its first missing
 * component, of what the new document holds there. */
static void
log_created(dd_node_t *diff, const bson_t *old, const bson_t *neu, const char *path)
{
	bson_iter_t oi, ni;
	char *prefix = bson_strdup(path);

	for (char *dot = prefix;; dot++) {
		dot = strchr(dot, '.');
		if (dot)
			*dot = '\0';
		if (!lookup(old, prefix, &oi)) {
			if (lookup(neu, prefix, &ni))
				docdiff_log(diff, neu, prefix, DD_INSERT, bson_iter_value(&ni));
			break;
		}
		if (!dot)
			break;
		*dot = '.';
	}
	bson_free(prefix);
}

/* Appended elements: each logged at its index. */
static void
log_appended(dd_node_t *diff, const bson_t *neu, const char *path, size_t old_len)
{
	bson_iter_t ni, el;
	size_t i = 0;

	if (!lookup(neu, path, &ni) || !BSON_ITER_HOLDS_ARRAY(&ni) || !bson_iter_recurse(&ni, &el))
		return;
	while (bson_iter_next(&el)) {
		if (i++ < old_len)
			continue;
		char *key = bson_strdup_printf("%s.%zu", path, i - 1);
		docdiff_log(diff, neu, key, DD_UPDATE, bson_iter_value(&el));
		bson_free(key);
	}
}

/* An array whose `$[...]` children reached several elements logs for
 * them (update_array_node.cpp): the whole array when more than one
 * changed, the changed element when one did. */
static void
log_group(dd_node_t *diff, const bson_t *old, const bson_t *neu, const upos_group_t *g)
{
	size_t changed = 0, which = 0;
	bson_iter_t oi, ni;

	for (size_t k = 0; k < g->n; k++) {
		char *p = bson_strdup_printf("%s.%zu", g->path, g->idx[k]);
		bool had = lookup(old, p, &oi), has = lookup(neu, p, &ni);
		if (had != has ||
		    (had && !update_identical(bson_iter_value(&oi), bson_iter_value(&ni)))) {
			changed++;
			which = g->idx[k];
		}
		bson_free(p);
	}
	if (changed > 1 && lookup(neu, g->path, &ni)) {
		docdiff_log(diff, neu, g->path, DD_UPDATE, bson_iter_value(&ni));
	} else if (changed == 1) {
		char *p = bson_strdup_printf("%s.%zu", g->path, which);
		if (lookup(neu, p, &ni))
			docdiff_log(diff, neu, p, DD_UPDATE, bson_iter_value(&ni));
		bson_free(p);
	}
}

/* The updateDescription of an operator update, built as MongoDB's log
 * builder records each modifier. */
static void
build_ud(const bson_t *old, const bson_t *neu, const recs_t *recs, bson_t *ud)
{
	dd_node_t *diff = docdiff_new();

	for (size_t i = 0; i < recs->n; i++) {
		const char *path = recs->recs[i].path;
		bson_iter_t oi, ni;
		if (recs->recs[i].no_log)
			continue;
		bool had = lookup(old, path, &oi), has = lookup(neu, path, &ni);
		switch (recs->recs[i].kind) {
		case REC_GROUP:
			log_group(diff, old, neu, recs->recs[i].group);
			break;
		case REC_SET:
			if (!had)
				log_created(diff, old, neu, path);
			else if (has &&
				 !update_identical(bson_iter_value(&oi), bson_iter_value(&ni)))
				docdiff_log(diff, neu, path, DD_UPDATE, bson_iter_value(&ni));
			break;
		case REC_UNSET:
			if (had && has &&
			    !update_identical(bson_iter_value(&oi), bson_iter_value(&ni)))
				docdiff_log(diff, neu, path, DD_UPDATE, bson_iter_value(&ni));
			else if (had && !has)
				docdiff_log(diff, neu, path, DD_DELETE, NULL);
			break;
		case REC_APPEND:
			log_appended(diff, neu, path, recs->recs[i].old_len);
			break;
		}
	}
	docdiff_describe(diff, ud);
	docdiff_free(diff);
}

/* Seeds an upsert's document with the equality fields of query. */
static bool
seed_from_query(mnode_t *root, const bson_t *query, bson_error_t *error)
{
	bson_iter_t it;
	if (!query || !bson_iter_init(&it, query))
		return true;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		const bson_value_t *v = bson_iter_value(&it);
		if (strcmp(k, "$and") == 0 && BSON_ITER_HOLDS_ARRAY(&it)) {
			bson_iter_t el;
			bson_iter_recurse(&it, &el);
			while (bson_iter_next(&el)) {
				if (BSON_ITER_HOLDS_DOCUMENT(&el)) {
					const uint8_t *d;
					uint32_t l;
					bson_t sub;
					bson_iter_document(&el, &l, &d);
					bson_init_static(&sub, d, l);
					if (!seed_from_query(root, &sub, error))
						return false;
				}
			}
			continue;
		}
		if (k[0] == '$' || v->value_type == BSON_TYPE_REGEX)
			continue;
		if (v->value_type == BSON_TYPE_DOCUMENT) {
			bson_iter_t inner;
			bson_iter_recurse(&it, &inner);
			if (bson_iter_next(&inner) && bson_iter_key(&inner)[0] == '$') {
				if (strcmp(bson_iter_key(&inner), "$eq") != 0)
					continue;
				v = bson_iter_value(&inner);
			}
		}
		mnode_t *m = mnode_path(root, k, true, NULL, error);
		if (!m)
			return false;
		mnode_set(m, v);
	}
	return true;
}

/* Runs an update pipeline on *root. A result without _id keeps the
 * document's (MongoDB's replacement rule); a different one fails later
 * with 66. */
static bool
run_pipeline(mnode_t **root, const bson_t *old, const bson_value_t *u, bson_error_t *error)
{
	bson_t current = BSON_INITIALIZER, result;
	bson_iter_t id;

	mnode_kids_to(*root, &current);
	bool ok = pipeline_run(&current, u, &result, error);
	bson_destroy(&current);
	if (!ok) {
		bson_destroy(&result);
		return false;
	}
	if (old && !bson_has_field(&result, "_id") && bson_iter_init_find(&id, old, "_id")) {
		bson_t with = BSON_INITIALIZER;
		bson_append_iter(&with, "_id", 3, &id);
		bson_concat(&with, &result);
		bson_destroy(&result);
		bson_steal(&result, &with);
	}
	mnode_free(*root);
	*root = mnode_from_doc(&result);
	bson_destroy(&result);
	return true;
}

bool
update_id_first(const bson_t *doc, bson_t *out, bson_error_t *error)
{
	bson_iter_t it, sub;
	bson_init(out);
	if (bson_iter_init_find(&it, doc, "_id")) {
		bson_type_t t = bson_iter_type(&it);
		if (t == BSON_TYPE_DOCUMENT && bson_iter_recurse(&it, &sub)) {
			while (bson_iter_next(&sub)) {
				if (bson_iter_key(&sub)[0] != '$')
					continue;
				cmd_error(error, 52,
					  "_id fields may not contain '$'-prefixed fields: %s is "
					  "not valid for storage.",
					  bson_iter_key(&sub));
				return false;
			}
		}
		if (t == BSON_TYPE_ARRAY || t == BSON_TYPE_REGEX || t == BSON_TYPE_UNDEFINED) {
			cmd_error(error, 2, "can't use a%s for _id",
				  t == BSON_TYPE_ARRAY   ? "n array"
				  : t == BSON_TYPE_REGEX ? " regex"
							 : "n undefined");
			return false;
		}
		bson_append_iter(out, "_id", 3, &it);
	} else {
		bson_oid_t oid;
		bson_oid_init(&oid, NULL);
		BSON_APPEND_OID(out, "_id", &oid);
	}
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "_id") != 0)
			bson_append_iter(out, NULL, 0, &it);
	return true;
}

/*
 * A replacement that is the new document byte for byte (a replayed insert
 * or replace: the whole document, _id first): _id first, one _id, of a
 * type stored as is, and the old document's _id by value. The general
 * path then builds the same bytes field by field.
 */
static bool
replacement_as_is(const bson_t *old, const bson_t *repl)
{
	bson_iter_t it, oid_it;
	if (!bson_iter_init(&it, repl) || !bson_iter_next(&it) || strcmp(bson_iter_key(&it), "_id"))
		return false;
	bson_type_t t = bson_iter_type(&it);
	if (t == BSON_TYPE_ARRAY || t == BSON_TYPE_REGEX || t == BSON_TYPE_UNDEFINED ||
	    t == BSON_TYPE_DOCUMENT)
		return false;
	if (old && (!bson_iter_init_find(&oid_it, old, "_id") ||
		    order_values(bson_iter_value(&it), bson_iter_value(&oid_it)) != 0))
		return false;
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "_id") == 0)
			return false;
	return true;
}

/* 40 for two modifiers on one path, or one inside the other. */
static bool
no_conflicts(const recs_t *recs, bson_error_t *error)
{
	for (size_t i = 0; i < recs->n; i++) {
		for (size_t j = i + 1; j < recs->n; j++) {
			const rec_t *a = &recs->recs[i], *b = &recs->recs[j];
			if (a->kind == REC_GROUP || b->kind == REC_GROUP ||
			    !paths_conflict(a->path, b->path))
				continue;
			if (a->dynamic || b->dynamic)
				cmd_error(error, 40, "Update created a conflict at '%s'",
					  strlen(a->path) < strlen(b->path) ? a->path : b->path);
			else
				cmd_error(error, 40,
					  "Updating the path '%s' would create a conflict at '%s'",
					  b->path, a->path);
			return false;
		}
	}
	return true;
}

bool
update_apply(const bson_t *old, const bson_value_t *u, const bson_t *query,
	     const bson_t *array_filters, bson_t *new_doc, bson_t *ud, bson_error_t *error)
{
	update_kind_t kind;
	bson_t empty = BSON_INITIALIZER, built = BSON_INITIALIZER;
	mnode_t *root = NULL;
	recs_t recs = {0};
	bool ok = false;
	bson_iter_t it;
	pos_ctx_t pc = {.query = old ? query : NULL, .filters = array_filters};

	if (!array_filters && update_fast_apply(old, u, new_doc, ud))
		return true;
	bson_init(new_doc);
	if (ud)
		bson_init(ud);
	if (!update_validate(u, &kind, error))
		goto done;

	if (kind == UPDATE_REPLACEMENT) {
		bson_t repl;
		bson_init_static(&repl, u->value.v_doc.data, u->value.v_doc.data_len);
		if (replacement_as_is(old, &repl)) {
			bson_destroy(new_doc);
			bson_copy_to(&repl, new_doc);
			ok = true;
			goto done;
		}
		bson_iter_t rid, oid_it;
		bool has_id = bson_iter_init_find(&rid, &repl, "_id");
		if (old && bson_iter_init_find(&oid_it, old, "_id")) {
			/* MongoDB compares the _ids as values (ObjectReplaceExecutor:
			 * compareWithBSONElement, numbers by value), and the document
			 * then holds the replacement's: 200 may replace 200.0. */
			if (has_id &&
			    order_values(bson_iter_value(&rid), bson_iter_value(&oid_it))) {
				cmd_error(error, 66,
					  "After applying the update, the (immutable) field '_id' "
					  "was found to have been altered");
				goto done;
			}
			bson_append_iter(&built, "_id", 3, has_id ? &rid : &oid_it);
		} else if (!has_id && query) {
			/* an upsert takes _id from the query's equality */
			bson_iter_t qid;
			if (query_id_equality(query, &qid))
				bson_append_iter(&built, "_id", 3, &qid);
		}
		bson_iter_init(&it, &repl);
		while (bson_iter_next(&it))
			if (strcmp(bson_iter_key(&it), "_id") != 0 ||
			    !bson_has_field(&built, "_id"))
				bson_append_iter(&built, NULL, 0, &it);
		ok = update_id_first(&built, new_doc, error);
		goto done;
	}

	root = mnode_from_doc(old ? old : &empty);
	if (!old && !seed_from_query(root, query, error))
		goto done;
	if (kind == UPDATE_OPERATORS) {
		if (!apply_ops_in_order(root, u, old == NULL, &pc, &recs, error) ||
		    !no_conflicts(&recs, error))
			goto done;
	} else if (!run_pipeline(&root, old, u, error)) {
		goto done;
	}
	mnode_kids_to(root, &built);
	if (old) {
		bson_iter_t a, b;
		bool had = bson_iter_init_find(&a, old, "_id");
		bool has = bson_iter_init_find(&b, &built, "_id");
		if (had != has ||
		    (had && !update_identical(bson_iter_value(&a), bson_iter_value(&b)))) {
			cmd_error(error, 66,
				  "Performing an update on the path '_id' would modify the "
				  "immutable field '_id'");
			goto done;
		}
	}
	if (!update_id_first(&built, new_doc, error))
		goto done;
	if (old && ud && kind == UPDATE_OPERATORS) {
		build_ud(old, new_doc, &recs, ud);
	} else if (old && ud) {
		/* A pipeline's result is compared with the document: MongoDB
		 * logs that diff, or a replacement when it is not smaller. */
		dd_node_t *diff = docdiff_compute(old, new_doc);
		if (diff)
			docdiff_describe(diff, ud);
		docdiff_free(diff);
	}
	ok = true;
done:
	if (pc.expanded) {
		upos_destroy(&pc.pos);
		bson_destroy(&pc.doc);
	}
	mnode_free(root);
	free(recs.recs);
	bson_destroy(&empty);
	bson_destroy(&built);
	return ok;
}
