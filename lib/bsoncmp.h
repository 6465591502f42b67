/*
 * BSON values compared in MongoDB's sort order (the order of find's
 * sort {_id: 1} and of the _id index), so that a merge walk over two
 * collections read in _id order can tell which side is ahead.
 *
 * Type order (canonical types, as the server's canonicalizeBSONType):
 *   MinKey < undefined < null < numbers < string/symbol < object < array
 *   < binData < ObjectId < bool < date < timestamp < regex < dbPointer
 *   < code < codeWithScope < MaxKey
 * Within a type: numbers by value across int32/int64/double/decimal128
 * (NaN below every other number, -0.0 == 0.0); strings bytewise, shorter
 * first on a common prefix; objects element by element (type, field name,
 * value), the shorter one first; binData by length, subtype, bytes;
 * ObjectIds bytewise; false < true; dates signed; timestamps unsigned;
 * regexes by pattern then flags. No collation.
 */
#ifndef CSM_BSONCMP_H
#define CSM_BSONCMP_H

#include <bson/bson.h>

/*
 * The canonical rank of a BSON type: types of equal rank (the numeric types;
 * string and symbol; undefined and EOO) compare by value.
 */
int bsoncmp_type_rank(bson_type_t type);

/*
 * Compares two values: < 0 when a sorts before b, 0 when MongoDB deems them
 * equal (1 and 1.0 are equal), > 0 otherwise. Both are borrowed.
 */
int bsoncmp_value(const bson_value_t *a, const bson_value_t *b);

/* Compares two documents as MongoDB compares embedded objects. */
int bsoncmp_doc(const bson_t *a, const bson_t *b);

/*
 * True when a and b hold the same fields with byte-equal values up to the
 * order of fields in every embedded document (arrays keep their order;
 * types must match: 1 and 1.0 differ). Byte-equal documents are equal.
 */
bool bsoncmp_equal_but_order(const bson_t *a, const bson_t *b);

#endif
