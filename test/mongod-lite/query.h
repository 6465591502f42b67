/*
 * Queries over documents: the filter matcher (equality, comparisons,
 * $in/$nin/$exists/$type/$size/$all/$elemMatch/$regex/$not, $and/$or/$nor,
 * dotted paths, array element matching with MongoDB's null-for-missing),
 * sort comparison, projection and field-path lookup.
 */
#ifndef MLITE_QUERY_H
#define MLITE_QUERY_H

#include <bson/bson.h>
#include <stdbool.h>

/* Checks that filter only uses supported operators: false + code 2 when not. */
bool query_validate(const bson_t *filter, bson_error_t *error);

/* True when doc (raw BSON) matches filter (validated first). */
bool query_match(const bson_t *filter, const uint8_t *doc, uint32_t doclen);

/* True when value matches a $pull-style condition: an operator document
 * ({$gte: 3}), a query on an element document, or a plain value. */
bool query_match_value(const bson_value_t *value, const bson_value_t *cond);

/* Checks a sort spec {field: 1|-1, ...}: false + code 2 when malformed. */
bool query_sort_validate(const bson_t *sort, bson_error_t *error);

/* Compares two documents under sort spec {field: 1|-1, ...}. */
int query_sort_cmp(const bson_t *sort, const uint8_t *a, uint32_t alen, const uint8_t *b,
		   uint32_t blen);

/* Checks a find projection: false + code 2 (or 31254 mixing inclusion and
 * exclusion) when invalid. */
bool query_projection_validate(const bson_t *projection, bson_error_t *error);

/* Appends the projection of doc to out (an initialized empty document).
 * An empty or NULL projection copies the whole document. */
void query_project(const bson_t *projection, const uint8_t *doc, uint32_t doclen, bson_t *out);

/* Finds the value at a dotted path inside documents (arrays indexed only
 * by number). false when absent. */
bool query_lookup(const uint8_t *doc, uint32_t doclen, const char *path, bson_iter_t *out);

/* Whether the n bytes at s, a path component, are all digits: an index
 * into an array the path crosses. */
bool query_is_index(const char *s, size_t n);

/* When filter pins _id to one value ({_id: v} or {_id: {$eq: v}} with v not
 * an operator document, regex or array), points *id at it. */
bool query_id_equality(const bson_t *filter, bson_iter_t *id);

#endif
