/* Filter matching, sorting and projection (see query.h). */
#include "query.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "order.h"

/* Called for each value at a path; v NULL = the path is missing there.
 * expanded: v is an element of an array the path ended on. true = stop. */
typedef bool (*visit_fn)(const bson_value_t *v, bool expanded, void *arg);

bool
query_is_index(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool
find_field(const uint8_t *data, uint32_t len, const char *name, size_t nlen, bson_iter_t *out)
{
	if (!bson_iter_init_from_data(out, data, len))
		return false;
	while (bson_iter_next(out)) {
		if (bson_iter_key_len(out) == nlen && memcmp(bson_iter_key(out), name, nlen) == 0)
			return true;
	}
	return false;
}

static bool walk(const uint8_t *data, uint32_t len, const char *path, visit_fn fn, void *arg);

static bool
walk_value(bson_iter_t *it, const char *rest, visit_fn fn, void *arg)
{
	if (!rest) {
		if (fn(bson_iter_value(it), false, arg))
			return true;
		if (BSON_ITER_HOLDS_ARRAY(it)) {
			bson_iter_t el;
			bson_iter_recurse(it, &el);
			while (bson_iter_next(&el))
				if (fn(bson_iter_value(&el), true, arg))
					return true;
		}
		return false;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(it)) {
		const uint8_t *d;
		uint32_t l;
		bson_iter_document(it, &l, &d);
		return walk(d, l, rest, fn, arg);
	}
	if (BSON_ITER_HOLDS_ARRAY(it)) {
		const uint8_t *d;
		uint32_t l;
		const char *dot = strchr(rest, '.');
		size_t hl = dot ? (size_t)(dot - rest) : strlen(rest);
		bool any = false;
		bson_iter_array(it, &l, &d);
		if (query_is_index(rest, hl)) {
			bson_iter_t el;
			if (find_field(d, l, rest, hl, &el)) {
				any = true;
				if (walk_value(&el, dot ? dot + 1 : NULL, fn, arg))
					return true;
			}
		}
		bson_iter_t el;
		bson_iter_init_from_data(&el, d, l);
		while (bson_iter_next(&el)) {
			if (BSON_ITER_HOLDS_DOCUMENT(&el)) {
				const uint8_t *ed;
				uint32_t elen;
				bson_iter_document(&el, &elen, &ed);
				any = true;
				if (walk(ed, elen, rest, fn, arg))
					return true;
			}
		}
		if (!any)
			return fn(NULL, false, arg);
		return false;
	}
	return fn(NULL, false, arg);
}

static bool
walk(const uint8_t *data, uint32_t len, const char *path, visit_fn fn, void *arg)
{
	const char *dot = strchr(path, '.');
	size_t hl = dot ? (size_t)(dot - path) : strlen(path);
	bson_iter_t it;

	if (!find_field(data, len, path, hl, &it))
		return fn(NULL, false, arg);
	return walk_value(&it, dot ? dot + 1 : NULL, fn, arg);
}

bool
query_lookup(const uint8_t *doc, uint32_t doclen, const char *path, bson_iter_t *out)
{
	const uint8_t *data = doc;
	uint32_t len = doclen;

	for (;;) {
		const char *dot = strchr(path, '.');
		size_t hl = dot ? (size_t)(dot - path) : strlen(path);
		if (!find_field(data, len, path, hl, out))
			return false;
		if (!dot)
			return true;
		if (!BSON_ITER_HOLDS_DOCUMENT(out) && !BSON_ITER_HOLDS_ARRAY(out))
			return false;
		bson_iter_document(out, &len, &data);
		if (BSON_ITER_HOLDS_ARRAY(out))
			bson_iter_array(out, &len, &data);
		path = dot + 1;
	}
}

/* ---- operators ---- */

typedef enum {
	OP_EQ,
	OP_NE,
	OP_GT,
	OP_GTE,
	OP_LT,
	OP_LTE,
	OP_IN,
	OP_NIN,
	OP_EXISTS,
	OP_NOT,
	OP_TYPE,
	OP_SIZE,
	OP_ALL,
	OP_ELEMMATCH,
	OP_REGEX,
	OP_OPTIONS,
	OP_MOD,
	OP_UNKNOWN
} op_t;

static op_t
op_of(const char *name)
{
	static const struct {
		const char *name;
		op_t op;
	} ops[] = {{"$eq", OP_EQ},         {"$ne", OP_NE},
		   {"$gt", OP_GT},         {"$gte", OP_GTE},
		   {"$lt", OP_LT},         {"$lte", OP_LTE},
		   {"$in", OP_IN},         {"$nin", OP_NIN},
		   {"$exists", OP_EXISTS}, {"$not", OP_NOT},
		   {"$type", OP_TYPE},     {"$size", OP_SIZE},
		   {"$all", OP_ALL},       {"$elemMatch", OP_ELEMMATCH},
		   {"$regex", OP_REGEX},   {"$options", OP_OPTIONS},
		   {"$mod", OP_MOD}};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(ops[i].name, name) == 0)
			return ops[i].op;
	return OP_UNKNOWN;
}

static bool
is_operator_doc(const bson_value_t *v)
{
	bson_iter_t it;
	if (v->value_type != BSON_TYPE_DOCUMENT)
		return false;
	if (!bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len) ||
	    !bson_iter_next(&it))
		return false;
	return bson_iter_key(&it)[0] == '$';
}

static bool
regex_match(const char *pattern, const char *options, const bson_value_t *v)
{
	regex_t re;
	int flags = REG_EXTENDED | REG_NOSUB;
	const char *s;

	if (v->value_type == BSON_TYPE_UTF8)
		s = v->value.v_utf8.str;
	else if (v->value_type == BSON_TYPE_SYMBOL)
		s = v->value.v_symbol.symbol;
	else
		return false;
	if (options && strchr(options, 'i'))
		flags |= REG_ICASE;
	if (options && strchr(options, 'm'))
		flags |= REG_NEWLINE;
	if (regcomp(&re, pattern, flags) != 0)
		return false;
	bool ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* Equality as a query sees it: a regex matches strings too. */
static bool
value_eq(const bson_value_t *cand, const bson_value_t *arg)
{
	if (arg->value_type == BSON_TYPE_REGEX && cand->value_type != BSON_TYPE_REGEX)
		return regex_match(arg->value.v_regex.regex, arg->value.v_regex.options, cand);
	return order_values(cand, arg) == 0;
}

typedef struct {
	op_t op;
	const bson_value_t *arg;
	const char *regex_options;
	int cmp_sign; /* for comparisons */
	bool accept_null_missing;
} op_ctx_t;

static bool
type_matches(const bson_value_t *v, const bson_value_t *t)
{
	static const struct {
		const char *alias;
		int code;
	} aliases[] = {{"double", 1},      {"string", 2},    {"object", 3},   {"array", 4},
		       {"binData", 5},     {"undefined", 6}, {"objectId", 7}, {"bool", 8},
		       {"date", 9},        {"null", 10},     {"regex", 11},   {"dbPointer", 12},
		       {"javascript", 13}, {"symbol", 14},   {"int", 16},     {"timestamp", 17},
		       {"long", 18},       {"decimal", 19},  {"minKey", -1},  {"maxKey", 127}};
	int code = -2;

	if (t->value_type == BSON_TYPE_UTF8) {
		if (strcmp(t->value.v_utf8.str, "number") == 0)
			return order_is_number(v->value_type);
		for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
			if (strcmp(aliases[i].alias, t->value.v_utf8.str) == 0)
				code = aliases[i].code;
	} else if (order_is_number(t->value_type)) {
		code = (int)order_number_value(t);
	}
	if (code == -1)
		return v->value_type == BSON_TYPE_MINKEY;
	return code == (int)v->value_type;
}

static bool match_ops_at(const bson_value_t *ops, const uint8_t *doc, uint32_t len,
			 const char *path);

static bool
value_matches_ops(const bson_value_t *value, const bson_value_t *ops)
{
	bson_t tmp = BSON_INITIALIZER;
	bson_append_value(&tmp, "x", 1, value);
	bool ok = match_ops_at(ops, bson_get_data(&tmp), tmp.len, "x");
	bson_destroy(&tmp);
	return ok;
}

static bool
visit_op(const bson_value_t *v, bool expanded, void *arg)
{
	op_ctx_t *c = arg;

	switch (c->op) {
	case OP_EQ:
		if (!v)
			return c->arg->value_type == BSON_TYPE_NULL;
		return value_eq(v, c->arg);
	case OP_GT:
	case OP_GTE:
	case OP_LT:
	case OP_LTE: {
		if (!v)
			return c->accept_null_missing;
		int ra = order_type_rank(v->value_type), rb = order_type_rank(c->arg->value_type);
		if (ra != rb && rb != ORDER_MINKEY && rb != ORDER_MAXKEY)
			return false;
		int cmp = order_values(v, c->arg);
		switch (c->op) {
		case OP_GT:
			return cmp > 0;
		case OP_GTE:
			return cmp >= 0;
		case OP_LT:
			return cmp < 0;
		default:
			return cmp <= 0;
		}
	}
	case OP_IN: {
		bson_iter_t el;
		bson_iter_init_from_data(&el, c->arg->value.v_doc.data,
					 c->arg->value.v_doc.data_len);
		while (bson_iter_next(&el)) {
			const bson_value_t *x = bson_iter_value(&el);
			if (!v) {
				if (x->value_type == BSON_TYPE_NULL)
					return true;
			} else if (value_eq(v, x)) {
				return true;
			}
		}
		return false;
	}
	case OP_EXISTS:
		return v != NULL;
	case OP_TYPE:
		if (!v)
			return false;
		if (c->arg->value_type == BSON_TYPE_ARRAY) {
			bson_iter_t el;
			bson_iter_init_from_data(&el, c->arg->value.v_doc.data,
						 c->arg->value.v_doc.data_len);
			while (bson_iter_next(&el))
				if (type_matches(v, bson_iter_value(&el)))
					return true;
			return false;
		}
		return type_matches(v, c->arg);
	case OP_SIZE:
		if (!v || expanded || v->value_type != BSON_TYPE_ARRAY)
			return false;
		{
			bson_t a;
			bson_init_static(&a, v->value.v_doc.data, v->value.v_doc.data_len);
			return (long double)bson_count_keys(&a) == order_number_value(c->arg);
		}
	case OP_ELEMMATCH: {
		if (!v || expanded || v->value_type != BSON_TYPE_ARRAY)
			return false;
		bson_iter_t el;
		bool ops = is_operator_doc(c->arg);
		bson_t sub;
		bson_init_static(&sub, c->arg->value.v_doc.data, c->arg->value.v_doc.data_len);
		bson_iter_init_from_data(&el, v->value.v_doc.data, v->value.v_doc.data_len);
		while (bson_iter_next(&el)) {
			const bson_value_t *x = bson_iter_value(&el);
			if (ops) {
				if (value_matches_ops(x, c->arg))
					return true;
			} else if (x->value_type == BSON_TYPE_DOCUMENT &&
				   query_match(&sub, x->value.v_doc.data,
					       x->value.v_doc.data_len)) {
				return true;
			}
		}
		return false;
	}
	case OP_REGEX:
		if (!v)
			return false;
		if (c->arg->value_type == BSON_TYPE_REGEX)
			return regex_match(c->arg->value.v_regex.regex,
					   c->regex_options ? c->regex_options
							    : c->arg->value.v_regex.options,
					   v);
		return regex_match(c->arg->value.v_utf8.str, c->regex_options, v);
	case OP_MOD: {
		if (!v || !order_is_number(v->value_type))
			return false;
		bson_iter_t el;
		int64_t d = 0, r = 0;
		bson_iter_init_from_data(&el, c->arg->value.v_doc.data,
					 c->arg->value.v_doc.data_len);
		if (bson_iter_next(&el))
			d = bson_iter_as_int64(&el);
		if (bson_iter_next(&el))
			r = bson_iter_as_int64(&el);
		if (d == 0)
			return false;
		return ((int64_t)order_number_value(v)) % d == r;
	}
	default:
		return false;
	}
}

static bool
run_op(op_t op, const bson_value_t *arg, const char *regex_options, const uint8_t *doc,
       uint32_t len, const char *path)
{
	op_ctx_t c = {.op = op, .arg = arg, .regex_options = regex_options};

	switch (op) {
	case OP_NE:
		c.op = OP_EQ;
		return !walk(doc, len, path, visit_op, &c);
	case OP_NIN:
		c.op = OP_IN;
		return !walk(doc, len, path, visit_op, &c);
	case OP_GTE:
	case OP_LTE:
		c.accept_null_missing = arg->value_type == BSON_TYPE_NULL;
		return walk(doc, len, path, visit_op, &c);
	case OP_EXISTS: {
		bool want = true;
		if (arg->value_type == BSON_TYPE_BOOL)
			want = arg->value.v_bool;
		else if (order_is_number(arg->value_type))
			want = order_number_value(arg) != 0;
		else if (arg->value_type == BSON_TYPE_NULL)
			want = false;
		return walk(doc, len, path, visit_op, &c) == want;
	}
	case OP_NOT:
		if (arg->value_type == BSON_TYPE_REGEX)
			return !run_op(OP_REGEX, arg, NULL, doc, len, path);
		return !match_ops_at(arg, doc, len, path);
	case OP_ALL: {
		bson_iter_t el;
		bool any = false;
		bson_iter_init_from_data(&el, arg->value.v_doc.data, arg->value.v_doc.data_len);
		while (bson_iter_next(&el)) {
			const bson_value_t *x = bson_iter_value(&el);
			any = true;
			if (x->value_type == BSON_TYPE_DOCUMENT && is_operator_doc(x)) {
				bson_iter_t inner;
				bson_iter_init_from_data(&inner, x->value.v_doc.data,
							 x->value.v_doc.data_len);
				if (bson_iter_next(&inner) &&
				    strcmp(bson_iter_key(&inner), "$elemMatch") == 0) {
					if (!run_op(OP_ELEMMATCH, bson_iter_value(&inner), NULL,
						    doc, len, path))
						return false;
					continue;
				}
			}
			if (!run_op(OP_EQ, x, NULL, doc, len, path))
				return false;
		}
		return any;
	}
	default:
		return walk(doc, len, path, visit_op, &c);
	}
}

static bool
match_ops_at(const bson_value_t *ops, const uint8_t *doc, uint32_t len, const char *path)
{
	bson_iter_t it;
	const char *regex_options = NULL;

	if (ops->value_type == BSON_TYPE_REGEX)
		return run_op(OP_REGEX, ops, NULL, doc, len, path);
	bson_iter_init_from_data(&it, ops->value.v_doc.data, ops->value.v_doc.data_len);
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "$options") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			regex_options = bson_iter_utf8(&it, NULL);
	bson_iter_init_from_data(&it, ops->value.v_doc.data, ops->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		op_t op = op_of(bson_iter_key(&it));
		if (op == OP_OPTIONS)
			continue;
		if (!run_op(op, bson_iter_value(&it), regex_options, doc, len, path))
			return false;
	}
	return true;
}

static bool
match_clauses(const bson_value_t *arr, const uint8_t *doc, uint32_t len,
	      int mode /* 0 and 1 or 2 nor */)
{
	bson_iter_t el;
	bson_iter_init_from_data(&el, arr->value.v_doc.data, arr->value.v_doc.data_len);
	while (bson_iter_next(&el)) {
		const bson_value_t *x = bson_iter_value(&el);
		bson_t sub;
		bson_init_static(&sub, x->value.v_doc.data, x->value.v_doc.data_len);
		bool m = query_match(&sub, doc, len);
		if (mode == 0 && !m)
			return false;
		if (mode == 1 && m)
			return true;
		if (mode == 2 && m)
			return false;
	}
	return mode != 1;
}

bool
query_match(const bson_t *filter, const uint8_t *doc, uint32_t doclen)
{
	bson_iter_t it;

	if (!filter || !bson_iter_init(&it, filter))
		return true;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		const bson_value_t *v = bson_iter_value(&it);
		if (k[0] == '$') {
			if (strcmp(k, "$and") == 0) {
				if (!match_clauses(v, doc, doclen, 0))
					return false;
			} else if (strcmp(k, "$or") == 0) {
				if (!match_clauses(v, doc, doclen, 1))
					return false;
			} else if (strcmp(k, "$nor") == 0) {
				if (!match_clauses(v, doc, doclen, 2))
					return false;
			}
			continue; /* $comment */
		}
		if (is_operator_doc(v) || v->value_type == BSON_TYPE_REGEX) {
			if (!match_ops_at(v, doc, doclen, k))
				return false;
		} else if (!run_op(OP_EQ, v, NULL, doc, doclen, k)) {
			return false;
		}
	}
	return true;
}

bool
query_match_value(const bson_value_t *value, const bson_value_t *cond)
{
	if (is_operator_doc(cond))
		return value_matches_ops(value, cond);
	if (cond->value_type == BSON_TYPE_DOCUMENT && value->value_type == BSON_TYPE_DOCUMENT) {
		bson_t sub;
		bson_init_static(&sub, cond->value.v_doc.data, cond->value.v_doc.data_len);
		return query_match(&sub, value->value.v_doc.data, value->value.v_doc.data_len);
	}
	return value_eq(value, cond);
}

/* ---- validation ---- */

static bool validate_ops(const char *path, const bson_value_t *ops, bson_error_t *error);

static bool
validate_array_of_filters(const char *op, const bson_value_t *v, bson_error_t *error)
{
	bson_iter_t el;
	if (v->value_type != BSON_TYPE_ARRAY) {
		cmd_error(error, 2, "%s must be an array", op);
		return false;
	}
	bson_iter_init_from_data(&el, v->value.v_doc.data, v->value.v_doc.data_len);
	int n = 0;
	while (bson_iter_next(&el)) {
		n++;
		if (!BSON_ITER_HOLDS_DOCUMENT(&el)) {
			cmd_error(error, 2, "%s argument's entries must be objects", op);
			return false;
		}
		const bson_value_t *x = bson_iter_value(&el);
		bson_t sub;
		bson_init_static(&sub, x->value.v_doc.data, x->value.v_doc.data_len);
		if (!query_validate(&sub, error))
			return false;
	}
	if (n == 0) {
		cmd_error(error, 2, "$and/$or/$nor must be a nonempty array");
		return false;
	}
	return true;
}

static bool
validate_ops(const char *path, const bson_value_t *ops, bson_error_t *error)
{
	bson_iter_t it;
	if (ops->value_type == BSON_TYPE_REGEX)
		return true;
	bson_iter_init_from_data(&it, ops->value.v_doc.data, ops->value.v_doc.data_len);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		op_t op = op_of(k);
		const bson_value_t *v = bson_iter_value(&it);
		switch (op) {
		case OP_UNKNOWN:
			cmd_error(error, 2, "unknown operator: %s", k);
			return false;
		case OP_IN:
		case OP_NIN:
		case OP_ALL:
			if (v->value_type != BSON_TYPE_ARRAY) {
				cmd_error(error, 2, "%s needs an array", k);
				return false;
			}
			break;
		case OP_NOT:
			if (v->value_type == BSON_TYPE_REGEX)
				break;
			if (!is_operator_doc(v)) {
				cmd_error(error, 2, "$not needs a regex or a document");
				return false;
			}
			if (!validate_ops(path, v, error))
				return false;
			break;
		case OP_ELEMMATCH:
			if (v->value_type != BSON_TYPE_DOCUMENT) {
				cmd_error(error, 2, "$elemMatch needs an Object");
				return false;
			}
			if (is_operator_doc(v)) {
				if (!validate_ops(path, v, error))
					return false;
			} else {
				bson_t sub;
				bson_init_static(&sub, v->value.v_doc.data,
						 v->value.v_doc.data_len);
				if (!query_validate(&sub, error))
					return false;
			}
			break;
		case OP_SIZE:
			if (!order_is_number(v->value_type)) {
				cmd_error(error, 2, "$size needs a number");
				return false;
			}
			break;
		case OP_REGEX:
			if (v->value_type != BSON_TYPE_REGEX && v->value_type != BSON_TYPE_UTF8) {
				cmd_error(error, 2, "$regex has to be a string");
				return false;
			}
			break;
		case OP_MOD:
			if (v->value_type != BSON_TYPE_ARRAY) {
				cmd_error(error, 2, "malformed mod, needs to be an array");
				return false;
			}
			break;
		default:
			break;
		}
	}
	return true;
}

bool
query_validate(const bson_t *filter, bson_error_t *error)
{
	bson_iter_t it;

	if (!filter)
		return true;
	if (!bson_iter_init(&it, filter)) {
		cmd_error(error, 2, "invalid filter document");
		return false;
	}
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		const bson_value_t *v = bson_iter_value(&it);
		if (k[0] == '$') {
			if (strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0 ||
			    strcmp(k, "$nor") == 0) {
				if (!validate_array_of_filters(k, v, error))
					return false;
			} else if (strcmp(k, "$comment") != 0) {
				cmd_error(error, 2, "unknown top level operator: %s", k);
				return false;
			}
			continue;
		}
		if (is_operator_doc(v) && !validate_ops(k, v, error))
			return false;
	}
	return true;
}

/* ---- sort ---- */

bool
query_sort_validate(const bson_t *sort, bson_error_t *error)
{
	bson_iter_t it;
	if (!sort)
		return true;
	bson_iter_init(&it, sort);
	while (bson_iter_next(&it)) {
		long double d = order_number_value(bson_iter_value(&it));
		if (!order_is_number(bson_iter_type(&it)) || (d != 1 && d != -1)) {
			cmd_error(error, 2,
				  "$sort key ordering must be 1 (for ascending) or -1 (for "
				  "descending)");
			return false;
		}
	}
	return true;
}

typedef struct {
	bool desc;
	bool have;
	bson_value_t best; /* borrowed from the document */
	bool missing;
} sort_key_t;

static bool
visit_sort(const bson_value_t *v, bool expanded, void *arg)
{
	sort_key_t *k = arg;
	(void)expanded;
	if (!v) {
		k->missing = true;
		return false;
	}
	if (v->value_type == BSON_TYPE_ARRAY && !expanded) {
		bson_t a;
		bson_init_static(&a, v->value.v_doc.data, v->value.v_doc.data_len);
		if (bson_count_keys(&a) > 0)
			return false; /* its elements follow */
	}
	if (!k->have || (k->desc ? order_values(v, &k->best) > 0 : order_values(v, &k->best) < 0)) {
		k->best = *v;
		k->have = true;
	}
	return false;
}

static void
sort_key(const uint8_t *doc, uint32_t len, const char *path, bool desc, bson_value_t *out)
{
	sort_key_t k = {.desc = desc};
	walk(doc, len, path, visit_sort, &k);
	if (!k.have || (k.missing && !desc)) {
		out->value_type = BSON_TYPE_NULL;
		if (k.have && order_type_rank(k.best.value_type) == ORDER_MINKEY)
			*out = k.best;
		return;
	}
	*out = k.best;
}

int
query_sort_cmp(const bson_t *sort, const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
	bson_iter_t it;
	bson_iter_init(&it, sort);
	while (bson_iter_next(&it)) {
		bool desc = order_number_value(bson_iter_value(&it)) < 0;
		bson_value_t va, vb;
		sort_key(a, alen, bson_iter_key(&it), desc, &va);
		sort_key(b, blen, bson_iter_key(&it), desc, &vb);
		int c = order_values(&va, &vb);
		if (c)
			return desc ? -c : c;
	}
	return 0;
}

/* ---- projection ---- */

bool
query_projection_validate(const bson_t *projection, bson_error_t *error)
{
	bson_iter_t it;
	int incl = 0, excl = 0;

	if (!projection)
		return true;
	bson_iter_init(&it, projection);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		bson_type_t t = bson_iter_type(&it);
		if (t != BSON_TYPE_BOOL && !order_is_number(t)) {
			cmd_error(error, 2, "unsupported projection for field '%s'", k);
			return false;
		}
		if (k[0] == '$') {
			cmd_error(error, 2, "FieldPath field names may not start with '$'");
			return false;
		}
		bool on = bson_iter_as_bool(&it);
		if (strcmp(k, "_id") == 0)
			continue;
		if (on)
			incl++;
		else
			excl++;
		if (incl && excl) {
			cmd_error(error, 31254, "Cannot do %s on field %s in %s projection",
				  on ? "inclusion" : "exclusion", k,
				  on ? "exclusion" : "inclusion");
			return false;
		}
	}
	return true;
}

typedef struct {
	const char **paths;
	size_t n;
} pathset_t;

/* How field name relates to the set: 2 = listed exactly, 1 = a prefix of
 * a listed path (fills sub with the suffixes), 0 = unrelated. */
static int
paths_for(const pathset_t *ps, const char *name, size_t nlen, pathset_t *sub)
{
	int rel = 0;
	sub->n = 0;
	for (size_t i = 0; i < ps->n; i++) {
		const char *p = ps->paths[i];
		if (strncmp(p, name, nlen) != 0)
			continue;
		if (p[nlen] == '\0')
			rel = 2;
		else if (p[nlen] == '.') {
			sub->paths[sub->n++] = p + nlen + 1;
			if (rel == 0)
				rel = 1;
		}
	}
	return rel;
}

static void project_doc(const pathset_t *ps, bool inclusion, const uint8_t *doc, uint32_t len,
			bson_t *out);

static void
project_array(const pathset_t *ps, bool inclusion, bson_iter_t *arr, bson_t *out)
{
	bson_iter_t el;
	uint32_t i = 0;
	bson_iter_recurse(arr, &el);
	while (bson_iter_next(&el)) {
		char key[16];
		const char *kp;
		size_t kl = bson_uint32_to_string(i, &kp, key, sizeof key);
		if (BSON_ITER_HOLDS_DOCUMENT(&el)) {
			const uint8_t *d;
			uint32_t l;
			bson_t child;
			bson_iter_document(&el, &l, &d);
			bson_append_document_begin(out, kp, (int)kl, &child);
			project_doc(ps, inclusion, d, l, &child);
			bson_append_document_end(out, &child);
			i++;
		} else if (BSON_ITER_HOLDS_ARRAY(&el)) {
			bson_t child;
			bson_append_array_begin(out, kp, (int)kl, &child);
			project_array(ps, inclusion, &el, &child);
			bson_append_array_end(out, &child);
			i++;
		} else if (!inclusion) {
			bson_append_iter(out, kp, (int)kl, &el);
			i++;
		}
	}
}

static void
project_doc(const pathset_t *ps, bool inclusion, const uint8_t *doc, uint32_t len, bson_t *out)
{
	bson_iter_t it;
	const char **subpaths = malloc(sizeof *subpaths * (ps->n + 1));
	pathset_t sub = {subpaths, 0};

	bson_iter_init_from_data(&it, doc, len);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		size_t kl = bson_iter_key_len(&it);
		int rel = paths_for(ps, k, kl, &sub);
		if (rel == 2) {
			if (inclusion)
				bson_append_iter(out, k, (int)kl, &it);
			continue;
		}
		if (rel == 1 && (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it))) {
			bson_t child;
			if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
				const uint8_t *d;
				uint32_t l;
				bson_iter_document(&it, &l, &d);
				bson_append_document_begin(out, k, (int)kl, &child);
				project_doc(&sub, inclusion, d, l, &child);
				bson_append_document_end(out, &child);
			} else {
				bson_append_array_begin(out, k, (int)kl, &child);
				project_array(&sub, inclusion, &it, &child);
				bson_append_array_end(out, &child);
			}
			continue;
		}
		if (!inclusion)
			bson_append_iter(out, k, (int)kl, &it);
	}
	free(subpaths);
}

void
query_project(const bson_t *projection, const uint8_t *doc, uint32_t doclen, bson_t *out)
{
	bson_iter_t it;
	size_t n = 0;
	bool inclusion = false, keep_id = true;

	if (!projection || bson_empty(projection)) {
		bson_t whole;
		bson_init_static(&whole, doc, doclen);
		bson_concat(out, &whole);
		return;
	}
	n = bson_count_keys(projection);
	const char **paths = malloc(sizeof *paths * (n + 1));
	bson_iter_init(&it, projection);
	size_t np = 0;
	bool id_listed = false;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		bool on = bson_iter_as_bool(&it);
		if (strcmp(k, "_id") == 0) {
			keep_id = on;
			id_listed = true;
			continue;
		}
		if (on)
			inclusion = true;
		paths[np++] = k;
	}
	if (np == 0 && id_listed && keep_id)
		inclusion = true;
	if (!inclusion && !keep_id) {
		/* exclusion of _id only: list it so it is dropped */
		paths[np++] = "_id";
		keep_id = false;
	} else if (inclusion && keep_id) {
		paths[np++] = "_id";
	}
	pathset_t ps = {paths, np};
	project_doc(&ps, inclusion, doc, doclen, out);
	free(paths);
}

bool
query_id_equality(const bson_t *filter, bson_iter_t *id)
{
	if (!filter || !bson_iter_init_find(id, filter, "_id"))
		return false;
	const bson_value_t *v = bson_iter_value(id);
	if (v->value_type == BSON_TYPE_REGEX || v->value_type == BSON_TYPE_ARRAY)
		return false;
	if (is_operator_doc(v)) {
		bson_iter_t inner;
		bson_iter_recurse(id, &inner);
		if (!bson_iter_next(&inner) || strcmp(bson_iter_key(&inner), "$eq") != 0)
			return false;
		*id = inner;
		if (bson_iter_next(&inner))
			return false;
		v = bson_iter_value(id);
		if (v->value_type == BSON_TYPE_REGEX || v->value_type == BSON_TYPE_ARRAY)
			return false;
	}
	return true;
}
