/*
 * The order of BSON values as the server's query engine sees it, used by the
 * matcher, sort, the index trees and the update operators:
 *
 *   MinKey < null = undefined < numbers (by value across int32/int64/double/
 *   decimal128) < symbol/string < object < array < binData < ObjectId < bool
 *   < date < timestamp < regex < dbPointer < code < codeWScope < MaxKey
 *
 * Objects and arrays compare element by element (type order, then field
 * name, then value).
 *
 * Why this is not lib/bsoncmp.c: the two answer different questions. lib's
 * comparator serves cdc-verify's merge walk, which must follow a real
 * server's _id index order exactly, so it ranks types as the server's
 * canonicalizeBSONType does (src/mongo/bson/bsontypes.h in mongodb/mongo):
 * undefined (0) below null (5), two ranks. This server's comparisons decide
 * what a filter matches, and MongoDB's matcher (7.0, the version this server
 * reports) treats null and undefined as one: ComparisonMatchExpression::
 * matchesSingleElement in src/mongo/db/matcher/expression_leaf.cpp ("jstNULL
 * and undefined are treated the same": $eq, $lte and $gte on null match
 * undefined). So here they share one rank, ORDER_NULLISH. The cost: a sort
 * over a mix of the two ties them where mongod puts undefined first. The
 * server links libbson only, never lib/.
 */
#ifndef MLITE_ORDER_H
#define MLITE_ORDER_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

/* The ranks of the order above; types of one rank compare by value. */
typedef enum {
	ORDER_MINKEY = 0,
	ORDER_NULLISH = 1, /* null and undefined */
	ORDER_NUMBER = 2,
	ORDER_STRING = 3, /* string and symbol */
	ORDER_OBJECT = 4,
	ORDER_ARRAY = 5,
	ORDER_BINARY = 6,
	ORDER_OID = 7,
	ORDER_BOOL = 8,
	ORDER_DATE = 9,
	ORDER_TIMESTAMP = 10,
	ORDER_REGEX = 11,
	ORDER_DBPOINTER = 12,
	ORDER_CODE = 13,
	ORDER_CODEWSCOPE = 14,
	ORDER_UNKNOWN = 50, /* end of document, types BSON does not define */
	ORDER_MAXKEY = 100,
} order_rank_t;

/* The rank of a type in the order above. */
order_rank_t order_type_rank(bson_type_t type);

/* True for int32, int64, double and decimal128. */
bool order_is_number(bson_type_t type);

/* <0, 0, >0 as a sorts before, equal to, after b. Both are borrowed. */
int order_values(const bson_value_t *a, const bson_value_t *b);

/* Compares two documents (or arrays) given as raw BSON, field by field. */
int order_docs(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen);

/* Compares two documents by their values only, ignoring field names: the
 * order of index keys {"": v1, "": v2}. */
int order_keys(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen);

/* The value of a number as a long double (0 for a non-number). */
long double order_number_value(const bson_value_t *v);

#endif
