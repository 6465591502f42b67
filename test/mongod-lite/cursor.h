/*
 * Server-side cursors: an id -> cursor registry with a small vtable so find,
 * aggregate and change-stream cursors share getMore/killCursors. All calls
 * with server_lock held; the registry has its own mutex, so getMores of
 * cursors on different collections may run side by side (lock.h).
 */
#ifndef MLITE_CURSOR_H
#define MLITE_CURSOR_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cursor_ops {
	/*
	 * Appends up to batch_size documents (0 = no count limit; stay under
	 * 16 MiB of documents per batch) to the BSON array builder `batch`,
	 * numbering keys from 0. Sets *exhausted when nothing is left. May wait
	 * (tailable awaitData) up to max_time_ms in server_oplog_wait (lock.h).
	 * extra receives cursor-level fields to add beside
	 * nextBatch (postBatchResumeToken). false + error on failure.
	 */
	bool (*next_batch)(void *state, int32_t batch_size, int64_t max_time_ms, bson_t *batch,
			   bson_t *extra, bool *exhausted, bson_error_t *error);
	void (*destroy)(void *state);
	/* next_batch reads nothing but the cursor's own collection (or its
	 * own documents) and never waits: its getMore may run with
	 * server_lock shared and the collection's lock held (lock.h). */
	bool local;
} cursor_ops_t;

/* Registers a cursor on ns ("db.coll" or "db.$cmd.aggregate"); returns its
 * id (> 0). The registry owns state from now on. */
int64_t cursor_register(const char *ns, const cursor_ops_t *ops, void *state);

/* True when cursor id is live, on ns, and its ops are local. */
bool cursor_is_local(int64_t id, const char *ns);

/* Finds a live cursor; NULL when unknown. Borrowed: valid while
 * server_lock stays held exclusively. */
typedef struct cursor cursor_t;
cursor_t *cursor_find(int64_t id);
const char *cursor_ns(const cursor_t *c);
void *cursor_state(cursor_t *c);
const cursor_ops_t *cursor_ops(const cursor_t *c);

/* Destroys a cursor (its ops->destroy(state)). */
void cursor_kill(int64_t id);

/* ---- Helpers for find/aggregate/listCollections (part 1). ---- */

/* A batch holds at most this many bytes of documents (one larger document
 * still goes alone). */
#define CURSOR_BATCH_BYTES (16 * 1024 * 1024)
/* A first batch without batchSize holds this many documents. */
#define CURSOR_DEFAULT_FIRST_BATCH 101

/*
 * Serves the first batch of a new cursor on ns and appends {cursor:
 * {firstBatch, id, ns, <extra>}} to reply. Registers the cursor when
 * documents remain (single_batch: never), else destroys state. Takes
 * ownership of state in every case. false + error when next_batch fails.
 */
bool cursor_first_batch(const char *ns, const cursor_ops_t *ops, void *state, int32_t batch_size,
			bool single_batch, bson_t *reply, bson_error_t *error);

/*
 * getMore on cursor id: appends {cursor: {nextBatch, id, ns, <extra>}}.
 * 43 CursorNotFound when unknown or its ns differs; the cursor is freed
 * when exhausted or when next_batch fails.
 */
bool cursor_get_more(int64_t id, const char *ns, int32_t batch_size, int64_t max_time_ms,
		     bson_t *reply, bson_error_t *error);

/* How many cursors are open (serverStatus metrics.cursor.open.total). */
int64_t cursor_open_count(void);

/* A cursor over a list of documents it owns (aggregate results, catalog
 * listings): docs is an array from malloc of n bson_t * from bson_new*. */
extern const cursor_ops_t cursor_doclist_ops;
void *cursor_doclist_new(bson_t **docs, size_t n);

/* Appends doc to a batch array builder as element *count; returns false
 * (and appends nothing) when the batch already holds *bytes and doc would
 * push it over CURSOR_BATCH_BYTES. */
bool cursor_batch_append(bson_t *batch, uint32_t *count, size_t *bytes, const bson_t *doc);

#endif
