/*
 * BSON values in the order of the server's query engine (see order.h for
 * why null and undefined share a rank here and not in lib/bsoncmp.c).
 */
#include "order.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

order_rank_t
order_type_rank(bson_type_t type)
{
	switch (type) {
	case BSON_TYPE_MINKEY:
		return ORDER_MINKEY;
	case BSON_TYPE_NULL:
	case BSON_TYPE_UNDEFINED:
		return ORDER_NULLISH;
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE:
	case BSON_TYPE_DECIMAL128:
		return ORDER_NUMBER;
	case BSON_TYPE_SYMBOL:
	case BSON_TYPE_UTF8:
		return ORDER_STRING;
	case BSON_TYPE_DOCUMENT:
		return ORDER_OBJECT;
	case BSON_TYPE_ARRAY:
		return ORDER_ARRAY;
	case BSON_TYPE_BINARY:
		return ORDER_BINARY;
	case BSON_TYPE_OID:
		return ORDER_OID;
	case BSON_TYPE_BOOL:
		return ORDER_BOOL;
	case BSON_TYPE_DATE_TIME:
		return ORDER_DATE;
	case BSON_TYPE_TIMESTAMP:
		return ORDER_TIMESTAMP;
	case BSON_TYPE_REGEX:
		return ORDER_REGEX;
	case BSON_TYPE_DBPOINTER:
		return ORDER_DBPOINTER;
	case BSON_TYPE_CODE:
		return ORDER_CODE;
	case BSON_TYPE_CODEWSCOPE:
		return ORDER_CODEWSCOPE;
	case BSON_TYPE_MAXKEY:
		return ORDER_MAXKEY;
	case BSON_TYPE_EOD:
	default:
		return ORDER_UNKNOWN;
	}
}

bool
order_is_number(bson_type_t type)
{
	return order_type_rank(type) == ORDER_NUMBER;
}

long double
order_number_value(const bson_value_t *v)
{
	switch (v->value_type) {
	case BSON_TYPE_INT32:
		return v->value.v_int32;
	case BSON_TYPE_INT64:
		return v->value.v_int64;
	case BSON_TYPE_DOUBLE:
		return v->value.v_double;
	case BSON_TYPE_DECIMAL128: {
		char s[BSON_DECIMAL128_STRING];
		bson_decimal128_to_string(&v->value.v_decimal128, s);
		if (strcmp(s, "NaN") == 0)
			return NAN;
		if (strcmp(s, "Infinity") == 0)
			return INFINITY;
		if (strcmp(s, "-Infinity") == 0)
			return -INFINITY;
		return strtold(s, NULL);
	}
	default:
		return 0;
	}
}

static int
cmp_numbers(const bson_value_t *a, const bson_value_t *b)
{
	bool a_int = a->value_type == BSON_TYPE_INT32 || a->value_type == BSON_TYPE_INT64;
	bool b_int = b->value_type == BSON_TYPE_INT32 || b->value_type == BSON_TYPE_INT64;

	if (a_int && b_int) {
		int64_t x = a->value_type == BSON_TYPE_INT32 ? a->value.v_int32 : a->value.v_int64;
		int64_t y = b->value_type == BSON_TYPE_INT32 ? b->value.v_int32 : b->value.v_int64;
		return x < y ? -1 : x > y;
	}
	long double x = order_number_value(a), y = order_number_value(b);
	/* NaN sorts below every other number and equals itself. */
	if (isnan(x) || isnan(y))
		return isnan(x) && isnan(y) ? 0 : isnan(x) ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int
cmp_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen;
}

static int
cmp_unsigned(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Strings and symbols are one rank: compared by their bytes. */
static int
cmp_strings(const bson_value_t *a, const bson_value_t *b)
{
	bool a_utf8 = a->value_type == BSON_TYPE_UTF8, b_utf8 = b->value_type == BSON_TYPE_UTF8;

	return cmp_bytes(a_utf8 ? a->value.v_utf8.str : a->value.v_symbol.symbol,
			 a_utf8 ? a->value.v_utf8.len : a->value.v_symbol.len,
			 b_utf8 ? b->value.v_utf8.str : b->value.v_symbol.symbol,
			 b_utf8 ? b->value.v_utf8.len : b->value.v_symbol.len);
}

/* binData by length, then subtype, then bytes. */
static int
cmp_binary(const bson_value_t *a, const bson_value_t *b)
{
	int c = cmp_unsigned(a->value.v_binary.data_len, b->value.v_binary.data_len);

	if (c == 0)
		c = cmp_unsigned(a->value.v_binary.subtype, b->value.v_binary.subtype);
	if (c == 0)
		c = cmp_bytes(a->value.v_binary.data, a->value.v_binary.data_len,
			      b->value.v_binary.data, b->value.v_binary.data_len);
	return c;
}

static int
cmp_regexes(const bson_value_t *a, const bson_value_t *b)
{
	int c = strcmp(a->value.v_regex.regex, b->value.v_regex.regex);

	if (c == 0)
		c = strcmp(a->value.v_regex.options, b->value.v_regex.options);
	return c < 0 ? -1 : c > 0;
}

static int
cmp_dbpointers(const bson_value_t *a, const bson_value_t *b)
{
	int c = cmp_bytes(a->value.v_dbpointer.collection, a->value.v_dbpointer.collection_len,
			  b->value.v_dbpointer.collection, b->value.v_dbpointer.collection_len);

	if (c == 0)
		c = cmp_bytes(a->value.v_dbpointer.oid.bytes, 12, b->value.v_dbpointer.oid.bytes,
			      12);
	return c;
}

static int
cmp_code_w_scope(const bson_value_t *a, const bson_value_t *b)
{
	int c = cmp_bytes(a->value.v_codewscope.code, a->value.v_codewscope.code_len,
			  b->value.v_codewscope.code, b->value.v_codewscope.code_len);

	if (c == 0)
		c = order_docs(a->value.v_codewscope.scope_data, a->value.v_codewscope.scope_len,
			       b->value.v_codewscope.scope_data, b->value.v_codewscope.scope_len);
	return c;
}

/*
 * Values of different ranks are ordered by rank; within a rank, by the
 * rank's own rule. MinKey, MaxKey, null/undefined and unknown types hold
 * nothing to compare.
 */
int
order_values(const bson_value_t *a, const bson_value_t *b)
{
	order_rank_t rank = order_type_rank(a->value_type);
	order_rank_t b_rank = order_type_rank(b->value_type);

	if (rank != b_rank)
		return rank < b_rank ? -1 : 1;
	switch (rank) {
	case ORDER_NUMBER:
		return cmp_numbers(a, b);
	case ORDER_STRING:
		return cmp_strings(a, b);
	case ORDER_OBJECT:
	case ORDER_ARRAY:
		return order_docs(a->value.v_doc.data, a->value.v_doc.data_len, b->value.v_doc.data,
				  b->value.v_doc.data_len);
	case ORDER_BINARY:
		return cmp_binary(a, b);
	case ORDER_OID:
		return cmp_bytes(a->value.v_oid.bytes, 12, b->value.v_oid.bytes, 12);
	case ORDER_BOOL:
		return (int)a->value.v_bool - (int)b->value.v_bool;
	case ORDER_DATE:
		return a->value.v_datetime < b->value.v_datetime
			       ? -1
			       : a->value.v_datetime > b->value.v_datetime;
	case ORDER_TIMESTAMP:
		return cmp_unsigned((uint64_t)a->value.v_timestamp.timestamp << 32 |
					    a->value.v_timestamp.increment,
				    (uint64_t)b->value.v_timestamp.timestamp << 32 |
					    b->value.v_timestamp.increment);
	case ORDER_REGEX:
		return cmp_regexes(a, b);
	case ORDER_DBPOINTER:
		return cmp_dbpointers(a, b);
	case ORDER_CODE:
		return cmp_bytes(a->value.v_code.code, a->value.v_code.code_len,
				 b->value.v_code.code, b->value.v_code.code_len);
	case ORDER_CODEWSCOPE:
		return cmp_code_w_scope(a, b);
	case ORDER_MINKEY:
	case ORDER_NULLISH:
	case ORDER_UNKNOWN:
	case ORDER_MAXKEY:
	default:
		return 0;
	}
}

static int
cmp_elements(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen, bool names)
{
	bson_iter_t ia, ib;
	bool ha, hb;

	if (!bson_iter_init_from_data(&ia, a, alen) || !bson_iter_init_from_data(&ib, b, blen))
		return cmp_bytes(a, alen, b, blen);
	for (;;) {
		ha = bson_iter_next(&ia);
		hb = bson_iter_next(&ib);
		if (!ha || !hb)
			return ha == hb ? 0 : ha ? 1 : -1;
		int ra = order_type_rank(bson_iter_type(&ia)),
		    rb = order_type_rank(bson_iter_type(&ib));
		if (ra != rb)
			return ra < rb ? -1 : 1;
		if (names) {
			int c = strcmp(bson_iter_key(&ia), bson_iter_key(&ib));
			if (c)
				return c < 0 ? -1 : 1;
		}
		int c = order_values(bson_iter_value(&ia), bson_iter_value(&ib));
		if (c)
			return c;
	}
}

int
order_docs(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
	return cmp_elements(a, alen, b, blen, true);
}

static int32_t
le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

static int64_t
le64(const uint8_t *p)
{
	return (int64_t)((uint64_t)(uint32_t)le32(p) | (uint64_t)(uint32_t)le32(p + 4) << 32);
}

/*
 * One value of an index key compared in place, for the types _ids and key
 * fields mostly have: true with *out (and *used, the value's bytes) when
 * done, false when the generic walk must decide. va and vb point at the
 * values of type type; left and right bytes remain after them.
 */
static bool
fast_value(uint8_t type, const uint8_t *va, uint32_t left_a, const uint8_t *vb, uint32_t left_b,
	   int *out, uint32_t *used)
{
	switch (type) {
	case BSON_TYPE_INT32:
		if (left_a < 5 || left_b < 5)
			return false;
		*out = le32(va) < le32(vb) ? -1 : le32(va) > le32(vb);
		*used = 4;
		return true;
	case BSON_TYPE_INT64:
	case BSON_TYPE_DATE_TIME:
		if (left_a < 9 || left_b < 9)
			return false;
		*out = le64(va) < le64(vb) ? -1 : le64(va) > le64(vb);
		*used = 8;
		return true;
	case BSON_TYPE_OID: {
		if (left_a < 13 || left_b < 13)
			return false;
		int c = memcmp(va, vb, 12);
		*out = c < 0 ? -1 : c > 0;
		*used = 12;
		return true;
	}
	case BSON_TYPE_UTF8: {
		if (left_a < 5 || left_b < 5)
			return false;
		int32_t la = le32(va), lb = le32(vb);
		if (la < 1 || lb < 1 || (uint32_t)la > left_a - 5 || (uint32_t)lb > left_b - 5)
			return false;
		size_t n = (size_t)(la < lb ? la : lb) - 1;
		int c = memcmp(va + 4, vb + 4, n);
		*out = c ? (c < 0 ? -1 : 1) : (la < lb ? -1 : la > lb);
		*used = 4 + (uint32_t)la;
		return true;
	}
	default:
		return false;
	}
}

/*
 * Index keys are documents with empty field names: each value starts two
 * bytes after its type byte. Compare them in place, one after the other
 * (compound keys such as {ns, status, seq} mostly share their first
 * values): true with *out when that decides the comparison, false when the
 * generic walk must (another type, types that differ, a malformed key).
 */
static bool
fast_first(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen, int *out)
{
	uint32_t pa = 4, pb = 4, used;

	if (alen < 5 || blen < 5)
		return false;
	for (;;) {
		if (a[pa] == 0 || b[pb] == 0) {
			if (a[pa] != 0 || b[pb] != 0)
				return false; /* one key is longer: types decide */
			*out = 0;
			return pa + 1 == alen && pb + 1 == blen;
		}
		if (pa + 2 >= alen || pb + 2 >= blen || a[pa] != b[pb] || a[pa + 1] != 0 ||
		    b[pb + 1] != 0)
			return false;
		if (!fast_value(a[pa], a + pa + 2, alen - pa - 2, b + pb + 2, blen - pb - 2, out,
				&used))
			return false;
		if (*out != 0)
			return true;
		pa += 2 + used;
		pb += 2 + used;
	}
}

int
order_keys(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
	int c;
	if (fast_first(a, alen, b, blen, &c))
		return c;
	return cmp_elements(a, alen, b, blen, false);
}
