/*
 * Exact replay of update descriptions (apply_exact.h).
 */
#include "apply_exact.h"

#include <string.h>

#include "error.h"
#include "exitcodes.h"

void
exact_path_destroy(exact_path_t *p)
{
	bson_free(p->comps);
	bson_free(p->buf);
	memset(p, 0, sizeof *p);
}

/* A field name operators address as it is: not empty, no dot, no '$' first. */
static bool
plain_name(const char *name, size_t len)
{
	return len > 0 && name[0] != '$' && !memchr(name, '.', len);
}

/* An array index as a diff prints it: digits, no leading zero. */
static bool
index_like(const char *s, size_t len, int64_t *index)
{
	int64_t v = 0;

	if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*index = v;
	return true;
}

static void
path_push(exact_path_t *p, size_t *cap, const char *name, int64_t index)
{
	if (p->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		p->comps = bson_realloc(p->comps, *cap * sizeof *p->comps);
	}
	p->comps[p->n].name = name;
	p->comps[p->n].index = index;
	p->n++;
}

/* Splits path at its dots; components after the first that look like
 * indexes are indexes (a numeric field name has a disambiguatedPaths
 * entry). */
static void
path_split(const char *path, exact_path_t *out)
{
	size_t cap = 0;
	char *s;

	memset(out, 0, sizeof *out);
	out->buf = bson_strdup(path);
	s = out->buf;
	for (;;) {
		char *dot = strchr(s, '.');
		size_t len = dot ? (size_t)(dot - s) : strlen(s);
		int64_t index;

		if (dot)
			*dot = '\0';
		if (out->n > 0 && index_like(s, len, &index))
			path_push(out, &cap, NULL, index);
		else
			path_push(out, &cap, s, 0);
		if (!dot)
			break;
		s = dot + 1;
	}
}

/* The components of a disambiguatedPaths entry (borrowed from it). */
static bool
path_from_entry(const bson_iter_t *entry, exact_path_t *out)
{
	bson_iter_t child;
	size_t cap = 0;

	memset(out, 0, sizeof *out);
	if (!BSON_ITER_HOLDS_ARRAY(entry) || !bson_iter_recurse(entry, &child))
		return false;
	while (bson_iter_next(&child)) {
		if (BSON_ITER_HOLDS_UTF8(&child))
			path_push(out, &cap, bson_iter_utf8(&child, NULL), 0);
		else if (BSON_ITER_HOLDS_INT32(&child) || BSON_ITER_HOLDS_INT64(&child))
			path_push(out, &cap, NULL, bson_iter_as_int64(&child));
		else
			return false;
	}
	return out->n > 0 && out->comps[0].name;
}

/* The field of obj the rest of a path names: *field the one field that rest
 * equals or starts with at a dot. 0 none, 1 one, 2 more than one. */
static int
match_field(const bson_t *obj, const char *rest, bson_iter_t *field)
{
	bson_iter_t iter;
	int found = 0;

	if (!bson_iter_init(&iter, obj))
		return 0;
	while (bson_iter_next(&iter)) {
		uint32_t len = bson_iter_key_len(&iter);

		if (strncmp(rest, bson_iter_key(&iter), len) != 0 ||
		    (rest[len] != '\0' && rest[len] != '.'))
			continue;
		if (++found > 1)
			return 2;
		*field = iter;
	}
	return found;
}

/* Steps into the document or array iter holds; false for a scalar. */
static bool
step_into(const bson_iter_t *iter, bson_t *out)
{
	const uint8_t *data;
	uint32_t len;

	if (BSON_ITER_HOLDS_DOCUMENT(iter))
		bson_iter_document(iter, &len, &data);
	else if (BSON_ITER_HOLDS_ARRAY(iter))
		bson_iter_array(iter, &len, &data);
	else
		return false;
	return bson_init_static(out, data, len);
}

/* Why a path has no unique reading (apply_exact_resolve_path tells it
 * from a path that is not there by this pointer). */
static const char ambiguous_why[] =
	"two fields of an object on the path match it (one has a dot in its name)";

/* One step of apply_exact_resolve_path in array cur: *rest moves past the
 * index; *done when it was the last component. */
static bool
resolve_in_array(const bson_t *cur, char **rest, exact_path_t *out, size_t *cap, bson_t *next,
		 bool *next_is_array, bool *done, const char **why)
{
	char *dot = strchr(*rest, '.');
	size_t len = dot ? (size_t)(dot - *rest) : strlen(*rest);
	int64_t index;
	char key[16];
	bson_iter_t iter;

	if (!index_like(*rest, len, &index)) {
		*why = "an array on the path has no such index";
		return false;
	}
	path_push(out, cap, NULL, index);
	*done = !dot;
	if (*done)
		return true;
	bson_snprintf(key, sizeof key, "%" PRId64, index);
	if (!bson_iter_init_find(&iter, cur, key) || !step_into(&iter, next)) {
		*why = "the path runs through a missing array element or a scalar";
		return false;
	}
	*next_is_array = BSON_ITER_HOLDS_ARRAY(&iter);
	*rest = dot + 1;
	return true;
}

/* Whether path split at its dots has no empty component (a name with a
 * dot at its start or end, or two dots in a row, can only be literal). */
static bool
split_viable(const char *path)
{
	size_t len = strlen(path);

	return len > 0 && path[0] != '.' && path[len - 1] != '.' && !strstr(path, "..");
}

/* One step of apply_exact_resolve_path in object cur: the field *rest
 * names. *done when it was the last component or a new field. */
static bool
resolve_in_object(const bson_t *cur, char **rest, bool must_exist, bool literal_new,
		  exact_path_t *out, size_t *cap, bson_t *next, bool *next_is_array, bool *done,
		  const char **why)
{
	bson_iter_t field;
	int found = match_field(cur, *rest, &field);
	uint32_t len;

	if (found == 2) {
		*why = ambiguous_why;
		return false;
	}
	path_push(out, cap, *rest, 0);
	if (found == 0) {
		/* A new field: a sub-diff needs its parent in the document, so
		 * the whole rest is the new field's name, when the target holds
		 * what the source held. */
		*why = "the path does not exist in the target document";
		*done = true;
		return !must_exist && (literal_new || !strchr(*rest, '.') || !split_viable(*rest));
	}
	len = bson_iter_key_len(&field);
	*done = (*rest)[len] == '\0';
	if (*done)
		return true;
	(*rest)[len] = '\0';
	*rest += len + 1;
	*next_is_array = BSON_ITER_HOLDS_ARRAY(&field);
	if (!step_into(&field, next)) {
		*why = "the path runs through a scalar";
		return false;
	}
	return true;
}

bool
apply_exact_resolve_path(const bson_t *doc, const char *path, bool must_exist, bool literal_new,
			 exact_path_t *out, const char **why)
{
	bson_t cur, next;
	char *rest;
	size_t cap = 0;
	bool is_array = false, next_is_array = false, done = false;

	memset(out, 0, sizeof *out);
	out->buf = bson_strdup(path);
	rest = out->buf;
	bson_init_static(&cur, bson_get_data(doc), doc->len);
	for (;;) {
		bool ok;

		if (is_array)
			ok = resolve_in_array(&cur, &rest, out, &cap, &next, &next_is_array, &done,
					      why);
		else
			ok = resolve_in_object(&cur, &rest, must_exist, literal_new, out, &cap,
					       &next, &next_is_array, &done, why);
		if (!ok) {
			exact_path_destroy(out);
			return false;
		}
		if (done)
			return true;
		/* A static view points into itself: re-made, never copied. */
		bson_init_static(&cur, bson_get_data(&next), next.len);
		is_array = next_is_array;
	}
}

/* The components of path in desc; dp the disambiguatedPaths (has_dp). */
static bool
path_of(const bson_t *dp, bool has_dp, const exact_target_t *target, const char *path,
	bool must_exist, exact_path_t *out, bson_error_t *error)
{
	bson_iter_t entry;
	const char *why = NULL;

	if (has_dp && bson_iter_init_find(&entry, dp, path)) {
		if (path_from_entry(&entry, out))
			return true;
		exact_path_destroy(out);
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "updateDescription.disambiguatedPaths entry of '%s' is malformed",
			      path);
		return false;
	}
	if (has_dp || !strchr(path, '.') || !target || !target->doc) {
		path_split(path, out);
		return true;
	}
	if (apply_exact_resolve_path(target->doc, path, must_exist, target->settled, out, &why))
		return true;
	if (why != ambiguous_why) {
		/* Not in the target as the source had it (an event applied again,
		 * or the catch-up window): nothing to remove or truncate, and a
		 * set is left to the server, whose refusal the window rules judge. */
		if (must_exist)
			memset(out, 0, sizeof *out);
		else
			path_split(path, out);
		return true;
	}
	csm_error_set(error, CSM_EXIT_DATAERR,
		      "path '%s' cannot be read in one way only against the target document: "
		      "%s; the source sends no disambiguatedPaths (MongoDB before 6.1): capture "
		      "with --full-document updateLookup, or with post-images "
		      "(--full-document required)",
		      path, why);
	return false;
}

static bool
path_is_plain(const exact_path_t *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->comps[i].name && !plain_name(p->comps[i].name, strlen(p->comps[i].name)))
			return false;
	return true;
}

/* Whether a path string without disambiguatedPaths entry is plain. */
static bool
path_string_plain(const char *path)
{
	for (;;) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		if (len == 0 || path[0] == '$')
			return false;
		if (!dot)
			return true;
		path = dot + 1;
	}
}

/* True when no field name inside the value at iter has a dot or a '$' first. */
static bool
value_plain(const bson_iter_t *iter, int depth)
{
	bson_iter_t child;
	bool array = BSON_ITER_HOLDS_ARRAY(iter);

	if (!array && !BSON_ITER_HOLDS_DOCUMENT(iter))
		return true;
	if (depth > 200 || !bson_iter_recurse(iter, &child))
		return false;
	while (bson_iter_next(&child)) {
		if (!array && !plain_name(bson_iter_key(&child), bson_iter_key_len(&child)))
			return false;
		if (!value_plain(&child, depth + 1))
			return false;
	}
	return true;
}

/* True when name a sorts before b as operator updates add new fields. */
static bool
adds_before(const char *a, size_t la, const char *b, size_t lb)
{
	int64_t ia, ib;
	int c = memcmp(a, b, la < lb ? la : lb);

	if (c == 0)
		c = la < lb ? -1 : la > lb ? 1 : 0;
	if (index_like(a, la, &ia) && index_like(b, lb, &ib) && ia >= ib)
		return false;
	return c < 0;
}

/* True when the updatedFields keys sharing a parent are in adds_before
 * order, so new ones land where the source put them. */
static bool
siblings_ordered(const bson_t *updated)
{
	bson_iter_t i, j;

	if (!bson_iter_init(&i, updated))
		return true;
	while (bson_iter_next(&i)) {
		const char *a = bson_iter_key(&i);
		const char *adot = strrchr(a, '.');
		size_t pa = adot ? (size_t)(adot - a) + 1 : 0;

		j = i;
		while (bson_iter_next(&j)) {
			const char *b = bson_iter_key(&j);
			const char *bdot = strrchr(b, '.');
			size_t pb = bdot ? (size_t)(bdot - b) + 1 : 0;

			if (pa != pb || strncmp(a, b, pa) != 0)
				continue;
			if (!adds_before(a + pa, strlen(a + pa), b + pb, strlen(b + pb)))
				return false;
		}
	}
	return true;
}

/* The parts of an updateDescription, read in one pass (static views). */
typedef struct desc_parts {
	bool has_dp, has_updated, has_removed, has_truncated;
	bson_t dp, updated, removed, truncated;
} desc_parts_t;

static void
desc_parts(const bson_t *desc, desc_parts_t *p)
{
	bson_iter_t iter;

	p->has_dp = p->has_updated = p->has_removed = p->has_truncated = false;
	if (!bson_iter_init(&iter, desc))
		return;
	while (bson_iter_next(&iter)) {
		const char *key = bson_iter_key(&iter);
		bool doc = BSON_ITER_HOLDS_DOCUMENT(&iter), array = BSON_ITER_HOLDS_ARRAY(&iter);

		if (doc && strcmp(key, "updatedFields") == 0)
			p->has_updated = step_into(&iter, &p->updated);
		else if (array && strcmp(key, "removedFields") == 0)
			p->has_removed = step_into(&iter, &p->removed);
		else if (array && strcmp(key, "truncatedArrays") == 0)
			p->has_truncated = step_into(&iter, &p->truncated);
		else if (doc && strcmp(key, "disambiguatedPaths") == 0)
			p->has_dp = step_into(&iter, &p->dp);
	}
}

static bool
parts_need_target(const desc_parts_t *p)
{
	bson_iter_t iter;

	if (p->has_dp)
		return false;
	if (p->has_updated && bson_iter_init(&iter, &p->updated))
		while (bson_iter_next(&iter))
			if (strchr(bson_iter_key(&iter), '.'))
				return true;
	if (p->has_removed && bson_iter_init(&iter, &p->removed))
		while (bson_iter_next(&iter))
			if (BSON_ITER_HOLDS_UTF8(&iter) && strchr(bson_iter_utf8(&iter, NULL), '.'))
				return true;
	if (p->has_truncated && bson_iter_init(&iter, &p->truncated)) {
		while (bson_iter_next(&iter)) {
			bson_t entry;
			bson_iter_t f;

			if (step_into(&iter, &entry) && bson_iter_init_find(&f, &entry, "field") &&
			    BSON_ITER_HOLDS_UTF8(&f) && strchr(bson_iter_utf8(&f, NULL), '.'))
				return true;
		}
	}
	return false;
}

bool
apply_exact_needs_target(const bson_t *desc)
{
	desc_parts_t p;

	desc_parts(desc, &p);
	return parts_need_target(&p);
}

/* Whether path (of desc) is plain; false + error when it cannot be read. */
static bool
check_path(const bson_t *dp, bool has_dp, const exact_target_t *target, const char *path,
	   bool must_exist, bool *plain, bson_error_t *error)
{
	exact_path_t p;
	bson_iter_t entry;

	/* The fast path's usual case, without a copy: nothing to look up. */
	if (has_dp ? !bson_iter_init_find(&entry, dp, path)
		   : !target || !target->doc || !strchr(path, '.')) {
		*plain = path_string_plain(path);
		return true;
	}
	if (!path_of(dp, has_dp, target, path, must_exist, &p, error))
		return false;
	*plain = path_is_plain(&p); /* also when there is nothing to do (n 0) */
	exact_path_destroy(&p);
	return true;
}

/* The truncatedArrays entry at iter: its field and newSize. */
static bool
truncation_of(const bson_iter_t *iter, const char **field, int64_t *new_size)
{
	bson_t entry;
	bson_iter_t f;

	*field = NULL;
	*new_size = -1;
	if (!BSON_ITER_HOLDS_DOCUMENT(iter) || !step_into(iter, &entry))
		return false;
	if (bson_iter_init_find(&f, &entry, "field") && BSON_ITER_HOLDS_UTF8(&f))
		*field = bson_iter_utf8(&f, NULL);
	if (bson_iter_init_find(&f, &entry, "newSize") && BSON_ITER_HOLDS_NUMBER(&f))
		*new_size = bson_iter_as_int64(&f);
	return *field && *new_size >= 0 && *new_size <= INT32_MAX;
}

bool
apply_exact_mode(const bson_t *desc, const exact_target_t *target, exact_mode_t *mode,
		 bson_error_t *error)
{
	desc_parts_t p;
	bson_iter_t iter;
	bool plain = true;

	desc_parts(desc, &p);
	*mode = EXACT_FAST;
	if (!p.has_dp && (!target || !target->doc) && parts_need_target(&p)) {
		*mode = EXACT_NEEDS_TARGET;
		return true;
	}
	if (p.has_truncated && bson_iter_init(&iter, &p.truncated)) {
		while (plain && bson_iter_next(&iter)) {
			const char *field;
			int64_t size;

			if (truncation_of(&iter, &field, &size) &&
			    !check_path(&p.dp, p.has_dp, target, field, true, &plain, error))
				return false;
		}
	}
	if (p.has_removed && bson_iter_init(&iter, &p.removed))
		while (plain && bson_iter_next(&iter))
			if (BSON_ITER_HOLDS_UTF8(&iter) &&
			    !check_path(&p.dp, p.has_dp, target, bson_iter_utf8(&iter, NULL), true,
					&plain, error))
				return false;
	if (p.has_updated && bson_iter_init(&iter, &p.updated)) {
		uint32_t n = 0;

		while (plain && bson_iter_next(&iter)) {
			if (!check_path(&p.dp, p.has_dp, target, bson_iter_key(&iter), false,
					&plain, error))
				return false;
			plain = plain && value_plain(&iter, 0);
			n++;
		}
		plain = plain && (n < 2 || siblings_ordered(&p.updated));
	}
	if (!plain)
		*mode = EXACT_PIPELINE;
	return true;
}

/* What a stage does at the end of its path. */
typedef struct leaf {
	enum { LEAF_SET, LEAF_UNSET, LEAF_TRUNCATE } kind;
	const bson_value_t *value; /* LEAF_SET */
	int32_t new_size;          /* LEAF_TRUNCATE */
} leaf_t;

/* Appends name as an operand of $getField/$setField: under $literal when
 * it starts with '$' (it would read as a field path). */
static void
append_name(bson_t *out, const char *key, const char *name)
{
	if (name[0] == '$') {
		bson_t lit;

		BSON_APPEND_DOCUMENT_BEGIN(out, key, &lit);
		BSON_APPEND_UTF8(&lit, "$literal", name);
		bson_append_document_end(out, &lit);
	} else {
		BSON_APPEND_UTF8(out, key, name);
	}
}

/* Appends under key the expression of the current value at c[0..k). */
static void
append_current(bson_t *out, const char *key, const path_comp_t *c, size_t k)
{
	bson_t op, args;

	if (k == 0) {
		BSON_APPEND_UTF8(out, key, "$$ROOT");
		return;
	}
	BSON_APPEND_DOCUMENT_BEGIN(out, key, &op);
	if (c[k - 1].name) {
		BSON_APPEND_DOCUMENT_BEGIN(&op, "$getField", &args);
		append_name(&args, "field", c[k - 1].name);
		append_current(&args, "input", c, k - 1);
		bson_append_document_end(&op, &args);
	} else {
		BSON_APPEND_ARRAY_BEGIN(&op, "$arrayElemAt", &args);
		append_current(&args, "0", c, k - 1);
		BSON_APPEND_INT32(&args, "1", (int32_t)c[k - 1].index);
		bson_append_array_end(&op, &args);
	}
	bson_append_document_end(out, &op);
}

/* Appends under key the nulls that pad the array at c[0..k) up to index
 * i, as MongoDB pads an array set past its end: [null x i] from the
 * array's size on (none when it has i elements or more). */
static void
append_padding(bson_t *out, const char *key, const path_comp_t *c, size_t k, int32_t i)
{
	bson_t op, args, lit, nulls, size;
	char slot[16];
	const char *slot_key;

	BSON_APPEND_DOCUMENT_BEGIN(out, key, &op);
	BSON_APPEND_ARRAY_BEGIN(&op, "$slice", &args);
	BSON_APPEND_DOCUMENT_BEGIN(&args, "0", &lit);
	BSON_APPEND_ARRAY_BEGIN(&lit, "$literal", &nulls);
	for (int32_t n = 0; n < i; n++) {
		bson_uint32_to_string((uint32_t)n, &slot_key, slot, sizeof slot);
		BSON_APPEND_NULL(&nulls, slot_key);
	}
	bson_append_array_end(&lit, &nulls);
	bson_append_document_end(&args, &lit);
	BSON_APPEND_DOCUMENT_BEGIN(&args, "1", &size);
	append_current(&size, "$size", c, k);
	bson_append_document_end(&args, &size);
	BSON_APPEND_INT32(&args, "2", i);
	bson_append_array_end(&op, &args);
	bson_append_document_end(out, &op);
}

/* Appends under key the value at c[0..k) once leaf is applied at c[0..n). */
static void
append_rebuilt(bson_t *out, const char *key, const path_comp_t *c, size_t n, size_t k,
	       const leaf_t *leaf)
{
	bson_t op, args, part, slice;

	if (k == n) {
		if (leaf->kind == LEAF_UNSET) {
			BSON_APPEND_UTF8(out, key, "$$REMOVE");
			return;
		}
		BSON_APPEND_DOCUMENT_BEGIN(out, key, &op);
		if (leaf->kind == LEAF_SET) {
			bson_append_value(&op, "$literal", -1, leaf->value);
		} else if (leaf->new_size == 0) {
			/* No $slice to zero elements: not every server takes it. */
			BSON_APPEND_ARRAY_BEGIN(&op, "$literal", &args);
			bson_append_array_end(&op, &args);
		} else {
			BSON_APPEND_ARRAY_BEGIN(&op, "$slice", &args);
			append_current(&args, "0", c, n);
			BSON_APPEND_INT32(&args, "1", leaf->new_size);
			bson_append_array_end(&op, &args);
		}
		bson_append_document_end(out, &op);
		return;
	}
	BSON_APPEND_DOCUMENT_BEGIN(out, key, &op);
	if (c[k].name) {
		BSON_APPEND_DOCUMENT_BEGIN(&op, "$setField", &args);
		append_name(&args, "field", c[k].name);
		append_current(&args, "input", c, k);
		append_rebuilt(&args, "value", c, n, k + 1, leaf);
		bson_append_document_end(&op, &args);
	} else {
		/* [...a[0..i), new a[i], ...a[i+1..)] */
		int32_t i = (int32_t)c[k].index;
		char slot[16];
		const char *slot_key;
		uint32_t slot_n = 0;

		BSON_APPEND_ARRAY_BEGIN(&op, "$concatArrays", &args);
		if (i > 0) {
			bson_uint32_to_string(slot_n++, &slot_key, slot, sizeof slot);
			BSON_APPEND_DOCUMENT_BEGIN(&args, slot_key, &part);
			BSON_APPEND_ARRAY_BEGIN(&part, "$slice", &slice);
			append_current(&slice, "0", c, k);
			BSON_APPEND_INT32(&slice, "1", i);
			bson_append_array_end(&part, &slice);
			bson_append_document_end(&args, &part);
			bson_uint32_to_string(slot_n++, &slot_key, slot, sizeof slot);
			append_padding(&args, slot_key, c, k, i);
		}
		bson_uint32_to_string(slot_n++, &slot_key, slot, sizeof slot);
		BSON_APPEND_ARRAY_BEGIN(&args, slot_key, &part);
		append_rebuilt(&part, "0", c, n, k + 1, leaf);
		bson_append_array_end(&args, &part);
		bson_uint32_to_string(slot_n, &slot_key, slot, sizeof slot);
		BSON_APPEND_DOCUMENT_BEGIN(&args, slot_key, &part);
		BSON_APPEND_ARRAY_BEGIN(&part, "$slice", &slice);
		append_current(&slice, "0", c, k);
		BSON_APPEND_INT32(&slice, "1", i + 1);
		BSON_APPEND_INT32(&slice, "2", INT32_MAX);
		bson_append_array_end(&part, &slice);
		bson_append_document_end(&args, &part);
		bson_append_array_end(&op, &args);
	}
	bson_append_document_end(out, &op);
}

/* Appends one {$replaceWith: ...} stage applying leaf at path. */
static bool
append_stage(const bson_t *dp, bool has_dp, const exact_target_t *target, const char *path,
	     const leaf_t *leaf, bson_t *pipeline, uint32_t *n_stages, bson_error_t *error)
{
	exact_path_t p;
	bson_t stage;
	char slot[16];
	const char *slot_key;

	if (!path_of(dp, has_dp, target, path, leaf->kind != LEAF_SET, &p, error))
		return false;
	if (p.n == 0)
		return true; /* nothing to remove or truncate */
	if (leaf->kind == LEAF_UNSET && !p.comps[p.n - 1].name) {
		exact_path_destroy(&p);
		csm_error_set(error, CSM_EXIT_DATAERR, "cannot remove array element '%s'", path);
		return false;
	}
	bson_uint32_to_string((*n_stages)++, &slot_key, slot, sizeof slot);
	BSON_APPEND_DOCUMENT_BEGIN(pipeline, slot_key, &stage);
	append_rebuilt(&stage, "$replaceWith", p.comps, p.n, 0, leaf);
	bson_append_document_end(pipeline, &stage);
	exact_path_destroy(&p);
	return true;
}

bool
apply_exact_stages(const bson_t *desc, const exact_target_t *target, bson_t *pipeline,
		   uint32_t *n_stages, bson_error_t *error)
{
	desc_parts_t p;
	bson_iter_t iter;
	leaf_t leaf = {0};

	desc_parts(desc, &p);
	if (p.has_truncated && bson_iter_init(&iter, &p.truncated)) {
		while (bson_iter_next(&iter)) {
			const char *field;
			int64_t size;

			if (!truncation_of(&iter, &field, &size)) {
				csm_error_set(error, CSM_EXIT_DATAERR,
					      "updateDescription.truncatedArrays entry is not "
					      "{field, newSize}");
				return false;
			}
			leaf.kind = LEAF_TRUNCATE;
			leaf.new_size = (int32_t)size;
			if (!append_stage(&p.dp, p.has_dp, target, field, &leaf, pipeline, n_stages,
					  error))
				return false;
		}
	}
	if (p.has_removed && bson_iter_init(&iter, &p.removed)) {
		while (bson_iter_next(&iter)) {
			leaf.kind = LEAF_UNSET;
			if (!BSON_ITER_HOLDS_UTF8(&iter)) {
				csm_error_set(error, CSM_EXIT_DATAERR,
					      "updateDescription.removedFields holds a non-string");
				return false;
			}
			if (!append_stage(&p.dp, p.has_dp, target, bson_iter_utf8(&iter, NULL),
					  &leaf, pipeline, n_stages, error))
				return false;
		}
	}
	if (p.has_updated && bson_iter_init(&iter, &p.updated)) {
		while (bson_iter_next(&iter)) {
			leaf.kind = LEAF_SET;
			leaf.value = bson_iter_value(&iter);
			if (!append_stage(&p.dp, p.has_dp, target, bson_iter_key(&iter), &leaf,
					  pipeline, n_stages, error))
				return false;
		}
	}
	return true;
}

bool
apply_exact_has_dollar_field(const bson_t *doc)
{
	bson_iter_t iter;

	if (!bson_iter_init(&iter, doc))
		return false;
	while (bson_iter_next(&iter))
		if (bson_iter_key(&iter)[0] == '$')
			return true;
	return false;
}
