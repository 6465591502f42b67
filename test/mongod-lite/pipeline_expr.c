/* Aggregation expressions of update pipelines (see pipeline_expr.h). */
#include "pipeline_expr.h"

#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "order.h"

#define EXPR_MAX_ARGS 8

const bson_value_t *
pv_value(const pv_t *pv)
{
	return pv->holder ? &pv->view : NULL;
}

void
pv_set(pv_t *pv, const bson_value_t *v)
{
	bson_iter_t it;
	pv->holder = bson_new();
	bson_append_value(pv->holder, "v", 1, v);
	bson_iter_init_find(&it, pv->holder, "v");
	pv->view = *bson_iter_value(&it);
}

void
pv_free(pv_t *pv)
{
	if (pv->holder)
		bson_destroy(pv->holder);
	pv->holder = NULL;
}

/* Makes pv the document (or array) built in b; b is destroyed. */
static void
pv_take_doc(pv_t *pv, bson_t *b, bool array)
{
	bson_value_t v = {.value_type = array ? BSON_TYPE_ARRAY : BSON_TYPE_DOCUMENT};
	v.value.v_doc.data = (uint8_t *)bson_get_data(b);
	v.value.v_doc.data_len = b->len;
	pv_set(pv, &v);
	bson_destroy(b);
}

const char *
expr_type_name(const bson_value_t *v)
{
	if (!v)
		return "missing";
	switch (v->value_type) {
	case BSON_TYPE_DOUBLE:
		return "double";
	case BSON_TYPE_UTF8:
		return "string";
	case BSON_TYPE_DOCUMENT:
		return "object";
	case BSON_TYPE_ARRAY:
		return "array";
	case BSON_TYPE_BINARY:
		return "binData";
	case BSON_TYPE_UNDEFINED:
		return "undefined";
	case BSON_TYPE_OID:
		return "objectId";
	case BSON_TYPE_BOOL:
		return "bool";
	case BSON_TYPE_DATE_TIME:
		return "date";
	case BSON_TYPE_NULL:
		return "null";
	case BSON_TYPE_REGEX:
		return "regex";
	case BSON_TYPE_INT32:
		return "int";
	case BSON_TYPE_TIMESTAMP:
		return "timestamp";
	case BSON_TYPE_INT64:
		return "long";
	case BSON_TYPE_DECIMAL128:
		return "decimal";
	case BSON_TYPE_MINKEY:
		return "minKey";
	case BSON_TYPE_MAXKEY:
		return "maxKey";
	default:
		return "unknown";
	}
}

static bool
nullish(const bson_value_t *v)
{
	return !v || v->value_type == BSON_TYPE_NULL || v->value_type == BSON_TYPE_UNDEFINED;
}

/* Aggregation truth: false, null, undefined, missing and zero are false. */
static bool
truthy(const bson_value_t *v)
{
	if (nullish(v))
		return false;
	if (v->value_type == BSON_TYPE_BOOL)
		return v->value.v_bool;
	if (order_is_number(v->value_type))
		return order_number_value(v) != 0;
	return true;
}

/* ------------------------------------------------------------ field paths */

static void path_eval(const bson_value_t *cur, const char *path, pv_t *out);

/* "$a.b" over an array: each element's value at the rest of the path,
 * missing ones left out (ExpressionFieldPath::evaluatePathArray). */
static void
path_over_array(const bson_value_t *arr, const char *path, pv_t *out)
{
	bson_iter_t it;
	bson_t res = BSON_INITIALIZER;
	uint32_t n = 0;
	char key[16];
	const char *kp;

	bson_iter_init_from_data(&it, arr->value.v_doc.data, arr->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		const bson_value_t *el = bson_iter_value(&it);
		if (el->value_type != BSON_TYPE_DOCUMENT && el->value_type != BSON_TYPE_ARRAY)
			continue;
		pv_t sub = PV_MISSING;
		path_eval(el, path, &sub);
		if (sub.holder) {
			bson_uint32_to_string(n++, &kp, key, sizeof key);
			bson_append_value(&res, kp, -1, pv_value(&sub));
		}
		pv_free(&sub);
	}
	pv_take_doc(out, &res, true);
}

static void
path_eval(const bson_value_t *cur, const char *path, pv_t *out)
{
	if (!*path) {
		pv_set(out, cur);
		return;
	}
	if (cur->value_type == BSON_TYPE_ARRAY) {
		path_over_array(cur, path, out);
		return;
	}
	if (cur->value_type != BSON_TYPE_DOCUMENT)
		return;
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);
	bson_iter_t it;
	bson_iter_init_from_data(&it, cur->value.v_doc.data, cur->value.v_doc.data_len);
	if (!bson_iter_find_w_len(&it, path, (int)len))
		return;
	const bson_value_t *child = bson_iter_value(&it);
	if (!dot) {
		pv_set(out, child);
		return;
	}
	if (child->value_type == BSON_TYPE_DOCUMENT || child->value_type == BSON_TYPE_ARRAY)
		path_eval(child, dot + 1, out);
}

static bool
field_path_eval(const char *s, const bson_t *root, pv_t *out, bson_error_t *error)
{
	bson_value_t rootv = {.value_type = BSON_TYPE_DOCUMENT};
	rootv.value.v_doc.data = (uint8_t *)bson_get_data(root);
	rootv.value.v_doc.data_len = root->len;

	if (s[1] != '$') {
		if (!s[1]) {
			cmd_error(error, 16872, "'$' by itself is not a valid FieldPath");
			return false;
		}
		path_eval(&rootv, s + 1, out);
		return true;
	}
	const char *name = s + 2, *dot = strchr(name, '.');
	size_t len = dot ? (size_t)(dot - name) : strlen(name);
	if ((len == 4 && strncmp(name, "ROOT", 4) == 0) ||
	    (len == 7 && strncmp(name, "CURRENT", 7) == 0)) {
		path_eval(&rootv, dot ? dot + 1 : "", out);
		return true;
	}
	if (len == 6 && strncmp(name, "REMOVE", 6) == 0)
		return true;
	cmd_error(error, 17276, "Use of undefined variable: %.*s", (int)len, name);
	return false;
}

/* --------------------------------------------------------------- helpers */

typedef struct {
	const bson_value_t *items[EXPR_MAX_ARGS];
	bson_value_t store[EXPR_MAX_ARGS];
	size_t n;
} args_t;

/* An operator's operands: the elements of an array, or the one value. */
static bool
args_of(const char *op, const bson_value_t *arg, size_t min, size_t max, args_t *a,
	bson_error_t *error)
{
	a->n = 0;
	if (arg->value_type != BSON_TYPE_ARRAY) {
		a->store[0] = *arg;
		a->items[0] = &a->store[0];
		a->n = 1;
	} else {
		bson_iter_t it;
		bson_iter_init_from_data(&it, arg->value.v_doc.data, arg->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			if (a->n == EXPR_MAX_ARGS) {
				a->n = max + 1;
				break;
			}
			a->store[a->n] = *bson_iter_value(&it);
			a->items[a->n] = &a->store[a->n];
			a->n++;
		}
	}
	if (a->n < min || a->n > max) {
		if (min == max)
			cmd_error(error, 16020,
				  "Expression %s takes exactly %zu arguments. %zu were passed in.",
				  op, min, a->n);
		else
			cmd_error(error, 16020,
				  "Expression %s takes at least %zu arguments, and at most %zu, "
				  "but %zu were passed in.",
				  op, min, max, a->n);
		return false;
	}
	return true;
}

/* Evaluates every operand of arg (an array: any count). */
static bool
eval_all(const bson_value_t *arg, const bson_t *root, pv_t **vals, size_t *n, bson_error_t *error)
{
	bson_iter_t it;
	size_t cap = 0;
	*vals = NULL;
	*n = 0;
	if (arg->value_type != BSON_TYPE_ARRAY) {
		*vals = calloc(1, sizeof **vals);
		*n = 1;
		return expr_eval(arg, root, &(*vals)[0], error);
	}
	bson_iter_init_from_data(&it, arg->value.v_doc.data, arg->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*vals = realloc(*vals, cap * sizeof **vals);
		}
		memset(&(*vals)[*n], 0, sizeof **vals);
		if (!expr_eval(bson_iter_value(&it), root, &(*vals)[(*n)++], error))
			return false;
	}
	return true;
}

static void
free_all(pv_t *vals, size_t n)
{
	for (size_t k = 0; k < n; k++)
		pv_free(&vals[k]);
	free(vals);
}

/* Fields of an operator's object argument: out[k] the value of names[k]
 * (NULL when absent); false + 4161100-style error on an unknown one. */
static bool
named_args(const char *op, const bson_value_t *arg, const char *const *names, size_t count,
	   bson_value_t *store, const bson_value_t **out, bson_error_t *error)
{
	bson_iter_t it;
	for (size_t k = 0; k < count; k++)
		out[k] = NULL;
	bson_iter_init_from_data(&it, arg->value.v_doc.data, arg->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		size_t k = 0;
		while (k < count && strcmp(bson_iter_key(&it), names[k]) != 0)
			k++;
		if (k == count) {
			cmd_error(error, 4161100, "%s found an unknown argument: %s", op,
				  bson_iter_key(&it));
			return false;
		}
		store[k] = *bson_iter_value(&it);
		out[k] = &store[k];
	}
	return true;
}

/* ------------------------------------------------------------- operators */

/* $setField / $unsetField: input with field set to value (removed when
 * value is missing or the operator is $unsetField). */
static bool
op_set_field(const char *op, const bson_value_t *arg, const bson_t *root, pv_t *out,
	     bson_error_t *error)
{
	static const char *const names[] = {"field", "input", "value"};
	bool unset = strcmp(op, "$unsetField") == 0;
	bson_value_t store[3];
	const bson_value_t *a[3];

	if (arg->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 4161100, "%s only supports an object as its argument", op);
		return false;
	}
	if (!named_args(op, arg, names, unset ? 2 : 3, store, a, error))
		return false;
	if (!a[0] || !a[1] || (!unset && !a[2])) {
		cmd_error(error,
			  !a[0]   ? 4161102
			  : !a[1] ? 4161103
				  : 4161104,
			  "%s requires '%s' to be specified", op,
			  !a[0]   ? "field"
			  : !a[1] ? "input"
				  : "value");
		return false;
	}
	const bson_value_t *field = a[0];
	bson_iter_t lit; /* field may point into it: it must outlive field */
	if (field->value_type == BSON_TYPE_DOCUMENT) {
		if (bson_iter_init_from_data(&lit, field->value.v_doc.data,
					     field->value.v_doc.data_len) &&
		    bson_iter_next(&lit) && strcmp(bson_iter_key(&lit), "$literal") == 0)
			field = bson_iter_value(&lit);
	}
	if (field->value_type != BSON_TYPE_UTF8 ||
	    (a[0]->value_type == BSON_TYPE_UTF8 && field->value.v_utf8.str[0] == '$')) {
		cmd_error(error, 4161106, "%s requires 'field' to evaluate to a constant string",
			  op);
		return false;
	}
	pv_t input = PV_MISSING, value = PV_MISSING;
	bool ok = expr_eval(a[1], root, &input, error) &&
		  (unset || expr_eval(a[2], root, &value, error));
	const bson_value_t *in = ok ? pv_value(&input) : NULL;
	if (ok && !nullish(in) && in->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 4161105, "%s requires 'input' to evaluate to type Object", op);
		ok = false;
	}
	if (ok && !nullish(in)) {
		bson_t res = BSON_INITIALIZER;
		bson_iter_t it;
		const char *name = field->value.v_utf8.str;
		bool done = false;
		bson_iter_init_from_data(&it, in->value.v_doc.data, in->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			if (strcmp(bson_iter_key(&it), name) != 0) {
				bson_append_iter(&res, NULL, 0, &it);
			} else if (!done && value.holder) {
				bson_append_value(&res, name, -1, pv_value(&value));
				done = true;
			}
		}
		if (!done && value.holder)
			bson_append_value(&res, name, -1, pv_value(&value));
		pv_take_doc(out, &res, false);
	} else if (ok) {
		bson_value_t null_v = {.value_type = BSON_TYPE_NULL};
		pv_set(out, &null_v);
	}
	pv_free(&input);
	pv_free(&value);
	return ok;
}

static bool
op_get_field(const bson_value_t *arg, const bson_t *root, pv_t *out, bson_error_t *error)
{
	static const char *const names[] = {"field", "input"};
	bson_value_t store[2];
	const bson_value_t *a[2] = {arg, NULL};

	if (arg->value_type == BSON_TYPE_DOCUMENT) {
		bson_iter_t first;
		bson_iter_init_from_data(&first, arg->value.v_doc.data, arg->value.v_doc.data_len);
		bool is_expr = bson_iter_next(&first) && bson_iter_key(&first)[0] == '$';
		if (!is_expr && !named_args("$getField", arg, names, 2, store, a, error))
			return false;
		if (!a[0]) {
			cmd_error(error, 3041702, "$getField requires 'field' to be specified");
			return false;
		}
	}
	pv_t field = PV_MISSING, input = PV_MISSING;
	bool ok = expr_eval(a[0], root, &field, error);
	const bson_value_t *f = ok ? pv_value(&field) : NULL;
	if (ok && (!f || f->value_type != BSON_TYPE_UTF8)) {
		cmd_error(error, 3041704,
			  "$getField requires 'field' to evaluate to type String, but got %s",
			  expr_type_name(f));
		ok = false;
	}
	if (ok && a[1]) {
		ok = expr_eval(a[1], root, &input, error);
	} else if (ok) {
		bson_value_t rootv = {.value_type = BSON_TYPE_DOCUMENT};
		rootv.value.v_doc.data = (uint8_t *)bson_get_data(root);
		rootv.value.v_doc.data_len = root->len;
		pv_set(&input, &rootv);
	}
	const bson_value_t *in = ok ? pv_value(&input) : NULL;
	if (ok && nullish(in)) {
		if (in) {
			bson_value_t null_v = {.value_type = BSON_TYPE_NULL};
			pv_set(out, &null_v);
		}
	} else if (ok && in->value_type != BSON_TYPE_DOCUMENT) {
		cmd_error(error, 3041705,
			  "$getField requires 'input' to evaluate to type Object, but got %s",
			  expr_type_name(in));
		ok = false;
	} else if (ok) {
		bson_iter_t it;
		bson_iter_init_from_data(&it, in->value.v_doc.data, in->value.v_doc.data_len);
		if (bson_iter_find(&it, f->value.v_utf8.str))
			pv_set(out, bson_iter_value(&it));
	}
	pv_free(&field);
	pv_free(&input);
	return ok;
}

static bool
op_merge_objects(const bson_value_t *arg, const bson_t *root, pv_t *out, bson_error_t *error)
{
	pv_t *vals;
	size_t n;
	bool ok = eval_all(arg, root, &vals, &n, error);
	bson_t res = BSON_INITIALIZER;

	for (size_t k = 0; ok && k < n; k++) {
		const bson_value_t *v = pv_value(&vals[k]);
		if (nullish(v))
			continue;
		if (v->value_type != BSON_TYPE_DOCUMENT) {
			cmd_error(
				error, 40400,
				"$mergeObjects requires object inputs, but input %s is of type %s",
				"value", expr_type_name(v));
			ok = false;
			break;
		}
		/* later fields override earlier ones in place */
		bson_t merged = BSON_INITIALIZER, add;
		bson_iter_t it, nit;
		bson_init_static(&add, v->value.v_doc.data, v->value.v_doc.data_len);
		bson_iter_init(&it, &res);
		while (bson_iter_next(&it)) {
			if (bson_iter_init_find(&nit, &add, bson_iter_key(&it)))
				bson_append_value(&merged, bson_iter_key(&it), -1,
						  bson_iter_value(&nit));
			else
				bson_append_iter(&merged, NULL, 0, &it);
		}
		bson_iter_init(&nit, &add);
		while (bson_iter_next(&nit))
			if (!bson_has_field(&res, bson_iter_key(&nit)))
				bson_append_iter(&merged, NULL, 0, &nit);
		bson_destroy(&res);
		bson_steal(&res, &merged);
	}
	free_all(vals, n);
	if (ok)
		pv_take_doc(out, &res, false);
	else
		bson_destroy(&res);
	return ok;
}

static bool
op_concat_arrays(const bson_value_t *arg, const bson_t *root, pv_t *out, bson_error_t *error)
{
	pv_t *vals;
	size_t n;
	bool ok = eval_all(arg, root, &vals, &n, error), null_out = false;
	bson_t res = BSON_INITIALIZER;
	uint32_t count = 0;
	char key[16];
	const char *kp;

	for (size_t k = 0; ok && k < n; k++) {
		const bson_value_t *v = pv_value(&vals[k]);
		if (nullish(v)) {
			null_out = true;
			continue;
		}
		if (v->value_type != BSON_TYPE_ARRAY) {
			cmd_error(error, 28664, "$concatArrays only supports arrays, not %s",
				  expr_type_name(v));
			ok = false;
			break;
		}
		bson_iter_t it;
		bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			bson_uint32_to_string(count++, &kp, key, sizeof key);
			bson_append_value(&res, kp, -1, bson_iter_value(&it));
		}
	}
	free_all(vals, n);
	if (ok && null_out) {
		bson_value_t null_v = {.value_type = BSON_TYPE_NULL};
		pv_set(out, &null_v);
		bson_destroy(&res);
	} else if (ok) {
		pv_take_doc(out, &res, true);
	} else {
		bson_destroy(&res);
	}
	return ok;
}

static bool
integral(const bson_value_t *v, int64_t *out)
{
	if (!v || !order_is_number(v->value_type))
		return false;
	long double d = order_number_value(v);
	if (d != (long double)(int64_t)d)
		return false;
	*out = (int64_t)d;
	return true;
}

/* $slice [array, n] | [array, position, n]; $arrayElemAt [array, idx]. */
static bool
op_array_pick(const char *op, const bson_value_t *arg, const bson_t *root, pv_t *out,
	      bson_error_t *error)
{
	bool slice = strcmp(op, "$slice") == 0;
	args_t a;
	if (!args_of(op, arg, 2, slice ? 3 : 2, &a, error))
		return false;
	pv_t v[3] = {PV_MISSING, PV_MISSING, PV_MISSING};
	bool ok = true;
	for (size_t k = 0; ok && k < a.n; k++)
		ok = expr_eval(a.items[k], root, &v[k], error);
	const bson_value_t *arr = ok ? pv_value(&v[0]) : NULL;
	int64_t x = 0, y = 0;
	if (!ok) {
	} else if (nullish(arr) || nullish(pv_value(&v[1])) ||
		   (a.n == 3 && nullish(pv_value(&v[2])))) {
		bson_value_t null_v = {.value_type = BSON_TYPE_NULL};
		pv_set(out, &null_v);
	} else if (arr->value_type != BSON_TYPE_ARRAY) {
		cmd_error(error, slice ? 28724 : 28689,
			  slice ? "First argument to $slice must be an array, but is of type: %s"
				: "$arrayElemAt's first argument must be an array, but is %s",
			  expr_type_name(arr));
		ok = false;
	} else if (!integral(pv_value(&v[1]), &x) || (a.n == 3 && !integral(pv_value(&v[2]), &y))) {
		cmd_error(error, slice ? 28725 : 28691,
			  "%s's second argument must be a numeric value representable as a 32-bit "
			  "integral value",
			  op);
		ok = false;
	} else {
		bson_t t;
		bson_init_static(&t, arr->value.v_doc.data, arr->value.v_doc.data_len);
		int64_t len = (int64_t)bson_count_keys(&t), start, count;
		if (!slice) {
			start = x < 0 ? len + x : x;
			count = 1;
		} else if (a.n == 2) {
			start = x < 0 ? (len + x < 0 ? 0 : len + x) : 0;
			count = x < 0 ? len - start : x;
		} else {
			if (y <= 0) {
				cmd_error(error, 28729,
					  "Third argument to $slice must be positive: %lld",
					  (long long)y);
				ok = false;
			}
			start = x < 0 ? (len + x < 0 ? 0 : len + x) : x;
			count = y;
		}
		bson_t res = BSON_INITIALIZER;
		bson_iter_t it;
		int64_t i = 0;
		uint32_t w = 0;
		char key[16];
		const char *kp;
		bson_iter_init(&it, &t);
		while (ok && bson_iter_next(&it)) {
			if (i >= start && i < start + count) {
				if (!slice)
					pv_set(out, bson_iter_value(&it));
				bson_uint32_to_string(w++, &kp, key, sizeof key);
				bson_append_value(&res, kp, -1, bson_iter_value(&it));
			}
			i++;
		}
		if (ok && slice)
			pv_take_doc(out, &res, true);
		else
			bson_destroy(&res);
	}
	for (size_t k = 0; k < 3; k++)
		pv_free(&v[k]);
	return ok;
}

static bool
op_if_null(const bson_value_t *arg, const bson_t *root, pv_t *out, bson_error_t *error)
{
	pv_t *vals;
	size_t n;
	bool ok = eval_all(arg, root, &vals, &n, error);
	if (ok && n < 2) {
		cmd_error(error, 1257300, "$ifNull needs at least two arguments, had: %zu", n);
		ok = false;
	}
	for (size_t k = 0; ok && k < n; k++) {
		const bson_value_t *v = pv_value(&vals[k]);
		if (k == n - 1 || !nullish(v)) {
			if (v)
				pv_set(out, v);
			break;
		}
	}
	free_all(vals, n);
	return ok;
}

static bool
op_cond(const bson_value_t *arg, const bson_t *root, pv_t *out, bson_error_t *error)
{
	static const char *const names[] = {"if", "then", "else"};
	bson_value_t store[3];
	const bson_value_t *a[3];
	args_t list;

	if (arg->value_type == BSON_TYPE_DOCUMENT) {
		if (!named_args("$cond", arg, names, 3, store, a, error))
			return false;
		for (size_t k = 0; k < 3; k++) {
			if (!a[k]) {
				cmd_error(error, 17080, "Missing '%s' parameter to $cond",
					  names[k]);
				return false;
			}
		}
	} else {
		if (!args_of("$cond", arg, 3, 3, &list, error))
			return false;
		for (size_t k = 0; k < 3; k++)
			a[k] = list.items[k];
	}
	pv_t test = PV_MISSING;
	if (!expr_eval(a[0], root, &test, error))
		return false;
	bool yes = truthy(pv_value(&test));
	pv_free(&test);
	return expr_eval(a[yes ? 1 : 2], root, out, error);
}

static void
pv_bool(pv_t *out, bool b)
{
	bson_value_t v = {.value_type = BSON_TYPE_BOOL};
	v.value.v_bool = b;
	pv_set(out, &v);
}

static bool
op_compare(const char *op, const bson_value_t *arg, const bson_t *root, pv_t *out,
	   bson_error_t *error)
{
	args_t a;
	if (!args_of(op, arg, 2, 2, &a, error))
		return false;
	pv_t x = PV_MISSING, y = PV_MISSING;
	bool ok = expr_eval(a.items[0], root, &x, error) && expr_eval(a.items[1], root, &y, error);
	if (ok) {
		bson_value_t null_v = {.value_type = BSON_TYPE_NULL};
		const bson_value_t *xv = pv_value(&x), *yv = pv_value(&y);
		/* missing sorts before null for aggregation comparisons */
		int c = !xv && !yv ? 0
			: !xv      ? -1
			: !yv      ? 1
				   : order_values(xv ? xv : &null_v, yv ? yv : &null_v);
		bool r = strcmp(op, "$eq") == 0    ? c == 0
			 : strcmp(op, "$ne") == 0  ? c != 0
			 : strcmp(op, "$gt") == 0  ? c > 0
			 : strcmp(op, "$gte") == 0 ? c >= 0
			 : strcmp(op, "$lt") == 0  ? c < 0
						   : c <= 0;
		pv_bool(out, r);
	}
	pv_free(&x);
	pv_free(&y);
	return ok;
}

static bool
op_logic(const char *op, const bson_value_t *arg, const bson_t *root, pv_t *out,
	 bson_error_t *error)
{
	pv_t *vals;
	size_t n;
	bool ok = eval_all(arg, root, &vals, &n, error);
	if (ok && strcmp(op, "$not") == 0 && n != 1) {
		cmd_error(error, 16020,
			  "Expression $not takes exactly 1 arguments. %zu were passed in.", n);
		ok = false;
	}
	if (ok) {
		bool is_and = strcmp(op, "$and") == 0, r = is_and;
		for (size_t k = 0; k < n; k++) {
			bool t = truthy(pv_value(&vals[k]));
			r = is_and ? r && t : strcmp(op, "$or") == 0 ? r || t : !t;
		}
		pv_bool(out, r);
	}
	free_all(vals, n);
	return ok;
}

static bool
op_size_type(const char *op, const bson_value_t *arg, const bson_t *root, pv_t *out,
	     bson_error_t *error)
{
	args_t a;
	if (!args_of(op, arg, 1, 1, &a, error))
		return false;
	pv_t x = PV_MISSING;
	if (!expr_eval(a.items[0], root, &x, error))
		return false;
	const bson_value_t *v = pv_value(&x);
	bool ok = true;
	if (strcmp(op, "$type") == 0) {
		bson_value_t s = {.value_type = BSON_TYPE_UTF8};
		s.value.v_utf8.str = (char *)expr_type_name(v);
		s.value.v_utf8.len = (uint32_t)strlen(s.value.v_utf8.str);
		pv_set(out, &s);
	} else if (!v || v->value_type != BSON_TYPE_ARRAY) {
		cmd_error(error, 17124,
			  "The argument to $size must be an array. Type of argument is %s",
			  expr_type_name(v));
		ok = false;
	} else {
		bson_t t;
		bson_init_static(&t, v->value.v_doc.data, v->value.v_doc.data_len);
		bson_value_t r = {.value_type = BSON_TYPE_INT32};
		r.value.v_int32 = (int32_t)bson_count_keys(&t);
		pv_set(out, &r);
	}
	pv_free(&x);
	return ok;
}

static bool
eval_operator(const char *op, const bson_value_t *arg, const bson_t *root, pv_t *out,
	      bson_error_t *error)
{
	if (strcmp(op, "$literal") == 0) {
		pv_set(out, arg);
		return true;
	}
	if (strcmp(op, "$setField") == 0 || strcmp(op, "$unsetField") == 0)
		return op_set_field(op, arg, root, out, error);
	if (strcmp(op, "$getField") == 0)
		return op_get_field(arg, root, out, error);
	if (strcmp(op, "$mergeObjects") == 0)
		return op_merge_objects(arg, root, out, error);
	if (strcmp(op, "$concatArrays") == 0)
		return op_concat_arrays(arg, root, out, error);
	if (strcmp(op, "$slice") == 0 || strcmp(op, "$arrayElemAt") == 0)
		return op_array_pick(op, arg, root, out, error);
	if (strcmp(op, "$ifNull") == 0)
		return op_if_null(arg, root, out, error);
	if (strcmp(op, "$cond") == 0)
		return op_cond(arg, root, out, error);
	if (strcmp(op, "$eq") == 0 || strcmp(op, "$ne") == 0 || strcmp(op, "$gt") == 0 ||
	    strcmp(op, "$gte") == 0 || strcmp(op, "$lt") == 0 || strcmp(op, "$lte") == 0)
		return op_compare(op, arg, root, out, error);
	if (strcmp(op, "$and") == 0 || strcmp(op, "$or") == 0 || strcmp(op, "$not") == 0)
		return op_logic(op, arg, root, out, error);
	if (strcmp(op, "$size") == 0 || strcmp(op, "$type") == 0)
		return op_size_type(op, arg, root, out, error);
	cmd_error(error, 168, "Unrecognized expression '%s'", op);
	return false;
}

/* {a: <expr>, ...}: a new document of the evaluated fields (missing ones
 * left out). */
static bool
eval_object(const bson_value_t *e, const bson_t *root, pv_t *out, bson_error_t *error)
{
	bson_iter_t it;
	bson_t res = BSON_INITIALIZER;

	bson_iter_init_from_data(&it, e->value.v_doc.data, e->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (k[0] == '$') {
			cmd_error(error, 16410,
				  "FieldPath field names may not start with '$'. "
				  "Consider using $getField or $setField.");
			bson_destroy(&res);
			return false;
		}
		if (strchr(k, '.')) {
			cmd_error(error, 16412,
				  "FieldPath field names may not contain '.'. "
				  "Consider using $getField or $setField.");
			bson_destroy(&res);
			return false;
		}
		pv_t v = PV_MISSING;
		if (!expr_eval(bson_iter_value(&it), root, &v, error)) {
			bson_destroy(&res);
			return false;
		}
		if (v.holder)
			bson_append_value(&res, k, -1, pv_value(&v));
		pv_free(&v);
	}
	pv_take_doc(out, &res, false);
	return true;
}

bool
expr_eval(const bson_value_t *e, const bson_t *root, pv_t *out, bson_error_t *error)
{
	if (e->value_type == BSON_TYPE_UTF8 && e->value.v_utf8.str[0] == '$')
		return field_path_eval(e->value.v_utf8.str, root, out, error);
	if (e->value_type == BSON_TYPE_ARRAY) {
		bson_iter_t it;
		bson_t res = BSON_INITIALIZER;
		uint32_t n = 0;
		char key[16];
		const char *kp;
		bson_iter_init_from_data(&it, e->value.v_doc.data, e->value.v_doc.data_len);
		while (bson_iter_next(&it)) {
			pv_t v = PV_MISSING;
			bson_value_t null_v = {.value_type = BSON_TYPE_NULL};
			if (!expr_eval(bson_iter_value(&it), root, &v, error)) {
				bson_destroy(&res);
				return false;
			}
			bson_uint32_to_string(n++, &kp, key, sizeof key);
			bson_append_value(&res, kp, -1, v.holder ? pv_value(&v) : &null_v);
			pv_free(&v);
		}
		pv_take_doc(out, &res, true);
		return true;
	}
	if (e->value_type != BSON_TYPE_DOCUMENT) {
		pv_set(out, e);
		return true;
	}
	bson_iter_t it;
	bson_iter_init_from_data(&it, e->value.v_doc.data, e->value.v_doc.data_len);
	if (!bson_iter_next(&it) || bson_iter_key(&it)[0] != '$')
		return eval_object(e, root, out, error);
	const char *op = bson_iter_key(&it);
	bson_value_t arg = *bson_iter_value(&it);
	if (bson_iter_next(&it)) {
		cmd_error(error, 15983,
			  "An object representing an expression must have exactly one field: %s",
			  op);
		return false;
	}
	return eval_operator(op, &arg, root, out, error);
}
