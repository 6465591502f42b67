/* The namespaces of a database stream and its position file (capture_dbns.h). */
#include "capture_dbns.h"

#include <inttypes.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "marker.h"
#include "names.h"

bool
dbns_set_init(dbns_set_t *set, const char *db, const char *state_dir, bson_error_t *error)
{
	char *ns = bson_strdup_printf("%s.*", db);
	bool ok = true;

	memset(set, 0, sizeof *set);
	set->db = db;
	set->pos_path = token_file_path(state_dir, db, NULL);
	if (!token_file_read(set->pos_path, &set->pos, error)) {
		if (error->code == CSM_EXIT_NOINPUT)
			csm_error_set(error, CSM_EXIT_NOINPUT,
				      "no position file '%s' for the stream of database '%s': run "
				      "token-probe --db %s (without --coll) first",
				      set->pos_path, db, db);
		ok = false;
	} else if (strcmp(set->pos.ns, ns) != 0) {
		csm_error_set(
			error, CSM_EXIT_DATAERR,
			"position file '%s' is for '%s', not '%s'; give the right --state-dir",
			set->pos_path, set->pos.ns, ns);
		ok = false;
	}
	bson_free(ns);
	return ok;
}

void
dbns_set_cleanup(dbns_set_t *set)
{
	bson_error_t error;
	size_t i;

	for (i = 0; i < set->n; i++) {
		dbns_t *x = set->ns[i];

		if (x->lease && !lease_release(x->lease, &error))
			log_warn("%s; it expires by itself", error.message);
		lease_destroy(x->lease);
		capture_ns_cleanup(&x->cns);
		bson_free(x->coll);
		bson_free(x);
	}
	bson_free(set->ns);
	bson_free(set->pos_path);
	token_file_cleanup(&set->pos);
	memset(set, 0, sizeof *set);
}

dbns_t *
dbns_find(const dbns_set_t *set, const char *coll)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (!strcmp(set->ns[i]->coll, coll))
			return set->ns[i];
	return NULL;
}

/* The position file's entry for coll: its seq (0: none) into *seq. */
static bool
known_seq(const dbns_set_t *set, const char *coll, int64_t *seq)
{
	bson_iter_t it, child;

	*seq = 0;
	if (!bson_iter_init_find(&it, &set->pos.namespaces, coll) || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	if (bson_iter_recurse(&it, &child) && bson_iter_find(&child, "seq") &&
	    BSON_ITER_HOLDS_NUMBER(&child))
		*seq = bson_iter_as_int64(&child);
	return true;
}

bool
dbns_known(const dbns_set_t *set, const char *coll)
{
	int64_t seq;

	return known_seq(set, coll, &seq);
}

static lease_t *
open_lease(dbns_set_t *set, const char *ns, bson_error_t *error)
{
	char *meta_name = marker_meta_coll_name(set->staging_coll);
	char *name = bson_strdup_printf("capture:%s", ns);
	lease_t *lease =
		lease_open(set->target_uri, set->db, meta_name, name, "cdc-capture", error);

	bson_free(name);
	bson_free(meta_name);
	return lease;
}

/* Opens x's staging; a namespace stopped at a DDL event is STOPPED. */
static bool
open_ns(dbns_set_t *set, dbns_t *x, bool at_start, bson_error_t *error)
{
	capture_start_t start;
	int64_t seq;
	bool ok;

	capture_start_init(&start);
	ok = capture_ns_open(&x->cns, set->target, set->db, set->staging_coll, &start, error);
	capture_start_cleanup(&start);
	if (!ok && error->domain == CSM_ERROR_DOMAIN && error->code == CSM_EXIT_DDL) {
		log_info("%s: not captured", error->message);
		x->state = DBNS_STOPPED;
		return true;
	}
	if (!ok)
		return false;
	known_seq(set, x->coll, &seq);
	/* Staged after the position was written (a crash in between). */
	if (at_start && capture_ns_staged_seq(&x->cns) > seq &&
	    x->cns.last_staged_at_ms >= set->pos.written_at_ms &&
	    !bson_empty(&x->cns.last_staged_token)) {
		log_info("'%s' holds events up to seq %" PRId64 " past the stream's position: "
			 "the stream skips them",
			 x->cns.ns, capture_ns_staged_seq(&x->cns));
		x->state = DBNS_SKIPPING;
	}
	return true;
}

dbns_t *
dbns_add(dbns_set_t *set, const char *coll, bool at_start, bson_error_t *error)
{
	dbns_t *x = bson_malloc0(sizeof *x);

	x->coll = bson_strdup(coll);
	capture_ns_init_in_stream(&x->cns, set->db, coll, &set->pos, &set->limits);
	set->ns = bson_realloc(set->ns, (set->n + 1) * sizeof *set->ns);
	set->ns[set->n++] = x;
	/* The selection was checked (64); the staging's own events, or a
	 * collection so named that appears later, are never captured. */
	if (!names_check_source(set->db, coll, set->staging_coll, error)) {
		log_warn("%s: never captured", error->message);
		x->state = DBNS_IGNORED;
		return x;
	}
	if (!(x->lease = open_lease(set, x->cns.ns, error)))
		return NULL;
	x->cns.lease = x->lease;
	if (!open_ns(set, x, at_start, error))
		return NULL;
	return x;
}

static const char *
state_name(dbns_state_t state)
{
	return state == DBNS_STOPPED ? "stopped" : state == DBNS_IGNORED ? "ignored" : "capturing";
}

bool
dbns_write_position(dbns_set_t *set, const bson_t *token, optime_t cluster_time,
		    bson_error_t *error)
{
	bson_t child;
	size_t i;
	bool ok;

	if (token && !bson_empty(token) && token != &set->pos.resume_token) {
		bson_destroy(&set->pos.resume_token);
		bson_copy_to(token, &set->pos.resume_token);
		set->pos.cluster_time = cluster_time;
	}
	bson_reinit(&set->pos.namespaces);
	for (i = 0; i < set->n; i++) {
		BSON_APPEND_DOCUMENT_BEGIN(&set->pos.namespaces, set->ns[i]->coll, &child);
		BSON_APPEND_INT64(&child, "seq", capture_ns_staged_seq(&set->ns[i]->cns));
		BSON_APPEND_UTF8(&child, "state", state_name(set->ns[i]->state));
		bson_append_document_end(&set->pos.namespaces, &child);
	}
	bson_free(set->pos.writer);
	set->pos.writer = bson_strdup(CAPTURE_WRITER);
	set->pos.written_at_ms = 0;
	ok = token_file_write(set->pos_path, &set->pos, error);
	if (!ok)
		csm_error_prefix(error, "the batches are staged; a restart skips what each holds");
	return ok;
}
