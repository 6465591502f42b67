/*
 * Router mode: shard keys, documentKey and mongos' write rules (router.h).
 * The shard commands are in cmd_router.c.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "order.h"
#include "server.h"
#include "store.h"

#define ROUTER_NS 512

/* The config.collections entry of db.coll, or NULL. */
static const bson_t *
collection_entry(const char *db, const char *coll)
{
	char ns[ROUTER_NS];
	bson_t id;
	const bson_t *doc;
	scoll_t *c;

	if (!server_config.router || !(c = store_get_coll("config", "collections")))
		return NULL;
	snprintf(ns, sizeof ns, "%s.%s", db, coll);
	bson_init(&id);
	BSON_APPEND_UTF8(&id, "", ns);
	doc = store_find_doc(c, &id);
	bson_destroy(&id);
	return doc;
}

bool
router_shard_key(const char *db, const char *coll, bson_t *key)
{
	const bson_t *entry = collection_entry(db, coll);
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;

	if (!entry || !bson_iter_init_find(&it, entry, "key") || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	if (key) {
		bson_iter_document(&it, &len, &data);
		bson_init_static(key, data, len);
		bson_t *copy = bson_copy(key);
		bson_steal(key, copy);
	}
	return true;
}

void
router_document_key(const char *db, const char *coll, const bson_t *doc, bson_t *out)
{
	bson_t key;
	bson_iter_t field, value;
	bool have_id = false;

	bson_init(out);
	if (router_shard_key(db, coll, &key)) {
		/* bson::extractElementsBasedOnTemplate: the fields present, named
		 * by their path; a missing one is left out */
		bson_iter_init(&field, &key);
		while (bson_iter_next(&field)) {
			const char *path = bson_iter_key(&field);
			if (bson_iter_init(&value, doc) &&
			    bson_iter_find_descendant(&value, path, &value)) {
				bson_append_iter(out, path, -1, &value);
				have_id = have_id || strcmp(path, "_id") == 0;
			}
		}
		bson_destroy(&key);
	}
	if (!have_id && bson_iter_init_find(&value, doc, "_id"))
		bson_append_iter(out, "_id", 3, &value);
}

/* True when filter q pins path to one value: {path: v} with v neither an
 * operator document, a regex nor an array, or {path: {$eq: v}}. */
static bool
pins_path(const bson_t *q, const char *path)
{
	bson_iter_t it, sub;

	if (!bson_iter_init_find(&it, q, path))
		return false;
	if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &sub) && bson_iter_next(&sub) &&
	    bson_iter_key(&sub)[0] == '$') {
		if (strcmp(bson_iter_key(&sub), "$eq") != 0)
			return false;
		it = sub;
		if (bson_iter_next(&sub))
			return false;
	}
	return !BSON_ITER_HOLDS_REGEX(&it) && !BSON_ITER_HOLDS_ARRAY(&it) &&
	       !(BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &sub) &&
		 bson_iter_next(&sub) && bson_iter_key(&sub)[0] == '$');
}

/* True when q pins every field of the shard key pattern key. */
static bool
pins_shard_key(const bson_t *q, const bson_t *key)
{
	bson_iter_t field;

	bson_iter_init(&field, key);
	while (bson_iter_next(&field))
		if (!pins_path(q, bson_iter_key(&field)))
			return false;
	return true;
}

bool
router_check_upsert(const char *db, const char *coll, const bson_t *q, bson_error_t *error)
{
	bson_t key;
	bool ok = true;

	if (!router_shard_key(db, coll, &key))
		return true;
	/* jstests/sharding/missing_shard_keys.js: an upsert needs the entire
	 * shard key in its query */
	if (!pins_shard_key(q, &key)) {
		cmd_error(error, 61,
			  "Failed to target upsert by query :: could not extract exact shard key");
		ok = false;
	}
	bson_destroy(&key);
	return ok;
}

/* The value of path in doc, null when missing (missing shard key fields
 * are treated as null). */
static bson_value_t
path_value(const bson_t *doc, const char *path)
{
	bson_iter_t it;
	bson_value_t null_value = {.value_type = BSON_TYPE_NULL};

	if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &it))
		return *bson_iter_value(&it);
	return null_value;
}

/* FNV-1a, mixed, over a value's canonical bytes: numbers by their double value,
 * so that 1 and 1.0 land together. Not MongoDB's hash. */
static uint32_t
value_hash(const bson_value_t *v)
{
	bson_t tmp = BSON_INITIALIZER;
	uint32_t h = 2166136261u;

	if (order_is_number(v->value_type))
		bson_append_double(&tmp, "", 0, (double)order_number_value(v));
	else
		bson_append_value(&tmp, "", 0, v);
	for (uint32_t i = 0; i < tmp.len; i++) {
		h ^= bson_get_data(&tmp)[i];
		h *= 16777619u;
	}
	bson_destroy(&tmp);
	/* murmur3's finalizer: FNV's low bits alone split numbers badly */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The shard that owns doc: a hashed key spreads documents by the hash of
 * the hashed field; a ranged key has one chunk, on the first shard. */
static int
owning_shard(const bson_t *key, const bson_t *doc)
{
	bson_iter_t field;

	if (server_config.shards <= 1)
		return 0;
	bson_iter_init(&field, key);
	while (bson_iter_next(&field)) {
		if (BSON_ITER_HOLDS_UTF8(&field)) {
			bson_value_t v = path_value(doc, bson_iter_key(&field));
			return (int)(value_hash(&v) % (uint32_t)server_config.shards);
		}
	}
	return 0;
}

bool
router_check_change(const command_ctx_t *ctx, const char *coll, const bson_t *q, const bson_t *old,
		    const bson_t *neu, router_key_change_t *change, bson_error_t *error)
{
	bson_t key;
	bson_iter_t field;
	bool ok = true;

	*change = ROUTER_KEY_SAME;
	if (!router_shard_key(ctx->db, coll, &key))
		return true;
	bson_iter_init(&field, &key);
	while (bson_iter_next(&field)) {
		bson_value_t a = path_value(old, bson_iter_key(&field));
		bson_value_t b = path_value(neu, bson_iter_key(&field));
		if (order_values(&a, &b) != 0 || a.value_type != b.value_type)
			*change = ROUTER_KEY_STAYS;
	}
	/* docs: core/sharding-change-shard-key-value */
	if (*change != ROUTER_KEY_SAME && !(ctx->lsid && ctx->txn_number >= 0)) {
		cmd_error(error, 20,
			  "Must run update to shard key field in a multi-statement transaction or "
			  "with retryWrites: true.");
		ok = false;
	} else if (*change != ROUTER_KEY_SAME && !pins_shard_key(q, &key)) {
		cmd_error(error, 31025,
			  "Shard key update is not allowed without specifying the full shard key "
			  "in the query");
		ok = false;
	} else if (*change != ROUTER_KEY_SAME &&
		   owning_shard(&key, old) != owning_shard(&key, neu)) {
		*change = ROUTER_KEY_MOVES;
	}
	bson_destroy(&key);
	return ok;
}

bool
router_forget(command_ctx_t *ctx, const char *coll, bson_error_t *error)
{
	const bson_t *entry = collection_entry(ctx->db, coll);
	command_ctx_t config = *ctx;
	bson_t o2;
	bool ok;

	if (!entry)
		return true;
	config.db = "config";
	config.lsid = NULL;
	config.txn_number = -1;
	router_document_key("config", "collections", entry, &o2);
	store_delete(store_get_coll("config", "collections"), entry);
	ok = cmd_oplog(&config, "d", "collections", &o2, &o2, NULL, NULL, error);
	bson_destroy(&o2);
	return ok;
}

void
router_hello(bson_t *reply)
{
	BSON_APPEND_UTF8(reply, "msg", "isdbgrid");
}

bool
router_no_such_command(const command_ctx_t *ctx, bson_error_t *error)
{
	cmd_error(error, 59, "no such command: '%s'", ctx->name);
	return false;
}
