/*
 * The restore marker as cdc-replay sees it, and the deferred indexes it
 * builds (replay_meta.h).
 */
#include "replay_meta.h"

#include <string.h>

#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "replay_apply.h"
#include "replay_batch.h"

void
replay_marker_init(replay_marker_t *view)
{
	memset(view, 0, sizeof *view);
	bson_init(&view->unique_specs);
	bson_init(&view->ttl_specs);
	view->unique_created = true;
	view->ttl_created = true;
}

void
replay_marker_cleanup(replay_marker_t *view)
{
	bson_destroy(&view->unique_specs);
	bson_destroy(&view->ttl_specs);
	memset(view, 0, sizeof *view);
}

void
replay_marker_view(replay_marker_t *view, const restore_marker_t *marker)
{
	bson_iter_t iter;

	replay_marker_cleanup(view);
	replay_marker_init(view);
	view->found = true;
	view->dump_end = marker->dump_end;
	if (bson_iter_init(&iter, &marker->deferred_indexes)) {
		while (bson_iter_next(&iter)) {
			bson_t spec;
			const uint8_t *data;
			uint32_t len;
			char key[16];

			if (!BSON_ITER_HOLDS_DOCUMENT(&iter))
				continue;
			bson_iter_document(&iter, &len, &data);
			bson_init_static(&spec, data, len);
			if (bson_has_field(&spec, "expireAfterSeconds")) {
				bson_snprintf(key, sizeof key, "%zu", view->n_ttl++);
				BSON_APPEND_DOCUMENT(&view->ttl_specs, key, &spec);
			} else {
				bson_snprintf(key, sizeof key, "%zu", view->n_unique++);
				BSON_APPEND_DOCUMENT(&view->unique_specs, key, &spec);
			}
		}
	}
	view->unique_created = view->n_unique == 0 || marker->unique_created_ms != 0;
	view->ttl_created = view->n_ttl == 0 || marker->ttl_created_ms != 0;
	view->unique_marked = marker->unique_created_ms != 0;
	view->ttl_marked = marker->ttl_created_ms != 0;
}

bool
replay_marker_load(mongoc_collection_t *meta, const char *target_ns, replay_marker_t *view,
		   bson_error_t *error)
{
	restore_marker_t marker;
	bool found;

	replay_marker_cleanup(view);
	replay_marker_init(view);
	if (!marker_read(meta, target_ns, &marker, &found, error)) {
		csm_error_prefix(error, "cannot read the restore marker of '%s'", target_ns);
		return false;
	}
	if (found) {
		replay_marker_view(view, &marker);
		restore_marker_cleanup(&marker);
	}
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
	if (!ok && csm_error_classify(error, &reply) == CSM_ERRCLASS_DUPLICATE_KEY) {
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
		csm_error_keep_transient(error, &reply);
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
			      const char *target_ns, replay_marker_t *view, bool ttl,
			      bson_error_t *error)
{
	bson_iter_t iter;

	if (ttl ? view->ttl_created : view->unique_created)
		return true;
	bson_iter_init(&iter, ttl ? &view->ttl_specs : &view->unique_specs);
	while (bson_iter_next(&iter)) {
		bson_t spec;
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&iter, &len, &data);
		bson_init_static(&spec, data, len);
		if (!create_one(target, target_ns, &spec, error))
			return false;
		log_info("created deferred %s index '%s' on '%s'", ttl ? "TTL" : "unique",
			 spec_name(&spec), target_ns);
	}
	if (!marker_set_created(meta, target_ns, ttl, error))
		return false;
	if (ttl)
		view->ttl_created = view->ttl_marked = true;
	else
		view->unique_created = view->unique_marked = true;
	return true;
}

/* Whether the array specs holds an index named name. */
static bool
has_spec_named(const bson_t *specs, const char *name)
{
	bson_iter_t iter;

	if (!bson_iter_init(&iter, specs))
		return false;
	while (bson_iter_next(&iter)) {
		bson_t spec;
		const uint8_t *data;
		uint32_t len;

		if (!BSON_ITER_HOLDS_DOCUMENT(&iter))
			continue;
		bson_iter_document(&iter, &len, &data);
		if (bson_init_static(&spec, data, len) && strcmp(spec_name(&spec), name) == 0)
			return true;
	}
	return false;
}

bool
replay_marker_defer(mongoc_collection_t *meta, const char *target_ns, replay_marker_t *view,
		    const bson_t *spec, bson_error_t *error)
{
	restore_marker_t marker;
	bool found, ok = true;

	if (!marker_read(meta, target_ns, &marker, &found, error)) {
		csm_error_prefix(error, "cannot read the restore marker of '%s'", target_ns);
		return false;
	}
	if (!found) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "the restore marker of '%s' is gone: cannot defer index '%s'",
			      target_ns, spec_name(spec));
		return false;
	}
	if (!has_spec_named(&marker.deferred_indexes, spec_name(spec))) {
		char key[16];

		bson_snprintf(key, sizeof key, "%u", bson_count_keys(&marker.deferred_indexes));
		BSON_APPEND_DOCUMENT(&marker.deferred_indexes, key, spec);
		ok = marker_write(meta, &marker, error);
	}
	if (ok)
		replay_marker_view(view, &marker);
	restore_marker_cleanup(&marker);
	return ok;
}

/* Whether spec is the index that index (a modify's name or keyPattern) names. */
static bool
spec_matches(const bson_t *spec, const bson_t *index)
{
	bson_iter_t iter, key;

	if (bson_iter_init_find(&iter, index, "name") && BSON_ITER_HOLDS_UTF8(&iter))
		return strcmp(bson_iter_utf8(&iter, NULL), spec_name(spec)) == 0;
	if (bson_iter_init_find(&iter, index, "keyPattern") && BSON_ITER_HOLDS_DOCUMENT(&iter) &&
	    bson_iter_init_find(&key, spec, "key") && BSON_ITER_HOLDS_DOCUMENT(&key)) {
		bson_t a, b;
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&iter, &len, &data);
		bson_init_static(&a, data, len);
		bson_iter_document(&key, &len, &data);
		bson_init_static(&b, data, len);
		return bson_equal(&a, &b);
	}
	return false;
}

/* specs (an array) again into out, the one index names with its
 * expireAfterSeconds from index; *matched tells whether one did. */
static void
retime_specs(const bson_t *specs, const bson_t *index, bson_t *out, bool *matched)
{
	bson_iter_t iter, ttl;
	uint32_t n = 0;

	*matched = false;
	bson_iter_init_find(&ttl, index, "expireAfterSeconds");
	bson_iter_init(&iter, specs);
	while (bson_iter_next(&iter)) {
		bson_t spec, fresh;
		const uint8_t *data;
		uint32_t len;
		char key[16];

		bson_snprintf(key, sizeof key, "%u", n++);
		if (!BSON_ITER_HOLDS_DOCUMENT(&iter)) {
			bson_append_iter(out, key, -1, &iter);
			continue;
		}
		bson_iter_document(&iter, &len, &data);
		bson_init_static(&spec, data, len);
		if (!spec_matches(&spec, index)) {
			BSON_APPEND_DOCUMENT(out, key, &spec);
			continue;
		}
		*matched = true;
		bson_init(&fresh);
		bson_copy_to_excluding_noinit(&spec, &fresh, "expireAfterSeconds", NULL);
		bson_append_iter(&fresh, "expireAfterSeconds", -1, &ttl);
		BSON_APPEND_DOCUMENT(out, key, &fresh);
		bson_destroy(&fresh);
	}
}

bool
replay_marker_retime(mongoc_collection_t *meta, const char *target_ns, replay_marker_t *view,
		     const bson_t *index, bool *deferred, bson_error_t *error)
{
	restore_marker_t marker;
	bson_t specs = BSON_INITIALIZER;
	bool found, ok = true;

	*deferred = false;
	if (!marker_read(meta, target_ns, &marker, &found, error)) {
		csm_error_prefix(error, "cannot read the restore marker of '%s'", target_ns);
		bson_destroy(&specs);
		return false;
	}
	if (found)
		retime_specs(&marker.deferred_indexes, index, &specs, deferred);
	if (*deferred) {
		bson_destroy(&marker.deferred_indexes);
		bson_steal(&marker.deferred_indexes, &specs);
		bson_init(&specs);
		ok = marker_write(meta, &marker, error);
		if (ok)
			replay_marker_view(view, &marker);
	}
	bson_destroy(&specs);
	if (found)
		restore_marker_cleanup(&marker);
	return ok;
}
