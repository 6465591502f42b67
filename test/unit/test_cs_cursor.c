/*
 * Tests of lib/cs_cursor (our own change-stream cursor) against a server:
 * the URI comes from CSM_TEST_URI, the database from CSM_TEST_DB
 * (test/expanded-capture.bats starts the server). What the change streams
 * driver specification asks of a client: the resume token of each event
 * and of an empty batch (postBatchResumeToken), resuming after a token, a
 * closed stream after invalidate, errors with the server's reply, and
 * killCursors on close.
 */
#include <mongoc/mongoc.h>

#include "cs_cursor.h"
#include "error.h"
#include "unit.h"

static mongoc_client_t *client;
static const char *db;

static void
disconnect(void)
{
	mongoc_client_destroy(client);
	mongoc_cleanup();
}

static void
connect_client(void)
{
	const char *uri = getenv("CSM_TEST_URI");

	db = getenv("CSM_TEST_DB");
	if (!uri || !db) {
		fprintf(stderr, "CSM_TEST_URI and CSM_TEST_DB must be set\n");
		exit(2);
	}
	if (client)
		return;
	mongoc_init();
	client = mongoc_client_new(uri);
	if (!client) {
		fprintf(stderr, "bad CSM_TEST_URI\n");
		exit(2);
	}
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	atexit(disconnect);
}

/* A stream on coll (batches of batch_size, getMores waiting 100 ms). */
static cs_cursor_t *
open_stream(const char *coll, const bson_t *resume_after, int32_t batch_size)
{
	cs_cursor_opts_t opts = {.db = db,
				 .coll = coll,
				 .full_document = "default",
				 .resume_after = resume_after,
				 .show_expanded_events = true,
				 .batch_size = batch_size,
				 .max_await_ms = 100};

	return cs_cursor_open(client, &opts);
}

static void
run_command(const char *json)
{
	bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, NULL);
	bson_error_t error;
	bool ok = mongoc_client_command_simple(client, db, cmd, NULL, NULL, &error);

	if (!ok)
		fprintf(stderr, "%s: %s\n", json, error.message);
	CHECK(ok);
	bson_destroy(cmd);
}

/* The _id of event (a copy in *id). */
static void
event_id(const bson_t *event, bson_t *id)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;
	bson_t view;

	bson_init(id);
	if (!bson_iter_init_find(&it, event, "_id") || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return;
	bson_iter_document(&it, &len, &data);
	if (bson_init_static(&view, data, len)) {
		bson_destroy(id);
		bson_copy_to(&view, id);
	}
}

static const char *
optype(const bson_t *event)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, event, "operationType") && BSON_ITER_HOLDS_UTF8(&it)
		       ? bson_iter_utf8(&it, NULL)
		       : "";
}

/* Next event of c, reading past empty batches (up to 50 of them). */
static const bson_t *
next_event(cs_cursor_t *c)
{
	const bson_t *event = NULL;

	for (int i = 0; i < 50 && !cs_cursor_next(c, &event); i++)
		if (cs_cursor_error(c, NULL, NULL))
			break;
	return event;
}

static void
case_tokens(void)
{
	cs_cursor_t *c;
	const bson_t *event, *token;
	bson_t first, id;

	connect_client();
	run_command("{\"create\": \"tok\"}");
	c = open_stream("tok", NULL, 2);
	CHECK(!cs_cursor_error(c, NULL, NULL));
	/* An empty batch: the token is its postBatchResumeToken. */
	CHECK(!cs_cursor_next(c, &event));
	CHECK(!event && !cs_cursor_error(c, NULL, NULL));
	CHECK(cs_cursor_resume_token(c) != NULL);
	run_command("{\"insert\": \"tok\", \"documents\": [{\"_id\": 1}, {\"_id\": 2}, "
		    "{\"_id\": 3}]}");
	/* Each event's _id is the token once it is read. */
	CHECK((event = next_event(c)) != NULL);
	event_id(event, &first);
	token = cs_cursor_resume_token(c);
	CHECK(token && bson_equal(token, &first));
	for (int i = 0; i < 2; i++) {
		CHECK((event = next_event(c)) != NULL);
		CHECK_STR(optype(event), "insert");
		event_id(event, &id);
		token = cs_cursor_resume_token(c);
		CHECK(token && bson_equal(token, &id));
		bson_destroy(&id);
	}
	cs_cursor_destroy(c);

	/* Resuming after the first event gives the second. */
	c = open_stream("tok", &first, 2);
	CHECK((event = next_event(c)) != NULL);
	{
		bson_iter_t it;

		CHECK(event && bson_iter_init(&it, event) &&
		      bson_iter_find_descendant(&it, "documentKey._id", &it) &&
		      bson_iter_as_int64(&it) == 2);
	}
	cs_cursor_destroy(c);
	bson_destroy(&first);
}

static void
case_invalidate(void)
{
	cs_cursor_t *c;
	const bson_t *event;

	connect_client();
	run_command("{\"create\": \"inv\"}");
	c = open_stream("inv", NULL, 10);
	run_command("{\"drop\": \"inv\"}");
	CHECK((event = next_event(c)) != NULL);
	CHECK_STR(event ? optype(event) : "", "drop");
	CHECK((event = next_event(c)) != NULL);
	CHECK_STR(event ? optype(event) : "", "invalidate");
	/* The server closed the cursor: no more events, no error, no getMore. */
	CHECK(!cs_cursor_next(c, &event));
	CHECK(!event && !cs_cursor_error(c, NULL, NULL));
	cs_cursor_destroy(c);
}

static void
case_error(void)
{
	bson_t *bad = BCON_NEW("_data", BCON_UTF8("not a token"));
	cs_cursor_t *c;
	const bson_t *reply, *event;
	bson_error_t error;
	bson_iter_t it;

	connect_client();
	c = open_stream("err", bad, 10);
	CHECK(cs_cursor_error(c, &error, &reply));
	CHECK_INT(error.domain, MONGOC_ERROR_SERVER);
	/* The server's reply as it came: the classifier reads its code. */
	CHECK(bson_iter_init_find(&it, reply, "code") && bson_iter_as_int64(&it) == error.code);
	CHECK_INT(csm_error_server_code(&error, reply), error.code);
	CHECK(!cs_cursor_next(c, &event) && !event);
	cs_cursor_destroy(c);
	bson_destroy(bad);
}

/* serverStatus metrics.cursor.open.total */
static int64_t
open_cursors(void)
{
	bson_t *cmd = BCON_NEW("serverStatus", BCON_INT32(1)), reply;
	bson_error_t error;
	bson_iter_t it;
	int64_t n = -1;

	if (mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &error) &&
	    bson_iter_init(&it, &reply) &&
	    bson_iter_find_descendant(&it, "metrics.cursor.open.total", &it))
		n = bson_iter_as_int64(&it);
	bson_destroy(&reply);
	bson_destroy(cmd);
	return n;
}

static void
case_kill(void)
{
	int64_t before;
	cs_cursor_t *c;

	connect_client();
	before = open_cursors();
	c = open_stream("kill", NULL, 10);
	CHECK(!cs_cursor_error(c, NULL, NULL));
	CHECK_INT(open_cursors(), before + 1);
	cs_cursor_destroy(c);
	CHECK_INT(open_cursors(), before);
}

static const unit_case_t cases[] = {
	{"tokens", case_tokens},
	{"invalidate", case_invalidate},
	{"error", case_error},
	{"kill", case_kill},
};

UNIT_MAIN(cases)
