/* Positional update paths (see update_pos.h). */
#include "update_pos.h"

#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "query.h"

#define AF_CONTEXT "Error parsing array filter :: caused by :: "

/* ---- path components ---- */

static size_t
comp_len(const char *p)
{
	const char *dot = strchr(p, '.');
	return dot ? (size_t)(dot - p) : strlen(p);
}

static bool
is_positional(const char *c, size_t n)
{
	return n == 1 && c[0] == '$';
}

/* `$[...]`: *id (inside the brackets, maybe empty) and *idlen set. */
static bool
is_identifier(const char *c, size_t n, const char **id, size_t *idlen)
{
	if (n < 3 || c[0] != '$' || c[1] != '[' || c[n - 1] != ']')
		return false;
	if (id) {
		*id = c + 2;
		*idlen = n - 3;
	}
	return true;
}

bool
upos_is_dynamic(const char *path)
{
	for (const char *p = path;;) {
		size_t n = comp_len(p);
		if (is_positional(p, n) || is_identifier(p, n, NULL, NULL))
			return true;
		if (!p[n])
			return false;
		p += n + 1;
	}
}

/* ---- BSONObj::toString, for the messages that quote a value ---- */

static void
render(bson_string_t *s, const bson_value_t *v)
{
	bson_iter_t it;
	switch (v->value_type) {
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY: {
		bool arr = v->value_type == BSON_TYPE_ARRAY, first = true;
		bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
		bson_string_append(s, arr ? "[" : "{");
		while (bson_iter_next(&it)) {
			bson_string_append(s, first ? " " : ", ");
			first = false;
			if (!arr)
				bson_string_append_printf(s, "%s: ", bson_iter_key(&it));
			render(s, bson_iter_value(&it));
		}
		bson_string_append(s, first ? (arr ? "]" : "}") : (arr ? " ]" : " }"));
		break;
	}
	case BSON_TYPE_INT32:
		bson_string_append_printf(s, "%d", v->value.v_int32);
		break;
	case BSON_TYPE_INT64:
		bson_string_append_printf(s, "%lld", (long long)v->value.v_int64);
		break;
	case BSON_TYPE_DOUBLE: {
		double d = v->value.v_double;
		if (d == (double)(long long)d && d < 1e15 && d > -1e15)
			bson_string_append_printf(s, "%.1f", d);
		else
			bson_string_append_printf(s, "%g", d);
		break;
	}
	case BSON_TYPE_UTF8:
		bson_string_append_printf(s, "\"%s\"", v->value.v_utf8.str);
		break;
	case BSON_TYPE_BOOL:
		bson_string_append(s, v->value.v_bool ? "true" : "false");
		break;
	case BSON_TYPE_NULL:
		bson_string_append(s, "null");
		break;
	default: {
		bson_t tmp = BSON_INITIALIZER;
		bson_append_value(&tmp, "v", 1, v);
		char *j = bson_as_relaxed_extended_json(&tmp, NULL);
		bson_string_append(s, j);
		bson_free(j);
		bson_destroy(&tmp);
	}
	}
}

/* ---- arrayFilters ---- */

/* Merges one top-level name into *id (parseTopLevelFieldName): 9 when
 * it differs from the one already found. */
static bool
merge_name(const char *name, size_t n, const char **id, size_t *idlen, bson_error_t *error)
{
	if (!*id) {
		*id = name;
		*idlen = n;
		return true;
	}
	if (*idlen == n && memcmp(*id, name, n) == 0)
		return true;
	cmd_error(error, 9,
		  AF_CONTEXT "Expected a single top-level field name, found '%.*s' and '%.*s'",
		  (int)*idlen, *id, (int)n, name);
	return false;
}

/* The placeholder of a filter: the first component of its paths, through
 * $and/$or/$nor; *id stays NULL when it has none. */
static bool
placeholder_of(const uint8_t *data, uint32_t len, const char **id, size_t *idlen,
	       bson_error_t *error)
{
	bson_iter_t it, el;
	bson_iter_init_from_data(&it, data, len);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (k[0] != '$') {
			if (!merge_name(k, comp_len(k), id, idlen, error))
				return false;
			continue;
		}
		if ((strcmp(k, "$and") && strcmp(k, "$or") && strcmp(k, "$nor")) ||
		    !BSON_ITER_HOLDS_ARRAY(&it))
			continue;
		bson_iter_recurse(&it, &el);
		while (bson_iter_next(&el)) {
			const bson_value_t *c = bson_iter_value(&el);
			if (c->value_type == BSON_TYPE_DOCUMENT &&
			    !placeholder_of(c->value.v_doc.data, c->value.v_doc.data_len, id, idlen,
					    error))
				return false;
		}
	}
	return true;
}

static bool
valid_placeholder(const char *id, size_t n)
{
	if (n == 0 || id[0] < 'a' || id[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/* One filter of arrayFilters, checked; *id its identifier. */
static bool
check_filter(const bson_value_t *f, const char *field, uint32_t i, const char **id, size_t *idlen,
	     bson_error_t *error)
{
	bson_t filter;
	if (f->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 14,
			  "BSON field '%s.%u' is the wrong type '%s', expected type 'object'",
			  field, i, f->value_type == BSON_TYPE_UTF8 ? "string" : "other");
		return false;
	}
	bson_init_static(&filter, f->value.v_doc.data, f->value.v_doc.data_len);
	if (bson_has_field(&filter, "$expr")) {
		cmd_error(error, 224, AF_CONTEXT "$expr is not allowed in this context");
		return false;
	}
	if (!query_validate(&filter, error)) {
		bson_error_t inner = *error;
		cmd_error(error, (int)inner.code, AF_CONTEXT "%s", inner.message);
		return false;
	}
	*id = NULL;
	if (!placeholder_of(f->value.v_doc.data, f->value.v_doc.data_len, id, idlen, error))
		return false;
	if (!*id) {
		cmd_error(
			error, 9,
			"Cannot use an expression without a top-level field name in arrayFilters");
		return false;
	}
	if (!valid_placeholder(*id, *idlen)) {
		cmd_error(error, 2,
			  AF_CONTEXT "The top-level field name must be an alphanumeric string "
				     "beginning with a lowercase letter, found '%.*s'",
			  (int)*idlen, *id);
		return false;
	}
	return true;
}

/* The identifiers of the checked arrayFilters. */
typedef struct {
	const char *id[64];
	size_t len[64];
	bool used[64];
	size_t n;
} idset_t;

static int
idset_find(const idset_t *s, const char *id, size_t n)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->len[i] == n && memcmp(s->id[i], id, n) == 0)
			return (int)i;
	return -1;
}

static bool
check_filters(const bson_value_t *filters, const char *field, idset_t *ids, bson_error_t *error)
{
	bson_iter_t it;
	uint32_t i = 0;

	ids->n = 0;
	bson_iter_init_from_data(&it, filters->value.v_doc.data, filters->value.v_doc.data_len);
	for (; bson_iter_next(&it); i++) {
		const char *id;
		size_t n;
		if (!check_filter(bson_iter_value(&it), field, i, &id, &n, error))
			return false;
		if (idset_find(ids, id, n) >= 0) {
			cmd_error(error, 9,
				  "Found multiple array filters with the same top-level field name "
				  "%.*s",
				  (int)n, id);
			return false;
		}
		if (ids->n == sizeof ids->id / sizeof ids->id[0]) {
			cmd_error(error, 2, "Too many array filters");
			return false;
		}
		ids->id[ids->n] = id;
		ids->len[ids->n] = n;
		ids->used[ids->n++] = false;
	}
	return true;
}

/* ---- the update's paths ---- */

/* `$` at most once and not first (update_object_node.cpp parseAndMerge). */
static bool
check_positional(const char *path, bson_error_t *error)
{
	size_t count = 0, k = 0;
	bool first = false;
	for (const char *p = path;; k++) {
		size_t n = comp_len(p);
		if (is_positional(p, n)) {
			count++;
			first = first || k == 0;
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	if (count > 1) {
		cmd_error(error, 2, "Too many positional (i.e. '$') elements found in path '%s'",
			  path);
		return false;
	}
	if (first) {
		cmd_error(error, 2,
			  "Cannot have positional (i.e. '$') element in the first position in path "
			  "'%s'",
			  path);
		return false;
	}
	return true;
}

/* Each `$[<id>]` names a filter and is not first (parseArrayFilterIdentifier). */
static bool
check_identifiers(const char *path, idset_t *ids, bson_error_t *error)
{
	size_t k = 0;
	for (const char *p = path;; k++) {
		size_t n = comp_len(p), idlen;
		const char *id;
		if (is_identifier(p, n, &id, &idlen)) {
			if (k == 0) {
				cmd_error(error, 2,
					  "Cannot have array filter identifier (i.e. '$[<id>]') "
					  "element "
					  "in the first position in path '%s'",
					  path);
				return false;
			}
			int at = idlen ? idset_find(ids, id, idlen) : 0;
			if (at < 0) {
				cmd_error(
					error, 2,
					"No array filter found for identifier '%.*s' in path '%s'",
					(int)idlen, id, path);
				return false;
			}
			if (idlen)
				ids->used[at] = true;
		}
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* Two paths that put `$[...]` and another component at one level make an
 * array and an object node of one field: 40, at that level. */
static bool
check_node_kinds(const char *a, const char *b, bson_error_t *error)
{
	const char *pa = a, *pb = b;
	for (;;) {
		size_t na = comp_len(pa), nb = comp_len(pb);
		bool ia = is_identifier(pa, na, NULL, NULL), ib = is_identifier(pb, nb, NULL, NULL);
		if (na != nb || memcmp(pa, pb, na) != 0) {
			if (ia == ib || pb == b)
				return true;
			cmd_error(error, 40,
				  "Updating the path '%s' would create a conflict at '%.*s'", b,
				  (int)(pb - b - 1), b);
			return false;
		}
		if (!pa[na] || !pb[nb])
			return true;
		pa += na + 1;
		pb += nb + 1;
	}
}

/* Checks one modifier's field (and $rename's target). */
static bool
check_path(const char *op, bson_iter_t *f, idset_t *ids, bson_error_t *error)
{
	const char *path = bson_iter_key(f);
	bool rename = strcmp(op, "$rename") == 0;
	if (!check_positional(path, error) || !check_identifiers(path, ids, error))
		return false;
	if (!rename || !BSON_ITER_HOLDS_UTF8(f))
		return true;
	const char *to = bson_iter_utf8(f, NULL);
	if (!check_positional(to, error))
		return false;
	if (upos_is_dynamic(path) || upos_is_dynamic(to)) {
		bool src = upos_is_dynamic(path);
		cmd_error(error, 2, "The %s field for $rename may not be dynamic: %s",
			  src ? "source" : "destination", src ? path : to);
		return false;
	}
	return check_identifiers(to, ids, error);
}

static bool
check_paths(const bson_value_t *u, idset_t *ids, bson_error_t *error)
{
	bson_iter_t it, f, g;
	const char *seen[256];
	size_t nseen = 0;

	bson_iter_init_from_data(&it, u->value.v_doc.data, u->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_recurse(&it, &f);
		while (bson_iter_next(&f)) {
			if (!check_path(bson_iter_key(&it), &f, ids, error))
				return false;
			g = f;
			const char *paths[2] = {bson_iter_key(&f), NULL};
			if (strcmp(bson_iter_key(&it), "$rename") == 0 && BSON_ITER_HOLDS_UTF8(&g))
				paths[1] = bson_iter_utf8(&g, NULL);
			for (size_t p = 0; p < 2 && paths[p]; p++) {
				for (size_t i = 0; i < nseen; i++)
					if (!check_node_kinds(seen[i], paths[p], error))
						return false;
				if (nseen < sizeof seen / sizeof seen[0])
					seen[nseen++] = paths[p];
			}
		}
	}
	return true;
}

bool
upos_check(const bson_value_t *u, update_kind_t kind, const bson_value_t *filters,
	   const char *field, bson_error_t *error)
{
	idset_t ids = {.n = 0};

	if (filters && filters->value_type != BSON_TYPE_ARRAY) {
		cmd_error(error, 14,
			  "BSON field '%s' is the wrong type '%s', expected type 'array'", field,
			  filters->value_type == BSON_TYPE_DOCUMENT ? "object" : "other");
		return false;
	}
	if (kind == UPDATE_REPLACEMENT)
		return true;
	if (filters && !check_filters(filters, field, &ids, error))
		return false;
	if (kind == UPDATE_PIPELINE) {
		if (ids.n == 0)
			return true;
		cmd_error(error, 9, "arrayFilters may not be specified for pipeline-style updates");
		return false;
	}
	if (!check_paths(u, &ids, error))
		return false;
	for (size_t i = 0; i < ids.n; i++) {
		if (ids.used[i])
			continue;
		bson_string_t *s = bson_string_new(NULL);
		render(s, u);
		cmd_error(error, 9,
			  "The array filter for identifier '%.*s' was not used in the update %s",
			  (int)ids.len[i], ids.id[i], s->str);
		bson_string_free(s, true);
		return false;
	}
	return true;
}

/* ---- the element `$` stands for: the query's elemMatchKey ---- */

/* A filter {path: cond} as a document. */
static void
filter_of(const char *path, size_t n, const bson_value_t *cond, bson_t *out)
{
	bson_init(out);
	bson_append_value(out, path, (int)n, cond);
}

static bool
negated(const bson_value_t *cond)
{
	bson_iter_t it;
	if (cond->value_type != BSON_TYPE_DOCUMENT)
		return false;
	bson_iter_init_from_data(&it, cond->value.v_doc.data, cond->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (!strcmp(k, "$ne") || !strcmp(k, "$nin") || !strcmp(k, "$not"))
			return true;
	}
	return false;
}

/* Whether element e (of the array the path crossed) satisfies cond at
 * rest (NULL: the array was the path's end). */
static bool
element_matches(const bson_value_t *e, const char *rest, const bson_value_t *cond)
{
	bson_t f, tmp;
	bson_iter_t it;
	bool m;

	if (!rest) {
		if (cond->value_type == BSON_TYPE_DOCUMENT &&
		    bson_iter_init_from_data(&it, cond->value.v_doc.data,
					     cond->value.v_doc.data_len) &&
		    bson_iter_next(&it) && strcmp(bson_iter_key(&it), "$elemMatch") == 0)
			return query_match_value(e, bson_iter_value(&it));
		bson_init(&tmp);
		bson_append_value(&tmp, "x", 1, e);
		filter_of("x", 1, cond, &f);
		m = query_match(&f, bson_get_data(&tmp), tmp.len);
		bson_destroy(&tmp);
		bson_destroy(&f);
		return m;
	}
	if (e->value_type != BSON_TYPE_DOCUMENT)
		return false;
	filter_of(rest, strlen(rest), cond, &f);
	m = query_match(&f, e->value.v_doc.data, e->value.v_doc.data_len);
	bson_destroy(&f);
	return m;
}

/* The index, in the first array path crosses, of the first element
 * through which cond holds; -1 when none. */
static long
key_of(const char *path, const bson_value_t *cond, const uint8_t *data, uint32_t len)
{
	bson_iter_t it, el;
	if (negated(cond))
		return -1;
	for (const char *p = path;;) {
		size_t n = comp_len(p);
		const char *rest = p[n] ? p + n + 1 : NULL;
		if (!bson_iter_init_from_data(&it, data, len) ||
		    !bson_iter_find_w_len(&it, p, (int)n))
			return -1;
		if (BSON_ITER_HOLDS_ARRAY(&it) && !(rest && query_is_index(rest, comp_len(rest)))) {
			long i = 0;
			bson_iter_recurse(&it, &el);
			for (; bson_iter_next(&el); i++)
				if (element_matches(bson_iter_value(&el), rest, cond))
					return i;
			return -1;
		}
		if (!rest || !(BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)))
			return -1;
		const bson_value_t *v = bson_iter_value(&it);
		data = v->value.v_doc.data;
		len = v->value.v_doc.data_len;
		p = rest;
	}
}

/* MatchDetails' elemMatchKey: the last predicate (through $and) that
 * crossed an array sets it. */
static long
match_key(const uint8_t *q, uint32_t qlen, const bson_t *doc)
{
	bson_iter_t it, el;
	long key = -1, k;
	bson_iter_init_from_data(&it, q, qlen);
	while (bson_iter_next(&it)) {
		const char *name = bson_iter_key(&it);
		const bson_value_t *v = bson_iter_value(&it);
		if (strcmp(name, "$and") == 0 && BSON_ITER_HOLDS_ARRAY(&it)) {
			bson_iter_recurse(&it, &el);
			while (bson_iter_next(&el)) {
				const bson_value_t *c = bson_iter_value(&el);
				if (c->value_type == BSON_TYPE_DOCUMENT &&
				    (k = match_key(c->value.v_doc.data, c->value.v_doc.data_len,
						   doc)) >= 0)
					key = k;
			}
		} else if (name[0] != '$' &&
			   (k = key_of(name, v, bson_get_data(doc), doc->len)) >= 0) {
			key = k;
		}
	}
	return key;
}

/* ---- expansion ---- */

void
upos_init(upos_t *pos, const bson_t *doc, const bson_t *query, const bson_t *filters)
{
	memset(pos, 0, sizeof *pos);
	pos->doc = doc;
	pos->query = query;
	if (filters)
		bson_copy_to(filters, &pos->filters);
	else
		bson_init(&pos->filters);
}

void
upos_destroy(upos_t *pos)
{
	for (size_t i = 0; i < pos->npaths; i++)
		bson_free(pos->paths[i].path);
	for (size_t i = 0; i < pos->ngroups; i++) {
		bson_free(pos->groups[i].path);
		free(pos->groups[i].idx);
	}
	free(pos->paths);
	free(pos->groups);
	bson_destroy(&pos->filters);
}

static upos_group_t *
group_at(upos_t *pos, const char *path)
{
	for (size_t i = 0; i < pos->ngroups; i++)
		if (strcmp(pos->groups[i].path, path) == 0)
			return &pos->groups[i];
	if (pos->ngroups == pos->gcap) {
		pos->gcap = pos->gcap ? pos->gcap * 2 : 4;
		pos->groups = realloc(pos->groups, pos->gcap * sizeof *pos->groups);
	}
	upos_group_t *g = &pos->groups[pos->ngroups++];
	memset(g, 0, sizeof *g);
	g->path = bson_strdup(path);
	return g;
}

static void
group_add(upos_group_t *g, size_t i)
{
	for (size_t k = 0; k < g->n; k++)
		if (g->idx[k] == i)
			return;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 8;
		g->idx = realloc(g->idx, g->cap * sizeof *g->idx);
	}
	g->idx[g->n++] = i;
}

/* The filter of identifier id, NULL for `$[]` (every element). */
static bool
filter_for(const upos_t *pos, const char *id, size_t n, bson_t *out)
{
	bson_iter_t it;
	bson_iter_init(&it, &pos->filters);
	while (bson_iter_next(&it)) {
		const bson_value_t *f = bson_iter_value(&it);
		const char *fid = NULL;
		size_t flen = 0;
		bson_error_t ignored;
		if (f->value_type != BSON_TYPE_DOCUMENT ||
		    !placeholder_of(f->value.v_doc.data, f->value.v_doc.data_len, &fid, &flen,
				    &ignored) ||
		    !fid || flen != n || memcmp(fid, id, n) != 0)
			continue;
		bson_init_static(out, f->value.v_doc.data, f->value.v_doc.data_len);
		return true;
	}
	return false;
}

static bool
element_passes(const bson_value_t *e, const char *id, size_t n, const bson_t *filter)
{
	if (!filter)
		return true;
	bson_t tmp = BSON_INITIALIZER;
	bson_append_value(&tmp, id, (int)n, e);
	bool m = query_match(filter, bson_get_data(&tmp), tmp.len);
	bson_destroy(&tmp);
	return m;
}

static void
add_path(upos_t *pos, const char *path, size_t entry)
{
	if (pos->npaths == pos->pcap) {
		pos->pcap = pos->pcap ? pos->pcap * 2 : 16;
		pos->paths = realloc(pos->paths, pos->pcap * sizeof *pos->paths);
	}
	pos->paths[pos->npaths].path = bson_strdup(path);
	pos->paths[pos->npaths].entry = entry;
	pos->paths[pos->npaths++].no_log = false;
}

static bool expand_from(upos_t *pos, bson_string_t *prefix, const char *p, size_t entry,
			bson_error_t *error);

/* `$[id]` at prefix: the array there, each matching element in turn. */
static bool
expand_array(upos_t *pos, bson_string_t *prefix, const char *id, size_t idlen, const char *rest,
	     size_t entry, bson_error_t *error)
{
	bson_iter_t it, el;
	bson_t filter;
	bool have_filter = idlen && filter_for(pos, id, idlen, &filter);

	if (!query_lookup(bson_get_data(pos->doc), pos->doc->len, prefix->str, &it)) {
		cmd_error(error, 2,
			  "The path '%s' must exist in the document in order to apply array "
			  "updates.",
			  prefix->str);
		return false;
	}
	if (!BSON_ITER_HOLDS_ARRAY(&it)) {
		bson_string_t *s = bson_string_new(NULL);
		bson_string_append_printf(s, "%s: ", bson_iter_key(&it));
		render(s, bson_iter_value(&it));
		cmd_error(error, 2, "Cannot apply array updates to non-array element %s", s->str);
		bson_string_free(s, true);
		return false;
	}
	upos_group_t *g = group_at(pos, prefix->str);
	size_t gi = (size_t)(g - pos->groups), i = 0;
	bson_iter_recurse(&it, &el);
	for (; bson_iter_next(&el); i++) {
		if (!element_passes(bson_iter_value(&el), id, idlen, have_filter ? &filter : NULL))
			continue;
		group_add(&pos->groups[gi], i);
		bson_string_t *sub = bson_string_new(prefix->str);
		bson_string_append_printf(sub, ".%zu", i);
		bool ok = expand_from(pos, sub, rest, entry, error);
		bson_string_free(sub, true);
		if (!ok)
			return false;
	}
	return true;
}

/* Appends p's components to prefix, resolving `$` and `$[...]`. */
static bool
expand_from(upos_t *pos, bson_string_t *prefix, const char *p, size_t entry, bson_error_t *error)
{
	while (p) {
		size_t n = comp_len(p), idlen;
		const char *rest = p[n] ? p + n + 1 : NULL, *id;
		if (is_identifier(p, n, &id, &idlen))
			return expand_array(pos, prefix, id, idlen, rest, entry, error);
		if (prefix->len)
			bson_string_append_c(prefix, '.');
		if (is_positional(p, n)) {
			long key = pos->query ? match_key(bson_get_data(pos->query),
							  pos->query->len, pos->doc)
					      : -1;
			if (key < 0) {
				cmd_error(error, 2,
					  "The positional operator did not find the match needed "
					  "from the query.");
				return false;
			}
			bson_string_append_printf(prefix, "%ld", key);
		} else {
			char *c = bson_strndup(p, n);
			bson_string_append(prefix, c);
			bson_free(c);
		}
		p = rest;
	}
	add_path(pos, prefix->str, entry);
	return true;
}

bool
upos_expand(upos_t *pos, const char *path, size_t entry, bson_error_t *error)
{
	bson_string_t *prefix = bson_string_new(NULL);
	bool ok = expand_from(pos, prefix, path, entry, error);
	bson_string_free(prefix, true);
	return ok;
}

/* a is a component prefix of b (shorter). */
static bool
strict_prefix(const char *a, const char *b)
{
	size_t la = strlen(a);
	return strncmp(a, b, la) == 0 && b[la] == '.';
}

void
upos_finish(upos_t *pos)
{
	for (size_t i = 0; i < pos->ngroups; i++) {
		upos_group_t *g = &pos->groups[i];
		g->logs = g->n > 1;
		for (size_t j = 0; j < pos->ngroups && g->logs; j++)
			if (pos->groups[j].n > 1 && strict_prefix(pos->groups[j].path, g->path))
				g->logs = false;
	}
	for (size_t i = 0; i < pos->npaths; i++)
		for (size_t j = 0; j < pos->ngroups && !pos->paths[i].no_log; j++)
			if (pos->groups[j].n > 1 &&
			    strict_prefix(pos->groups[j].path, pos->paths[i].path))
				pos->paths[i].no_log = true;
}
