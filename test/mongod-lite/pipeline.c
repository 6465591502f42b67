/* Update pipeline stages (see pipeline.h). */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "pipeline_expr.h"

bool
pipeline_stage_allowed(const char *name, bson_error_t *error)
{
	static const char *const allowed[] = {"$set",     "$addFields",   "$unset",
					      "$project", "$replaceRoot", "$replaceWith"};
	static const char *const known[] = {
		"$match",       "$group",     "$sort",       "$limit",        "$skip",
		"$lookup",      "$unwind",    "$count",      "$facet",        "$out",
		"$merge",       "$sample",    "$bucket",     "$graphLookup",  "$redact",
		"$sortByCount", "$unionWith", "$densify",    "$fill",         "$setWindowFields",
		"$geoNear",     "$collStats", "$indexStats", "$changeStream", "$documents",
		"$search",      "$bucketAuto"};
	for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
		if (strcmp(name, allowed[k]) == 0)
			return true;
	for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
		if (strcmp(name, known[k]) == 0) {
			cmd_error(error, 72, "%s is not allowed to be used within an update", name);
			return false;
		}
	}
	cmd_error(error, 40324, "Unrecognized pipeline stage name: '%s'", name);
	return false;
}

/* ------------------------------------------------------------- paths */

static void set_path(const bson_t *doc, const char *path, const bson_value_t *v, bson_t *out);

/* What set_path does to a value on the way: documents (and documents
 * inside arrays) get the rest of the path; other values are replaced by a
 * document holding it when setting, kept when removing. */
static void
set_in_value(const bson_value_t *cur, const char *rest, const bson_value_t *v, const char *key,
	     bson_t *out)
{
	bson_t sub, res;
	if (cur->value_type == BSON_TYPE_DOCUMENT) {
		bson_init_static(&sub, cur->value.v_doc.data, cur->value.v_doc.data_len);
		set_path(&sub, rest, v, &res);
		bson_append_document(out, key, -1, &res);
		bson_destroy(&res);
	} else if (cur->value_type == BSON_TYPE_ARRAY) {
		bson_iter_t it;
		bson_t arr;
		uint32_t n = 0;
		char k[16];
		const char *kp;
		bson_append_array_begin(out, key, -1, &arr);
		bson_iter_init_from_data(&it, cur->value.v_doc.data, cur->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			bson_uint32_to_string(n++, &kp, k, sizeof k);
			set_in_value(bson_iter_value(&it), rest, v, kp, &arr);
		}
		bson_append_array_end(out, &arr);
	} else if (v) {
		bson_t empty = BSON_INITIALIZER;
		set_path(&empty, rest, v, &res);
		bson_append_document(out, key, -1, &res);
		bson_destroy(&res);
		bson_destroy(&empty);
	} else {
		bson_append_value(out, key, -1, cur);
	}
}

/* doc with path set to v (removed when v is NULL) into out (initialized
 * by the call): an existing field keeps its place, a new one goes last. */
static void
set_path(const bson_t *doc, const char *path, const bson_value_t *v, bson_t *out)
{
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);
	bool found = false;
	bson_iter_t it;
	char *name = bson_strndup(path, len);

	bson_init(out);
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it)) {
		if (strcmp(bson_iter_key(&it), name) != 0) {
			bson_append_iter(out, NULL, 0, &it);
			continue;
		}
		found = true;
		if (!dot) {
			if (v)
				bson_append_value(out, name, -1, v);
		} else {
			set_in_value(bson_iter_value(&it), dot + 1, v, name, out);
		}
	}
	if (!found && v) {
		if (!dot) {
			bson_append_value(out, name, -1, v);
		} else {
			bson_t empty = BSON_INITIALIZER, res;
			set_path(&empty, dot + 1, v, &res);
			bson_append_document(out, name, -1, &res);
			bson_destroy(&res);
			bson_destroy(&empty);
		}
	}
	bson_free(name);
}

static void
replace_doc(bson_t *doc, bson_t *next)
{
	bson_destroy(doc);
	bson_steal(doc, next);
}

static bool
check_field_name(const char *path, bson_error_t *error)
{
	if (!*path) {
		cmd_error(error, 40352, "FieldPath cannot be constructed with empty string");
		return false;
	}
	if (path[0] == '$') {
		cmd_error(error, 16410,
			  "FieldPath field names may not start with '$'. Consider using $getField "
			  "or $setField.");
		return false;
	}
	if (strstr(path, "..") || path[strlen(path) - 1] == '.') {
		cmd_error(error, 15998, "FieldPath field names may not be empty strings.");
		return false;
	}
	return true;
}

/* A stage's field specs flattened to dotted paths: {a: {b: e}} is a.b. */
typedef struct {
	char **paths;
	bson_value_t *exprs;
	size_t n, cap;
} specs_t;

static void
specs_free(specs_t *s)
{
	for (size_t k = 0; k < s->n; k++)
		bson_free(s->paths[k]);
	free(s->paths);
	free(s->exprs);
}

static bool
is_nested_spec(const bson_value_t *v)
{
	bson_iter_t it;
	return v->value_type == BSON_TYPE_DOCUMENT &&
	       bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len) &&
	       bson_iter_next(&it) && bson_iter_key(&it)[0] != '$';
}

static bool
flatten(const bson_value_t *spec, const char *prefix, specs_t *s, bson_error_t *error)
{
	bson_iter_t it;
	bson_iter_init_from_data(&it, spec->value.v_doc.data, spec->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		if (!check_field_name(bson_iter_key(&it), error))
			return false;
		char *path = prefix ? bson_strdup_printf("%s.%s", prefix, bson_iter_key(&it))
				    : bson_strdup(bson_iter_key(&it));
		const bson_value_t *v = bson_iter_value(&it);
		if (is_nested_spec(v)) {
			bool ok = flatten(v, path, s, error);
			bson_free(path);
			if (!ok)
				return false;
			continue;
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 8;
			s->paths = realloc(s->paths, s->cap * sizeof *s->paths);
			s->exprs = realloc(s->exprs, s->cap * sizeof *s->exprs);
		}
		s->paths[s->n] = path;
		s->exprs[s->n++] = *v;
	}
	return true;
}

/* ------------------------------------------------------------- stages */

/* $set / $addFields: every expression sees the stage's input. */
static bool
stage_set(bson_t *doc, const bson_value_t *spec, const char *name, bson_error_t *error)
{
	specs_t s = {0};
	bool ok = true;

	if (spec->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 40272, "%s specification stage must be an object, got %s", name,
			  expr_type_name(spec));
		return false;
	}
	if (!flatten(spec, NULL, &s, error)) {
		specs_free(&s);
		return false;
	}
	pv_t *vals = calloc(s.n ? s.n : 1, sizeof *vals);
	for (size_t k = 0; ok && k < s.n; k++)
		ok = expr_eval(&s.exprs[k], doc, &vals[k], error);
	for (size_t k = 0; ok && k < s.n; k++) {
		bson_t next;
		set_path(doc, s.paths[k], pv_value(&vals[k]), &next);
		replace_doc(doc, &next);
	}
	for (size_t k = 0; k < s.n; k++)
		pv_free(&vals[k]);
	free(vals);
	specs_free(&s);
	return ok;
}

static bool
stage_unset(bson_t *doc, const bson_value_t *spec, bson_error_t *error)
{
	bson_iter_t it;
	if (spec->value_type == BSON_TYPE_UTF8) {
		if (!check_field_name(spec->value.v_utf8.str, error))
			return false;
		bson_t next;
		set_path(doc, spec->value.v_utf8.str, NULL, &next);
		replace_doc(doc, &next);
		return true;
	}
	if (spec->value_type != BSON_TYPE_ARRAY) {
		cmd_error(error, 31002, "$unset specification must be a string or an array");
		return false;
	}
	bson_iter_init_from_data(&it, spec->value.v_doc.data, spec->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		if (!BSON_ITER_HOLDS_UTF8(&it)) {
			cmd_error(error, 31120,
				  "$unset specification must be a string or an array containing "
				  "only string values");
			return false;
		}
		if (!check_field_name(bson_iter_utf8(&it, NULL), error))
			return false;
		bson_t next;
		set_path(doc, bson_iter_utf8(&it, NULL), NULL, &next);
		replace_doc(doc, &next);
	}
	return true;
}

/* An inclusion projection of doc by the included paths (prefix-relative). */
static void include_paths(const bson_t *doc, char **paths, size_t n, bool keep_id, bson_t *out);

static void
include_value(const bson_value_t *v, char **subs, size_t nsub, const char *key, bson_t *out)
{
	if (v->value_type == BSON_TYPE_DOCUMENT) {
		bson_t sub, res;
		bson_init_static(&sub, v->value.v_doc.data, v->value.v_doc.data_len);
		include_paths(&sub, subs, nsub, false, &res);
		bson_append_document(out, key, -1, &res);
		bson_destroy(&res);
	} else if (v->value_type == BSON_TYPE_ARRAY) {
		bson_iter_t it;
		bson_t arr;
		uint32_t n = 0;
		char k[16];
		const char *kp;
		bson_append_array_begin(out, key, -1, &arr);
		bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			const bson_value_t *el = bson_iter_value(&it);
			if (el->value_type != BSON_TYPE_DOCUMENT &&
			    el->value_type != BSON_TYPE_ARRAY)
				continue;
			bson_uint32_to_string(n++, &kp, k, sizeof k);
			include_value(el, subs, nsub, kp, &arr);
		}
		bson_append_array_end(out, &arr);
	}
}

static void
include_paths(const bson_t *doc, char **paths, size_t n, bool keep_id, bson_t *out)
{
	bson_iter_t it;
	bson_init(out);
	bson_iter_init(&it, doc);
	char **subs = malloc((n ? n : 1) * sizeof *subs);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		size_t kl = strlen(k), nsub = 0;
		bool whole = keep_id && strcmp(k, "_id") == 0;
		for (size_t p = 0; p < n; p++) {
			if (strcmp(paths[p], k) == 0)
				whole = true;
			else if (strncmp(paths[p], k, kl) == 0 && paths[p][kl] == '.')
				subs[nsub++] = paths[p] + kl + 1;
		}
		if (whole)
			bson_append_iter(out, NULL, 0, &it);
		else if (nsub)
			include_value(bson_iter_value(&it), subs, nsub, k, out);
	}
	free(subs);
}

/* A projection value's meaning: 1 include, 0 exclude, -1 computed. */
static int
projection_kind(const bson_value_t *v)
{
	if (v->value_type == BSON_TYPE_BOOL)
		return v->value.v_bool;
	if (v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64 ||
	    v->value_type == BSON_TYPE_DOUBLE || v->value_type == BSON_TYPE_DECIMAL128) {
		bson_iter_t it;
		bson_t t = BSON_INITIALIZER;
		bson_append_value(&t, "v", 1, v);
		bson_iter_init_find(&it, &t, "v");
		bool truth = bson_iter_as_bool(&it);
		bson_destroy(&t);
		return truth;
	}
	return -1;
}

static bool
stage_project(bson_t *doc, const bson_value_t *spec, bson_error_t *error)
{
	specs_t s = {0};
	int mode = -1; /* 1 inclusion, 0 exclusion */
	bool keep_id = true, ok = true;

	if (spec->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 15969, "$project specification must be an object");
		return false;
	}
	if (!flatten(spec, NULL, &s, error)) {
		specs_free(&s);
		return false;
	}
	if (s.n == 0) {
		cmd_error(error, 51272,
			  "Invalid $project :: caused by :: projection specification must have at "
			  "least one field");
		specs_free(&s);
		return false;
	}
	for (size_t k = 0; k < s.n; k++) {
		int kind = projection_kind(&s.exprs[k]);
		if (strcmp(s.paths[k], "_id") == 0 && kind == 0) {
			keep_id = false;
			continue;
		}
		int want = kind == 0 ? 0 : 1;
		if (mode >= 0 && mode != want) {
			cmd_error(error, want ? 31253 : 31254,
				  "Invalid $project :: caused by :: Cannot do %s on field %s in %s "
				  "projection",
				  want ? "inclusion" : "exclusion", s.paths[k],
				  want ? "exclusion" : "inclusion");
			specs_free(&s);
			return false;
		}
		mode = want;
	}
	bson_t next;
	if (mode != 1) { /* exclusion (or only _id: 0) */
		for (size_t k = 0; k < s.n; k++) {
			set_path(doc, s.paths[k], NULL, &next);
			replace_doc(doc, &next);
		}
		specs_free(&s);
		return true;
	}
	char **incl = malloc(s.n * sizeof *incl);
	size_t ni = 0;
	pv_t *vals = calloc(s.n, sizeof *vals);
	for (size_t k = 0; ok && k < s.n; k++) {
		int kind = projection_kind(&s.exprs[k]);
		if (kind == 1)
			incl[ni++] = s.paths[k];
		else if (kind == -1)
			ok = expr_eval(&s.exprs[k], doc, &vals[k], error);
	}
	if (ok) {
		include_paths(doc, incl, ni, keep_id, &next);
		for (size_t k = 0; k < s.n; k++) {
			if (projection_kind(&s.exprs[k]) != -1 || !vals[k].holder)
				continue;
			bson_t with;
			set_path(&next, s.paths[k], pv_value(&vals[k]), &with);
			replace_doc(&next, &with);
		}
		replace_doc(doc, &next);
	}
	for (size_t k = 0; k < s.n; k++)
		pv_free(&vals[k]);
	free(vals);
	free(incl);
	specs_free(&s);
	return ok;
}

static bool
stage_replace(bson_t *doc, const bson_value_t *spec, const char *name, bson_error_t *error)
{
	const bson_value_t *expr = spec;
	bson_iter_t it;
	bool root = strcmp(name, "$replaceRoot") == 0;

	if (root) {
		if (spec->value_type != BSON_TYPE_DOCUMENT ||
		    !bson_iter_init_from_data(&it, spec->value.v_doc.data,
					      spec->value.v_doc.data_len) ||
		    !bson_iter_find(&it, "newRoot")) {
			cmd_error(error, 40231, "no newRoot specified for the $replaceRoot stage");
			return false;
		}
		expr = bson_iter_value(&it);
	}
	pv_t v = PV_MISSING;
	if (!expr_eval(expr, doc, &v, error))
		return false;
	const bson_value_t *r = pv_value(&v);
	if (!r || r->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 40228,
			  "'%s' must evaluate to an object, but resulting value was: %s. Type of "
			  "resulting value: '%s'.",
			  root ? "newRoot" : "replacement document",
			  r ? expr_type_name(r) : "MISSING", expr_type_name(r));
		pv_free(&v);
		return false;
	}
	bson_t view;
	bson_init_static(&view, r->value.v_doc.data, r->value.v_doc.data_len);
	bson_t *copy = bson_copy(&view);
	pv_free(&v);
	bson_destroy(doc);
	bson_steal(doc, copy);
	return true;
}

bool
pipeline_run(const bson_t *doc, const bson_value_t *pipeline, bson_t *out, bson_error_t *error)
{
	bson_iter_t it;
	bson_copy_to(doc, out);
	bson_iter_init_from_data(&it, pipeline->value.v_doc.data, pipeline->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		bson_iter_t st;
		bool ok;
		bson_iter_recurse(&it, &st);
		bson_iter_next(&st);
		const char *name = bson_iter_key(&st);
		const bson_value_t *spec = bson_iter_value(&st);
		if (strcmp(name, "$set") == 0 || strcmp(name, "$addFields") == 0)
			ok = stage_set(out, spec, name, error);
		else if (strcmp(name, "$unset") == 0)
			ok = stage_unset(out, spec, error);
		else if (strcmp(name, "$project") == 0)
			ok = stage_project(out, spec, error);
		else
			ok = stage_replace(out, spec, name, error);
		if (!ok)
			return false;
	}
	return true;
}
