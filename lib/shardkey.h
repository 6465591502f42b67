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

#include "replay_batch.h"

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

/*
 * shardkey_covered for the documentKey of every data event of batch, the
 * first that fails naming its seq; true when key is NULL (not sharded).
 */
bool shardkey_batch_routable(const bson_t *key, const char *target_ns, const replay_batch_t *batch,
			     bson_error_t *error);

/*
 * True when werr (a write error) is a duplicate key on the _id index met
 * by an upsert whose filter is a documentKey holding more than _id (a
 * shard key): the document exists with another shard key value, as when
 * the dump copied it after its shard key value changed (docs/DESIGN.md,
 * "The catch-up window").
 */
bool shardkey_upsert_met_id(bool upsert, const bson_t *filter, const bson_t *werr);

#endif
