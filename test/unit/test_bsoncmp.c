/*
 * Unit test of lib/bsoncmp: a list of values in MongoDB's sort order (from
 * the server manual's "Comparison/Sort Order"), every pair compared both
 * ways, plus the equalities across numeric types.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bsoncmp.h"
#include "unit.h"

static void
check(bool ok, const char *what, size_t i, size_t j)
{
	if (!ok)
		fprintf(stderr, "check failed: %s (%zu, %zu)\n", what, i, j);
	CHECK(ok);
}

static int
sign(int x)
{
	return (x > 0) - (x < 0);
}

static void
case_sort_order(void)
{
	bson_oid_t oid_low, oid_high;

	bson_oid_init_from_string(&oid_low, "000000000000000000000001");
	bson_oid_init_from_string(&oid_high, "010000000000000000000000");
	/* Values in ascending order; a group shares one rank (equal values). */
	bson_t *ordered = BCON_NEW(
		"0", BCON_MINKEY, "1", BCON_NULL, "2", BCON_DOUBLE(NAN), "3",
		BCON_DOUBLE(-INFINITY), "4", BCON_INT64(INT64_MIN), "5", BCON_INT32(-5), "6",
		BCON_DOUBLE(-4.5), "7", BCON_INT32(0), "8", BCON_DOUBLE(0.5), "9", BCON_INT64(1),
		"10", BCON_DOUBLE(9007199254740993.0), "11", BCON_INT64(INT64_C(9007199254740993)),
		"12", BCON_INT64(INT64_MAX), "13", BCON_DOUBLE(INFINITY), "14", BCON_UTF8(""), "15",
		BCON_UTF8("a"), "16", BCON_UTF8("ab"), "17", BCON_UTF8("b"), "18", "{", "}", "19",
		"{", "a", BCON_INT32(1), "}", "20", "{", "a", BCON_INT32(2), "}", "21", "{", "b",
		BCON_INT32(0), "}", "22", "[", "]", "23", "[", BCON_INT32(1), "]", "24",
		BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)"zz", 2), "25",
		BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)"aaa", 3), "26", BCON_OID(&oid_low),
		"27", BCON_OID(&oid_high), "28", BCON_BOOL(false), "29", BCON_BOOL(true), "30",
		BCON_DATE_TIME(-1), "31", BCON_DATE_TIME(5), "32", BCON_TIMESTAMP(1, 2), "33",
		BCON_TIMESTAMP(2, 1), "34", BCON_REGEX("a", ""), "35", BCON_REGEX("a", "i"), "36",
		BCON_MAXKEY);
	bson_t *equal = BCON_NEW("0", BCON_INT32(7), "1", BCON_INT64(7), "2", BCON_DOUBLE(7.0), "3",
				 BCON_DOUBLE(-0.0), "4", BCON_INT32(0));
	bson_t *eq_doc_a = BCON_NEW("x", BCON_INT32(1));
	bson_t *eq_doc_b = BCON_NEW("x", BCON_DOUBLE(1.0));
	bson_value_t values[64];
	size_t n = 0;
	bson_iter_t iter;

	bson_iter_init(&iter, ordered);
	while (bson_iter_next(&iter) && n < 64)
		bson_value_copy(bson_iter_value(&iter), &values[n++]);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int want = sign((int)i - (int)j);

			check(sign(bsoncmp_value(&values[i], &values[j])) == want, "order", i, j);
		}
	}
	for (size_t i = 0; i < n; i++)
		bson_value_destroy(&values[i]);

	n = 0;
	bson_iter_init(&iter, equal);
	while (bson_iter_next(&iter) && n < 64)
		bson_value_copy(bson_iter_value(&iter), &values[n++]);
	check(bsoncmp_value(&values[0], &values[1]) == 0, "int32 7 == int64 7", 0, 1);
	check(bsoncmp_value(&values[1], &values[2]) == 0, "int64 7 == double 7.0", 1, 2);
	check(bsoncmp_value(&values[3], &values[4]) == 0, "-0.0 == 0", 3, 4);
	for (size_t i = 0; i < n; i++)
		bson_value_destroy(&values[i]);
	check(bsoncmp_doc(eq_doc_a, eq_doc_b) == 0, "{x: 1} == {x: 1.0}", 0, 0);

	bson_destroy(ordered);
	bson_destroy(equal);
	bson_destroy(eq_doc_a);
	bson_destroy(eq_doc_b);
}

static const unit_case_t cases[] = {
	{"sort_order", case_sort_order},
};

UNIT_MAIN(cases)
