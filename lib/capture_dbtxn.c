/* A database capture's cross-collection transaction records (capture_dbtxn.h). */
#include "capture_dbtxn.h"

#include <string.h>

#include "error.h"
#include "retry.h"
#include "staging.h"

void
capture_dbtxn_init(capture_dbtxn_t *t)
{
	memset(t, 0, sizeof *t);
}

static void
entry_free(capture_dbtxn_entry_t *e)
{
	bson_destroy(e->lsid);
	txn_record_cleanup(&e->rec);
}

void
capture_dbtxn_cleanup(capture_dbtxn_t *t)
{
	for (size_t k = 0; k < t->n; k++)
		entry_free(&t->entries[k]);
	bson_free(t->entries);
	capture_dbtxn_init(t);
}

void
capture_dbtxn_read(capture_dbtxn_t *t, const bson_t *event)
{
	txn_key_t key;
	optime_t ct = OPTIME_ZERO;
	bson_t lsid;

	bool first = !t->started;

	t->started = true;
	optime_from_doc(event, EVENT_F_CLUSTER_TIME, &ct);
	if (!txn_key_of(event, ct, &key)) {
		t->open = false;
		return;
	}
	if (t->open && txn_key_same(&key, &t->entries[t->n - 1].key))
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->entries = bson_realloc(t->entries, t->cap * sizeof *t->entries);
	}
	capture_dbtxn_entry_t *e = &t->entries[t->n++];
	memset(e, 0, sizeof *e);
	e->lsid = bson_init_static(&lsid, key.lsid, key.lsid_len) ? bson_copy(&lsid) : bson_new();
	e->key = key;
	e->key.lsid = bson_get_data(e->lsid);
	e->key.lsid_len = e->lsid->len;
	txn_record_init(&e->rec);
	e->continued = first;
	t->open = true;
}

void
capture_dbtxn_part(capture_dbtxn_t *t, const char *ns, int64_t first, int64_t last)
{
	if (!t->open)
		return;
	txn_record_add(&t->entries[t->n - 1].rec, ns, first, last);
	t->entries[t->n - 1].dirty = true;
}

/* Whether entries[k] must be written now. */
static bool
entry_due(const capture_dbtxn_t *t, size_t k)
{
	const capture_dbtxn_entry_t *e = &t->entries[k];

	return e->dirty && (e->rec.n >= 2 || e->continued || (t->open && k == t->n - 1));
}

bool
capture_dbtxn_due(const capture_dbtxn_t *t)
{
	for (size_t k = 0; k < t->n; k++)
		if (entry_due(t, k))
			return true;
	return false;
}

static bool
write_entry(capture_dbtxn_entry_t *e, mongoc_collection_t *meta, bson_error_t *error)
{
	retry_t retry;

	retry_init(&retry, 0);
	while (!txn_record_write(meta, &e->key, &e->rec, error))
		if (!csm_error_is_transient(error, NULL) ||
		    !retry_wait(&retry, "writing a source transaction's record", error))
			return false;
	e->dirty = false;
	return true;
}

bool
capture_dbtxn_flush(capture_dbtxn_t *t, mongoc_collection_t *meta, bson_error_t *error)
{
	size_t keep = t->open ? t->n - 1 : t->n;

	for (size_t k = 0; k < t->n; k++)
		if (entry_due(t, k) && !write_entry(&t->entries[k], meta, error))
			return false;
	/* Only the one that may go on is kept: its next parts add to it. */
	for (size_t k = 0; k < keep; k++)
		entry_free(&t->entries[k]);
	if (keep && t->open)
		t->entries[0] = t->entries[t->n - 1];
	t->n -= keep;
	return true;
}
