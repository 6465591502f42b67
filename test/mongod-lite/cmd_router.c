/*
 * The mongos commands of router mode: enableSharding, shardCollection,
 * listShards. Their metadata goes into config.databases and
 * config.collections through the oplog, as a config server holds it.
 */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "oplog.h"
#include "router.h"
#include "server.h"
#include "store.h"

#define ROUTER_NS 512

/* ctx, writing to the config database, outside any session. */
static command_ctx_t
config_ctx(const command_ctx_t *ctx)
{
	command_ctx_t config = *ctx;
	config.db = "config";
	config.lsid = NULL;
	config.txn_number = -1;
	return config;
}

/* Inserts doc into config.<coll> and logs it. */
static bool
config_insert(const command_ctx_t *ctx, const char *coll, const bson_t *doc, bson_error_t *error)
{
	command_ctx_t config = config_ctx(ctx);
	bson_t dup = BSON_INITIALIZER, o2;
	const bson_t *stored;
	scoll_t *c;
	bool ok;

	if (!cmd_coll_for_write(&config, coll, &c, error))
		return false;
	stored = store_insert(c, doc, &dup, error);
	bson_destroy(&dup);
	if (!stored)
		return false;
	router_document_key("config", coll, stored, &o2);
	ok = cmd_oplog(&config, "i", coll, stored, &o2, NULL, NULL, error);
	bson_destroy(&o2);
	return ok;
}

static void
shard_name(int n, char *out, size_t size)
{
	snprintf(out, size, "shard%d", n);
}

/* Records db in config.databases (primary shard0) unless it is there. */
static bool
ensure_database(const command_ctx_t *ctx, const char *db, bson_error_t *error)
{
	scoll_t *c = store_get_coll("config", "databases");
	bson_t id, doc = BSON_INITIALIZER, version;
	uint8_t uuid[16];
	uint32_t t, i;
	bool exists, ok = true;

	bson_init(&id);
	BSON_APPEND_UTF8(&id, "", db);
	exists = c && store_find_doc(c, &id);
	bson_destroy(&id);
	if (exists)
		return true;
	store_new_uuid(uuid);
	oplog_current_time(&t, &i);
	BSON_APPEND_UTF8(&doc, "_id", db);
	BSON_APPEND_UTF8(&doc, "primary", "shard0");
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "version", &version);
	BSON_APPEND_BINARY(&version, "uuid", BSON_SUBTYPE_UUID, uuid, 16);
	BSON_APPEND_TIMESTAMP(&version, "timestamp", t, i);
	BSON_APPEND_INT32(&version, "lastMod", 1);
	bson_append_document_end(&doc, &version);
	ok = config_insert(ctx, "databases", &doc, error);
	bson_destroy(&doc);
	return ok;
}

bool
cmd_enable_sharding(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	(void)reply;

	if (!server_config.router)
		return router_no_such_command(ctx, error);
	if (!bson_iter_init(&it, ctx->cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it) ||
	    !bson_iter_utf8(&it, NULL)[0] || strchr(bson_iter_utf8(&it, NULL), '.')) {
		cmd_error(error, 73, "invalid db name specified");
		return false;
	}
	return ensure_database(ctx, bson_iter_utf8(&it, NULL), error);
}

/*
 * Checks key as ShardKeyPattern does: ascending fields (1) or one
 * "hashed" field; *hashed is set when there is one.
 */
static bool
valid_key_pattern(const bson_t *key, bool *hashed, bson_error_t *error)
{
	bson_iter_t it;
	int n = 0, nhashed = 0;

	bson_iter_init(&it, key);
	while (bson_iter_next(&it)) {
		n++;
		if (BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), "hashed") == 0)
			nhashed++;
		else if (!BSON_ITER_HOLDS_NUMBER(&it) || bson_iter_as_double(&it) != 1.0)
			n = -1000;
	}
	*hashed = nhashed > 0;
	if (n <= 0 || nhashed > 1) {
		char *json = bson_as_relaxed_extended_json(key, NULL);
		cmd_error(
			error, 2,
			"Unsupported shard key pattern %s. Pattern must either be a single hashed "
			"field, or a list of ascending fields",
			json);
		bson_free(json);
		return false;
	}
	return true;
}

/* True when index key pattern ix starts with the shard key's fields (a
 * hashed field by a hashed index field). */
static bool
index_supports(const bson_t *ix, const bson_t *key)
{
	bson_iter_t a, b;

	bson_iter_init(&a, ix);
	bson_iter_init(&b, key);
	while (bson_iter_next(&b)) {
		if (!bson_iter_next(&a) || strcmp(bson_iter_key(&a), bson_iter_key(&b)) != 0 ||
		    BSON_ITER_HOLDS_UTF8(&a) != BSON_ITER_HOLDS_UTF8(&b))
			return false;
	}
	return true;
}

/* Gives db.coll an index on key when it is empty and none supports it;
 * false + 72 when it holds documents and no index supports the key. */
static bool
ensure_key_index(command_ctx_t *ctx, scoll_t *c, const bson_t *key, bool unique,
		 bson_error_t *error)
{
	bson_t id_key = BSON_INITIALIZER, spec = BSON_INITIALIZER, o = BSON_INITIALIZER;
	bson_iter_t it;
	char name[256] = "";
	bool created, ok;

	BSON_APPEND_INT32(&id_key, "_id", 1);
	ok = index_supports(&id_key, key);
	bson_destroy(&id_key);
	for (sindex_t *ix = c->indexes; ix && !ok; ix = ix->next)
		ok = index_supports(&ix->key, key);
	if (ok)
		return true;
	if (c->docs.count > 0) {
		cmd_error(error, 72,
			  "Please create an index that starts with the proposed shard key before "
			  "sharding the collection");
		return false;
	}
	bson_iter_init(&it, key);
	while (bson_iter_next(&it))
		snprintf(name + strlen(name), sizeof name - strlen(name), "%s%s_%s",
			 name[0] ? "_" : "", bson_iter_key(&it),
			 BSON_ITER_HOLDS_UTF8(&it) ? "hashed" : "1");
	BSON_APPEND_INT32(&spec, "v", 2);
	BSON_APPEND_DOCUMENT(&spec, "key", key);
	BSON_APPEND_UTF8(&spec, "name", name);
	if (unique)
		BSON_APPEND_BOOL(&spec, "unique", true);
	ok = store_create_index(c, &spec, &created, error);
	if (ok && created) {
		command_ctx_t data = *ctx;
		data.lsid = NULL;
		data.txn_number = -1;
		BSON_APPEND_UTF8(&o, "createIndexes", c->name);
		BSON_APPEND_DOCUMENT(&o, "spec", &store_find_index(c, name)->spec);
		ok = cmd_oplog(&data, "c", NULL, &o, NULL, NULL, NULL, error);
	}
	bson_destroy(&o);
	bson_destroy(&spec);
	return ok;
}

/* The config.collections entry of a collection sharded now. */
static void
collection_entry_new(const char *ns, const scoll_t *c, const bson_t *key, bool unique, bson_t *out)
{
	bson_oid_t epoch;
	uint32_t t, i;

	bson_oid_init(&epoch, NULL);
	oplog_current_time(&t, &i);
	bson_init(out);
	BSON_APPEND_UTF8(out, "_id", ns);
	BSON_APPEND_OID(out, "lastmodEpoch", &epoch);
	BSON_APPEND_DATE_TIME(out, "lastmod", clock_wall_ms());
	BSON_APPEND_TIMESTAMP(out, "timestamp", t, i);
	BSON_APPEND_BINARY(out, "uuid", BSON_SUBTYPE_UUID, c->uuid, 16);
	BSON_APPEND_DOCUMENT(out, "key", key);
	BSON_APPEND_BOOL(out, "unique", unique);
	BSON_APPEND_BOOL(out, "noBalance", false);
}

/* Splits ns "db.coll" into db and coll; false + 73 when it is not one. */
static bool
split_ns(const char *ns, char *db, char *coll, bson_error_t *error)
{
	const char *dot = strchr(ns, '.');

	if (!dot || dot == ns || !dot[1] || strlen(ns) >= ROUTER_NS) {
		cmd_error(error, 73, "Invalid namespace specified '%s'", ns);
		return false;
	}
	snprintf(db, ROUTER_NS, "%.*s", (int)(dot - ns), ns);
	snprintf(coll, ROUTER_NS, "%s", dot + 1);
	return true;
}

bool
cmd_shard_collection(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	char db[ROUTER_NS], coll[ROUTER_NS];
	bson_iter_t it;
	bson_t key, current;
	bool have_key, hashed, unique = false;
	const char *ns;
	scoll_t *c;

	if (!server_config.router)
		return router_no_such_command(ctx, error);
	if (!bson_iter_init(&it, ctx->cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it)) {
		cmd_error(error, 2, "'shardCollection' must be of type string");
		return false;
	}
	ns = bson_iter_utf8(&it, NULL);
	if (!split_ns(ns, db, coll, error) ||
	    !cmd_doc_field(ctx->cmd, "key", &key, &have_key, error))
		return false;
	if (!have_key) {
		cmd_error(error, 40414,
			  "BSON field 'shardCollection.key' is missing but a required field");
		return false;
	}
	if (bson_iter_init_find(&it, ctx->cmd, "unique"))
		unique = bson_iter_as_bool(&it);
	if (!valid_key_pattern(&key, &hashed, error))
		return false;
	if (unique && hashed) {
		cmd_error(error, 72, "hashed shard keys cannot be declared unique.");
		return false;
	}
	if (router_shard_key(db, coll, &current)) {
		bool same = current.len == key.len &&
			    memcmp(bson_get_data(&current), bson_get_data(&key), key.len) == 0;
		bson_destroy(&current);
		if (!same) {
			cmd_error(error, 23, "sharding already enabled for collection %s", ns);
			return false;
		}
		BSON_APPEND_UTF8(reply, "collectionsharded", ns);
		return true;
	}
	command_ctx_t data = *ctx;
	data.db = db;
	if (!ensure_database(ctx, db, error) || !cmd_coll_for_write(&data, coll, &c, error) ||
	    !ensure_key_index(&data, c, &key, unique, error))
		return false;
	bson_t entry;
	collection_entry_new(ns, c, &key, unique, &entry);
	bool ok = config_insert(ctx, "collections", &entry, error);
	bson_destroy(&entry);
	if (ok)
		BSON_APPEND_UTF8(reply, "collectionsharded", ns);
	return ok;
}

bool
cmd_list_shards(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_t arr, shard;
	char name[32], host[320], key[16];
	const char *kp;
	uint32_t t, i;

	if (!server_config.router)
		return router_no_such_command(ctx, error);
	oplog_current_time(&t, &i);
	BSON_APPEND_ARRAY_BEGIN(reply, "shards", &arr);
	for (int n = 0; n < server_config.shards; n++) {
		shard_name(n, name, sizeof name);
		snprintf(host, sizeof host, "%s/%s", name, server_me);
		bson_uint32_to_string((uint32_t)n, &kp, key, sizeof key);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, kp, &shard);
		BSON_APPEND_UTF8(&shard, "_id", name);
		BSON_APPEND_UTF8(&shard, "host", host);
		BSON_APPEND_INT32(&shard, "state", 1);
		BSON_APPEND_TIMESTAMP(&shard, "topologyTime", t, i);
		bson_append_document_end(&arr, &shard);
	}
	bson_append_array_end(reply, &arr);
	return true;
}
