/*
 * Router mode (--router): mongod-lite answers as a MongoDB 7.0 mongos in
 * front of --shards N shards that share its one store. Sharding metadata
 * lives where a client reads it on a real cluster: config.collections
 * ({_id: "db.coll", key, unique, ...}), config.databases and config.shards,
 * written through the oplog so that --dbpath keeps it.
 *
 * What a sharded collection changes: documentKey holds the shard key
 * fields then _id (MongoDB's getDocumentKey); an upsert needs the full
 * shard key in its filter; a shard key value change needs a retryable
 * write (or transaction) and the full shard key in its filter, and when
 * the new value belongs to another shard it is logged as a delete and an
 * insert, as the move between shards is. Calls with server_lock held.
 */
#ifndef MLITE_ROUTER_H
#define MLITE_ROUTER_H

#include <bson/bson.h>
#include <stdbool.h>

#include "command.h"

/* True when db.coll is sharded (router mode only); *key (may be NULL)
 * then receives a copy of its shard key pattern, to destroy. */
bool router_shard_key(const char *db, const char *coll, bson_t *key);

/* The documentKey of doc in db.coll: the shard key fields doc holds, in
 * the key's order, then _id (once); {_id} when unsharded. out is
 * initialized here. */
void router_document_key(const char *db, const char *coll, const bson_t *doc, bson_t *out);

/* An upsert on db.coll with filter q: false + 61 ShardKeyNotFound when
 * the collection is sharded and q does not pin every shard key field. */
bool router_check_upsert(const char *db, const char *coll, const bson_t *q, bson_error_t *error);

typedef enum {
	ROUTER_KEY_SAME,  /* the shard key value is unchanged */
	ROUTER_KEY_STAYS, /* changed, the document stays on its shard */
	ROUTER_KEY_MOVES, /* changed to a value another shard owns */
} router_key_change_t;

/*
 * A single-document update of old into neu in ctx->db.coll, filter q:
 * what it does to the shard key. false + 20 IllegalOperation when the
 * value changes outside a retryable write, 31025 when q lacks the full
 * shard key.
 */
bool router_check_change(const command_ctx_t *ctx, const char *coll, const bson_t *q,
			 const bson_t *old, const bson_t *neu, router_key_change_t *change,
			 bson_error_t *error);

/* Forgets the sharding of ctx->db.coll (coll NULL: of every collection of
 * ctx->db), as a drop does. false only when the oplog append fails. */
bool router_forget(command_ctx_t *ctx, const char *coll, bson_error_t *error);

/* The mongos commands (59 CommandNotFound on a replica set, as mongod). */
bool cmd_enable_sharding(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_shard_collection(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_list_shards(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/* hello's router fields (msg: "isdbgrid"); replSetGetStatus' error. */
void router_hello(bson_t *reply);
bool router_no_such_command(const command_ctx_t *ctx, bson_error_t *error);

#endif
