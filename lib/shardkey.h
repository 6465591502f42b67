/*
 * The shard key of a target collection, read through mongos as a client
 * reads it (config.collections), and whether a change event's documentKey
 * names every field of it (docs/DESIGN.md, "Replay rules": a sharded
 * target).
 */
#ifndef CSM_SHARDKEY_H
#define CSM_SHARDKEY_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>

/*
 * The shard key pattern of db.coll as config.collections holds it, newly
 * allocated (free with bson_destroy), or NULL when the collection is not
 * sharded, the server is no mongos, or config.collections cannot be read
 * (then a warning says so: replay goes on without the check).
 */
bson_t *shardkey_read(mongoc_client_t *client, const char *db, const char *coll);

/*
 * True when document_key holds every field of key. Otherwise false and
 * error (exit 65) names the event (what), the key and the missing field,
 * and says what to do.
 */
bool shardkey_covered(const bson_t *key, const bson_t *document_key, const char *target_ns,
		      const char *what, bson_error_t *error);

#endif
