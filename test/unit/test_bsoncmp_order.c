/*
 * Unit tests of bsoncmp_equal_but_order (lib/bsoncmp.h), what
 * cdc-verify --ignore-field-order counts apart from real differences.
 */
#include "bsoncmp.h"
#include "unit.h"

/* Whether the two JSON documents are equal up to field order. */
static bool
equal_but_order(const char *a_json, const char *b_json)
{
	bson_error_t error;
	bson_t *a = bson_new_from_json((const uint8_t *)a_json, -1, &error);
	bson_t *b = bson_new_from_json((const uint8_t *)b_json, -1, &error);
	bool equal;

	if (!a || !b) {
		fprintf(stderr, "bad JSON in test: %s\n", error.message);
		exit(100);
	}
	equal = bsoncmp_equal_but_order(a, b);
	bson_destroy(a);
	bson_destroy(b);
	return equal;
}

static void
case_order_only(void)
{
	CHECK(equal_but_order("{\"_id\": 1, \"a\": 1, \"b\": 2}",
			      "{\"_id\": 1, \"a\": 1, \"b\": 2}"));
	CHECK(equal_but_order("{\"_id\": 1, \"a\": 1, \"b\": 2}",
			      "{\"b\": 2, \"_id\": 1, \"a\": 1}"));
	/* At every depth, inside arrays too. */
	CHECK(equal_but_order("{\"o\": {\"x\": 1, \"y\": [{\"p\": 1, \"q\": 2}]}}",
			      "{\"o\": {\"y\": [{\"q\": 2, \"p\": 1}], \"x\": 1}}"));
}

static void
case_real_differences(void)
{
	/* A value, a type (1 and 1.0), a missing or extra field. */
	CHECK(!equal_but_order("{\"a\": 1, \"b\": 2}", "{\"b\": 3, \"a\": 1}"));
	CHECK(!equal_but_order("{\"a\": 1}", "{\"a\": 1.0}"));
	CHECK(!equal_but_order("{\"a\": 1, \"b\": 2}", "{\"a\": 1}"));
	CHECK(!equal_but_order("{\"a\": 1}", "{\"a\": 1, \"b\": 2}"));
	/* An array keeps its order. */
	CHECK(!equal_but_order("{\"a\": [1, 2]}", "{\"a\": [2, 1]}"));
	CHECK(!equal_but_order("{\"a\": [1, 2]}", "{\"a\": [1, 2, 3]}"));
	/* A document is no array. */
	CHECK(!equal_but_order("{\"a\": {\"0\": 1}}", "{\"a\": [1]}"));
}

static const unit_case_t cases[] = {
	{"order_only", case_order_only},
	{"real_differences", case_real_differences},
};

UNIT_MAIN(cases)
