/*
 * Updates: replacement and operator updates ($set $unset $inc $mul $min
 * $max $push($each $slice $position $sort) $addToSet $pop $pull $pullAll
 * $rename $setOnInsert $currentDate, applied in MongoDB 5.0+'s path order)
 * and pipeline updates (pipeline.h), upsert seeding from the query, and
 * the change-stream updateDescription of each write (docdiff.h).
 */
#ifndef MLITE_UPDATE_H
#define MLITE_UPDATE_H

#include <bson/bson.h>
#include <stdbool.h>

typedef enum { UPDATE_REPLACEMENT, UPDATE_OPERATORS, UPDATE_PIPELINE } update_kind_t;

/* Checks u (a document or a pipeline array) before any document is
 * touched; sets *kind. false + 9/14/2 when malformed. */
bool update_validate(const bson_value_t *u, update_kind_t *kind, bson_error_t *error);

/*
 * Computes the new version of old (NULL when an upsert inserts: the
 * document then starts from query's equality fields; otherwise query is
 * what the positional `$` resolves against) into new_doc
 * (initialized by the call; _id first). For operator and pipeline updates
 * of an existing document, ud (when not NULL, initialized by the call)
 * receives {updatedFields, removedFields, truncatedArrays,
 * disambiguatedPaths} as MongoDB 7.0 reports them; it stays empty for a
 * pipeline update MongoDB logs as a replacement (its diff is not smaller
 * than the new document). array_filters: the command's arrayFilters
 * (NULL when none; checked first with upos_check). false + error
 * (66 ImmutableField, 14 TypeMismatch, 40 ConflictingUpdateOperators, 28
 * PathNotViable, 2 BadValue).
 */
bool update_apply(const bson_t *old, const bson_value_t *u, const bson_t *query,
		  const bson_t *array_filters, bson_t *new_doc, bson_t *ud, bson_error_t *error);

/* Copies doc into out (initialized by the call) with _id first, generating
 * an ObjectId when it has none. false + 2 when _id is an array, regex or
 * undefined. */
bool update_id_first(const bson_t *doc, bson_t *out, bson_error_t *error);

/* MongoDB's order of two path components (pathsupport::
 * cmpPathsAndArrayIndexes): numbers without leading zeros by value, the
 * rest as strings. <0, 0, >0. */
int update_component_cmp(const char *a, size_t al, const char *b, size_t bl);

/* Values equal byte for byte (1 and 1.0 differ): a modifier that leaves
 * such a value logs nothing for it. */
bool update_identical(const bson_value_t *a, const bson_value_t *b);

#endif
