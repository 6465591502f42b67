/*
 * MongoDB's BSON comparison order: MinKey < null/undefined < numbers (by
 * value across int32/int64/double/decimal128) < symbol/string < object <
 * array < binData < ObjectId < bool < date < timestamp < regex < dbPointer <
 * code < codeWScope < MaxKey. Objects and arrays compare element by element
 * (type order, then field name, then value).
 */
#ifndef MLITE_BSONCMP_H
#define MLITE_BSONCMP_H

#include <bson/bson.h>
#include <stdint.h>

/* The rank of a type in the order above (numbers share one rank). */
int bsoncmp_type_rank(bson_type_t type);

/* <0, 0, >0 as a sorts before, equal to, after b. */
int bsoncmp_values(const bson_value_t *a, const bson_value_t *b);

/* Compares two documents (or arrays) given as raw BSON, field by field. */
int bsoncmp_docs(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen);

/* Compares two documents by their values only, ignoring field names: the
 * order of index keys {"": v1, "": v2}. */
int bsoncmp_keys(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen);

/* Numeric value of a number as a long double (0 for non-numbers). */
long double bsoncmp_number(const bson_value_t *v);

#endif
