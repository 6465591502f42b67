/*
 * Server-side cursors: an id -> cursor registry with a small vtable so find,
 * aggregate and change-stream cursors share getMore/killCursors. All calls
 * with server_lock held.
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
	 * (tailable awaitData) up to max_time_ms by pthread_cond_timedwait on
	 * server_oplog_cond. extra receives cursor-level fields to add beside
	 * nextBatch (postBatchResumeToken). false + error on failure.
	 */
	bool (*next_batch)(void *state, int32_t batch_size, int64_t max_time_ms,
			   bson_t *batch, bson_t *extra, bool *exhausted, bson_error_t *error);
	void (*destroy)(void *state);
} cursor_ops_t;

/* Registers a cursor on ns ("db.coll" or "db.$cmd.aggregate"); returns its
 * id (> 0). The registry owns state from now on. */
int64_t cursor_register(const char *ns, const cursor_ops_t *ops, void *state);

/* Finds a live cursor; NULL when unknown. */
typedef struct cursor cursor_t;
cursor_t *cursor_find(int64_t id);
const char *cursor_ns(const cursor_t *c);
void *cursor_state(cursor_t *c);
const cursor_ops_t *cursor_ops(const cursor_t *c);

/* Destroys a cursor (its ops->destroy(state)). */
void cursor_kill(int64_t id);

#endif
