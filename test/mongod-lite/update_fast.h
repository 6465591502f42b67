/*
 * The fast path of update_apply (update.h) for the commonest operator
 * update: $set and $unset of top-level field names of an existing
 * document (cdc-replay's marks and the $set/$unset of replayed update
 * events). It writes the new document in one pass over the old one, and
 * the updateDescription, without the general path's mutable tree.
 */
#ifndef MLITE_UPDATE_FAST_H
#define MLITE_UPDATE_FAST_H

#include <bson/bson.h>
#include <stdbool.h>

/*
 * When u (validated or not) holds only $set and $unset documents naming
 * distinct top-level fields (no dot, no leading '$', not _id; at most 32)
 * and old has _id first: fills new_doc and ud (when not NULL), both
 * initialized by the call, exactly as the general path would (fields in
 * place, new ones appended in MongoDB's path order, ud as MongoDB 7.0
 * reports it) and returns true. Such an update cannot fail. Otherwise
 * returns false and initializes nothing: the caller runs the general path,
 * which reports any error.
 */
bool update_fast_apply(const bson_t *old, const bson_value_t *u, bson_t *new_doc, bson_t *ud);

#endif
