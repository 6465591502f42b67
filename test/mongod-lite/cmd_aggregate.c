/* aggregate: $match $sort $limit $skip $project $addFields/$set $unset
 * $count $group $unwind $replaceRoot/$replaceWith over one collection;
 * $changeStream first hands over to changestream_open(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changestream.h"
#include "cmds.h"
#include "cursor.h"
#include "order.h"
#include "plan.h"
#include "query.h"
#include "server.h"
#include "store.h"

/* A pipeline's working set: documents borrowed from the store or owned. */
typedef struct {
	bson_t *doc;
	bool owned;
} item_t;

typedef struct {
	item_t *items;
	size_t n, cap;
} docset_t;

static void
set_push(docset_t *s, bson_t *doc, bool owned)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->items = realloc(s->items, s->cap * sizeof *s->items);
	}
	s->items[s->n].doc = doc;
	s->items[s->n].owned = owned;
	s->n++;
}

static void
set_free(docset_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->items[i].owned)
			bson_destroy(s->items[i].doc);
	free(s->items);
	s->items = NULL;
	s->n = s->cap = 0;
}

static void
set_replace(docset_t *s, size_t i, bson_t *doc)
{
	if (s->items[i].owned)
		bson_destroy(s->items[i].doc);
	s->items[i].doc = doc;
	s->items[i].owned = true;
}

/*
 * Evaluates an expression against doc and appends the result under key to
 * out: "$path", "$$ROOT", {$literal: v}, documents of expressions, plain
 * values. Appends nothing when a path is missing. false + error for
 * unsupported operators.
 */
static bool
eval_append(const bson_value_t *expr, const bson_t *doc, bson_t *out, const char *key,
	    bson_error_t *error)
{
	if (expr->value_type == BSON_TYPE_UTF8 && expr->value.v_utf8.str[0] == '$') {
		const char *path = expr->value.v_utf8.str + 1;
		bson_iter_t it;
		if (strcmp(path, "$ROOT") == 0 || strcmp(path, "$CURRENT") == 0) {
			bson_append_document(out, key, -1, doc);
			return true;
		}
		if (path[0] == '$') {
			cmd_error(error, 17276, "Use of undefined variable: %s", path + 1);
			return false;
		}
		if (query_lookup(bson_get_data(doc), doc->len, path, &it))
			bson_append_iter(out, key, -1, &it);
		return true;
	}
	if (expr->value_type == BSON_TYPE_DOCUMENT) {
		bson_iter_t it;
		bson_iter_init_from_data(&it, expr->value.v_doc.data, expr->value.v_doc.data_len);
		if (bson_iter_next(&it) && bson_iter_key(&it)[0] == '$') {
			if (strcmp(bson_iter_key(&it), "$literal") == 0) {
				bson_append_iter(out, key, -1, &it);
				return true;
			}
			cmd_error(error, 168, "Unrecognized expression '%s'", bson_iter_key(&it));
			return false;
		}
		bson_t sub;
		bson_append_document_begin(out, key, -1, &sub);
		bson_iter_init_from_data(&it, expr->value.v_doc.data, expr->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			if (!eval_append(bson_iter_value(&it), doc, &sub, bson_iter_key(&it),
					 error)) {
				bson_append_document_end(out, &sub);
				return false;
			}
		}
		bson_append_document_end(out, &sub);
		return true;
	}
	bson_append_value(out, key, -1, expr);
	return true;
}

static __thread const bson_t *agg_sort_spec; /* for qsort */

static int
item_cmp(const void *a, const void *b)
{
	const item_t *x = a, *y = b;
	return query_sort_cmp(agg_sort_spec, bson_get_data(x->doc), x->doc->len,
			      bson_get_data(y->doc), y->doc->len);
}

static bool
stage_project(docset_t *s, const bson_value_t *spec, bool add_fields, bson_error_t *error)
{
	bson_t sp;
	bson_iter_t it;
	bool simple = true;

	if (spec->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 15969, "$project specification must be an object");
		return false;
	}
	bson_init_static(&sp, spec->value.v_doc.data, spec->value.v_doc.data_len);
	bson_iter_init(&it, &sp);
	while (bson_iter_next(&it)) {
		bson_type_t t = bson_iter_type(&it);
		if (t != BSON_TYPE_BOOL && !order_is_number(t))
			simple = false;
	}
	if (!add_fields && simple) {
		if (!query_projection_validate(&sp, error))
			return false;
		for (size_t i = 0; i < s->n; i++) {
			bson_t *out = bson_new();
			query_project(&sp, bson_get_data(s->items[i].doc), s->items[i].doc->len,
				      out);
			set_replace(s, i, out);
		}
		return true;
	}
	for (size_t i = 0; i < s->n; i++) {
		const bson_t *doc = s->items[i].doc;
		bson_t *out = bson_new();
		bson_iter_t f;
		if (add_fields) {
			/* keep every field, replacing those the stage sets */
			bson_iter_init(&f, doc);
			while (bson_iter_next(&f))
				if (!bson_has_field(&sp, bson_iter_key(&f)))
					bson_append_iter(out, NULL, 0, &f);
		} else {
			bson_iter_t idp;
			bool keep_id = !(bson_iter_init_find(&idp, &sp, "_id") &&
					 !bson_iter_as_bool(&idp) &&
					 bson_iter_type(&idp) != BSON_TYPE_UTF8);
			if (keep_id && !bson_has_field(&sp, "_id") &&
			    bson_iter_init_find(&f, doc, "_id"))
				bson_append_iter(out, "_id", 3, &f);
		}
		bson_iter_init(&it, &sp);
		while (bson_iter_next(&it)) {
			const char *k = bson_iter_key(&it);
			bson_type_t t = bson_iter_type(&it);
			if (!add_fields && (t == BSON_TYPE_BOOL || order_is_number(t))) {
				if (bson_iter_as_bool(&it) &&
				    query_lookup(bson_get_data(doc), doc->len, k, &f))
					bson_append_iter(out, k, -1, &f);
				continue;
			}
			if (!eval_append(bson_iter_value(&it), doc, out, k, error)) {
				bson_destroy(out);
				return false;
			}
		}
		set_replace(s, i, out);
	}
	return true;
}

typedef enum {
	ACC_SUM,
	ACC_AVG,
	ACC_MIN,
	ACC_MAX,
	ACC_FIRST,
	ACC_LAST,
	ACC_PUSH,
	ACC_ADDTOSET,
	ACC_COUNT
} acc_op_t;

typedef struct {
	const char *name; /* output field */
	acc_op_t op;
	bson_value_t arg_value; /* points into the command */
	const bson_value_t *arg;
} acc_spec_t;

typedef struct {
	int64_t isum;
	double dsum;
	bool any_double, int64_seen, have;
	int64_t count;
	bson_t value; /* {"": v} for min/max/first/last; array items for push */
	uint32_t n;
} acc_state_t;

typedef struct {
	acc_state_t *acc;
} group_t;

static void
acc_feed(acc_state_t *st, const acc_spec_t *sp, const bson_t *doc, bson_error_t *error)
{
	bson_t tmp = BSON_INITIALIZER;
	bson_iter_t v;
	bool have = false;

	if (sp->op != ACC_COUNT) {
		if (!eval_append(sp->arg, doc, &tmp, "v", error)) {
			bson_destroy(&tmp);
			return;
		}
		have = bson_iter_init_find(&v, &tmp, "v");
	}
	switch (sp->op) {
	case ACC_COUNT:
		st->isum++;
		break;
	case ACC_SUM:
	case ACC_AVG:
		if (have && order_is_number(bson_iter_type(&v))) {
			if (BSON_ITER_HOLDS_INT32(&v))
				st->isum += bson_iter_int32(&v);
			else if (BSON_ITER_HOLDS_INT64(&v)) {
				st->isum += bson_iter_int64(&v);
				st->int64_seen = true;
			} else {
				st->dsum += (double)order_number_value(bson_iter_value(&v));
				st->any_double = true;
			}
			st->count++;
		}
		break;
	case ACC_MIN:
	case ACC_MAX:
		if (have && order_type_rank(bson_iter_type(&v)) > ORDER_NULLISH) {
			bson_iter_t cur;
			bool replace = !st->have;
			if (!replace) {
				bson_iter_init(&cur, &st->value);
				bson_iter_next(&cur);
				int c = order_values(bson_iter_value(&v), bson_iter_value(&cur));
				replace = sp->op == ACC_MIN ? c < 0 : c > 0;
			}
			if (replace) {
				bson_reinit(&st->value);
				bson_append_iter(&st->value, "", 0, &v);
				st->have = true;
			}
		}
		break;
	case ACC_FIRST:
	case ACC_LAST:
		if (sp->op == ACC_LAST || !st->have) {
			bson_reinit(&st->value);
			if (have)
				bson_append_iter(&st->value, "", 0, &v);
			else
				bson_append_null(&st->value, "", 0);
			st->have = true;
		}
		break;
	case ACC_PUSH:
	case ACC_ADDTOSET:
		if (have) {
			if (sp->op == ACC_ADDTOSET) {
				bson_iter_t el;
				bson_iter_init(&el, &st->value);
				while (bson_iter_next(&el))
					if (order_values(bson_iter_value(&el),
							 bson_iter_value(&v)) == 0)
						goto out;
			}
			char key[16];
			const char *kp;
			size_t kl = bson_uint32_to_string(st->n++, &kp, key, sizeof key);
			bson_append_iter(&st->value, kp, (int)kl, &v);
		}
		break;
	}
out:
	bson_destroy(&tmp);
}

static void
acc_emit(acc_state_t *st, const acc_spec_t *sp, bson_t *out)
{
	bson_iter_t it;
	switch (sp->op) {
	case ACC_COUNT:
	case ACC_SUM:
		if (st->any_double)
			BSON_APPEND_DOUBLE(out, sp->name, st->dsum + (double)st->isum);
		else if (!st->int64_seen && st->isum >= INT32_MIN && st->isum <= INT32_MAX)
			BSON_APPEND_INT32(out, sp->name, (int32_t)st->isum);
		else
			BSON_APPEND_INT64(out, sp->name, st->isum);
		break;
	case ACC_AVG:
		if (st->count)
			BSON_APPEND_DOUBLE(out, sp->name,
					   (st->dsum + (double)st->isum) / (double)st->count);
		else
			BSON_APPEND_NULL(out, sp->name);
		break;
	case ACC_MIN:
	case ACC_MAX:
	case ACC_FIRST:
	case ACC_LAST:
		if (st->have && bson_iter_init(&it, &st->value) && bson_iter_next(&it))
			bson_append_iter(out, sp->name, -1, &it);
		else
			BSON_APPEND_NULL(out, sp->name);
		break;
	case ACC_PUSH:
	case ACC_ADDTOSET:
		BSON_APPEND_ARRAY(out, sp->name, &st->value);
		break;
	}
}

static bool
stage_group(docset_t *s, const bson_value_t *spec, bson_error_t *error)
{
	static const char *ops[] = {"$sum",  "$avg",  "$min",      "$max",  "$first",
				    "$last", "$push", "$addToSet", "$count"};
	bson_iter_t it;
	const bson_value_t *id_expr = NULL;
	bson_value_t id_value;
	acc_spec_t accs[64];
	size_t nacc = 0;

	if (spec->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 15947, "a group's fields must be specified in an object");
		return false;
	}
	bson_iter_init_from_data(&it, spec->value.v_doc.data, spec->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "_id") == 0) {
			id_value = *bson_iter_value(&it);
			id_expr = &id_value;
			continue;
		}
		bson_iter_t op;
		if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &op) ||
		    !bson_iter_next(&op)) {
			cmd_error(error, 40234, "The field '%s' must be an accumulator object", k);
			return false;
		}
		size_t j;
		for (j = 0; j < sizeof ops / sizeof ops[0]; j++)
			if (strcmp(ops[j], bson_iter_key(&op)) == 0)
				break;
		if (j == sizeof ops / sizeof ops[0] || nacc >= 64) {
			cmd_error(error, 15952, "unknown group operator '%s'", bson_iter_key(&op));
			return false;
		}
		accs[nacc].name = k;
		accs[nacc].op = (acc_op_t)j;
		accs[nacc].arg_value = *bson_iter_value(&op);
		accs[nacc].arg = &accs[nacc].arg_value;
		nacc++;
	}
	if (!id_expr) {
		cmd_error(error, 15955, "a group specification must include an _id");
		return false;
	}
	tree_t groups = {0};
	for (size_t i = 0; i < s->n; i++) {
		const bson_t *doc = s->items[i].doc;
		bson_t key = BSON_INITIALIZER;
		if (!eval_append(id_expr, doc, &key, "", error)) {
			bson_destroy(&key);
			goto fail;
		}
		if (bson_empty(&key))
			bson_append_null(&key, "", 0);
		tree_node_t *node = tree_find(&groups, bson_get_data(&key), key.len);
		group_t *g;
		if (!node) {
			g = calloc(1, sizeof *g);
			g->acc = store_calloc((nacc ? nacc : 1) * sizeof *g->acc);
			for (size_t a = 0; a < nacc; a++)
				bson_init(&g->acc[a].value);
			tree_insert(&groups, bson_get_data(&key), key.len, g, NULL);
		} else {
			g = node->val;
		}
		bson_destroy(&key);
		for (size_t a = 0; a < nacc; a++) {
			acc_feed(&g->acc[a], &accs[a], doc, error);
		}
	}
	set_free(s);
	tree_iter_t ti;
	tree_node_t *node;
	tree_iter_seek(&ti, &groups, NULL, 0, false, false);
	while ((node = tree_iter_next(&ti))) {
		group_t *g = node->val;
		bson_t *out = bson_new();
		bson_iter_t kv;
		bson_iter_init_from_data(&kv, node->key, node->keylen);
		bson_iter_next(&kv);
		bson_append_iter(out, "_id", 3, &kv);
		for (size_t a = 0; a < nacc; a++)
			acc_emit(&g->acc[a], &accs[a], out);
		set_push(s, out, true);
	}
	bool ok = true;
	goto cleanup;
fail:
	ok = false;
cleanup:
	tree_iter_seek(&ti, &groups, NULL, 0, false, false);
	while ((node = tree_iter_next(&ti))) {
		group_t *g = node->val;
		for (size_t a = 0; a < nacc; a++)
			bson_destroy(&g->acc[a].value);
		free(g->acc);
		free(g);
	}
	tree_clear(&groups, NULL);
	return ok;
}

static bool
stage_unwind(docset_t *s, const bson_value_t *spec, bson_error_t *error)
{
	const char *path = NULL;
	bool preserve = false;
	if (spec->value_type == BSON_TYPE_UTF8) {
		path = spec->value.v_utf8.str;
	} else if (spec->value_type == BSON_TYPE_DOCUMENT) {
		bson_iter_t it;
		bson_iter_init_from_data(&it, spec->value.v_doc.data, spec->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			if (strcmp(bson_iter_key(&it), "path") == 0 && BSON_ITER_HOLDS_UTF8(&it))
				path = bson_iter_utf8(&it, NULL);
			else if (strcmp(bson_iter_key(&it), "preserveNullAndEmptyArrays") == 0)
				preserve = bson_iter_as_bool(&it);
		}
	}
	if (!path || path[0] != '$' || strchr(path, '.')) {
		cmd_error(error, 28818, "$unwind needs a top-level field path starting with '$'");
		return false;
	}
	path++;
	docset_t out = {0};
	for (size_t i = 0; i < s->n; i++) {
		const bson_t *doc = s->items[i].doc;
		bson_iter_t v;
		bool found = bson_iter_init_find(&v, doc, path);
		if (found && BSON_ITER_HOLDS_ARRAY(&v)) {
			bson_iter_t el;
			bool any = false;
			bson_iter_recurse(&v, &el);
			while (bson_iter_next(&el)) {
				bson_t *d = bson_new();
				bson_iter_t f;
				bson_iter_init(&f, doc);
				while (bson_iter_next(&f)) {
					if (strcmp(bson_iter_key(&f), path) == 0)
						bson_append_iter(d, path, -1, &el);
					else
						bson_append_iter(d, NULL, 0, &f);
				}
				set_push(&out, d, true);
				any = true;
			}
			if (!any && preserve)
				set_push(&out, bson_copy(doc), true);
		} else if ((found && !BSON_ITER_HOLDS_NULL(&v)) || preserve) {
			set_push(&out, bson_copy(doc), true);
		}
	}
	set_free(s);
	*s = out;
	return true;
}

static bool
run_stage(docset_t *s, bson_iter_t *stage_it, bson_error_t *error)
{
	bson_iter_t st;
	if (!BSON_ITER_HOLDS_DOCUMENT(stage_it) || !bson_iter_recurse(stage_it, &st) ||
	    !bson_iter_next(&st)) {
		cmd_error(error, 40323,
			  "A pipeline stage specification object must contain exactly one field.");
		return false;
	}
	const char *name = bson_iter_key(&st);
	const bson_value_t *arg = bson_iter_value(&st);

	if (strcmp(name, "$match") == 0) {
		bson_t filter;
		if (arg->value_type != BSON_TYPE_DOCUMENT) {
			cmd_error(error, 15959,
				  "the match filter must be an expression in an object");
			return false;
		}
		bson_init_static(&filter, arg->value.v_doc.data, arg->value.v_doc.data_len);
		if (!query_validate(&filter, error))
			return false;
		size_t w = 0;
		for (size_t i = 0; i < s->n; i++) {
			if (query_match(&filter, bson_get_data(s->items[i].doc),
					s->items[i].doc->len))
				s->items[w++] = s->items[i];
			else if (s->items[i].owned)
				bson_destroy(s->items[i].doc);
		}
		s->n = w;
		return true;
	}
	if (strcmp(name, "$sort") == 0) {
		bson_t spec;
		if (arg->value_type != BSON_TYPE_DOCUMENT) {
			cmd_error(error, 15973, "the $sort key specification must be an object");
			return false;
		}
		bson_init_static(&spec, arg->value.v_doc.data, arg->value.v_doc.data_len);
		if (!query_sort_validate(&spec, error))
			return false;
		agg_sort_spec = &spec;
		/* merge sort keeps equal documents in their order (stable) */
		item_t *tmp = malloc((s->n ? s->n : 1) * sizeof *tmp);
		for (size_t width = 1; width < s->n; width *= 2) {
			for (size_t lo = 0; lo < s->n; lo += 2 * width) {
				size_t mid = lo + width < s->n ? lo + width : s->n;
				size_t hi = lo + 2 * width < s->n ? lo + 2 * width : s->n;
				size_t a = lo, b = mid, k = lo;
				while (a < mid && b < hi)
					tmp[k++] = item_cmp(&s->items[b], &s->items[a]) < 0
							   ? s->items[b++]
							   : s->items[a++];
				while (a < mid)
					tmp[k++] = s->items[a++];
				while (b < hi)
					tmp[k++] = s->items[b++];
			}
			memcpy(s->items, tmp, s->n * sizeof *tmp);
		}
		free(tmp);
		return true;
	}
	if (strcmp(name, "$limit") == 0 || strcmp(name, "$skip") == 0) {
		bson_iter_t v = st;
		int64_t n;
		if (!cmd_as_int64(&v, &n) || n < 0 || (n == 0 && name[1] == 'l')) {
			cmd_error(error, 15958, "the %s must be a positive number", name + 1);
			return false;
		}
		size_t keep_from = 0, keep_to = s->n;
		if (name[1] == 'l')
			keep_to = (size_t)n < s->n ? (size_t)n : s->n;
		else
			keep_from = (size_t)n < s->n ? (size_t)n : s->n;
		for (size_t i = 0; i < s->n; i++)
			if ((i < keep_from || i >= keep_to) && s->items[i].owned)
				bson_destroy(s->items[i].doc);
		if (keep_to > keep_from) /* items may be NULL when empty */
			memmove(s->items, s->items + keep_from,
				(keep_to - keep_from) * sizeof *s->items);
		s->n = keep_to - keep_from;
		return true;
	}
	if (strcmp(name, "$project") == 0)
		return stage_project(s, arg, false, error);
	if (strcmp(name, "$addFields") == 0 || strcmp(name, "$set") == 0)
		return stage_project(s, arg, true, error);
	if (strcmp(name, "$unset") == 0) {
		bson_t spec = BSON_INITIALIZER;
		if (arg->value_type == BSON_TYPE_UTF8) {
			BSON_APPEND_INT32(&spec, arg->value.v_utf8.str, 0);
		} else if (arg->value_type == BSON_TYPE_ARRAY) {
			bson_iter_t el;
			bson_iter_init_from_data(&el, arg->value.v_doc.data,
						 arg->value.v_doc.data_len);
			while (bson_iter_next(&el))
				if (BSON_ITER_HOLDS_UTF8(&el))
					BSON_APPEND_INT32(&spec, bson_iter_utf8(&el, NULL), 0);
		} else {
			bson_destroy(&spec);
			cmd_error(error, 31002,
				  "$unset specification must be a string or an array");
			return false;
		}
		bson_value_t v = {.value_type = BSON_TYPE_DOCUMENT};
		v.value.v_doc.data = (uint8_t *)bson_get_data(&spec);
		v.value.v_doc.data_len = spec.len;
		bool ok = stage_project(s, &v, false, error);
		bson_destroy(&spec);
		return ok;
	}
	if (strcmp(name, "$count") == 0) {
		if (arg->value_type != BSON_TYPE_UTF8 || !arg->value.v_utf8.str[0] ||
		    arg->value.v_utf8.str[0] == '$') {
			cmd_error(error, 40156, "the count field must be a non-empty string");
			return false;
		}
		int64_t n = (int64_t)s->n;
		set_free(s);
		if (n > 0) {
			bson_t *out = bson_new();
			BSON_APPEND_INT32(out, arg->value.v_utf8.str, (int32_t)n);
			set_push(s, out, true);
		}
		return true;
	}
	if (strcmp(name, "$group") == 0)
		return stage_group(s, arg, error);
	if (strcmp(name, "$unwind") == 0)
		return stage_unwind(s, arg, error);
	if (strcmp(name, "$replaceRoot") == 0 || strcmp(name, "$replaceWith") == 0) {
		const bson_value_t *expr = arg;
		bson_iter_t nr;
		if (name[8] == 'R') {
			if (arg->value_type != BSON_TYPE_DOCUMENT ||
			    !bson_iter_init_from_data(&nr, arg->value.v_doc.data,
						      arg->value.v_doc.data_len) ||
			    !bson_iter_find(&nr, "newRoot")) {
				cmd_error(error, 40228,
					  "no newRoot specified for the $replaceRoot stage");
				return false;
			}
			expr = bson_iter_value(&nr);
		}
		for (size_t i = 0; i < s->n; i++) {
			bson_t tmp = BSON_INITIALIZER;
			bson_iter_t v;
			if (!eval_append(expr, s->items[i].doc, &tmp, "r", error)) {
				bson_destroy(&tmp);
				return false;
			}
			if (!bson_iter_init_find(&v, &tmp, "r") || !BSON_ITER_HOLDS_DOCUMENT(&v)) {
				bson_destroy(&tmp);
				cmd_error(error, 40228,
					  "'newRoot' expression must evaluate to an object");
				return false;
			}
			const uint8_t *d;
			uint32_t l;
			bson_iter_document(&v, &l, &d);
			set_replace(s, i, bson_new_from_data(d, l));
			bson_destroy(&tmp);
		}
		return true;
	}
	if (strcmp(name, "$changeStream") == 0) {
		cmd_error(error, 40602,
			  "$changeStream is only valid as the first stage in a pipeline");
		return false;
	}
	cmd_error(error, 40324, "Unrecognized pipeline stage name: '%s'", name);
	return false;
}

bool
cmd_aggregate(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it, stages;
	const char *coll = NULL;
	int64_t batch_size = CURSOR_DEFAULT_FIRST_BATCH;
	char ns[512];

	if (!bson_iter_init_find(&it, ctx->cmd, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it)) {
		cmd_error(error, 14, "'pipeline' option must be specified as an array");
		return false;
	}
	const bson_value_t *pv = bson_iter_value(&it);
	bson_t pipeline;
	bson_init_static(&pipeline, pv->value.v_doc.data, pv->value.v_doc.data_len);
	bson_iter_recurse(&it, &stages);
	bson_iter_t first = stages;
	if (bson_iter_next(&first) && BSON_ITER_HOLDS_DOCUMENT(&first)) {
		bson_iter_t st;
		bson_iter_recurse(&first, &st);
		if (bson_iter_next(&st) && strcmp(bson_iter_key(&st), "$changeStream") == 0)
			return changestream_open(ctx, &pipeline, reply, error);
	}
	bson_iter_init(&it, ctx->cmd);
	bson_iter_next(&it);
	if (BSON_ITER_HOLDS_UTF8(&it)) {
		if (!(coll = cmd_coll_arg(ctx, error)))
			return false;
	} else {
		cmd_error(error, 73, "{aggregate: 1} is only supported with $changeStream here");
		return false;
	}
	if (!bson_iter_init_find(&it, ctx->cmd, "cursor") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		if (!bson_iter_init_find(&it, ctx->cmd, "explain")) {
			cmd_error(error, 9,
				  "The 'cursor' option is required, except for aggregate with the "
				  "explain argument");
			return false;
		}
	} else {
		bson_iter_t bs;
		bson_iter_recurse(&it, &bs);
		if (bson_iter_find(&bs, "batchSize") &&
		    (!cmd_as_int64(&bs, &batch_size) || batch_size < 0)) {
			cmd_error(error, 2, "cursor.batchSize must be a non-negative number");
			return false;
		}
	}

	docset_t set = {0};
	scoll_t *c = store_get_coll(ctx->db, coll);
	/* a leading $match picks its documents through an index when it can */
	bson_t first_match = BSON_INITIALIZER;
	bool matched_first = false;
	bson_iter_t peek = stages, st;
	if (bson_iter_next(&peek) && BSON_ITER_HOLDS_DOCUMENT(&peek) &&
	    bson_iter_recurse(&peek, &st) && bson_iter_next(&st) &&
	    strcmp(bson_iter_key(&st), "$match") == 0 && BSON_ITER_HOLDS_DOCUMENT(&st)) {
		const uint8_t *d;
		uint32_t l;
		bson_iter_document(&st, &l, &d);
		bson_init_static(&first_match, d, l);
		if (!query_validate(&first_match, error))
			return false;
		matched_first = true;
		stages = peek;
	}
	if (c) {
		plan_t p;
		const bson_t *doc;
		plan_init(&p, c, matched_first ? &first_match : NULL, NULL, NULL);
		plan_start(&p, NULL, 0);
		while ((doc = plan_next(&p, NULL, NULL)))
			set_push(&set, (bson_t *)doc, false);
		plan_cleanup(&p);
	}
	while (bson_iter_next(&stages)) {
		if (!run_stage(&set, &stages, error)) {
			set_free(&set);
			return false;
		}
	}
	bson_t **docs = malloc((set.n ? set.n : 1) * sizeof *docs);
	for (size_t i = 0; i < set.n; i++)
		docs[i] = set.items[i].owned ? set.items[i].doc : bson_copy(set.items[i].doc);
	size_t n = set.n;
	free(set.items);
	snprintf(ns, sizeof ns, "%s.%s", ctx->db, coll);
	return cursor_first_batch(ns, &cursor_doclist_ops, cursor_doclist_new(docs, n),
				  (int32_t)batch_size, false, reply, error);
}
