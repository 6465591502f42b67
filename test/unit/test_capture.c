/*
 * Unit test of lib/capture and lib/staging without a server: where a
 * restarted capture resumes, which source versions get the split stage,
 * and how an event becomes staged documents (whole, or chunk parts).
 */
#include <mongoc/mongoc.h>
#include <string.h>

#include "capture.h"
#include "optime.h"
#include "staging.h"
#include "staging_format.h"
#include "unit.h"

#define CHECK_OK_START(call) CHECK_INT((call), CAPTURE_START_OK)

static void
set_token(bson_t *doc, const char *data)
{
	bson_reinit(doc);
	BSON_APPEND_UTF8(doc, "_data", data);
}

static const char *
token_data(const bson_t *token)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, token, "_data") && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return "";
}

/* What capture_choose_start reads, and what it fills. */
typedef struct start_inputs {
	capture_start_t start;
	staging_last_t last;
	checkpoint_t cp;
	token_file_t tf;
} start_inputs_t;

static void
inputs_init(start_inputs_t *in)
{
	capture_start_init(&in->start);
	staging_last_init(&in->last);
	checkpoint_init(&in->cp);
	token_file_init(&in->tf);
}

static void
inputs_cleanup(start_inputs_t *in)
{
	token_file_cleanup(&in->tf);
	checkpoint_cleanup(&in->cp);
	staging_last_cleanup(&in->last);
	capture_start_cleanup(&in->start);
}

/* The token file as writer wrote it at written_at_ms. */
static void
set_token_file(token_file_t *tf, const char *writer, const char *data, int64_t written_at_ms)
{
	set_token(&tf->resume_token, data);
	bson_free(tf->writer);
	tf->writer = bson_strdup(writer);
	tf->written_at_ms = written_at_ms;
}

static void
case_start_needs_a_point(void)
{
	capture_start_t start;
	staging_last_t last;

	capture_start_init(&start);
	staging_last_init(&last);
	CHECK_INT(capture_choose_start(NULL, &last, NULL, &start), CAPTURE_START_NONE);
	CHECK_INT(capture_choose_start(NULL, NULL, NULL, &start), CAPTURE_START_NONE);
	staging_last_cleanup(&last);
	capture_start_cleanup(&start);
}

static void
case_start_prefers_staged(void)
{
	capture_start_t start;
	staging_last_t last;
	checkpoint_t cp;
	token_file_t tf;

	capture_start_init(&start);
	staging_last_init(&last);
	checkpoint_init(&cp);
	token_file_init(&tf);

	/* A probe's token file written before the events were staged. */
	set_token(&tf.resume_token, "8200000001");
	tf.writer = bson_strdup("token-probe/dummy");
	tf.written_at_ms = 1000;
	tf.cluster_time.t = 500; /* an operationTime later than the staged events */
	last.seq = 7;
	set_token(&last.token, "8200000009");
	last.cluster_time = (optime_t){100, 0};
	last.staged_at_ms = 2000;
	CHECK_OK_START(capture_choose_start(&tf, &last, NULL, &start));
	CHECK_STR(token_data(&start.token), "8200000009");
	CHECK_STR(start.from, "staged events");

	/* A checkpoint behind the staged tail is stale. */
	cp.last_seq = 6;
	set_token(&cp.token, "8200000008");
	cp.heartbeat_ms = 1500;
	CHECK_OK_START(capture_choose_start(&tf, &last, &cp, &start));
	CHECK_STR(token_data(&start.token), "8200000009");

	/* One at the tail (an idle PBRT) is at or after it. */
	cp.last_seq = 7;
	set_token(&cp.token, "820000000F");
	cp.heartbeat_ms = 3000;
	CHECK_OK_START(capture_choose_start(&tf, &last, &cp, &start));
	CHECK_STR(token_data(&start.token), "820000000F");
	CHECK_STR(start.from, "checkpoint");

	/* Capture's own token file never beats what it staged. */
	bson_free(tf.writer);
	tf.writer = bson_strdup(CAPTURE_WRITER);
	tf.written_at_ms = 9000;
	CHECK_OK_START(capture_choose_start(&tf, &last, NULL, &start));
	CHECK_STR(token_data(&start.token), "8200000009");

	/* Nothing staged, no checkpoint: the token file, whoever wrote it. */
	staging_last_cleanup(&last);
	CHECK_OK_START(capture_choose_start(&tf, &last, NULL, &start));
	CHECK_STR(start.from, "token file");

	token_file_cleanup(&tf);
	checkpoint_cleanup(&cp);
	staging_last_cleanup(&last);
	capture_start_cleanup(&start);
}

/* A token file token-probe wrote after capture's own position. */
static void
case_start_newer_probe(void)
{
	start_inputs_t in;

	inputs_init(&in);
	set_token_file(&in.tf, "token-probe/dummy", "8200000100", 5000);
	in.last.seq = in.cp.last_seq = 7;
	set_token(&in.last.token, "8200000009");
	in.last.staged_at_ms = 2000;
	set_token(&in.cp.token, "820000000F");
	in.cp.heartbeat_ms = 3000;
	bson_strncpy(in.cp.state, CHECKPOINT_STATE_STOPPED, sizeof in.cp.state);

	/* Over staged events (with or without a checkpoint at the tail, in
	 * whatever state): the changes since them were never staged. */
	CHECK_INT(capture_choose_start(&in.tf, &in.last, NULL, &in.start), CAPTURE_START_GAP);
	CHECK_INT(capture_choose_start(&in.tf, &in.last, &in.cp, &in.start), CAPTURE_START_GAP);
	bson_strncpy(in.cp.state, CHECKPOINT_STATE_HISTORY_LOST, sizeof in.cp.state);
	CHECK_INT(capture_choose_start(&in.tf, &in.last, &in.cp, &in.start), CAPTURE_START_GAP);
	/* Written at the same millisecond as the newest staged write: not newer. */
	in.tf.written_at_ms = 3000;
	CHECK_OK_START(capture_choose_start(&in.tf, &in.last, &in.cp, &in.start));
	CHECK_STR(in.start.from, "checkpoint");
	CHECK(!in.start.newer_token_file_passed_over);
	in.tf.written_at_ms = 5000;

	/* Nothing staged, only a checkpoint: it loses nothing, it wins. */
	staging_last_cleanup(&in.last);
	in.cp.last_seq = 0;
	bson_strncpy(in.cp.state, CHECKPOINT_STATE_STOPPED, sizeof in.cp.state);
	CHECK_OK_START(capture_choose_start(&in.tf, &in.last, &in.cp, &in.start));
	CHECK_STR(in.start.from, "checkpoint");
	CHECK_STR(token_data(&in.start.token), "820000000F");
	CHECK(in.start.newer_token_file_passed_over);
	/* ... unless the source lost its history: a new init after an old run. */
	bson_strncpy(in.cp.state, CHECKPOINT_STATE_HISTORY_LOST, sizeof in.cp.state);
	CHECK_OK_START(capture_choose_start(&in.tf, &in.last, &in.cp, &in.start));
	CHECK_STR(in.start.from, "token file");
	CHECK_STR(token_data(&in.start.token), "8200000100");
	CHECK(!in.start.newer_token_file_passed_over);
	inputs_cleanup(&in);
}

static bool
has_split(int major, int minor, int patch)
{
	bson_t *info = BCON_NEW("versionArray", "[", BCON_INT32(major), BCON_INT32(minor),
				BCON_INT32(patch), BCON_INT32(0), "]");
	bool yes = capture_version_has_split_stage(info);

	bson_destroy(info);
	return yes;
}

static void
case_split_stage_versions(void)
{
	bson_t empty = BSON_INITIALIZER;

	CHECK(has_split(7, 0, 0));
	CHECK(has_split(8, 0, 3));
	CHECK(has_split(6, 0, 9));
	CHECK(has_split(6, 0, 14));
	CHECK(!has_split(6, 0, 8));
	CHECK(!has_split(6, 1, 0));
	CHECK(!has_split(5, 0, 20));
	CHECK(!capture_version_has_split_stage(&empty));
}

/* The clusterTime a resume token begins with, as MongoDB 4.2+ encodes it. */
static void
case_token_time(void)
{
	bson_t token = BSON_INITIALIZER;
	optime_t t;

	/* A 7.0 event token: 82, Timestamp(1671492295, 1), then the rest. */
	set_token(&token, "8263A0F2C7000000012B022C0100296E5A1004");
	CHECK(optime_from_token(&token, &t));
	CHECK_INT(t.t, 1671492295);
	CHECK_INT(t.i, 1);
	/* A PBRT is a token like any: lower-case hex reads the same. */
	set_token(&token, "82638f0e4b00000007");
	CHECK(optime_from_token(&token, &t));
	CHECK_INT(t.t, 0x638F0E4B);
	CHECK_INT(t.i, 7);
	/* Anything else is not read: too short, another first type, not hex. */
	set_token(&token, "82638F0E4B");
	CHECK(!optime_from_token(&token, &t));
	set_token(&token, "3C638F0E4B0000000700");
	CHECK(!optime_from_token(&token, &t));
	set_token(&token, "82638F0E4B0000000Z");
	CHECK(!optime_from_token(&token, &t));
	bson_reinit(&token);
	BSON_APPEND_INT32(&token, "_data", 1);
	CHECK(!optime_from_token(&token, &t));
	CHECK(!optime_from_token(NULL, &t));
	bson_destroy(&token);
}

static bson_t *
event_of_size(size_t payload, const char *optype, bool with_header)
{
	bson_t *ev = bson_new();
	bson_t id;
	char *big = bson_malloc(payload + 1);

	memset(big, 'x', payload);
	big[payload] = '\0';
	BSON_APPEND_DOCUMENT_BEGIN(ev, "_id", &id);
	BSON_APPEND_UTF8(&id, "_data", "82000000AA");
	bson_append_document_end(ev, &id);
	if (with_header) {
		BSON_APPEND_UTF8(ev, "operationType", optype);
		BSON_APPEND_TIMESTAMP(ev, "clusterTime", 77, 3);
		BSON_APPEND_DATE_TIME(ev, "wallTime", 123456);
	}
	BSON_APPEND_UTF8(ev, "big", big);
	bson_free(big);
	return ev;
}

static void
case_staged_forms(void)
{
	mongoc_client_t *client;
	staging_t *st;
	staging_batch_t batch;
	bson_error_t error;
	bson_iter_t it, sub;
	bson_t *small, *large, *frag2;
	uint32_t total = 0, first_len = 0;
	size_t i;

	mongoc_init();
	client = mongoc_client_new("mongodb://127.0.0.1:1/");
	st = staging_new(client, "db", "cdc", "db.coll", &error);
	CHECK(st != NULL);
	staging_batch_init(&batch, 41);

	small = event_of_size(100, "insert", true);
	CHECK(staging_batch_add_event(st, &batch, small, &error));
	CHECK_INT(batch.n, 1);
	CHECK(bson_iter_init_find(&it, batch.docs[0], "seq") && bson_iter_int64(&it) == 41);
	CHECK(bson_iter_init_find(&it, batch.docs[0], "operationType"));
	CHECK(bson_iter_init_find(&it, batch.docs[0], "event"));
	CHECK(bson_iter_init_find(&it, batch.docs[0], "status") &&
	      !strcmp(bson_iter_utf8(&it, NULL), "pending"));

	/* Under 16 MiB itself, over it with the staging fields. */
	large = event_of_size(BSON_MAX_DOC_SIZE - 150, "insert", true);
	CHECK(large->len <= BSON_MAX_DOC_SIZE);
	CHECK(staging_batch_add_event(st, &batch, large, &error));
	CHECK_INT(batch.n, 3);
	CHECK_INT(batch.events, 2);
	CHECK_INT(batch.next_seq, 44);
	for (i = 1; i < 3; i++) {
		const uint8_t *data;
		uint32_t len;
		bson_subtype_t subtype;

		CHECK(batch.docs[i]->len <= BSON_MAX_DOC_SIZE);
		CHECK(!bson_iter_init_find(&it, batch.docs[i], "event"));
		CHECK(bson_iter_init_find(&it, batch.docs[i], "chunk") &&
		      bson_iter_recurse(&it, &sub) && bson_iter_find(&sub, "index") &&
		      bson_iter_int32(&sub) == (int32_t)(i - 1));
		CHECK(bson_iter_init_find(&it, batch.docs[i], "eventBytes"));
		bson_iter_binary(&it, &subtype, &len, &data);
		if (i == 1)
			first_len = len;
		total += len;
	}
	/* The slices are the event's bytes, cut at STAGING_CHUNK_BYTES. */
	CHECK_INT(first_len, STAGING_CHUNK_BYTES);
	CHECK_INT(total, large->len);

	/* A later split fragment inherits operationType and clusterTime. */
	frag2 = event_of_size(10, "", false);
	CHECK(staging_batch_add_event(st, &batch, frag2, &error));
	CHECK(bson_iter_init_find(&it, batch.docs[3], "operationType") &&
	      !strcmp(bson_iter_utf8(&it, NULL), "insert"));
	CHECK(bson_iter_init_find(&it, batch.docs[3], "clusterTime"));

	staging_batch_reset(&batch);
	CHECK_INT(batch.n, 0);
	CHECK_INT(batch.first_seq, 45);
	bson_destroy(frag2);
	bson_destroy(large);
	bson_destroy(small);
	staging_batch_destroy(&batch);
	staging_destroy(st);
	mongoc_client_destroy(client);
	mongoc_cleanup();
}

static const unit_case_t cases[] = {
	{"start_needs_a_point", case_start_needs_a_point},
	{"start_prefers_staged", case_start_prefers_staged},
	{"start_newer_probe", case_start_newer_probe},
	{"split_stage_versions", case_split_stage_versions},
	{"staged_forms", case_staged_forms},
	{"token_time", case_token_time},
};

UNIT_MAIN(cases)
