/* A change-stream cursor of our own (cs_cursor.h). */
#include "cs_cursor.h"

#include <string.h>

struct cs_cursor {
	mongoc_client_t *client; /* borrowed */
	mongoc_client_session_t *session;
	uint32_t server_id;
	char *db, *coll; /* the cursor's namespace, for getMore/killCursors */
	int64_t id;      /* 0: closed */
	int32_t batch_size;
	int64_t max_await_ms;
	bson_t reply;       /* the current batch's reply */
	bson_iter_t batch;  /* in reply's firstBatch/nextBatch */
	bool in_batch;      /* batch has events still to read */
	bson_t pbrt;        /* the current batch's postBatchResumeToken */
	bool have_pbrt;     /* ... when it has one */
	bson_t event;       /* a view into reply */
	bson_t token;       /* the cached resume token */
	bool have_token;    /* ... once there is one */
	bool failed;        /* error and error_reply hold why */
	bson_error_t error; /* */
	bson_t error_reply; /* */
};

static void
fail(cs_cursor_t *c, uint32_t domain, uint32_t code, const char *message)
{
	c->failed = true;
	bson_set_error(&c->error, domain, code, "%s", message);
}

static void
set_token(cs_cursor_t *c, const bson_t *token)
{
	bson_destroy(&c->token);
	bson_copy_to(token, &c->token);
	c->have_token = true;
}

/* opts for a command on the cursor's server and session. */
static bool
command_opts(cs_cursor_t *c, bson_t *opts)
{
	bson_init(opts);
	BSON_APPEND_INT32(opts, "serverId", (int32_t)c->server_id);
	if (c->session && !mongoc_client_session_append(c->session, opts, &c->error)) {
		c->failed = true;
		return false;
	}
	return true;
}

/* Runs cmd on the cursor's server into c->reply; false (c->failed) on error. */
static bool
run(cs_cursor_t *c, const bson_t *cmd, bool read)
{
	const mongoc_read_prefs_t *prefs = mongoc_client_get_read_prefs(c->client);
	bson_t opts, reply;
	bool ok;

	if (!command_opts(c, &opts)) {
		bson_destroy(&opts);
		return false;
	}
	/* The aggregate inherits the client's read concern, as a watch does;
	 * a getMore takes none. */
	if (read)
		ok = mongoc_client_read_command_with_opts(c->client, c->db, cmd, prefs, &opts,
							  &reply, &c->error);
	else
		ok = mongoc_client_command_with_opts(c->client, c->db, cmd, prefs, &opts, &reply,
						     &c->error);
	bson_destroy(&opts);
	if (!ok) {
		c->failed = true;
		/* The connection failed: a killCursors now would wait on the
		 * same trouble; the server reaps the idle cursor itself. */
		if (c->error.domain == MONGOC_ERROR_STREAM ||
		    c->error.domain == MONGOC_ERROR_SERVER_SELECTION)
			c->id = 0;
		bson_destroy(&c->error_reply);
		bson_steal(&c->error_reply, &reply);
		return false;
	}
	bson_destroy(&c->reply);
	bson_steal(&c->reply, &reply);
	return true;
}

/* The cursor's namespace "db.coll" from the aggregate's reply. */
static bool
take_ns(cs_cursor_t *c, const char *ns)
{
	const char *dot = strchr(ns, '.');

	if (!dot || dot == ns || !dot[1])
		return false;
	bson_free(c->db);
	bson_free(c->coll);
	c->db = bson_strndup(ns, (size_t)(dot - ns));
	c->coll = bson_strdup(dot + 1);
	return true;
}

/* Reads reply's cursor: id, the batch (batch_key), postBatchResumeToken. */
static bool
take_batch(cs_cursor_t *c, const char *batch_key)
{
	bson_iter_t it, cur;
	bool have_id = false, have_batch = false;

	c->in_batch = c->have_pbrt = false;
	if (!bson_iter_init_find(&it, &c->reply, "cursor") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
	    !bson_iter_recurse(&it, &cur))
		goto bad;
	while (bson_iter_next(&cur)) {
		const char *k = bson_iter_key(&cur);

		if (!strcmp(k, "id") && BSON_ITER_HOLDS_INT(&cur)) {
			c->id = bson_iter_as_int64(&cur);
			have_id = true;
		} else if (!strcmp(k, "ns") && BSON_ITER_HOLDS_UTF8(&cur)) {
			if (!take_ns(c, bson_iter_utf8(&cur, NULL)))
				goto bad;
		} else if (!strcmp(k, batch_key) && BSON_ITER_HOLDS_ARRAY(&cur)) {
			have_batch = bson_iter_recurse(&cur, &c->batch);
		} else if (!strcmp(k, "postBatchResumeToken") && BSON_ITER_HOLDS_DOCUMENT(&cur)) {
			const uint8_t *data;
			uint32_t len;

			bson_iter_document(&cur, &len, &data);
			bson_destroy(&c->pbrt);
			if (!bson_init_static(&c->pbrt, data, len))
				goto bad;
			c->have_pbrt = true;
		}
	}
	if (!have_id || !have_batch)
		goto bad;
	c->in_batch = true;
	return true;
bad:
	c->id = 0;
	fail(c, MONGOC_ERROR_CURSOR, MONGOC_ERROR_CURSOR_INVALID_CURSOR,
	     "the change stream's reply has no valid cursor");
	return false;
}

/* The aggregate opening the stream. */
static void
aggregate_command(const cs_cursor_opts_t *opts, bson_t *cmd)
{
	bson_t pipeline, stage, spec, cursor;
	bson_iter_t it;
	char key[16];
	const char *k;
	uint32_t i = 1;

	bson_init(cmd);
	if (opts->coll)
		BSON_APPEND_UTF8(cmd, "aggregate", opts->coll);
	else
		BSON_APPEND_INT32(cmd, "aggregate", 1);
	BSON_APPEND_ARRAY_BEGIN(cmd, "pipeline", &pipeline);
	BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
	BSON_APPEND_DOCUMENT_BEGIN(&stage, "$changeStream", &spec);
	BSON_APPEND_UTF8(&spec, "fullDocument", opts->full_document);
	if (opts->resume_after)
		BSON_APPEND_DOCUMENT(&spec, "resumeAfter", opts->resume_after);
	if (opts->show_expanded_events)
		BSON_APPEND_BOOL(&spec, "showExpandedEvents", true);
	bson_append_document_end(&stage, &spec);
	bson_append_document_end(&pipeline, &stage);
	if (opts->stages && bson_iter_init(&it, opts->stages))
		while (bson_iter_next(&it)) {
			bson_uint32_to_string(i++, &k, key, sizeof key);
			bson_append_iter(&pipeline, k, -1, &it);
		}
	bson_append_array_end(cmd, &pipeline);
	BSON_APPEND_DOCUMENT_BEGIN(cmd, "cursor", &cursor);
	if (opts->batch_size > 0)
		BSON_APPEND_INT32(&cursor, "batchSize", opts->batch_size);
	bson_append_document_end(cmd, &cursor);
}

/* The session every command of the stream runs in (a getMore must come in
 * the aggregate's); none where the server has no sessions. */
static void
start_session(cs_cursor_t *c)
{
	mongoc_session_opt_t *so = mongoc_session_opts_new();
	bson_error_t ignored;

	mongoc_session_opts_set_causal_consistency(so, false);
	c->session = mongoc_client_start_session(c->client, so, &ignored);
	mongoc_session_opts_destroy(so);
}

cs_cursor_t *
cs_cursor_open(mongoc_client_t *client, const cs_cursor_opts_t *opts)
{
	cs_cursor_t *c = bson_malloc0(sizeof *c);
	mongoc_server_description_t *sd;
	bson_t cmd;

	c->client = client;
	c->db = bson_strdup(opts->db);
	c->batch_size = opts->batch_size;
	c->max_await_ms = opts->max_await_ms;
	bson_init(&c->reply);
	bson_init(&c->pbrt);
	bson_init(&c->token);
	bson_init(&c->error_reply);
	if (opts->resume_after)
		set_token(c, opts->resume_after);
	sd = mongoc_client_select_server(client, false, mongoc_client_get_read_prefs(client),
					 &c->error);
	if (!sd) {
		c->failed = true;
		return c;
	}
	c->server_id = mongoc_server_description_id(sd);
	mongoc_server_description_destroy(sd);
	start_session(c);
	aggregate_command(opts, &cmd);
	if (run(c, &cmd, true) && take_batch(c, "firstBatch") && !c->coll)
		fail(c, MONGOC_ERROR_CURSOR, MONGOC_ERROR_CURSOR_INVALID_CURSOR,
		     "the change stream's reply has no cursor namespace");
	bson_destroy(&cmd);
	return c;
}

static bool
get_more(cs_cursor_t *c)
{
	bson_t cmd = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_INT64(&cmd, "getMore", c->id);
	BSON_APPEND_UTF8(&cmd, "collection", c->coll);
	if (c->batch_size > 0)
		BSON_APPEND_INT32(&cmd, "batchSize", c->batch_size);
	if (c->max_await_ms > 0)
		BSON_APPEND_INT64(&cmd, "maxTimeMS", c->max_await_ms);
	ok = run(c, &cmd, false) && take_batch(c, "nextBatch");
	bson_destroy(&cmd);
	return ok;
}

/* The batch's next event into c->event; false at its end (then the
 * postBatchResumeToken is the token). */
static bool
pop(cs_cursor_t *c)
{
	const uint8_t *data;
	uint32_t len;
	bson_iter_t id, ahead;

	if (!c->in_batch || !bson_iter_next(&c->batch)) {
		c->in_batch = false;
		if (c->have_pbrt)
			set_token(c, &c->pbrt);
		return false;
	}
	if (!BSON_ITER_HOLDS_DOCUMENT(&c->batch))
		goto bad;
	bson_iter_document(&c->batch, &len, &data);
	if (!bson_init_static(&c->event, data, len))
		goto bad;
	/* The specification: an event without its resume token ends the
	 * stream (it could never be resumed after). */
	if (!bson_iter_init_find(&id, &c->event, "_id") || !BSON_ITER_HOLDS_DOCUMENT(&id)) {
		fail(c, MONGOC_ERROR_CURSOR, MONGOC_ERROR_CHANGE_STREAM_NO_RESUME_TOKEN,
		     "Cannot provide resume functionality when the resume token is missing");
		return false;
	}
	ahead = c->batch;
	if (!bson_iter_next(&ahead) && c->have_pbrt) {
		set_token(c, &c->pbrt);
	} else {
		bson_t token;

		bson_iter_document(&id, &len, &data);
		if (!bson_init_static(&token, data, len))
			goto bad;
		set_token(c, &token);
	}
	return true;
bad:
	fail(c, MONGOC_ERROR_CURSOR, MONGOC_ERROR_CURSOR_INVALID_CURSOR,
	     "the change stream's batch holds an invalid event");
	return false;
}

bool
cs_cursor_next(cs_cursor_t *c, const bson_t **event)
{
	*event = NULL;
	if (c->failed)
		return false;
	if (!pop(c)) {
		if (c->failed || c->id == 0 || !get_more(c) || !pop(c))
			return false;
	}
	*event = &c->event;
	return true;
}

bool
cs_cursor_error(const cs_cursor_t *c, bson_error_t *error, const bson_t **reply)
{
	if (reply)
		*reply = &c->error_reply;
	if (!c->failed)
		return false;
	if (error)
		*error = c->error;
	return true;
}

const bson_t *
cs_cursor_resume_token(const cs_cursor_t *c)
{
	return c->have_token ? &c->token : NULL;
}

/* killCursors, best effort: the server reaps the cursor anyway. */
static void
kill_cursor(cs_cursor_t *c)
{
	bson_t cmd = BSON_INITIALIZER, ids, opts, reply;
	bson_error_t ignored;

	BSON_APPEND_UTF8(&cmd, "killCursors", c->coll);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "cursors", &ids);
	BSON_APPEND_INT64(&ids, "0", c->id);
	bson_append_array_end(&cmd, &ids);
	if (command_opts(c, &opts))
		mongoc_client_command_with_opts(c->client, c->db, &cmd, NULL, &opts, &reply,
						&ignored);
	else
		bson_init(&reply);
	bson_destroy(&reply);
	bson_destroy(&opts);
	bson_destroy(&cmd);
}

void
cs_cursor_destroy(cs_cursor_t *c)
{
	if (!c)
		return;
	if (c->id != 0 && c->coll)
		kill_cursor(c);
	if (c->session)
		mongoc_client_session_destroy(c->session);
	bson_destroy(&c->reply);
	bson_destroy(&c->pbrt);
	bson_destroy(&c->token);
	bson_destroy(&c->error_reply);
	bson_free(c->db);
	bson_free(c->coll);
	bson_free(c);
}
