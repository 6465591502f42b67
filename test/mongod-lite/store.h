/*
 * Storage: databases -> collections -> documents ordered by _id under BSON
 * comparison order, with unique secondary indexes. Calls with server_lock
 * held. (mongod-lite part 1 owns this file and may add to it; the functions
 * below are what part 2 — oplog, journal, change streams — relies on.)
 */
#ifndef MLITE_STORE_H
#define MLITE_STORE_H

#include <bson/bson.h>
#include <stdbool.h>

/*
 * Applies one oplog entry (format in oplog.h) to the store without writing
 * to the oplog: used to replay the journal at start. Idempotent: i/u/r put
 * the post-image, d deletes by o2, c runs the catalog command.
 */
bool store_apply_oplog_entry(const bson_t *entry, bson_error_t *error);

/*
 * Copies the current document with _id equal to id_value (the document
 * {_id: v}'s first element) of db.coll into out (initialized by the call).
 * Returns false when the collection or the document does not exist (out is
 * then an empty document).
 */
bool store_lookup_by_id(const char *db, const char *coll, const bson_t *document_key, bson_t *out);

/* True when db.coll exists. */
bool store_collection_exists(const char *db, const char *coll);

/* True when db.coll was created or collMod'ed with
 * changeStreamPreAndPostImages: {enabled: true}. */
bool store_pre_post_images_enabled(const char *db, const char *coll);

#endif
