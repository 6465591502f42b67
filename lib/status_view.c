/* Reading what cdc-status shows (status_view.h). */
#include "status_view.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsonfield.h"
#include "clock.h"
#include "error.h"
#include "staging_format.h"
#include "staging_query.h"

#define LEASE_CAPTURE_PREFIX "lease:capture:"
#define TOKEN_SUFFIX ".token"

void
status_view_cleanup(status_view_t *v)
{
	if (v->has_checkpoint)
		checkpoint_cleanup(&v->cp);
	if (v->has_marker)
		restore_marker_cleanup(&v->marker);
	v->has_checkpoint = v->has_marker = false;
}

/* Adds name to the list unless it is there already. */
static void
list_add(char ***list, size_t *n, const char *name)
{
	for (size_t k = 0; k < *n; k++)
		if (strcmp((*list)[k], name) == 0)
			return;
	*list = bson_realloc(*list, (*n + 2) * sizeof **list);
	(*list)[(*n)++] = bson_strdup(name);
	(*list)[*n] = NULL;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ns a meta document is about, "" when none. */
static void
meta_doc_ns(const bson_t *doc, char *ns, size_t size)
{
	char id[512];

	ns[0] = '\0';
	if (bsonfield_utf8(doc, META_F_SOURCE_NS, ns, size))
		return;
	if (!bsonfield_utf8(doc, META_F_ID, id, sizeof id))
		return;
	if (strncmp(id, STAGING_CHECKPOINT_ID_PREFIX, strlen(STAGING_CHECKPOINT_ID_PREFIX)) == 0)
		bson_strncpy(ns, id + strlen(STAGING_CHECKPOINT_ID_PREFIX), size);
	else if (strncmp(id, LEASE_CAPTURE_PREFIX, strlen(LEASE_CAPTURE_PREFIX)) == 0)
		bson_strncpy(ns, id + strlen(LEASE_CAPTURE_PREFIX), size);
}

/* The token files "DB.*.token" of state_dir. */
static void
list_token_files(const char *state_dir, const char *db, char ***list, size_t *n)
{
	DIR *dir = opendir(state_dir);
	struct dirent *entry;
	size_t db_len = strlen(db), len;
	char ns[256];

	if (!dir)
		return;
	while ((entry = readdir(dir))) {
		len = strlen(entry->d_name);
		if (len <= db_len + 1 + strlen(TOKEN_SUFFIX) || len >= sizeof ns ||
		    strncmp(entry->d_name, db, db_len) != 0 || entry->d_name[db_len] != '.' ||
		    strcmp(entry->d_name + len - strlen(TOKEN_SUFFIX), TOKEN_SUFFIX) != 0)
			continue;
		memcpy(ns, entry->d_name, len - strlen(TOKEN_SUFFIX));
		ns[len - strlen(TOKEN_SUFFIX)] = '\0';
		list_add(list, n, ns);
	}
	closedir(dir);
}

/* The distinct ns of the staged documents (the {ns: 1, ...} indexes serve it). */
static bool
list_staged(mongoc_collection_t *staging, const char *prefix, char ***list, size_t *n,
	    bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, reply;
	bson_iter_t it, values;
	bool ok;

	BSON_APPEND_UTF8(&cmd, "distinct", mongoc_collection_get_name(staging));
	BSON_APPEND_UTF8(&cmd, "key", STAGED_F_NS);
	ok = mongoc_collection_read_command_with_opts(staging, &cmd, NULL, NULL, &reply, error);
	if (ok && bson_iter_init_find(&it, &reply, "values") && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &values))
		while (bson_iter_next(&values))
			if (BSON_ITER_HOLDS_UTF8(&values) &&
			    strncmp(bson_iter_utf8(&values, NULL), prefix, strlen(prefix)) == 0)
				list_add(list, n, bson_iter_utf8(&values, NULL));
	if (!ok)
		csm_error_prefix(error, "cannot list the staged namespaces of '%s'",
				 mongoc_collection_get_name(staging));
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return ok;
}

bool
status_view_list(mongoc_collection_t *staging, mongoc_collection_t *meta, const char *db,
		 const char *state_dir, char ***list, size_t *n, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, projection;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	char ns[256], *prefix = bson_strdup_printf("%s.", db);
	bool ok = true;

	*list = bson_malloc0(sizeof **list);
	*n = 0;
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &projection);
	BSON_APPEND_INT32(&projection, META_F_ID, 1);
	BSON_APPEND_INT32(&projection, META_F_SOURCE_NS, 1);
	bson_append_document_end(&opts, &projection);
	cursor = mongoc_collection_find_with_opts(meta, &filter, &opts, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		meta_doc_ns(doc, ns, sizeof ns);
		if (strncmp(ns, prefix, strlen(prefix)) == 0 && ns[strlen(prefix)])
			list_add(list, n, ns);
	}
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read '%s'", mongoc_collection_get_name(meta));
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	ok = ok && list_staged(staging, prefix, list, n, error);
	if (ok && state_dir)
		list_token_files(state_dir, db, list, n);
	qsort(*list, *n, sizeof **list, cmp_names);
	bson_free(prefix);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

/* The target ns of ns's restore marker (the one whose sourceNs is ns). */
static bool
find_target_ns(mongoc_collection_t *meta, const char *ns, char *target_ns, size_t size,
	       bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bool ok = true;

	bson_strncpy(target_ns, ns, size);
	BSON_APPEND_UTF8(&filter, META_F_SOURCE_NS, ns);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cursor = mongoc_collection_find_with_opts(meta, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &doc))
		bsonfield_utf8(doc, META_F_NS, target_ns, size);
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read the restore marker of '%s'", ns);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

/* The staged counts and the newest applied event's time. */
static bool
read_staged(mongoc_collection_t *staging, status_view_t *v, bson_error_t *error)
{
	bson_t done;
	optime_t t;
	int64_t seq;

	if (!staging_query_edge(staging, v->ns, NULL, true, &v->staged, NULL, error) ||
	    !staging_query_count(staging, v->ns, STAGING_STATUS_PENDING, &v->pending, error) ||
	    !staging_query_count(staging, v->ns, NULL, &v->staging_docs, error) ||
	    !staging_query_edge(staging, v->ns, STAGING_STATUS_DONE, true, &seq, &done, error))
		return false;
	v->applied = seq;
	if (seq > 0) {
		v->applied_wall_ms = bsonfield_date(&done, STAGED_F_WALL_TIME);
		if (v->applied_wall_ms <= 0 && optime_from_doc(&done, STAGED_F_CLUSTER_TIME, &t))
			v->applied_wall_ms = (int64_t)t.t * 1000;
		bson_destroy(&done);
	}
	return true;
}

/* The target side of ns: checkpoint, marker, staged events, leases. */
static bool
read_target(mongoc_collection_t *staging, mongoc_collection_t *meta, status_view_t *v,
	    bson_error_t *error)
{
	char lease_name[300];
	bool found = false;

	checkpoint_init(&v->cp);
	v->has_checkpoint = true;
	if (!checkpoint_read(meta, v->ns, &v->cp, &found, error))
		return false;
	if (!found) {
		checkpoint_cleanup(&v->cp);
		v->has_checkpoint = false;
	}
	restore_marker_init(&v->marker);
	v->has_marker = true;
	if (!find_target_ns(meta, v->ns, v->target_ns, sizeof v->target_ns, error) ||
	    !marker_read(meta, v->target_ns, &v->marker, &found, error))
		return false;
	if (!found) {
		restore_marker_cleanup(&v->marker);
		v->has_marker = false;
	}
	if (!read_staged(staging, v, error))
		return false;
	bson_snprintf(lease_name, sizeof lease_name, "capture:%s", v->ns);
	if (!lease_read(meta, lease_name, &v->capture_lease, error))
		return false;
	bson_snprintf(lease_name, sizeof lease_name, "apply:%s", v->target_ns);
	return lease_read(meta, lease_name, &v->apply_lease, error);
}

bool
status_view_read(mongoc_collection_t *staging, mongoc_collection_t *meta, const char *ns,
		 const char *state_dir, status_view_t *v, bson_error_t *error)
{
	memset(v, 0, sizeof *v);
	bson_strncpy(v->ns, ns, sizeof v->ns);
	v->now_ms = clock_wall_ms();
	if (!read_target(staging, meta, v, error)) {
		status_view_cleanup(v);
		return false;
	}
	v->has_files = state_dir != NULL;
	if (state_dir)
		status_files_read(state_dir, ns, &v->files);
	return true;
}
