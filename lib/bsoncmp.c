/*
 * MongoDB's BSON sort order (see bsoncmp.h). Follows the server's
 * canonicalizeBSONType and compareElementValues.
 */
#include "bsoncmp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optime.h"

static int cmp_elements_of(const uint8_t *a_data, uint32_t a_len, const uint8_t *b_data,
			   uint32_t b_len, bool consider_names);

int
bsoncmp_type_rank(bson_type_t type)
{
	switch (type) {
	case BSON_TYPE_MINKEY:
		return -1;
	case BSON_TYPE_EOD:
	case BSON_TYPE_UNDEFINED:
		return 0;
	case BSON_TYPE_NULL:
		return 5;
	case BSON_TYPE_DOUBLE:
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DECIMAL128:
		return 10;
	case BSON_TYPE_UTF8:
	case BSON_TYPE_SYMBOL:
		return 15;
	case BSON_TYPE_DOCUMENT:
		return 20;
	case BSON_TYPE_ARRAY:
		return 25;
	case BSON_TYPE_BINARY:
		return 30;
	case BSON_TYPE_OID:
		return 35;
	case BSON_TYPE_BOOL:
		return 40;
	case BSON_TYPE_DATE_TIME:
		return 45;
	case BSON_TYPE_TIMESTAMP:
		return 47;
	case BSON_TYPE_REGEX:
		return 50;
	case BSON_TYPE_DBPOINTER:
		return 55;
	case BSON_TYPE_CODE:
		return 60;
	case BSON_TYPE_CODEWSCOPE:
		return 65;
	case BSON_TYPE_MAXKEY:
		return 127;
	default:
		return 126;
	}
}

static int
sign_of_int64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

/* The server's compareDoubles: NaN is below every number and equals NaN. */
static int
cmp_doubles(double a, double b)
{
	if (a < b)
		return -1;
	if (a > b)
		return 1;
	if (isnan(a))
		return isnan(b) ? 0 : -1;
	if (isnan(b))
		return 1;
	return 0;
}

/* The server's compareLongToDouble: exact for every pair of values. */
static int
cmp_long_double(int64_t a, double b)
{
	if (isnan(b))
		return 1;
	/* Integers up to 2^53 in magnitude are exact as doubles. */
	if (a <= (INT64_C(1) << 53) && a >= -(INT64_C(1) << 53))
		return cmp_doubles((double)a, b);
	if (b >= 9223372036854775808.0)
		return -1;
	if (b < -9223372036854775808.0)
		return 1;
	/* |a| > 2^53 here, so truncating b's fraction cannot change the order. */
	return sign_of_int64(a, (int64_t)b);
}

/*
 * Decimal128 is compared through its nearest double: exact for the values
 * applications use as keys, approximate beyond 15 significant digits.
 */
static double
decimal_to_double(const bson_decimal128_t *dec)
{
	char text[BSON_DECIMAL128_STRING];

	bson_decimal128_to_string(dec, text);
	return strtod(text, NULL);
}

static bool
value_is_integral(const bson_value_t *v, int64_t *out)
{
	if (v->value_type == BSON_TYPE_INT32) {
		*out = v->value.v_int32;
		return true;
	}
	if (v->value_type == BSON_TYPE_INT64) {
		*out = v->value.v_int64;
		return true;
	}
	return false;
}

static double
value_as_double(const bson_value_t *v)
{
	if (v->value_type == BSON_TYPE_DOUBLE)
		return v->value.v_double;
	return decimal_to_double(&v->value.v_decimal128);
}

static int
cmp_numbers(const bson_value_t *a, const bson_value_t *b)
{
	int64_t ai, bi;
	bool a_int = value_is_integral(a, &ai);
	bool b_int = value_is_integral(b, &bi);

	if (a_int && b_int)
		return sign_of_int64(ai, bi);
	if (a_int)
		return cmp_long_double(ai, value_as_double(b));
	if (b_int)
		return -cmp_long_double(bi, value_as_double(a));
	return cmp_doubles(value_as_double(a), value_as_double(b));
}

/* Strings may hold NULs: bytewise over the common length, then length. */
static int
cmp_bytes_then_len(const void *a, uint32_t a_len, const void *b, uint32_t b_len)
{
	uint32_t common = a_len < b_len ? a_len : b_len;
	int c = common ? memcmp(a, b, common) : 0;

	if (c != 0)
		return c < 0 ? -1 : 1;
	return (a_len > b_len) - (a_len < b_len);
}

static int
cmp_cstr(const char *a, const char *b)
{
	int c = strcmp(a ? a : "", b ? b : "");

	return (c > 0) - (c < 0);
}

static void
text_of(const bson_value_t *v, const char **text, uint32_t *len)
{
	switch (v->value_type) {
	case BSON_TYPE_UTF8:
		*text = v->value.v_utf8.str;
		*len = v->value.v_utf8.len;
		break;
	case BSON_TYPE_SYMBOL:
		*text = v->value.v_symbol.symbol;
		*len = v->value.v_symbol.len;
		break;
	case BSON_TYPE_CODE:
		*text = v->value.v_code.code;
		*len = v->value.v_code.code_len;
		break;
	default:
		*text = "";
		*len = 0;
		break;
	}
}

static int
cmp_text(const bson_value_t *a, const bson_value_t *b)
{
	const char *ta, *tb;
	uint32_t la, lb;

	text_of(a, &ta, &la);
	text_of(b, &tb, &lb);
	return cmp_bytes_then_len(ta, la, tb, lb);
}

/* binData: by length, then subtype, then bytes. */
static int
cmp_binary(const bson_value_t *a, const bson_value_t *b)
{
	uint32_t len = a->value.v_binary.data_len;
	int c = sign_of_int64(len, b->value.v_binary.data_len);

	if (c == 0)
		c = sign_of_int64(a->value.v_binary.subtype, b->value.v_binary.subtype);
	if (c == 0 && len > 0)
		c = sign_of_int64(memcmp(a->value.v_binary.data, b->value.v_binary.data, len), 0);
	return c;
}

static int
cmp_oids(const bson_oid_t *a, const bson_oid_t *b)
{
	return sign_of_int64(bson_oid_compare(a, b), 0);
}

/* Timestamps: unsigned, seconds then increment, as cluster times order. */
static int
cmp_timestamps(const bson_value_t *a, const bson_value_t *b)
{
	optime_t ta = {a->value.v_timestamp.timestamp, a->value.v_timestamp.increment};
	optime_t tb = {b->value.v_timestamp.timestamp, b->value.v_timestamp.increment};

	return optime_cmp(ta, tb);
}

static int
cmp_regexes(const bson_value_t *a, const bson_value_t *b)
{
	int c = cmp_cstr(a->value.v_regex.regex, b->value.v_regex.regex);

	if (c != 0)
		return c;
	return cmp_cstr(a->value.v_regex.options, b->value.v_regex.options);
}

/* dbPointer: by the collection name's length, its bytes, then the ObjectId. */
static int
cmp_dbpointers(const bson_value_t *a, const bson_value_t *b)
{
	uint32_t len = a->value.v_dbpointer.collection_len;
	int c = sign_of_int64(len, b->value.v_dbpointer.collection_len);

	if (c == 0 && len > 0)
		c = sign_of_int64(memcmp(a->value.v_dbpointer.collection,
					 b->value.v_dbpointer.collection, len),
				  0);
	if (c == 0)
		c = cmp_oids(&a->value.v_dbpointer.oid, &b->value.v_dbpointer.oid);
	return c;
}

static int
cmp_code_with_scope(const bson_value_t *a, const bson_value_t *b)
{
	int c = cmp_cstr(a->value.v_codewscope.code, b->value.v_codewscope.code);

	if (c != 0)
		return c;
	return cmp_elements_of(a->value.v_codewscope.scope_data, a->value.v_codewscope.scope_len,
			       b->value.v_codewscope.scope_data, b->value.v_codewscope.scope_len,
			       true);
}

int
bsoncmp_value(const bson_value_t *a, const bson_value_t *b)
{
	int ra = bsoncmp_type_rank(a->value_type);
	int rb = bsoncmp_type_rank(b->value_type);

	if (ra != rb)
		return ra < rb ? -1 : 1;

	switch (a->value_type) {
	case BSON_TYPE_DOUBLE:
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DECIMAL128:
		return cmp_numbers(a, b);
	case BSON_TYPE_UTF8:
	case BSON_TYPE_SYMBOL:
	case BSON_TYPE_CODE:
		return cmp_text(a, b);
	case BSON_TYPE_DOCUMENT:
		return cmp_elements_of(a->value.v_doc.data, a->value.v_doc.data_len,
				       b->value.v_doc.data, b->value.v_doc.data_len, true);
	case BSON_TYPE_ARRAY:
		return cmp_elements_of(a->value.v_doc.data, a->value.v_doc.data_len,
				       b->value.v_doc.data, b->value.v_doc.data_len, false);
	case BSON_TYPE_BINARY:
		return cmp_binary(a, b);
	case BSON_TYPE_OID:
		return cmp_oids(&a->value.v_oid, &b->value.v_oid);
	case BSON_TYPE_BOOL:
		return (a->value.v_bool > b->value.v_bool) - (a->value.v_bool < b->value.v_bool);
	case BSON_TYPE_DATE_TIME:
		return sign_of_int64(a->value.v_datetime, b->value.v_datetime);
	case BSON_TYPE_TIMESTAMP:
		return cmp_timestamps(a, b);
	case BSON_TYPE_REGEX:
		return cmp_regexes(a, b);
	case BSON_TYPE_DBPOINTER:
		return cmp_dbpointers(a, b);
	case BSON_TYPE_CODEWSCOPE:
		return cmp_code_with_scope(a, b);
	default:
		/* MinKey, MaxKey, undefined, null, EOO: one value each. */
		return 0;
	}
}

/*
 * The server's BSONObj::woCompare: element by element, canonical type first
 * (numbers of different types compare by value), then the field name when
 * consider_names, then the value; a document that runs out first is less.
 */
static int
cmp_elements_of(const uint8_t *a_data, uint32_t a_len, const uint8_t *b_data, uint32_t b_len,
		bool consider_names)
{
	bson_iter_t ia, ib;
	bool a_ok = bson_iter_init_from_data(&ia, a_data, a_len);
	bool b_ok = bson_iter_init_from_data(&ib, b_data, b_len);

	if (!a_ok || !b_ok)
		return (a_ok > b_ok) - (a_ok < b_ok);
	for (;;) {
		bool a_more = bson_iter_next(&ia);
		bool b_more = bson_iter_next(&ib);
		const bson_value_t *va, *vb;
		int c;

		if (!a_more || !b_more)
			return (a_more > b_more) - (a_more < b_more);
		va = bson_iter_value(&ia);
		vb = bson_iter_value(&ib);
		c = bsoncmp_type_rank(va->value_type) - bsoncmp_type_rank(vb->value_type);
		if (c != 0)
			return c < 0 ? -1 : 1;
		if (consider_names) {
			c = cmp_cstr(bson_iter_key(&ia), bson_iter_key(&ib));
			if (c != 0)
				return c;
		}
		c = bsoncmp_value(va, vb);
		if (c != 0)
			return c;
	}
}

int
bsoncmp_doc(const bson_t *a, const bson_t *b)
{
	return cmp_elements_of(bson_get_data(a), a->len, bson_get_data(b), b->len, true);
}

/* Whether the values at ia and ib are equal up to field order. */
static bool values_equal_but_order(const bson_iter_t *ia, const bson_iter_t *ib, int depth);

/* Arrays, or documents whose fields are looked up by name (in_order
 * false), element by element. */
static bool
children_equal_but_order(const bson_iter_t *ia, const bson_iter_t *ib, bool in_order, int depth)
{
	bson_iter_t ca, cb;
	uint32_t na = 0, nb = 0;

	if (depth > 200 || !bson_iter_recurse(ia, &ca) || !bson_iter_recurse(ib, &cb))
		return false;
	while (bson_iter_next(&ca)) {
		bson_iter_t match;

		na++;
		if (in_order) {
			if (!bson_iter_next(&cb))
				return false;
			match = cb;
		} else if (!bson_iter_recurse(ib, &match) ||
			   !bson_iter_find_w_len(&match, bson_iter_key(&ca),
						 (int)bson_iter_key_len(&ca))) {
			return false;
		}
		if (!values_equal_but_order(&ca, &match, depth + 1))
			return false;
	}
	if (in_order)
		return !bson_iter_next(&cb);
	while (bson_iter_next(&cb))
		nb++;
	return na == nb;
}

static bool
values_equal_but_order(const bson_iter_t *ia, const bson_iter_t *ib, int depth)
{
	bson_type_t ta = bson_iter_type(ia);
	uint32_t la = ia->next_off - ia->d1, lb = ib->next_off - ib->d1;

	if (ta != bson_iter_type(ib))
		return false;
	if (ta == BSON_TYPE_DOCUMENT || ta == BSON_TYPE_ARRAY)
		return children_equal_but_order(ia, ib, ta == BSON_TYPE_ARRAY, depth);
	/* The value's bytes: from its start (d1) to the next element. */
	return la == lb && memcmp(ia->raw + ia->d1, ib->raw + ib->d1, la) == 0;
}

bool
bsoncmp_equal_but_order(const bson_t *a, const bson_t *b)
{
	bson_t wrap_a = BSON_INITIALIZER, wrap_b = BSON_INITIALIZER;
	bson_iter_t ia, ib;
	bool equal;

	if (a->len == b->len && memcmp(bson_get_data(a), bson_get_data(b), a->len) == 0)
		return true;
	BSON_APPEND_DOCUMENT(&wrap_a, "d", a);
	BSON_APPEND_DOCUMENT(&wrap_b, "d", b);
	equal = bson_iter_init_find(&ia, &wrap_a, "d") && bson_iter_init_find(&ib, &wrap_b, "d") &&
		values_equal_but_order(&ia, &ib, 0);
	bson_destroy(&wrap_a);
	bson_destroy(&wrap_b);
	return equal;
}
