/* Index selection and bounded index walks (see plan.h). */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "query.h"

/* The filter's equality value for field (not an operator document, array
 * or regex), or NULL. */
static bool
eq_value(const bson_t *filter, const char *field, bson_value_t *out)
{
	/* in outlives the block: v may point into it */
	bson_iter_t it, in;
	if (!filter || !bson_iter_init_find(&it, filter, field))
		return false;
	const bson_value_t *v = bson_iter_value(&it);
	if (v->value_type == BSON_TYPE_DOCUMENT) {
		bson_iter_recurse(&it, &in);
		if (bson_iter_next(&in) && bson_iter_key(&in)[0] == '$') {
			if (strcmp(bson_iter_key(&in), "$eq") != 0 || bson_iter_next(&in))
				return false;
			bson_iter_recurse(&it, &in);
			bson_iter_next(&in);
			v = bson_iter_value(&in);
			if (v->value_type == BSON_TYPE_DOCUMENT) {
				*out = *v;
				return true;
			}
		} else {
			*out = *v;
			return true;
		}
	}
	if (v->value_type == BSON_TYPE_ARRAY || v->value_type == BSON_TYPE_REGEX)
		return false;
	*out = *v;
	return true;
}

static bool
bound_ok(const bson_value_t *v)
{
	order_rank_t r = order_type_rank(v->value_type);
	return r != ORDER_MINKEY && r != ORDER_NULLISH && r != ORDER_MAXKEY &&
	       v->value_type != BSON_TYPE_ARRAY && v->value_type != BSON_TYPE_REGEX;
}

/* Range bounds for field from {$gt/$gte/$lt/$lte}; false when none usable. */
static bool
range_of(const bson_t *filter, const char *field, plan_t *p)
{
	bson_iter_t it, in;
	if (!filter || !bson_iter_init_find(&it, filter, field) || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	bson_iter_recurse(&it, &in);
	p->has_lo = p->has_hi = false;
	while (bson_iter_next(&in)) {
		const char *op = bson_iter_key(&in);
		const bson_value_t *v = bson_iter_value(&in);
		if (op[0] != '$')
			return false;
		if (!bound_ok(v))
			continue;
		if (strcmp(op, "$gt") == 0 || strcmp(op, "$gte") == 0) {
			if (!p->has_lo || order_values(v, &p->lo) > 0) {
				p->lo = *v;
				p->lo_incl = op[3] == 'e';
			}
			p->has_lo = true;
		} else if (strcmp(op, "$lt") == 0 || strcmp(op, "$lte") == 0) {
			if (!p->has_hi || order_values(v, &p->hi) < 0) {
				p->hi = *v;
				p->hi_incl = op[3] == 'e';
			}
			p->has_hi = true;
		}
	}
	if (p->has_lo && p->has_hi &&
	    order_type_rank(p->lo.value_type) != order_type_rank(p->hi.value_type))
		return false; /* nothing matches; a scan will say so */
	if (!p->has_lo && !p->has_hi)
		return false;
	p->range_rank = order_type_rank((p->has_lo ? &p->lo : &p->hi)->value_type);
	return true;
}

static int
value_cmp(const void *a, const void *b)
{
	return order_values(a, b);
}

/* The sorted distinct values of {field: {$in: [...]}} when every one can
 * be looked up by equality (no null, array, regex or operator); NULL
 * otherwise. Owned by the caller (free()); values borrow from filter. */
static bson_value_t *
in_points(const bson_t *filter, const char *field, size_t *n)
{
	bson_iter_t it, in, el;
	*n = 0;
	if (!filter || !bson_iter_init_find(&it, filter, field) || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return NULL;
	bson_iter_recurse(&it, &in);
	if (!bson_iter_next(&in) || strcmp(bson_iter_key(&in), "$in") != 0 ||
	    !BSON_ITER_HOLDS_ARRAY(&in) || bson_iter_next(&in))
		return NULL;
	bson_iter_recurse(&it, &in);
	bson_iter_next(&in);
	size_t cap = 0;
	bson_iter_recurse(&in, &el);
	while (bson_iter_next(&el))
		cap++;
	if (cap == 0)
		return NULL;
	bson_value_t *pts = malloc(cap * sizeof *pts);
	bson_iter_recurse(&in, &el);
	while (bson_iter_next(&el)) {
		const bson_value_t *v = bson_iter_value(&el);
		if (order_type_rank(v->value_type) == ORDER_NULLISH ||
		    v->value_type == BSON_TYPE_ARRAY || v->value_type == BSON_TYPE_REGEX ||
		    (v->value_type == BSON_TYPE_DOCUMENT && v->value.v_doc.data_len > 5 &&
		     v->value.v_doc.data[4] && v->value.v_doc.data[5] == '$')) {
			free(pts);
			return NULL;
		}
		pts[(*n)++] = *v;
	}
	qsort(pts, *n, sizeof *pts, value_cmp);
	size_t w = 0;
	for (size_t i = 0; i < *n; i++)
		if (w == 0 || order_values(&pts[w - 1], &pts[i]) != 0)
			pts[w++] = pts[i];
	*n = w;
	return pts;
}

/* Whether an index can serve queries at all. */
static bool
usable(const sindex_t *ix)
{
	bson_iter_t it;
	if (ix->multikey || ix->sparse || ix->partial)
		return false;
	bson_iter_init(&it, &ix->key);
	while (bson_iter_next(&it))
		if (!order_is_number(bson_iter_type(&it)))
			return false; /* text, hashed, 2dsphere... */
	return true;
}

/*
 * Fills p's bounds for the key pattern (NULL: {_id: 1}); returns a score:
 * 2 per equality field, 1 for a range, and whether the order serves sort.
 */
static int
bounds_for(plan_t *p, const bson_t *pattern, const bson_t *filter, const bson_t *sort, bool *sorted,
	   bool *reverse)
{
	const char *fields[32];
	size_t nf = 0;
	bson_iter_t it;
	int score = 0;

	if (pattern) {
		bson_iter_init(&it, pattern);
		while (bson_iter_next(&it) && nf < 32)
			fields[nf++] = bson_iter_key(&it);
	} else {
		fields[nf++] = "_id";
	}
	bson_reinit(&p->eq);
	p->neq = 0;
	p->has_lo = p->has_hi = false;
	p->range_rank = -1;
	size_t i = 0;
	for (; i < nf; i++) {
		bson_value_t v;
		if (!eq_value(filter, fields[i], &v))
			break;
		bson_append_value(&p->eq, "", 0, &v);
		p->neq++;
		score += 2;
	}
	free(p->points);
	p->points = NULL;
	p->npoints = p->point = 0;
	if (i < nf && (p->points = in_points(filter, fields[i], &p->npoints)))
		score += 2;
	else if (i < nf && range_of(filter, fields[i], p))
		score += 1;
	/* sort: the fields left after the equality ones must follow the key */
	*sorted = true;
	*reverse = false;
	if (sort && !bson_empty(sort)) {
		size_t k = p->neq;
		int dir = 0;
		bson_iter_init(&it, sort);
		while (bson_iter_next(&it)) {
			const char *f = bson_iter_key(&it);
			bool is_eq = false;
			for (size_t j = 0; j < p->neq; j++)
				if (strcmp(fields[j], f) == 0)
					is_eq = true;
			if (is_eq)
				continue;
			int d = order_number_value(bson_iter_value(&it)) < 0 ? -1 : 1;
			if (k >= nf || strcmp(fields[k], f) != 0 || (dir && d != dir)) {
				*sorted = false;
				break;
			}
			dir = d;
			k++;
		}
		*reverse = *sorted && dir < 0;
	}
	return score;
}

/* A value the walk's bounds compare as the matcher does: no null, NaN,
 * decimal, document, array or regex (their matching has more to it). */
static bool
plain_value(const bson_value_t *v)
{
	switch (v->value_type) {
	case BSON_TYPE_UTF8:
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DATE_TIME:
	case BSON_TYPE_OID:
	case BSON_TYPE_BOOL:
	case BSON_TYPE_TIMESTAMP:
		return true;
	case BSON_TYPE_DOUBLE:
		return v->value.v_double == v->value.v_double;
	default:
		return false;
	}
}

/* The range field's operators are all bounds the walk applies: $gt $gte
 * $lt $lte of plain values of the range's type bracket. */
static bool
range_exact(const plan_t *p, const bson_value_t *cond)
{
	bson_iter_t in;
	if (cond->value_type != BSON_TYPE_DOCUMENT ||
	    !bson_iter_init_from_data(&in, cond->value.v_doc.data, cond->value.v_doc.data_len))
		return false;
	while (bson_iter_next(&in)) {
		const char *op = bson_iter_key(&in);
		const bson_value_t *v = bson_iter_value(&in);
		if ((strcmp(op, "$gt") && strcmp(op, "$gte") && strcmp(op, "$lt") &&
		     strcmp(op, "$lte")) ||
		    !plain_value(v) || (int)order_type_rank(v->value_type) != p->range_rank)
			return false;
	}
	return true;
}

/*
 * Whether p's bounds are its whole filter: each top-level field of the
 * filter is one of the pattern's equality fields (a plain value) or its
 * range field, and the index is not multikey (usable() keeps such ones
 * out). Then every key the walk accepts is a match and the filter need not
 * run again for each document (a third of an update by _id, more of a
 * staging read). Dotted and $ fields always go through the filter.
 */
static void
mark_exact(plan_t *p, const bson_t *pattern)
{
	const char *fields[33];
	size_t nf = 0, covered = p->neq + (p->range_rank >= 0 ? 1 : 0);
	bson_iter_t it;

	p->exact = false;
	if (!p->filter || p->points || covered > 32)
		return;
	if (pattern) {
		bson_iter_init(&it, pattern);
		while (nf < covered && bson_iter_next(&it))
			fields[nf++] = bson_iter_key(&it);
	} else {
		fields[nf++] = "_id";
	}
	if (nf < covered)
		return;
	bson_iter_init(&it, p->filter);
	for (size_t seen = 0; bson_iter_next(&it); seen++) {
		const char *key = bson_iter_key(&it);
		size_t k = 0;
		while (k < covered && strcmp(fields[k], key) != 0)
			k++;
		if (seen == covered || k == covered || strchr(key, '.') || key[0] == '$')
			return;
		if (k == p->neq ? !range_exact(p, bson_iter_value(&it)) : false)
			return;
	}
	bson_iter_init(&it, &p->eq);
	while (bson_iter_next(&it))
		if (!plain_value(bson_iter_value(&it)))
			return;
	p->exact = true;
}

bool
plan_init(plan_t *p, scoll_t *c, const bson_t *filter, const bson_t *sort, const char *index_name)
{
	bool sorted, reverse;

	memset(p, 0, sizeof *p);
	bson_init(&p->eq);
	p->coll = c;
	p->filter = filter;
	if (index_name) {
		if (index_name[0]) {
			p->ix = store_find_index(c, index_name);
			if (!p->ix)
				return false;
		}
		bounds_for(p, p->ix ? &p->ix->key : NULL, filter, sort, &p->sorted, &p->reverse);
		mark_exact(p, p->ix ? &p->ix->key : NULL);
		return true;
	}
	/* the _id tree first; an index must do strictly better */
	int best = bounds_for(p, NULL, filter, sort, &sorted, &reverse) * 2 + (sorted ? 1 : 0);
	sindex_t *best_ix = NULL;
	for (sindex_t *ix = c->indexes; ix; ix = ix->next) {
		if (!usable(ix))
			continue;
		int score = bounds_for(p, &ix->key, filter, sort, &sorted, &reverse) * 2 +
			    (sorted ? 1 : 0);
		if (score > best) {
			best = score;
			best_ix = ix;
		}
	}
	p->ix = best_ix;
	bounds_for(p, best_ix ? &best_ix->key : NULL, filter, sort, &p->sorted, &p->reverse);
	mark_exact(p, best_ix ? &best_ix->key : NULL);
	return true;
}

const char *
plan_index_name(const plan_t *p)
{
	return p->ix ? p->ix->name : "";
}

void
plan_start(plan_t *p, const uint8_t *after_key, uint32_t after_len)
{
	tree_t *t = p->ix ? &p->ix->tree : &p->coll->docs;
	bson_t seek = BSON_INITIALIZER;

	if (after_key) {
		tree_iter_seek(&p->it, t, after_key, after_len, true, p->reverse);
		if (p->points) {
			/* resume at the point the key belongs to */
			bson_iter_t ki;
			bson_iter_init_from_data(&ki, after_key, after_len);
			for (uint32_t i = 0; i <= p->neq; i++)
				bson_iter_next(&ki);
			const bson_value_t *v = bson_iter_value(&ki);
			p->point = p->reverse ? p->npoints - 1 : 0;
			if (!p->reverse)
				while (p->point + 1 < p->npoints &&
				       order_values(&p->points[p->point], v) < 0)
					p->point++;
			else
				while (p->point > 0 && order_values(&p->points[p->point], v) > 0)
					p->point--;
		}
		bson_destroy(&seek);
		return;
	}
	bson_concat(&seek, &p->eq);
	if (p->points) {
		p->point = p->reverse ? p->npoints - 1 : 0;
		bson_append_value(&seek, "", 0, &p->points[p->point]);
	}
	bool bounded = p->neq > 0 || p->points;
	if (!p->reverse && p->has_lo) {
		bson_append_value(&seek, "", 0, &p->lo);
		bounded = true;
	} else if (p->reverse) {
		if (p->has_hi) {
			bson_append_value(&seek, "", 0, &p->hi);
			bounded = true;
		}
		if (bounded)
			bson_append_maxkey(&seek, "", 0);
	}
	if (bounded)
		tree_iter_seek(&p->it, t, bson_get_data(&seek), seek.len, false, p->reverse);
	else
		tree_iter_seek(&p->it, t, NULL, 0, false, p->reverse);
	bson_destroy(&seek);
}

void
plan_start_at(plan_t *p, const uint8_t *key, uint32_t keylen)
{
	tree_iter_seek(&p->it, p->ix ? &p->ix->tree : &p->coll->docs, key, keylen, false,
		       p->reverse);
}

/* -1 below the range, 0 inside, 1 above (in value order). */
static int
range_position(const plan_t *p, const bson_value_t *v)
{
	int r = order_type_rank(v->value_type);
	if (r != p->range_rank)
		return r < p->range_rank ? -1 : 1;
	if (p->has_lo) {
		int c = order_values(v, &p->lo);
		if (c < 0 || (c == 0 && !p->lo_incl))
			return -1;
	}
	if (p->has_hi) {
		int c = order_values(v, &p->hi);
		if (c > 0 || (c == 0 && !p->hi_incl))
			return 1;
	}
	return 0;
}

const bson_t *
plan_next(plan_t *p, const uint8_t **key, uint32_t *keylen)
{
	tree_node_t *n;

	while ((n = tree_iter_next(&p->it))) {
		bson_iter_t ki, ei;
		bool skip = false, stop = false;

		bson_iter_init_from_data(&ki, n->key, n->keylen);
		bson_iter_init(&ei, &p->eq);
		for (uint32_t i = 0; i < p->neq; i++) {
			bson_iter_next(&ki);
			bson_iter_next(&ei);
			if (order_values(bson_iter_value(&ki), bson_iter_value(&ei)) != 0) {
				stop = true;
				break;
			}
		}
		if (!stop && p->points && bson_iter_next(&ki)) {
			int c = order_values(bson_iter_value(&ki), &p->points[p->point]);
			if (c != 0) {
				/* left this value: on to the next one the walk can reach */
				bool more = p->reverse ? p->point > 0 : p->point + 1 < p->npoints;
				if (!more)
					return NULL;
				p->point = p->reverse ? p->point - 1 : p->point + 1;
				bson_t seek = BSON_INITIALIZER;
				bson_concat(&seek, &p->eq);
				bson_append_value(&seek, "", 0, &p->points[p->point]);
				if (p->reverse)
					bson_append_maxkey(&seek, "", 0);
				tree_iter_seek(&p->it, p->ix ? &p->ix->tree : &p->coll->docs,
					       bson_get_data(&seek), seek.len, false, p->reverse);
				bson_destroy(&seek);
				continue;
			}
		} else if (!stop && p->range_rank >= 0 && bson_iter_next(&ki)) {
			int pos = range_position(p, bson_iter_value(&ki));
			if (pos != 0) {
				/* before the range: keep walking; past it: done */
				if ((pos < 0) == !p->reverse)
					skip = true;
				else
					stop = true;
			}
		}
		if (stop)
			return NULL;
		if (skip)
			continue;
		const bson_t *doc = n->val;
		if (p->filter && !p->exact && !query_match(p->filter, bson_get_data(doc), doc->len))
			continue;
		if (key) {
			*key = n->key;
			*keylen = n->keylen;
		}
		return doc;
	}
	return NULL;
}

void
plan_cleanup(plan_t *p)
{
	bson_destroy(&p->eq);
	free(p->points);
	p->points = NULL;
}
