/*
 * Restore marker, deferred indexes and capture checkpoint, as cdc-replay
 * uses them.
 */
#include "replay_meta.h"

#include <string.h>

#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "replay_apply.h"
#include "replay_batch.h"
#include "staging_format.h"

#define DUPLICATE_KEY 11000

int
replay_ts_cmp(uint32_t at, uint32_t ai, uint32_t bt, uint32_t bi)
{
	if (at != bt)
		return at < bt ? -1 : 1;
	if (ai != bi)
		return ai < bi ? -1 : 1;
	return 0;
}

void
replay_marker_init(replay_marker_t *m)
{
	memset(m, 0, sizeof *m);
	bson_init(&m->unique_specs);
	bson_init(&m->ttl_specs);
	m->unique_created = true;
	m->ttl_created = true;
}

void
replay_marker_cleanup(replay_marker_t *m)
{
	bson_destroy(&m->unique_specs);
	bson_destroy(&m->ttl_specs);
	memset(m, 0, sizeof *m);
}

/* find_one {_id: id} on coll into *out (a copy, caller destroys); *out NULL
 * when there is none. */
static bool
find_by_id(mongoc_collection_t *coll, const char *id, bson_t **out, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bool ok = true;

	*out = NULL;
	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &doc))
		*out = bson_copy(doc);
	if (mongoc_cursor_error(cursor, error)) {
		ok = false;
		if (*out)
			bson_destroy(*out);
		*out = NULL;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

bool
replay_marker_load(mongoc_collection_t *meta, const char *target_ns, replay_marker_t *m,
		   bson_error_t *error)
{
	char *id = bson_strdup_printf("%s%s", STAGING_RESTORE_ID_PREFIX, target_ns);
	bson_t *doc = NULL;
	bson_iter_t iter, child;
	bool ok;

	replay_marker_cleanup(m);
	replay_marker_init(m);
	ok = find_by_id(meta, id, &doc, error);
	bson_free(id);
	if (!ok || !doc)
		return ok;
	m->found = true;
	if (bson_iter_init_find(&iter, doc, "dumpEndTime") && BSON_ITER_HOLDS_TIMESTAMP(&iter)) {
		m->has_dump_end = true;
		bson_iter_timestamp(&iter, &m->dump_end_t, &m->dump_end_i);
	}
	if (bson_iter_init_find(&iter, doc, "deferredIndexes") && BSON_ITER_HOLDS_ARRAY(&iter) &&
	    bson_iter_recurse(&iter, &child)) {
		while (bson_iter_next(&child)) {
			bson_t spec;
			const uint8_t *data;
			uint32_t len;
			char key[16];

			if (!BSON_ITER_HOLDS_DOCUMENT(&child))
				continue;
			bson_iter_document(&child, &len, &data);
			bson_init_static(&spec, data, len);
			if (bson_has_field(&spec, "expireAfterSeconds")) {
				bson_snprintf(key, sizeof key, "%zu", m->n_ttl++);
				BSON_APPEND_DOCUMENT(&m->ttl_specs, key, &spec);
			} else {
				bson_snprintf(key, sizeof key, "%zu", m->n_unique++);
				BSON_APPEND_DOCUMENT(&m->unique_specs, key, &spec);
			}
		}
	}
	m->unique_created = m->n_unique == 0 || bson_has_field(doc, "uniqueCreatedAt");
	m->ttl_created = m->n_ttl == 0 || bson_has_field(doc, "ttlCreatedAt");
	bson_destroy(doc);
	return true;
}

/* The spec's "name", or "(unnamed)". */
static const char *
spec_name(const bson_t *spec)
{
	bson_iter_t iter;

	if (bson_iter_init_find(&iter, spec, "name") && BSON_ITER_HOLDS_UTF8(&iter))
		return bson_iter_utf8(&iter, NULL);
	return "(unnamed)";
}

/* Creates one index; a duplicate key becomes exit 65. */
static bool
create_one(mongoc_collection_t *target, const char *target_ns, const bson_t *spec,
	   bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t indexes, clean;
	bson_t reply;
	bson_iter_t iter;
	mongoc_write_concern_t *wc = mongoc_write_concern_new();
	bool ok;

	/* listIndexes output may carry "ns" (old servers): createIndexes
	 * refuses a mismatching one, and the target ns differs anyway. */
	bson_init(&clean);
	bson_copy_to_excluding_noinit(spec, &clean, "ns", NULL);
	BSON_APPEND_UTF8(&cmd, "createIndexes", mongoc_collection_get_name(target));
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
	BSON_APPEND_DOCUMENT(&indexes, "0", &clean);
	bson_append_array_end(&cmd, &indexes);
	mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
	mongoc_write_concern_append(wc, &opts);
	ok = mongoc_collection_write_command_with_opts(target, &cmd, &opts, &reply, error);
	if (!ok && error->code == DUPLICATE_KEY) {
		char *key_json = NULL;
		char *who = NULL;

		if (bson_iter_init_find(&iter, &reply, "keyValue") &&
		    BSON_ITER_HOLDS_DOCUMENT(&iter)) {
			bson_t key_value;
			const uint8_t *data;
			uint32_t len;

			bson_iter_document(&iter, &len, &data);
			bson_init_static(&key_value, data, len);
			key_json = bson_as_relaxed_extended_json(&key_value, NULL);
			who = replay_key_holders(target, &key_value);
		}
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "cannot create deferred unique index '%s' on '%s': duplicate "
			      "key %s%s%s (%s); every event up to the dump end is applied, "
			      "so this is a real conflict on the target: remove the duplicate "
			      "and run cdc-replay again",
			      spec_name(spec), target_ns, key_json ? key_json : "",
			      who ? " held by " : "", who ? who : "", error->message);
		bson_free(key_json);
		bson_free(who);
	} else if (!ok) {
		csm_error_prefix(error, "cannot create deferred index '%s' on '%s'",
				 spec_name(spec), target_ns);
	}
	bson_destroy(&reply);
	mongoc_write_concern_destroy(wc);
	bson_destroy(&opts);
	bson_destroy(&clean);
	bson_destroy(&cmd);
	return ok;
}

bool
replay_marker_create_deferred(mongoc_collection_t *meta, mongoc_collection_t *target,
			      const char *target_ns, replay_marker_t *m, bool ttl,
			      bson_error_t *error)
{
	const bson_t *specs = ttl ? &m->ttl_specs : &m->unique_specs;
	const char *field = ttl ? "ttlCreatedAt" : "uniqueCreatedAt";
	bson_iter_t iter;
	bson_t filter = BSON_INITIALIZER;
	bson_t update = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t set;
	mongoc_write_concern_t *wc;
	char *id;
	bool ok = true;

	if (ttl ? m->ttl_created : m->unique_created)
		return true;
	bson_iter_init(&iter, specs);
	while (ok && bson_iter_next(&iter)) {
		bson_t spec;
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&iter, &len, &data);
		bson_init_static(&spec, data, len);
		ok = create_one(target, target_ns, &spec, error);
		if (ok)
			log_info("created deferred %s index '%s' on '%s'", ttl ? "TTL" : "unique",
				 spec_name(&spec), target_ns);
	}
	if (!ok)
		return false;

	id = bson_strdup_printf("%s%s", STAGING_RESTORE_ID_PREFIX, target_ns);
	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_DATE_TIME(&set, field, replay_now_ms());
	bson_append_document_end(&update, &set);
	wc = mongoc_write_concern_new();
	mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
	mongoc_write_concern_append(wc, &opts);
	ok = mongoc_collection_update_one(meta, &filter, &update, &opts, NULL, error);
	if (ok) {
		if (ttl)
			m->ttl_created = true;
		else
			m->unique_created = true;
	} else {
		csm_error_prefix(error, "cannot set %s in the restore marker '%s'", field, id);
	}
	mongoc_write_concern_destroy(wc);
	bson_free(id);
	bson_destroy(&opts);
	bson_destroy(&update);
	bson_destroy(&filter);
	return ok;
}

bool
replay_checkpoint_load(mongoc_collection_t *meta, const char *ns, replay_checkpoint_t *cp,
		       bson_error_t *error)
{
	char *id = bson_strdup_printf("%s%s", STAGING_CHECKPOINT_ID_PREFIX, ns);
	bson_t *doc = NULL;
	bson_iter_t iter;
	bool ok;

	memset(cp, 0, sizeof *cp);
	ok = find_by_id(meta, id, &doc, error);
	bson_free(id);
	if (!ok || !doc)
		return ok;
	cp->found = true;
	if (bson_iter_init_find(&iter, doc, "clusterTime") && BSON_ITER_HOLDS_TIMESTAMP(&iter))
		bson_iter_timestamp(&iter, &cp->ct_t, &cp->ct_i);
	if (bson_iter_init_find(&iter, doc, "heartbeatAt") && BSON_ITER_HOLDS_DATE_TIME(&iter))
		cp->heartbeat_ms = bson_iter_date_time(&iter);
	if (bson_iter_init_find(&iter, doc, "state") && BSON_ITER_HOLDS_UTF8(&iter))
		bson_strncpy(cp->state, bson_iter_utf8(&iter, NULL), sizeof cp->state);
	bson_destroy(doc);
	return true;
}
