/* Removing one namespace's migration from the target (cleanup.h). */
#include "cleanup.h"

#include <mongoc/mongoc.h>
#include <string.h>

#include "bsonfield.h"
#include "conn.h"
#include "error.h"
#include "lease.h"
#include "log.h"
#include "marker.h"
#include "meta_doc.h"
#include "server_codes.h"
#include "staging_format.h"

#define CLEANUP_MAX_TARGETS 16

typedef struct cleanup {
	const cleanup_opts_t *opts;
	FILE *out;
	char *ns, *meta_name;
	mongoc_client_t *client;
	mongoc_collection_t *staging, *meta;
	char *targets[CLEANUP_MAX_TARGETS]; /* target namespaces: the markers', else ns */
	size_t n_targets;
	lease_t *leases[CLEANUP_MAX_TARGETS + 1];
	size_t n_leases;
} cleanup_t;

/* The target namespaces: those of the restore markers of ns, else ns. */
static bool
find_targets(cleanup_t *c, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	char *target;
	bool ok = true;

	BSON_APPEND_UTF8(&filter, META_F_SOURCE_NS, c->ns);
	cursor = mongoc_collection_find_with_opts(c->meta, &filter, NULL, NULL);
	while (mongoc_cursor_next(cursor, &doc) && c->n_targets < CLEANUP_MAX_TARGETS)
		if ((target = bsonfield_utf8_dup(doc, META_F_NS)))
			c->targets[c->n_targets++] = target;
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read the restore markers of '%s'", c->ns);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&filter);
	if (ok && c->n_targets == 0)
		c->targets[c->n_targets++] = bson_strdup(c->ns);
	return ok;
}

/* Takes every lease of the namespace: nobody writes it while this runs. */
static bool
take_leases(cleanup_t *c, const char *uri, bson_error_t *error)
{
	char *name;

	for (size_t k = 0; k <= c->n_targets; k++) {
		name = k == 0 ? bson_strdup_printf("capture:%s", c->ns)
			      : bson_strdup_printf("apply:%s", c->targets[k - 1]);
		c->leases[c->n_leases] =
			lease_open(uri, c->opts->db, c->meta_name, name, "cdc-cleanup", error);
		bson_free(name);
		if (!c->leases[c->n_leases])
			return false;
		c->n_leases++;
	}
	return true;
}

/* delete_many of filter in coll; *n the count. */
static bool
delete_all(mongoc_collection_t *coll, const bson_t *filter, int64_t *n, bson_error_t *error)
{
	bson_t opts = BSON_INITIALIZER, reply;
	bool ok;

	meta_doc_durable(&opts);
	ok = mongoc_collection_delete_many(coll, filter, &opts, &reply, error);
	*n = ok ? bsonfield_int64(&reply, "deletedCount", 0) : 0;
	bson_destroy(&reply);
	bson_destroy(&opts);
	return ok;
}

/* Every lease still ours: false + 73 when one was lost meanwhile. */
static bool
hold_leases(cleanup_t *c, bson_error_t *error)
{
	for (size_t k = 0; k < c->n_leases; k++)
		if (!lease_hold(c->leases[k], error))
			return false;
	return true;
}

/* The staged events, the checkpoint, the restore markers of ns and the
 * records of the transactions across collections that name it. */
static bool
remove_documents(cleanup_t *c, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	char *id = bson_strdup_printf("%s%s", STAGING_CHECKPOINT_ID_PREFIX, c->ns);
	int64_t n;
	bool ok;

	BSON_APPEND_UTF8(&filter, STAGED_F_NS, c->ns);
	ok = hold_leases(c, error) && delete_all(c->staging, &filter, &n, error);
	if (ok)
		fprintf(c->out, "removed %" PRId64 " staged events of '%s' from '%s.%s'\n", n,
			c->ns, c->opts->db, c->opts->staging);
	bson_reinit(&filter);
	BSON_APPEND_UTF8(&filter, META_F_ID, id);
	ok = ok && hold_leases(c, error) && delete_all(c->meta, &filter, &n, error);
	if (ok && n > 0)
		fprintf(c->out, "removed the checkpoint of '%s'\n", c->ns);
	bson_reinit(&filter);
	BSON_APPEND_UTF8(&filter, META_F_SOURCE_NS, c->ns);
	ok = ok && hold_leases(c, error) && delete_all(c->meta, &filter, &n, error);
	if (ok && n > 0)
		fprintf(c->out, "removed the restore marker of '%s'\n", c->targets[0]);
	bson_reinit(&filter);
	BSON_APPEND_UTF8(&filter, META_F_PARTS "." META_F_NS, c->ns);
	ok = ok && hold_leases(c, error) && delete_all(c->meta, &filter, &n, error);
	if (ok && n > 0)
		fprintf(c->out, "removed %" PRId64 " records of transactions across '%s'\n", n,
			c->ns);
	if (!ok)
		csm_error_prefix(error, "cannot clean up '%s' on the target", c->ns);
	bson_free(id);
	bson_destroy(&filter);
	return ok;
}

/* --drop-target: the restored collections. */
static bool
drop_targets(cleanup_t *c, bson_error_t *error)
{
	for (size_t k = 0; k < c->n_targets && c->opts->drop_target; k++) {
		const char *dot = strchr(c->targets[k], '.');
		char *db = bson_strndup(c->targets[k], (size_t)(dot - c->targets[k]));
		mongoc_collection_t *coll = mongoc_client_get_collection(c->client, db, dot + 1);
		bool ok = hold_leases(c, error) && mongoc_collection_drop(coll, error);

		if (!ok && error->code == SERVER_NAMESPACE_NOT_FOUND)
			ok = true; /* dropped already */
		else if (ok)
			fprintf(c->out, "dropped the target collection '%s'\n", c->targets[k]);
		mongoc_collection_destroy(coll);
		bson_free(db);
		if (!ok) {
			csm_error_prefix(error, "cannot drop '%s'", c->targets[k]);
			return false;
		}
	}
	return true;
}

/* The leases, then the staging collections when nothing else is in them. */
static bool
remove_leases_and_empty(cleanup_t *c, bson_error_t *error)
{
	bson_t empty = BSON_INITIALIZER;
	int64_t staged, meta;

	for (size_t k = 0; k < c->n_leases; k++)
		if (!lease_remove(c->leases[k], error))
			return false;
	fprintf(c->out, "removed the leases of '%s'\n", c->ns);
	staged = mongoc_collection_count_documents(c->staging, &empty, NULL, NULL, NULL, error);
	meta = staged == 0
		       ? mongoc_collection_count_documents(c->meta, &empty, NULL, NULL, NULL, error)
		       : 0;
	if (staged < 0 || meta < 0)
		return false;
	if (staged > 0 || meta > 0)
		return true;
	/* Nothing of any namespace is left: the collections go too. */
	if ((!mongoc_collection_drop(c->staging, error) &&
	     error->code != SERVER_NAMESPACE_NOT_FOUND) ||
	    (!mongoc_collection_drop(c->meta, error) && error->code != SERVER_NAMESPACE_NOT_FOUND))
		return false;
	fprintf(c->out, "dropped '%s.%s' and '%s.%s': no collection is migrating any more\n",
		c->opts->db, c->opts->staging, c->opts->db, c->meta_name);
	return true;
}

bool
cleanup_run(const char *uri, const cleanup_opts_t *opts, FILE *out, bson_error_t *error)
{
	cleanup_t c = {.opts = opts, .out = out};
	bool ok;

	c.ns = bson_strdup_printf("%s.%s", opts->db, opts->coll);
	c.meta_name = marker_meta_coll_name(opts->staging);
	c.client = conn_client_new(uri, "target", error);
	ok = c.client != NULL;
	if (ok) {
		c.staging = mongoc_client_get_collection(c.client, opts->db, opts->staging);
		c.meta = mongoc_client_get_collection(c.client, opts->db, c.meta_name);
	}
	ok = ok && find_targets(&c, error) && take_leases(&c, uri, error) &&
	     remove_documents(&c, error) && drop_targets(&c, error) &&
	     remove_leases_and_empty(&c, error);
	for (size_t k = 0; k < c.n_leases; k++) {
		bson_error_t ignored;

		lease_release(c.leases[k], &ignored);
		lease_destroy(c.leases[k]);
	}
	for (size_t k = 0; k < c.n_targets; k++)
		bson_free(c.targets[k]);
	mongoc_collection_destroy(c.meta);
	mongoc_collection_destroy(c.staging);
	mongoc_client_destroy(c.client);
	bson_free(c.meta_name);
	bson_free(c.ns);
	return ok;
}
