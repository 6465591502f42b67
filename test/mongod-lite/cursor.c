/* The cursor registry and batching (see cursor.h). */
#include "cursor.h"

#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "server.h"

struct cursor {
	int64_t id;
	char *ns;
	const cursor_ops_t *ops;
	void *state;
	bool in_use; /* a getMore is running (it may wait with the lock released) */
	bool killed; /* killCursors came while in use: free when it ends */
	struct cursor *next;
};

#define BUCKETS 256
static struct cursor *table[BUCKETS];
static int64_t open_count;
static uint64_t id_state = 0x2545F4914F6CDD1Dull;
/* Guards the table, open_count, id_state and in_use/killed. */
static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER;

static size_t
bucket(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 56) % BUCKETS;
}

static struct cursor *
find_locked(int64_t id)
{
	for (struct cursor *c = table[bucket(id)]; c; c = c->next)
		if (c->id == id && !c->killed)
			return c;
	return NULL;
}

static int64_t
new_id(void)
{
	for (;;) {
		/* xorshift64: ids look random like mongod's and never repeat soon */
		id_state ^= id_state << 13;
		id_state ^= id_state >> 7;
		id_state ^= id_state << 17;
		int64_t id = (int64_t)(id_state & 0x3fffffffffffffffull);
		if (id > 0 && !find_locked(id))
			return id;
	}
}

int64_t
cursor_register(const char *ns, const cursor_ops_t *ops, void *state)
{
	struct cursor *c = calloc(1, sizeof *c);
	c->ns = strdup(ns);
	c->ops = ops;
	c->state = state;
	pthread_mutex_lock(&table_mutex);
	c->id = new_id();
	size_t b = bucket(c->id);
	c->next = table[b];
	table[b] = c;
	open_count++;
	pthread_mutex_unlock(&table_mutex);
	return c->id;
}

cursor_t *
cursor_find(int64_t id)
{
	pthread_mutex_lock(&table_mutex);
	struct cursor *c = find_locked(id);
	pthread_mutex_unlock(&table_mutex);
	return c;
}

bool
cursor_is_local(int64_t id, const char *ns)
{
	pthread_mutex_lock(&table_mutex);
	struct cursor *c = find_locked(id);
	bool local = c && c->ops->local && strcmp(c->ns, ns) == 0;
	pthread_mutex_unlock(&table_mutex);
	return local;
}

const char *
cursor_ns(const cursor_t *c)
{
	return c->ns;
}

void *
cursor_state(cursor_t *c)
{
	return c->state;
}

const cursor_ops_t *
cursor_ops(const cursor_t *c)
{
	return c->ops;
}

static void
destroy(struct cursor *c)
{
	for (struct cursor **p = &table[bucket(c->id)]; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (c->ops->destroy)
		c->ops->destroy(c->state);
	free(c->ns);
	free(c);
	open_count--;
}

void
cursor_kill(int64_t id)
{
	pthread_mutex_lock(&table_mutex);
	struct cursor *c = find_locked(id);
	if (c && c->in_use)
		c->killed = true;
	else if (c)
		destroy(c);
	pthread_mutex_unlock(&table_mutex);
}

int64_t
cursor_open_count(void)
{
	pthread_mutex_lock(&table_mutex);
	int64_t n = open_count;
	pthread_mutex_unlock(&table_mutex);
	return n;
}

bool
cursor_batch_append(bson_t *batch, uint32_t *count, size_t *bytes, const bson_t *doc)
{
	char key[16];
	const char *kp;

	if (*count > 0 && *bytes + doc->len > CURSOR_BATCH_BYTES)
		return false;
	size_t kl = bson_uint32_to_string((*count)++, &kp, key, sizeof key);
	bson_append_document(batch, kp, (int)kl, doc);
	*bytes += doc->len;
	return true;
}

/*
 * Runs next_batch straight into reply's {cursor: {<batch_name>: [...]}} and
 * closes it with id (from *id_for, called once the batch is known), ns and
 * the extra fields. On failure reply is left with a half-written cursor
 * document that the caller discards.
 */
static bool
fill_batch(bson_t *reply, const char *batch_name, const cursor_ops_t *ops, void *state,
	   int32_t batch_size, int64_t max_time_ms, bool *exhausted, bson_t *cur, bson_t *extra,
	   bson_error_t *error)
{
	bson_t batch;
	bson_append_document_begin(reply, "cursor", -1, cur);
	bson_append_array_begin(cur, batch_name, -1, &batch);
	bool ok = ops->next_batch(state, batch_size, max_time_ms, &batch, extra, exhausted, error);
	bson_append_array_end(cur, &batch);
	return ok;
}

/* Removes the half-written cursor document of a failed batch. */
static void
drop_cursor_doc(bson_t *reply)
{
	bson_t rest;
	bson_init(&rest);
	bson_copy_to_excluding_noinit(reply, &rest, "cursor", NULL);
	bson_reinit(reply);
	bson_concat(reply, &rest);
	bson_destroy(&rest);
}

static void
close_cursor_doc(bson_t *reply, bson_t *cur, int64_t id, const char *ns, const bson_t *extra)
{
	BSON_APPEND_INT64(cur, "id", id);
	BSON_APPEND_UTF8(cur, "ns", ns);
	bson_concat(cur, extra);
	bson_append_document_end(reply, cur);
}

bool
cursor_first_batch(const char *ns, const cursor_ops_t *ops, void *state, int32_t batch_size,
		   bool single_batch, bson_t *reply, bson_error_t *error)
{
	bson_t extra = BSON_INITIALIZER, cur;
	bool exhausted = false;
	int64_t id = 0;

	if (!fill_batch(reply, "firstBatch", ops, state, batch_size, 0, &exhausted, &cur, &extra,
			error)) {
		bson_append_document_end(reply, &cur);
		drop_cursor_doc(reply);
		ops->destroy(state);
		bson_destroy(&extra);
		return false;
	}
	if (exhausted || single_batch)
		ops->destroy(state);
	else
		id = cursor_register(ns, ops, state);
	close_cursor_doc(reply, &cur, id, ns, &extra);
	bson_destroy(&extra);
	return true;
}

bool
cursor_get_more(int64_t id, const char *ns, int32_t batch_size, int64_t max_time_ms, bson_t *reply,
		bson_error_t *error)
{
	bson_t extra = BSON_INITIALIZER, cur;
	bool exhausted = false;

	pthread_mutex_lock(&table_mutex);
	struct cursor *c = find_locked(id);
	if (!c || (ns && strcmp(c->ns, ns) != 0)) {
		pthread_mutex_unlock(&table_mutex);
		cmd_error(error, 43, "cursor id %" PRId64 " not found", id);
		bson_destroy(&extra);
		return false;
	}
	if (c->in_use) {
		pthread_mutex_unlock(&table_mutex);
		cmd_error(error, 43, "cursor id %" PRId64 " is in use by another getMore", id);
		bson_destroy(&extra);
		return false;
	}
	c->in_use = true;
	pthread_mutex_unlock(&table_mutex);
	bool ok = fill_batch(reply, "nextBatch", c->ops, c->state, batch_size, max_time_ms,
			     &exhausted, &cur, &extra, error);
	pthread_mutex_lock(&table_mutex);
	c->in_use = false;
	if (c->killed && ok) {
		cmd_error(error, 43, "cursor id %" PRId64 " was killed", id);
		ok = false;
	}
	if (!ok) {
		bson_append_document_end(reply, &cur);
		drop_cursor_doc(reply);
		destroy(c);
	} else if (exhausted) {
		close_cursor_doc(reply, &cur, 0, c->ns, &extra);
		destroy(c);
	} else {
		close_cursor_doc(reply, &cur, id, c->ns, &extra);
	}
	pthread_mutex_unlock(&table_mutex);
	bson_destroy(&extra);
	return ok;
}

typedef struct doclist {
	bson_t **docs;
	size_t n, pos;
} doclist_t;

static bool
doclist_next(void *state, int32_t batch_size, int64_t max_time_ms, bson_t *batch, bson_t *extra,
	     bool *exhausted, bson_error_t *error)
{
	doclist_t *dl = state;
	uint32_t count = 0;
	size_t bytes = 0;
	(void)max_time_ms;
	(void)extra;
	(void)error;
	while (dl->pos < dl->n && (batch_size <= 0 || count < (uint32_t)batch_size)) {
		if (!cursor_batch_append(batch, &count, &bytes, dl->docs[dl->pos]))
			break;
		bson_destroy(dl->docs[dl->pos]);
		dl->docs[dl->pos++] = NULL;
	}
	*exhausted = dl->pos >= dl->n;
	return true;
}

static void
doclist_destroy(void *state)
{
	doclist_t *dl = state;
	for (size_t i = dl->pos; i < dl->n; i++)
		bson_destroy(dl->docs[i]);
	free(dl->docs);
	free(dl);
}

const cursor_ops_t cursor_doclist_ops = {doclist_next, doclist_destroy, true};

void *
cursor_doclist_new(bson_t **docs, size_t n)
{
	doclist_t *dl = calloc(1, sizeof *dl);
	dl->docs = docs;
	dl->n = n;
	return dl;
}
