/*
 * The source side of cdc-capture (capture.h).
 */
#include <string.h>

#include "capture.h"
#include "catalog.h"
#include "error.h"

struct capture_source {
	mongoc_client_t *client; /* borrowed */
	mongoc_apm_callbacks_t *apm;
	bool has_split;
	bool has_expanded;
	char *db, *coll_name;
	char version[64];
	bool have_op_time;
	optime_t op_time;
};

static void
on_command_succeeded(const mongoc_apm_command_succeeded_t *event)
{
	capture_source_t *src = mongoc_apm_command_succeeded_get_context(event);
	const char *name = mongoc_apm_command_succeeded_get_command_name(event);
	const bson_t *reply = mongoc_apm_command_succeeded_get_reply(event);
	optime_t op_time;

	if (strcmp(name, "aggregate") != 0 && strcmp(name, "getMore") != 0)
		return;
	if (!optime_from_doc(reply, "operationTime", &op_time))
		return;
	/* Replies come in order on one client, but never step back anyway. */
	if (!src->have_op_time || optime_cmp(op_time, src->op_time) > 0) {
		src->op_time = op_time;
		src->have_op_time = true;
	}
}

/* buildInfo's versionArray into v[0..3); false when it has fewer than two
 * numbers. */
static bool
version_array(const bson_t *build_info, int64_t v[3])
{
	bson_iter_t it, arr;
	int n = 0;

	v[0] = v[1] = v[2] = 0;
	if (!bson_iter_init_find(&it, build_info, "versionArray") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return false;
	while (n < 3 && bson_iter_next(&arr)) {
		if (!BSON_ITER_HOLDS_NUMBER(&arr))
			return false;
		v[n++] = bson_iter_as_int64(&arr);
	}
	return n >= 2;
}

bool
capture_version_has_expanded_events(const bson_t *build_info)
{
	int64_t v[3];

	return version_array(build_info, v) && v[0] >= 6;
}

bool
capture_version_has_split_stage(const bson_t *build_info)
{
	int64_t v[3];

	if (!version_array(build_info, v))
		return false;
	/* 7.0 introduced the stage; 6.0.9 got it as a backport, 6.1-6.3 did not. */
	if (v[0] >= 7)
		return true;
	return v[0] == 6 && v[1] == 0 && v[2] >= 9;
}

capture_source_t *
capture_source_new(mongoc_client_t *client, const char *db, const char *coll, bson_error_t *error)
{
	capture_source_t *src;
	bson_t cmd = BSON_INITIALIZER, reply;
	bson_iter_t it;

	BSON_APPEND_INT32(&cmd, "buildInfo", 1);
	if (!mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, error)) {
		csm_error_prefix(error, "cannot run buildInfo on the source");
		bson_destroy(&reply);
		bson_destroy(&cmd);
		return NULL;
	}
	src = bson_malloc0(sizeof *src);
	src->client = client;
	src->db = bson_strdup(db);
	src->coll_name = bson_strdup(coll);
	src->has_split = capture_version_has_split_stage(&reply);
	src->has_expanded = capture_version_has_expanded_events(&reply);
	if (bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it))
		bson_strncpy(src->version, bson_iter_utf8(&it, NULL), sizeof src->version);
	bson_destroy(&reply);
	bson_destroy(&cmd);

	src->apm = mongoc_apm_callbacks_new();
	mongoc_apm_set_command_succeeded_cb(src->apm, on_command_succeeded);
	mongoc_client_set_apm_callbacks(client, src->apm, src);
	return src;
}

void
capture_source_destroy(capture_source_t *src)
{
	if (!src)
		return;
	mongoc_client_set_apm_callbacks(src->client, NULL, NULL);
	mongoc_apm_callbacks_destroy(src->apm);
	bson_free(src->db);
	bson_free(src->coll_name);
	bson_free(src);
}

bool
capture_source_has_split_stage(const capture_source_t *src)
{
	return src->has_split;
}

bool
capture_source_post_images(capture_source_t *src, bool *enabled, bson_error_t *error)
{
	bool exists;

	if (catalog_post_images(src->client, src->db, src->coll_name, &exists, enabled, error))
		return true;
	csm_error_prefix(error, "cannot read the options of '%s.%s' on the source", src->db,
			 src->coll_name);
	return false;
}

bool
capture_source_has_expanded_events(const capture_source_t *src)
{
	return src->has_expanded;
}

const char *
capture_source_version(const capture_source_t *src)
{
	return src->version;
}

bool
capture_source_op_time(const capture_source_t *src, optime_t *out)
{
	*out = src->op_time;
	return src->have_op_time;
}

bool
capture_source_idle_time(const capture_source_t *src, const bson_t *pbrt, optime_t *out)
{
	optime_t token_time;

	if (!capture_source_op_time(src, out))
		return false;
	if (optime_from_token(pbrt, &token_time) && optime_cmp(token_time, *out) < 0)
		*out = token_time;
	return true;
}

cs_cursor_t *
capture_stream_open(capture_source_t *src, const bson_t *resume_token,
		    const capture_stream_opts_t *opts)
{
	bson_t stages = BSON_INITIALIZER, stage, empty;
	cs_cursor_opts_t cs = {
		.db = src->db,
		.coll = src->coll_name,
		.full_document = opts->post_image      ? opts->post_image
				 : opts->update_lookup ? "updateLookup"
						       : "default",
		.resume_after = resume_token,
		.show_expanded_events = opts->expanded_events,
		.stages = &stages,
		.batch_size = opts->batch_size,
		.max_await_ms = opts->max_await_ms,
	};
	cs_cursor_t *stream;

	if (opts->match)
		BSON_APPEND_DOCUMENT(&stages, "0", opts->match);
	if (opts->split_events) {
		/* The split stage must be the last one. */
		BSON_APPEND_DOCUMENT_BEGIN(&stages, opts->match ? "1" : "0", &stage);
		BSON_APPEND_DOCUMENT_BEGIN(&stage, "$changeStreamSplitLargeEvent", &empty);
		bson_append_document_end(&stage, &empty);
		bson_append_document_end(&stages, &stage);
	}
	stream = cs_cursor_open(src->client, &cs);
	bson_destroy(&stages);
	return stream;
}

void
capture_start_init(capture_start_t *start)
{
	memset(start, 0, sizeof *start);
	bson_init(&start->token);
}

void
capture_start_cleanup(capture_start_t *start)
{
	bson_destroy(&start->token);
	capture_start_init(start);
}

static void
start_set(capture_start_t *start, const bson_t *token, optime_t cluster_time, const char *from)
{
	bson_destroy(&start->token);
	bson_copy_to(token, &start->token);
	start->cluster_time = cluster_time;
	start->from = from;
}

capture_start_result_t
capture_choose_start(const token_file_t *tf, const staging_last_t *last, const checkpoint_t *cp,
		     capture_start_t *start)
{
	int64_t newest_write_ms = 0;
	bool have = false, staged = false, lost = false, ours;

	capture_start_cleanup(start);
	if (last && last->seq > 0 && !bson_empty(&last->token)) {
		start_set(start, &last->token, last->cluster_time, "staged events");
		newest_write_ms = last->staged_at_ms;
		have = staged = true;
	}
	/*
	 * The checkpoint is written after its batch is staged, so a lastSeq
	 * not behind the staged tail means its token is at or after it.
	 */
	if (cp && !bson_empty(&cp->token) && cp->last_seq >= (last ? last->seq : 0)) {
		if (have && !cp->cluster_time.t)
			start_set(start, &cp->token, start->cluster_time, "checkpoint");
		else
			start_set(start, &cp->token, cp->cluster_time, "checkpoint");
		if (cp->heartbeat_ms > newest_write_ms)
			newest_write_ms = cp->heartbeat_ms;
		lost = !strcmp(cp->state, CHECKPOINT_STATE_HISTORY_LOST);
		have = true;
	}
	if (!tf || bson_empty(&tf->resume_token))
		return have ? CAPTURE_START_OK : CAPTURE_START_NONE;
	ours = tf->writer && !strncmp(tf->writer, CAPTURE_WRITER, strlen(CAPTURE_WRITER));
	if (have && (ours || tf->written_at_ms <= newest_write_ms))
		return CAPTURE_START_OK;
	/* A newer probe over staged events: resuming from it skips every
	 * change since them, resuming from them ignores a token the operator
	 * took to start anew. Only starting over is sure. */
	if (staged)
		return CAPTURE_START_GAP;
	/* Nothing staged: the checkpoint's position is older and loses nothing
	 * (the events after it are staged and replayed over any dump). */
	if (have && !lost) {
		start->newer_token_file_passed_over = true;
		return CAPTURE_START_OK;
	}
	start_set(start, &tf->resume_token, tf->cluster_time, "token file");
	return CAPTURE_START_OK;
}

bool
capture_is_ddl(const char *operation_type)
{
	static const char *const ddl[] = {"drop", "rename", "dropDatabase", "invalidate"};
	size_t i;

	for (i = 0; i < sizeof ddl / sizeof ddl[0]; i++)
		if (!strcmp(operation_type, ddl[i]))
			return true;
	return false;
}
