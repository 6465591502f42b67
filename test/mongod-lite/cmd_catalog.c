/* Catalog commands: create, collMod, drop, dropDatabase, renameCollection,
 * listCollections, listIndexes, createIndexes, dropIndexes, dbStats,
 * collStats. Each successful change is logged as a "c" oplog entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "cursor.h"
#include "query.h"
#include "router.h"
#include "server.h"
#include "store.h"

/* Fields of a command that are never collection options. */
static bool
generic_field(const char *k)
{
	static const char *names[] = {"$db",
				      "lsid",
				      "txnNumber",
				      "$clusterTime",
				      "$readPreference",
				      "readConcern",
				      "writeConcern",
				      "comment",
				      "maxTimeMS",
				      "apiVersion",
				      "apiStrict",
				      "apiDeprecationErrors",
				      "autocommit",
				      "startTransaction",
				      "idIndex",
				      "$queryOptions"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i], k) == 0)
			return true;
	return false;
}

static void
copy_options(const bson_t *cmd, bson_t *options)
{
	bson_iter_t it;
	bson_init(options);
	bson_iter_init(&it, cmd);
	bson_iter_next(&it); /* the command name */
	while (bson_iter_next(&it))
		if (!generic_field(bson_iter_key(&it)))
			bson_append_iter(options, NULL, 0, &it);
}

/* ui: the UUID of the collection the command changed (NULL: none). */
static bool
log_command(command_ctx_t *ctx, const bson_t *o, const uint8_t *ui, bson_error_t *error)
{
	return cmd_oplog_ddl(ctx, o, NULL, ui, error);
}

/*
 * The existing collection a command names (its first element), with the
 * name in *coll (NULL when the argument is invalid). NULL + 26
 * NamespaceNotFound when it does not exist, in the words the command's
 * mongod uses: missing_fmt, given the database and collection names.
 */
static scoll_t *
existing_coll(command_ctx_t *ctx, const char *missing_fmt, const char **coll, bson_error_t *error)
{
	scoll_t *c;

	*coll = cmd_coll_arg(ctx, error);
	if (!*coll)
		return NULL;
	c = store_get_coll(ctx->db, *coll);
	if (!c)
		cmd_error(error, 26, missing_fmt, ctx->db, *coll);
	return c;
}

bool
cmd_create(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll = cmd_coll_arg(ctx, error);
	bson_t options;
	scoll_t *c = NULL;
	bson_iter_t it;
	(void)reply;

	if (!coll)
		return false;
	copy_options(ctx->cmd, &options);
	if (bson_iter_init_find(&it, &options, "capped") && bson_iter_as_bool(&it) &&
	    !bson_iter_init_find(&it, &options, "size")) {
		cmd_error(error, 72, "the 'size' field is required when 'capped' is true");
		bson_destroy(&options);
		return false;
	}
	if (bson_iter_init_find(&it, &options, "viewOn")) {
		cmd_error(error, 166, "views are not supported by mongod-lite");
		bson_destroy(&options);
		return false;
	}
	bool ok = store_create_coll(ctx->db, coll, &options, &c, error);
	if (!ok && c && bson_equal(&c->options, &options)) {
		/* same options: mongod 7 answers ok */
		bson_destroy(&options);
		return true;
	}
	if (ok)
		ok = cmd_oplog_create(ctx, c, error);
	bson_destroy(&options);
	return ok;
}

/* The index collMod's index option names (by name or keyPattern). */
static const sindex_t *
coll_mod_index(scoll_t *c, const bson_t *spec)
{
	bson_iter_t it;
	if (bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it))
		return store_find_index(c, bson_iter_utf8(&it, NULL));
	if (!bson_iter_init_find(&it, spec, "keyPattern") || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return NULL;
	bson_t key;
	const uint8_t *d;
	uint32_t l;
	bson_iter_document(&it, &l, &d);
	bson_init_static(&key, d, l);
	for (const sindex_t *ix = c->indexes; ix; ix = ix->next)
		if (bson_equal(&ix->key, &key))
			return ix;
	return NULL;
}

/* o2's indexOptions_old: the value before of each index option collMod
 * changes (hidden and the unique flags false when unset), as MongoDB's
 * op observer logs it for the modify event's stateBeforeChange. */
static void
index_options_old(scoll_t *c, const bson_t *cmd, bson_t *o2)
{
	bson_iter_t it, opt, was;
	if (!bson_iter_init_find(&it, cmd, "index") || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return;
	const uint8_t *d;
	uint32_t l;
	bson_t spec, old = BSON_INITIALIZER;
	bson_iter_document(&it, &l, &d);
	bson_init_static(&spec, d, l);
	const sindex_t *ix = coll_mod_index(c, &spec);
	if (!ix)
		return;
	bson_iter_init(&opt, &spec);
	while (bson_iter_next(&opt)) {
		const char *k = bson_iter_key(&opt);
		bool flag =
			!strcmp(k, "hidden") || !strcmp(k, "prepareUnique") || !strcmp(k, "unique");
		if (!flag && strcmp(k, "expireAfterSeconds"))
			continue;
		if (bson_iter_init_find(&was, &ix->spec, k))
			bson_append_iter(&old, k, -1, &was);
		else if (flag)
			BSON_APPEND_BOOL(&old, k, false);
	}
	BSON_APPEND_DOCUMENT(o2, "indexOptions_old", &old);
	bson_destroy(&old);
}

bool
cmd_coll_mod(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll;
	bson_t o;
	(void)reply;
	scoll_t *c = existing_coll(ctx, "ns does not exist: %s.%s", &coll, error);
	if (!c)
		return false;
	/* o2: the options before, for the modify event's stateBeforeChange */
	bson_t before = BSON_INITIALIZER, old_options;
	BSON_APPEND_BINARY(&before, "uuid", BSON_SUBTYPE_UUID, c->uuid, 16);
	bson_concat(&before, &c->options);
	bson_init(&old_options);
	BSON_APPEND_DOCUMENT(&old_options, "collectionOptions_old", &before);
	index_options_old(c, ctx->cmd, &old_options);
	bson_destroy(&before);
	if (!store_coll_mod(c, ctx->cmd, error)) {
		bson_destroy(&old_options);
		return false;
	}
	bson_init(&o);
	BSON_APPEND_UTF8(&o, "collMod", coll);
	bson_t options;
	copy_options(ctx->cmd, &options);
	bson_concat(&o, &options);
	bool ok = cmd_oplog_ddl(ctx, &o, &old_options, c->uuid, error);
	bson_destroy(&old_options);
	bson_destroy(&options);
	bson_destroy(&o);
	return ok;
}

bool
cmd_drop(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll = cmd_coll_arg(ctx, error);
	char ns[512];
	if (!coll)
		return false;
	scoll_t *c = store_get_coll(ctx->db, coll);
	snprintf(ns, sizeof ns, "%s.%s", ctx->db, coll);
	if (!c) {
		/* mongod 7: dropping a missing collection succeeds */
		return true;
	}
	int32_t nindexes = store_index_count(c);
	if (!router_forget(ctx, coll, error))
		return false;
	uint8_t uuid[16];
	memcpy(uuid, c->uuid, 16);
	store_drop_coll(ctx->db, coll);
	BSON_APPEND_INT32(reply, "nIndexesWas", nindexes);
	BSON_APPEND_UTF8(reply, "ns", ns);
	bson_t o = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&o, "drop", coll);
	bool ok = log_command(ctx, &o, uuid, error);
	bson_destroy(&o);
	return ok;
}

bool
cmd_drop_database(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	sdb_t *d;
	bool dropped_any = false;

	/* a drop per collection, then dropDatabase, as mongod logs it */
	while ((d = store_get_db(ctx->db)) && d->colls) {
		bson_t o = BSON_INITIALIZER;
		uint8_t uuid[16];
		memcpy(uuid, d->colls->uuid, 16);
		BSON_APPEND_UTF8(&o, "drop", d->colls->name);
		bool ok = router_forget(ctx, d->colls->name, error);
		store_drop_coll(ctx->db, d->colls->name);
		ok = ok && log_command(ctx, &o, uuid, error);
		bson_destroy(&o);
		if (!ok)
			return false;
		dropped_any = true;
	}
	if (dropped_any) {
		bson_t o = BSON_INITIALIZER;
		BSON_APPEND_INT32(&o, "dropDatabase", 1);
		bool ok = log_command(ctx, &o, NULL, error);
		bson_destroy(&o);
		if (!ok)
			return false;
	}
	BSON_APPEND_UTF8(reply, "dropped", ctx->db);
	return true;
}

static const char *
split_ns(const char *ns, char *db, size_t dbsize)
{
	const char *dot = strchr(ns, '.');
	if (!dot || (size_t)(dot - ns) >= dbsize || dot == ns || !dot[1])
		return NULL;
	memcpy(db, ns, (size_t)(dot - ns));
	db[dot - ns] = '\0';
	return dot + 1;
}

bool
cmd_rename_collection(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	char fdb[256], tdb[256];
	const char *from = NULL, *to = NULL, *fcoll, *tcoll;
	(void)reply;

	if (bson_iter_init_find(&it, ctx->cmd, "renameCollection") && BSON_ITER_HOLDS_UTF8(&it))
		from = bson_iter_utf8(&it, NULL);
	if (bson_iter_init_find(&it, ctx->cmd, "to") && BSON_ITER_HOLDS_UTF8(&it))
		to = bson_iter_utf8(&it, NULL);
	if (!from || !to) {
		cmd_error(error, 9,
			  "renameCollection needs string 'renameCollection' and 'to' namespaces");
		return false;
	}
	if (!(fcoll = split_ns(from, fdb, sizeof fdb)) ||
	    !(tcoll = split_ns(to, tdb, sizeof tdb))) {
		cmd_error(error, 73, "Invalid namespace specified '%s'",
			  !split_ns(from, fdb, sizeof fdb) ? from : to);
		return false;
	}
	if (!cmd_valid_coll_name(tdb, tcoll, error))
		return false;
	bool drop_target =
		bson_iter_init_find(&it, ctx->cmd, "dropTarget") && bson_iter_as_bool(&it);
	scoll_t *src = store_get_coll(fdb, fcoll);
	uint8_t uuid[16] = {0};
	if (src)
		memcpy(uuid, src->uuid, 16);
	if (!store_rename_coll(fdb, fcoll, tdb, tcoll, drop_target, error))
		return false;
	bson_t o = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&o, "renameCollection", from);
	BSON_APPEND_UTF8(&o, "to", to);
	BSON_APPEND_BOOL(&o, "dropTarget", drop_target);
	/* logged in the source database, as mongod does */
	const char *saved = ctx->db;
	ctx->db = fdb;
	/* router mode: neither the renamed nor a dropped target stays sharded
	 * (router.h) */
	bool ok =
		router_forget(ctx, fcoll, error) && log_command(ctx, &o, src ? uuid : NULL, error);
	ctx->db = tdb;
	ok = ok && (!drop_target || router_forget(ctx, tcoll, error));
	ctx->db = saved;
	bson_destroy(&o);
	return ok;
}

/* The fields of the _id index's spec {v: 2, key: {_id: 1}, name: "_id_"}. */
static void
append_id_index_fields(bson_t *ix)
{
	bson_t k;
	BSON_APPEND_INT32(ix, "v", 2);
	BSON_APPEND_DOCUMENT_BEGIN(ix, "key", &k);
	BSON_APPEND_INT32(&k, "_id", 1);
	bson_append_document_end(ix, &k);
	BSON_APPEND_UTF8(ix, "name", "_id_");
}

bool
cmd_list_collections(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_t filter;
	bool have_filter;
	bson_iter_t it;
	char ns[512];

	if (!cmd_doc_field(ctx->cmd, "filter", &filter, &have_filter, error) ||
	    !query_validate(&filter, error))
		return false;
	bool name_only = bson_iter_init_find(&it, ctx->cmd, "nameOnly") && bson_iter_as_bool(&it);
	sdb_t *d = store_get_db(ctx->db);
	size_t n = 0, cap = 0;
	bson_t **docs = NULL;
	for (scoll_t *c = d ? d->colls : NULL; c; c = c->next) {
		bson_t *doc = bson_new();
		BSON_APPEND_UTF8(doc, "name", c->name);
		BSON_APPEND_UTF8(doc, "type", "collection");
		if (!name_only) {
			bson_t info;
			BSON_APPEND_DOCUMENT(doc, "options", &c->options);
			BSON_APPEND_DOCUMENT_BEGIN(doc, "info", &info);
			BSON_APPEND_BOOL(&info, "readOnly", false);
			BSON_APPEND_BINARY(&info, "uuid", BSON_SUBTYPE_UUID, c->uuid, 16);
			bson_append_document_end(doc, &info);
			bson_t id_index;
			BSON_APPEND_DOCUMENT_BEGIN(doc, "idIndex", &id_index);
			append_id_index_fields(&id_index);
			bson_append_document_end(doc, &id_index);
		}
		if (have_filter && !query_match(&filter, bson_get_data(doc), doc->len)) {
			bson_destroy(doc);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			docs = realloc(docs, cap * sizeof *docs);
		}
		docs[n++] = doc;
	}
	snprintf(ns, sizeof ns, "%s.$cmd.listCollections", ctx->db);
	return cursor_first_batch(ns, &cursor_doclist_ops, cursor_doclist_new(docs, n), 0, false,
				  reply, error);
}

bool
cmd_list_indexes(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll;
	char ns[512];
	scoll_t *c = existing_coll(ctx, "ns does not exist: %s.%s", &coll, error);
	if (!c)
		return false;
	bson_t **docs = malloc((size_t)store_index_count(c) * sizeof *docs);
	docs[0] = bson_new();
	append_id_index_fields(docs[0]);
	size_t n = 1;
	for (sindex_t *ix = c->indexes; ix; ix = ix->next)
		docs[n++] = bson_copy(&ix->spec);
	snprintf(ns, sizeof ns, "%s.%s", ctx->db, coll);
	return cursor_first_batch(ns, &cursor_doclist_ops, cursor_doclist_new(docs, n), 0, false,
				  reply, error);
}

bool
cmd_create_indexes(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll = cmd_coll_arg(ctx, error);
	bson_iter_t it, specs;
	bool created_coll = false;
	scoll_t *c;

	if (!coll)
		return false;
	if (!bson_iter_init_find(&it, ctx->cmd, "indexes") || !BSON_ITER_HOLDS_ARRAY(&it)) {
		cmd_error(error, 9,
			  "BSON field 'createIndexes.indexes' is missing or not an array");
		return false;
	}
	/* check every spec before touching anything */
	bson_iter_recurse(&it, &specs);
	int nspecs = 0;
	while (bson_iter_next(&specs)) {
		bson_iter_t f;
		nspecs++;
		if (!BSON_ITER_HOLDS_DOCUMENT(&specs)) {
			cmd_error(error, 14, "index specifications must be objects");
			return false;
		}
		bson_iter_recurse(&specs, &f);
		bool has_key = false, has_name = false;
		while (bson_iter_next(&f)) {
			if (strcmp(bson_iter_key(&f), "key") == 0) {
				has_key = BSON_ITER_HOLDS_DOCUMENT(&f);
				if (has_key) {
					bson_iter_t kv;
					bson_iter_recurse(&f, &kv);
					while (bson_iter_next(&kv)) {
						bson_type_t t = bson_iter_type(&kv);
						if (t != BSON_TYPE_INT32 && t != BSON_TYPE_INT64 &&
						    t != BSON_TYPE_DOUBLE && t != BSON_TYPE_UTF8) {
							cmd_error(error, 67,
								  "Values in the index key pattern "
								  "must be numbers or strings");
							return false;
						}
					}
				}
			}
			if (strcmp(bson_iter_key(&f), "name") == 0)
				has_name = BSON_ITER_HOLDS_UTF8(&f);
		}
		if (!has_key || !has_name) {
			cmd_error(error, 9,
				  "index specification needs a 'key' object and a 'name' string");
			return false;
		}
	}
	if (nspecs == 0) {
		cmd_error(error, 2, "Must specify at least one index to create");
		return false;
	}
	c = store_get_coll(ctx->db, coll);
	if (!c) {
		if (!cmd_coll_for_write(ctx, coll, &c, error))
			return false;
		created_coll = true;
	}
	int32_t before = store_index_count(c);
	int32_t after = before;
	bson_iter_recurse(&it, &specs);
	while (bson_iter_next(&specs)) {
		bson_t spec, o = BSON_INITIALIZER;
		const uint8_t *d;
		uint32_t l;
		bool created;
		bson_iter_document(&specs, &l, &d);
		bson_init_static(&spec, d, l);
		if (!store_create_index(c, &spec, &created, error))
			return false;
		if (!created)
			continue;
		after++;
		BSON_APPEND_UTF8(&o, "createIndexes", coll);
		bson_iter_t nm;
		bson_iter_init_find(&nm, &spec, "name");
		sindex_t *ix = store_find_index(c, bson_iter_utf8(&nm, NULL));
		BSON_APPEND_DOCUMENT(&o, "spec", ix ? &ix->spec : &spec);
		bool ok = log_command(ctx, &o, c->uuid, error);
		bson_destroy(&o);
		if (!ok)
			return false;
	}
	BSON_APPEND_INT32(reply, "numIndexesBefore", before);
	BSON_APPEND_INT32(reply, "numIndexesAfter", after);
	BSON_APPEND_BOOL(reply, "createdCollectionAutomatically", created_coll);
	if (after == before)
		BSON_APPEND_UTF8(reply, "note", "all indexes already exist");
	return true;
}

/* Drops index name of c and logs it with its spec (the dropIndexes
 * event reports the spec). */
static bool
drop_one_index(command_ctx_t *ctx, scoll_t *c, const char *coll, const char *name,
	       bson_error_t *error)
{
	bson_t o = BSON_INITIALIZER;
	char *copy = strdup(name);
	sindex_t *ix = store_find_index(c, copy);
	BSON_APPEND_UTF8(&o, "dropIndexes", coll);
	BSON_APPEND_UTF8(&o, "index", copy);
	if (ix)
		BSON_APPEND_DOCUMENT(&o, "spec", &ix->spec);
	bool ok = store_drop_index(c, copy, error) && log_command(ctx, &o, c->uuid, error);
	bson_destroy(&o);
	free(copy);
	return ok;
}

bool
cmd_drop_indexes(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll;
	bson_iter_t it;
	scoll_t *c = existing_coll(ctx, "ns not found %s.%s", &coll, error);
	if (!c)
		return false;
	int32_t was = store_index_count(c);
	if (!bson_iter_init_find(&it, ctx->cmd, "index")) {
		cmd_error(error, 9,
			  "BSON field 'dropIndexes.index' is missing but a required field");
		return false;
	}
	/* names to drop: a name, "*", an array of names, or a key pattern */
	const char *names[64];
	size_t n = 0;
	if (BSON_ITER_HOLDS_UTF8(&it)) {
		names[n++] = bson_iter_utf8(&it, NULL);
	} else if (BSON_ITER_HOLDS_ARRAY(&it)) {
		bson_iter_t el;
		bson_iter_recurse(&it, &el);
		while (bson_iter_next(&el) && n < 64)
			if (BSON_ITER_HOLDS_UTF8(&el))
				names[n++] = bson_iter_utf8(&el, NULL);
	} else if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_t key;
		const uint8_t *d;
		uint32_t l;
		bson_iter_document(&it, &l, &d);
		bson_init_static(&key, d, l);
		for (sindex_t *ix = c->indexes; ix && n == 0; ix = ix->next)
			if (bson_equal(&ix->key, &key))
				names[n++] = ix->name;
		if (n == 0) {
			cmd_error(error, 27, "can't find index with key pattern");
			return false;
		}
	} else {
		cmd_error(error, 14, "BSON field 'dropIndexes.index' is the wrong type");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], "*") != 0 && strcmp(names[i], "_id_") != 0 &&
		    !store_find_index(c, names[i])) {
			cmd_error(error, 27, "index not found with name [%s]", names[i]);
			return false;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], "*") != 0) {
			if (!drop_one_index(ctx, c, coll, names[i], error))
				return false;
			continue;
		}
		/* "*": one entry (and dropIndexes event) per index, as mongod */
		while (c->indexes)
			if (!drop_one_index(ctx, c, coll, c->indexes->name, error))
				return false;
	}
	BSON_APPEND_INT32(reply, "nIndexesWas", was);
	return true;
}

bool
cmd_db_stats(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	sdb_t *d = store_get_db(ctx->db);
	int64_t objects = 0, size = 0, colls = 0, indexes = 0;
	(void)error;
	for (scoll_t *c = d ? d->colls : NULL; c; c = c->next) {
		colls++;
		objects += (int64_t)c->docs.count;
		size += c->data_size;
		indexes += store_index_count(c);
	}
	BSON_APPEND_UTF8(reply, "db", ctx->db);
	BSON_APPEND_INT64(reply, "collections", colls);
	BSON_APPEND_INT64(reply, "views", 0);
	BSON_APPEND_INT64(reply, "objects", objects);
	BSON_APPEND_DOUBLE(reply, "avgObjSize", objects ? (double)size / (double)objects : 0.0);
	BSON_APPEND_DOUBLE(reply, "dataSize", (double)size);
	BSON_APPEND_DOUBLE(reply, "storageSize", (double)size);
	BSON_APPEND_INT64(reply, "indexes", indexes);
	return true;
}

bool
cmd_coll_stats(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	const char *coll;
	char ns[512];
	scoll_t *c = existing_coll(ctx, "Collection [%s.%s] not found.", &coll, error);
	if (!c)
		return false;
	snprintf(ns, sizeof ns, "%s.%s", ctx->db, coll);
	int32_t nindexes = store_index_count(c);
	int64_t count = (int64_t)c->docs.count;
	BSON_APPEND_UTF8(reply, "ns", ns);
	BSON_APPEND_INT64(reply, "size", c->data_size);
	BSON_APPEND_INT64(reply, "count", count);
	BSON_APPEND_INT64(reply, "avgObjSize", count ? c->data_size / count : 0);
	BSON_APPEND_INT64(reply, "storageSize", c->data_size);
	BSON_APPEND_INT32(reply, "nindexes", nindexes);
	bson_iter_t it;
	BSON_APPEND_BOOL(reply, "capped",
			 bson_iter_init_find(&it, &c->options, "capped") && bson_iter_as_bool(&it));
	return true;
}
