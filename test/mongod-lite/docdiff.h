/*
 * Update diffs as MongoDB 5.0+ logs them ($v: 2 oplog entries) and the
 * change-stream updateDescription they turn into.
 *
 * A diff is a tree: a document level holds updates, inserts, deletes and
 * sub-diffs of its fields (in the order they were added); an array level
 * holds updates and sub-diffs of its elements (by index) and an optional
 * new size. Pipeline updates get theirs by comparing the document before
 * and after (docdiff_compute, MongoDB's document_diff_calculator); operator
 * updates log each modifier's effect (docdiff_log, MongoDB's V2 log
 * builder). docdiff_describe turns either into updatedFields/removedFields/
 * truncatedArrays/disambiguatedPaths (MongoDB's change-stream diff parser).
 */
#ifndef MLITE_DOCDIFF_H
#define MLITE_DOCDIFF_H

#include <bson/bson.h>
#include <stdbool.h>

typedef struct dd_node dd_node_t;

typedef enum { DD_UPDATE, DD_INSERT, DD_DELETE } dd_log_t;

/* An empty document-level diff; free with docdiff_free. */
dd_node_t *docdiff_new(void);
void docdiff_free(dd_node_t *node);

/*
 * The diff from pre to post with MongoDB's size rules: a changed object or
 * array is a sub-diff when that is smaller than its new value, else an
 * update of the whole value. NULL when the serialized diff (plus the 15
 * bytes of $v:2 metadata) is not smaller than post: MongoDB then logs the
 * update as a replacement. The caller frees the result.
 */
dd_node_t *docdiff_compute(const bson_t *pre, const bson_t *post);

/*
 * Logs one modifier's effect at dotted path (each component a field name,
 * or an index where post holds an array there): an update or insert of
 * value (copied), or a delete. Levels on the way are made as post has
 * them.
 */
void docdiff_log(dd_node_t *root, const bson_t *post, const char *path, dd_log_t kind,
		 const bson_value_t *value);

/* Appends updatedFields, removedFields, truncatedArrays and
 * disambiguatedPaths (always; change streams drop it without
 * showExpandedEvents) for diff to ud. */
void docdiff_describe(const dd_node_t *diff, bson_t *ud);

#endif
