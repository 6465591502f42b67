/*
 * A database capture's records of the source transactions it stages in
 * several collections (txn_record.h; docs/DESIGN.md, "Staged events"):
 * the stream brings a transaction's events one after the other, so capture
 * knows which collections got which seqs of it; before it stages any of
 * them it writes (adds to) the transaction's record, which is how each
 * collection's cdc-replay learns that its part belongs with the others.
 *
 *	capture_dbtxn_read(&t, event);            every event read, in order
 *	capture_dbtxn_part(&t, ns, first, last);  after it is added to ns's batch
 *	capture_dbtxn_flush(&t, meta, &error);    before the batches are staged
 *
 * A record is written when the transaction has parts in two collections,
 * or when it may go on past what is staged now (the last event read is
 * one of its), or when it may have begun before (the first event read):
 * a capture restarted in its middle then adds the rest.
 */
#ifndef CSM_CAPTURE_DBTXN_H
#define CSM_CAPTURE_DBTXN_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "txn_record.h"

typedef struct capture_dbtxn_entry {
	bson_t *lsid; /* owned copy; key.lsid points into it */
	txn_key_t key;
	txn_record_t rec;
	bool dirty;     /* parts added since it was last written */
	bool continued; /* the first read: it may have begun before the resume point */
} capture_dbtxn_entry_t;

typedef struct capture_dbtxn {
	capture_dbtxn_entry_t *entries; /* transactions read since the last flush */
	size_t n, cap;
	bool open;    /* the last event read is of entries[n - 1] */
	bool started; /* an event was read since the stream (re)started */
} capture_dbtxn_t;

void capture_dbtxn_init(capture_dbtxn_t *t);
void capture_dbtxn_cleanup(capture_dbtxn_t *t);

/* The next event read from the stream (whatever collection it is for). */
void capture_dbtxn_read(capture_dbtxn_t *t, const bson_t *event);

/* The event read last was added to ns's batch as seqs first..last. */
void capture_dbtxn_part(capture_dbtxn_t *t, const char *ns, int64_t first, int64_t last);

/* Whether a flush has a record to write. */
bool capture_dbtxn_due(const capture_dbtxn_t *t);

/* Writes the records due (transient failures retried); false + error. */
bool capture_dbtxn_flush(capture_dbtxn_t *t, mongoc_collection_t *meta, bson_error_t *error);

#endif
