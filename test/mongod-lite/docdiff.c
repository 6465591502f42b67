/* Update diffs and their change-stream description (see docdiff.h). */
#include "docdiff.h"

#include <stdlib.h>
#include <string.h>

/* The $v:2 entry's own fields ({$v: 2, diff: ...}) that MongoDB counts
 * against the diff (update_oplog_entry::kSizeOfDeltaOplogEntryMetadata). */
#define DD_METADATA_PADDING 15
/* Sizes MongoDB's approximate tracker starts from (an empty diff
 * object, and one holding the array header {a: true}). */
#define DD_EMPTY_DOC 5
#define DD_EMPTY_ARRAY 9

typedef enum { E_UPDATE, E_INSERT, E_DELETE, E_SUB } dd_kind_t;

typedef struct dd_entry {
	char *name; /* document level */
	size_t idx; /* array level */
	dd_kind_t kind;
	bson_value_t value; /* update, insert: owned */
	dd_node_t *sub;
} dd_entry_t;

struct dd_node {
	bool array;
	size_t size; /* MongoDB's approximate BSON size of this level */
	bool resized;
	size_t new_size;
	bool wrapped[3]; /* a first update/insert/delete opened its section */
	dd_entry_t *e;
	size_t n, cap;
};

static dd_node_t *
node_new(bool array, size_t size)
{
	dd_node_t *node = calloc(1, sizeof *node);
	node->array = array;
	node->size = size;
	return node;
}

dd_node_t *
docdiff_new(void)
{
	return node_new(false, DD_EMPTY_DOC);
}

void
docdiff_free(dd_node_t *node)
{
	if (!node)
		return;
	for (size_t k = 0; k < node->n; k++) {
		dd_entry_t *e = &node->e[k];
		bson_free(e->name);
		if (e->kind == E_UPDATE || e->kind == E_INSERT)
			bson_value_destroy(&e->value);
		docdiff_free(e->sub);
	}
	free(node->e);
	free(node);
}

static size_t
digits(size_t v)
{
	size_t d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/*
 * Adds a child as MongoDB's tracker counts it: name, type byte and NUL,
 * the value (vsize: its BSON value bytes) or the sub-diff's size or a
 * delete's boolean, the "s" prefix of a sub-diff, the wrapping of the
 * first entry of a section.
 */
static dd_entry_t *
entry_add(dd_node_t *node, const char *name, size_t idx, dd_kind_t kind, size_t vsize)
{
	if (node->n == node->cap) {
		node->cap = node->cap ? node->cap * 2 : 8;
		node->e = realloc(node->e, node->cap * sizeof *node->e);
	}
	dd_entry_t *e = &node->e[node->n++];
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->idx = idx;
	if (!node->array)
		e->name = bson_strdup(name);
	node->size += (node->array ? 1 + digits(idx) : strlen(name)) + 2 + vsize;
	if (kind == E_DELETE)
		node->size += 1;
	if (node->array)
		return e;
	if (kind == E_SUB) {
		node->size += 1;
	} else if (!node->wrapped[kind]) {
		node->wrapped[kind] = true;
		node->size += 8;
	}
	return e;
}

static void
entry_value(dd_node_t *node, const char *name, size_t idx, dd_kind_t kind, const bson_iter_t *it)
{
	size_t vsize = it->next_off - it->off - 2 - bson_iter_key_len(it);
	dd_entry_t *e = entry_add(node, name, idx, kind, vsize);
	bson_value_copy(bson_iter_value((bson_iter_t *)it), &e->value);
}

static void
entry_sub(dd_node_t *node, const char *name, size_t idx, dd_node_t *sub)
{
	dd_entry_t *e = entry_add(node, name, idx, E_SUB, sub->size);
	e->sub = sub;
}

/* ------------------------------------------------------------ computing */

static bool
element_equal(const bson_iter_t *a, const bson_iter_t *b)
{
	uint32_t la = a->next_off - a->off, lb = b->next_off - b->off;
	return la == lb && memcmp(a->raw + a->off, b->raw + b->off, la) == 0;
}

static bool
same_container(const bson_iter_t *a, const bson_iter_t *b)
{
	bson_type_t t = bson_iter_type(a);
	return t == bson_iter_type(b) && (t == BSON_TYPE_DOCUMENT || t == BSON_TYPE_ARRAY);
}

static void
sub_bson(const bson_iter_t *it, bson_t *out)
{
	const bson_value_t *v = bson_iter_value((bson_iter_t *)it);
	bson_init_static(out, v->value.v_doc.data, v->value.v_doc.data_len);
}

static dd_node_t *compute_doc(const bson_t *pre, const bson_t *post, size_t padding);
static dd_node_t *compute_array(const bson_t *pre, const bson_t *post);

/* A changed object or array: its sub-diff, or its new value when the
 * sub-diff would not be smaller. */
static void
sub_diff(dd_node_t *node, const char *name, size_t idx, const bson_iter_t *pi,
	 const bson_iter_t *qi)
{
	bson_t pre, post;
	sub_bson(pi, &pre);
	sub_bson(qi, &post);
	dd_node_t *sub = bson_iter_type(pi) == BSON_TYPE_DOCUMENT ? compute_doc(&pre, &post, 0)
								  : compute_array(&pre, &post);
	if (sub)
		entry_sub(node, name, idx, sub);
	else
		entry_value(node, name, idx, E_UPDATE, qi);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fields of pre missing at their place in post: deleted unless post
 * holds them further on (then they are inserts), in name order. */
typedef struct {
	char **names;
	size_t n, cap;
} name_set_t;

static void
name_add(name_set_t *s, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->names = realloc(s->names, s->cap * sizeof *s->names);
	}
	s->names[s->n++] = bson_strdup(name);
}

static void
name_erase(name_set_t *s, const char *name)
{
	for (size_t k = 0; k < s->n; k++) {
		if (strcmp(s->names[k], name) == 0) {
			bson_free(s->names[k]);
			s->names[k] = s->names[--s->n];
			return;
		}
	}
}

static dd_node_t *
compute_doc(const bson_t *pre, const bson_t *post, size_t padding)
{
	dd_node_t *node = node_new(false, padding + DD_EMPTY_DOC);
	name_set_t deletes = {0};
	bson_iter_t pi, qi;
	bool pm, qm;

	bson_iter_init(&pi, pre);
	bson_iter_init(&qi, post);
	pm = bson_iter_next(&pi);
	qm = bson_iter_next(&qi);
	while (pm && qm) {
		if (post->len < node->size) { /* bigger than post already */
			for (size_t k = 0; k < deletes.n; k++)
				bson_free(deletes.names[k]);
			free(deletes.names);
			docdiff_free(node);
			return NULL;
		}
		if (element_equal(&pi, &qi)) {
			pm = bson_iter_next(&pi);
			qm = bson_iter_next(&qi);
			continue;
		}
		if (strcmp(bson_iter_key(&pi), bson_iter_key(&qi)) == 0) {
			if (same_container(&pi, &qi))
				sub_diff(node, bson_iter_key(&pi), 0, &pi, &qi);
			else
				entry_value(node, bson_iter_key(&pi), 0, E_UPDATE, &qi);
			pm = bson_iter_next(&pi);
			qm = bson_iter_next(&qi);
		} else {
			name_add(&deletes, bson_iter_key(&pi));
			pm = bson_iter_next(&pi);
		}
	}
	for (; pm && !qm; pm = bson_iter_next(&pi))
		entry_add(node, bson_iter_key(&pi), 0, E_DELETE, 0);
	for (; qm; qm = bson_iter_next(&qi)) {
		entry_value(node, bson_iter_key(&qi), 0, E_INSERT, &qi);
		name_erase(&deletes, bson_iter_key(&qi));
	}
	if (deletes.n > 1)
		qsort(deletes.names, deletes.n, sizeof *deletes.names, cmp_str);
	for (size_t k = 0; k < deletes.n; k++) {
		entry_add(node, deletes.names[k], 0, E_DELETE, 0);
		bson_free(deletes.names[k]);
	}
	free(deletes.names);
	if (post->len > node->size)
		return node;
	docdiff_free(node);
	return NULL;
}

static dd_node_t *
compute_array(const bson_t *pre, const bson_t *post)
{
	dd_node_t *node = node_new(true, DD_EMPTY_ARRAY);
	bson_iter_t pi, qi;
	bool pm, qm;
	size_t n = 0;

	bson_iter_init(&pi, pre);
	bson_iter_init(&qi, post);
	pm = bson_iter_next(&pi);
	qm = bson_iter_next(&qi);
	for (; pm && qm; n++) {
		if (post->len < node->size) {
			docdiff_free(node);
			return NULL;
		}
		if (!element_equal(&pi, &qi)) {
			if (same_container(&pi, &qi))
				sub_diff(node, NULL, n, &pi, &qi);
			else
				entry_value(node, NULL, n, E_UPDATE, &qi);
		}
		pm = bson_iter_next(&pi);
		qm = bson_iter_next(&qi);
	}
	for (; qm; qm = bson_iter_next(&qi))
		entry_value(node, NULL, n++, E_UPDATE, &qi);
	if (pm) {
		node->resized = true;
		node->new_size = n;
		node->size += 1 + 4 + 2;
	}
	if (post->len > node->size)
		return node;
	docdiff_free(node);
	return NULL;
}

static int
cmp_entry_idx(const void *a, const void *b)
{
	const dd_entry_t *x = a, *y = b;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void serialize(dd_node_t *node, bson_t *out);

static void
serialize_section(const dd_node_t *node, dd_kind_t kind, const char *section, bson_t *out)
{
	bson_t child;
	bool open = false;
	for (size_t k = 0; k < node->n; k++) {
		const dd_entry_t *e = &node->e[k];
		if (e->kind != kind)
			continue;
		if (!open)
			bson_append_document_begin(out, section, -1, &child);
		open = true;
		if (kind == E_DELETE)
			BSON_APPEND_BOOL(&child, e->name, false);
		else
			bson_append_value(&child, e->name, -1, &e->value);
	}
	if (open)
		bson_append_document_end(out, &child);
}

/* The $v:2 diff object MongoDB would log (only its size matters here). */
static void
serialize(dd_node_t *node, bson_t *out)
{
	char key[32];
	bson_t child;

	if (node->array) {
		BSON_APPEND_BOOL(out, "a", true);
		if (node->resized)
			BSON_APPEND_INT32(out, "l", (int32_t)node->new_size);
		if (node->n > 1)
			qsort(node->e, node->n, sizeof *node->e, cmp_entry_idx);
		for (size_t k = 0; k < node->n; k++) {
			dd_entry_t *e = &node->e[k];
			bson_snprintf(key, sizeof key, "%c%zu", e->kind == E_SUB ? 's' : 'u',
				      e->idx);
			if (e->kind != E_SUB) {
				bson_append_value(out, key, -1, &e->value);
				continue;
			}
			bson_append_document_begin(out, key, -1, &child);
			serialize(e->sub, &child);
			bson_append_document_end(out, &child);
		}
		return;
	}
	serialize_section(node, E_DELETE, "d", out);
	serialize_section(node, E_UPDATE, "u", out);
	serialize_section(node, E_INSERT, "i", out);
	for (size_t k = 0; k < node->n; k++) {
		dd_entry_t *e = &node->e[k];
		if (e->kind != E_SUB)
			continue;
		char *name = bson_strdup_printf("s%s", e->name);
		bson_append_document_begin(out, name, -1, &child);
		serialize(e->sub, &child);
		bson_append_document_end(out, &child);
		bson_free(name);
	}
}

dd_node_t *
docdiff_compute(const bson_t *pre, const bson_t *post)
{
	dd_node_t *node = compute_doc(pre, post, DD_METADATA_PADDING);
	if (!node)
		return NULL;
	bson_t diff = BSON_INITIALIZER;
	serialize(node, &diff);
	bool smaller = diff.len < post->len;
	bson_destroy(&diff);
	if (smaller)
		return node;
	docdiff_free(node);
	return NULL;
}

/* -------------------------------------------------------------- logging */

static bool
parse_idx(const char *s, size_t len, size_t *out)
{
	size_t v = 0;
	if (len == 0 || len > 9)
		return false;
	for (size_t k = 0; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return false;
		v = v * 10 + (size_t)(s[k] - '0');
	}
	*out = v;
	return true;
}

static dd_node_t *
child_level(dd_node_t *node, const char *name, size_t idx, bool array)
{
	for (size_t k = 0; k < node->n; k++) {
		dd_entry_t *e = &node->e[k];
		if (e->kind == E_SUB && (node->array ? e->idx == idx : strcmp(e->name, name) == 0))
			return e->sub;
	}
	dd_node_t *sub = node_new(array, array ? DD_EMPTY_ARRAY : DD_EMPTY_DOC);
	entry_sub(node, name, idx, sub);
	return sub;
}

void
docdiff_log(dd_node_t *root, const bson_t *post, const char *path, dd_log_t kind,
	    const bson_value_t *value)
{
	dd_node_t *node = root;
	bson_iter_t it;
	bool have = bson_iter_init(&it, post);
	const char *p = path;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		char *name = bson_strndup(p, len);
		size_t idx = 0;
		if (node->array && !parse_idx(p, len, &idx)) {
			bson_free(name);
			return;
		}
		if (!dot) {
			dd_kind_t k = kind == DD_DELETE   ? E_DELETE
				      : kind == DD_INSERT ? E_INSERT
							  : E_UPDATE;
			if (node->array && k == E_DELETE)
				k = E_UPDATE;
			if (k != E_DELETE && !value) {
				bson_free(name);
				return;
			}
			dd_entry_t *e = entry_add(node, name, idx, k, 0);
			if (k != E_DELETE)
				bson_value_copy(value, &e->value);
			bson_free(name);
			return;
		}
		bson_iter_t child;
		bool found = have && bson_iter_find_w_len(&it, name, (int)len);
		bool array = found && BSON_ITER_HOLDS_ARRAY(&it);
		have = found && (array || BSON_ITER_HOLDS_DOCUMENT(&it)) &&
		       bson_iter_recurse(&it, &child);
		if (have)
			it = child;
		node = child_level(node, name, idx, array);
		bson_free(name);
		p = dot + 1;
	}
}

/* ----------------------------------------------------------- describing */

typedef struct {
	const char *name;
	bool index;
	bool ambiguous;
} dd_part_t;

typedef struct {
	dd_part_t *parts;
	size_t n, cap;
	bson_t updated, removed, truncated, disambiguated;
	uint32_t nremoved, ntruncated;
} dd_desc_t;

/* A field name MongoDB could read as an array index: digits, no leading
 * zero (FieldRef::isNumericPathComponentStrict). */
static bool
numeric_strict(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t k = 0; k < len; k++)
		if (s[k] < '0' || s[k] > '9')
			return false;
	return true;
}

/* Appends a path component; a field name that is numeric (past the first
 * component) or holds a dot makes the path ambiguous from there on. */
static void
part_push(dd_desc_t *d, const char *name, bool index)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->parts = realloc(d->parts, d->cap * sizeof *d->parts);
	}
	bool ambiguous = d->n > 0 && d->parts[d->n - 1].ambiguous;
	if (!ambiguous && !index)
		ambiguous = (d->n > 0 && numeric_strict(name)) || strchr(name, '.') != NULL;
	d->parts[d->n++] = (dd_part_t){name, index, ambiguous};
}

static char *
dotted(const dd_desc_t *d)
{
	size_t len = 0;
	for (size_t k = 0; k < d->n; k++)
		len += strlen(d->parts[k].name) + 1;
	char *out = bson_malloc(len + 1), *w = out;
	for (size_t k = 0; k < d->n; k++) {
		size_t l = strlen(d->parts[k].name);
		if (k)
			*w++ = '.';
		memcpy(w, d->parts[k].name, l);
		w += l;
	}
	*w = '\0';
	return out;
}

static void
disambiguate(dd_desc_t *d, const char *path)
{
	if (d->n == 0 || !d->parts[d->n - 1].ambiguous)
		return;
	bson_t arr;
	char key[16];
	const char *kp;
	bson_append_array_begin(&d->disambiguated, path, -1, &arr);
	for (size_t k = 0; k < d->n; k++) {
		bson_uint32_to_string((uint32_t)k, &kp, key, sizeof key);
		if (d->parts[k].index)
			bson_append_int32(&arr, kp, -1, atoi(d->parts[k].name));
		else
			bson_append_utf8(&arr, kp, -1, d->parts[k].name, -1);
	}
	bson_append_array_end(&d->disambiguated, &arr);
}

static void
add_updated(dd_desc_t *d, const char *name, bool index, const bson_value_t *value)
{
	part_push(d, name, index);
	char *path = dotted(d);
	bson_append_value(&d->updated, path, -1, value);
	disambiguate(d, path);
	bson_free(path);
	d->n--;
}

static void
add_removed(dd_desc_t *d, const char *name)
{
	char key[16];
	const char *kp;
	part_push(d, name, false);
	char *path = dotted(d);
	bson_uint32_to_string(d->nremoved++, &kp, key, sizeof key);
	bson_append_utf8(&d->removed, kp, -1, path, -1);
	disambiguate(d, path);
	bson_free(path);
	d->n--;
}

static void
add_truncated(dd_desc_t *d, size_t new_size)
{
	char key[16];
	const char *kp;
	bson_t t;
	char *path = dotted(d);
	bson_uint32_to_string(d->ntruncated++, &kp, key, sizeof key);
	bson_append_document_begin(&d->truncated, kp, -1, &t);
	BSON_APPEND_UTF8(&t, "field", path);
	BSON_APPEND_INT32(&t, "newSize", (int32_t)new_size);
	bson_append_document_end(&d->truncated, &t);
	disambiguate(d, path);
	bson_free(path);
}

/* MongoDB's order: at a document level its updates, then its inserts,
 * then its deletes, then each sub-diff; at an array level the new size,
 * then the elements by index. */
static void
describe(dd_node_t *node, dd_desc_t *d)
{
	char buf[24];

	if (node->array) {
		if (node->resized)
			add_truncated(d, node->new_size);
		if (node->n > 1)
			qsort(node->e, node->n, sizeof *node->e, cmp_entry_idx);
		for (size_t k = 0; k < node->n; k++) {
			dd_entry_t *e = &node->e[k];
			bson_snprintf(buf, sizeof buf, "%zu", e->idx);
			if (e->kind != E_SUB) {
				add_updated(d, buf, true, &e->value);
				continue;
			}
			char *name = bson_strdup(buf);
			part_push(d, name, true);
			describe(e->sub, d);
			d->n--;
			bson_free(name);
		}
		return;
	}
	for (size_t k = 0; k < node->n; k++)
		if (node->e[k].kind == E_UPDATE)
			add_updated(d, node->e[k].name, false, &node->e[k].value);
	for (size_t k = 0; k < node->n; k++)
		if (node->e[k].kind == E_INSERT)
			add_updated(d, node->e[k].name, false, &node->e[k].value);
	for (size_t k = 0; k < node->n; k++)
		if (node->e[k].kind == E_DELETE)
			add_removed(d, node->e[k].name);
	for (size_t k = 0; k < node->n; k++) {
		if (node->e[k].kind != E_SUB)
			continue;
		part_push(d, node->e[k].name, false);
		describe(node->e[k].sub, d);
		d->n--;
	}
}

void
docdiff_describe(const dd_node_t *diff, bson_t *ud)
{
	dd_desc_t d = {0};

	bson_init(&d.updated);
	bson_init(&d.removed);
	bson_init(&d.truncated);
	bson_init(&d.disambiguated);
	describe((dd_node_t *)diff, &d);
	BSON_APPEND_DOCUMENT(ud, "updatedFields", &d.updated);
	BSON_APPEND_ARRAY(ud, "removedFields", &d.removed);
	BSON_APPEND_ARRAY(ud, "truncatedArrays", &d.truncated);
	BSON_APPEND_DOCUMENT(ud, "disambiguatedPaths", &d.disambiguated);
	bson_destroy(&d.updated);
	bson_destroy(&d.removed);
	bson_destroy(&d.truncated);
	bson_destroy(&d.disambiguated);
	free(d.parts);
}
