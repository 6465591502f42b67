/*
 * configureFailPoint failCommand, as real mongod with test commands on:
 *   {configureFailPoint: "failCommand",
 *    mode: "alwaysOn" | "off" | {times: N} | {skip: N} | {activationProbability: p},
 *    data: {failCommands: [names], errorCode, errorLabels, closeConnection,
 *           blockConnection, blockTimeMS, writeConcernError, appName}}
 * on the admin database. The fail point state has its own mutex so
 * failpoint_check works with or without server_lock held.
 *
 * closeConnection, errorCode and blockConnection act before the command
 * runs; writeConcernError (with errorLabels) is added to the reply of a
 * command that waits for write concern, after it ran, failed or not, in
 * place of that wait, as MongoDB's service entry point does
 * (src/mongo/db/service_entry_point_common.cpp,
 * RunCommandAndWaitForWriteConcern::_waitForWriteConcern); the behaviour
 * jstests/core/failcommand_failpoint.js checks.
 */
#include "failpoint.h"

#include <pthread.h>
#include <string.h>

#include "command.h"
#include "server.h"

typedef enum { FP_OFF, FP_ALWAYS, FP_TIMES, FP_SKIP } fp_mode_t;

static pthread_mutex_t fp_mutex = PTHREAD_MUTEX_INITIALIZER;
static fp_mode_t fp_mode = FP_OFF;
static int64_t fp_count;   /* times left (FP_TIMES) or to skip (FP_SKIP) */
static int64_t fp_entered; /* times the fail point fired since configured */
static bson_t fp_data = BSON_INITIALIZER;

static bool
name_listed(const bson_t *data, const char *name)
{
	bson_iter_t it, names;

	if (!bson_iter_init_find(&it, data, "failCommands") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &names))
		return false;
	while (bson_iter_next(&names)) {
		if (BSON_ITER_HOLDS_UTF8(&names) && strcmp(bson_iter_utf8(&names, NULL), name) == 0)
			return true;
	}
	return false;
}

static bool
iter_true(const bson_iter_t *it)
{
	return bson_iter_as_bool(it);
}

/* MongoDB's retryable error codes (the driver specs' retryable-writes and
 * change-streams lists). */
static bool
is_retryable_code(int32_t code)
{
	static const int32_t codes[] = {6,     7,     89,    91, 189, 262,   9001, 10107, 11600,
					11602, 13435, 13436, 63, 150, 13388, 234,  133};
	for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++)
		if (codes[k] == code)
			return true;
	return false;
}

/*
 * Without an explicit errorLabels, real mongod labels the error as it would
 * the real failure: a retryable code on a getMore is a
 * ResumableChangeStreamError, on a write a RetryableWriteError. Tests that
 * want an unlabeled error pass "errorLabels": [].
 */
static void
add_default_labels(const char *name, failpoint_action_t *action)
{
	const char *label = NULL;

	if (!is_retryable_code(action->error_code))
		return;
	if (strcmp(name, "getMore") == 0)
		label = "ResumableChangeStreamError";
	else if (strcmp(name, "insert") == 0 || strcmp(name, "update") == 0 ||
		 strcmp(name, "delete") == 0 || strcmp(name, "findAndModify") == 0)
		label = "RetryableWriteError";
	if (label)
		BSON_APPEND_UTF8(&action->error_labels, "0", label);
}

/* A copy of the array or document at it into *out (fp_data may change once
 * the mutex is released). */
static void
copy_sub(const bson_iter_t *it, bson_t *out)
{
	const uint8_t *data;
	uint32_t len;
	bson_t view;

	if (BSON_ITER_HOLDS_ARRAY(it))
		bson_iter_array(it, &len, &data);
	else
		bson_iter_document(it, &len, &data);
	if (bson_init_static(&view, data, len)) {
		bson_destroy(out);
		bson_copy_to(&view, out);
	}
}

/*
 * Whether data acts on a command that takes no write concern: a
 * writeConcernError alone is only added where the server waits for write
 * concern (jstests/core/failcommand_failpoint.js: "Commands that don't
 * support writeConcern don't tick counter"; closeConnection, errorCode and
 * blockConnection act on any listed command).
 */
static bool
acts_without_write_concern(const bson_t *data)
{
	bson_iter_t it;

	return (bson_iter_init_find(&it, data, "closeConnection") && iter_true(&it)) ||
	       bson_iter_init_find(&it, data, "errorCode") ||
	       (bson_iter_init_find(&it, data, "blockConnection") && iter_true(&it));
}

void
failpoint_check(const char *name, const char *app_name, bool takes_write_concern,
		failpoint_action_t *action)
{
	bson_iter_t it;

	memset(action, 0, sizeof *action);
	bson_init(&action->error_labels);
	bson_init(&action->write_concern_error);
	pthread_mutex_lock(&fp_mutex);
	if (fp_mode == FP_OFF || !name_listed(&fp_data, name))
		goto done;
	if (bson_iter_init_find(&it, &fp_data, "appName") && BSON_ITER_HOLDS_UTF8(&it) &&
	    (!app_name || strcmp(app_name, bson_iter_utf8(&it, NULL)) != 0))
		goto done;
	if (!takes_write_concern && !acts_without_write_concern(&fp_data))
		goto done;
	if (fp_mode == FP_SKIP && fp_count > 0) {
		fp_count--;
		goto done;
	}
	if (fp_mode == FP_TIMES) {
		if (fp_count <= 0) {
			fp_mode = FP_OFF;
			goto done;
		}
		if (--fp_count == 0)
			fp_mode = FP_OFF;
	}
	fp_entered++;
	action->fire = true;
	if (bson_iter_init_find(&it, &fp_data, "closeConnection"))
		action->close_connection = iter_true(&it);
	if (bson_iter_init_find(&it, &fp_data, "blockConnection") && iter_true(&it) &&
	    bson_iter_init_find(&it, &fp_data, "blockTimeMS") && BSON_ITER_HOLDS_NUMBER(&it))
		action->block_ms = bson_iter_as_int64(&it);
	if (bson_iter_init_find(&it, &fp_data, "errorCode") && BSON_ITER_HOLDS_NUMBER(&it))
		action->error_code = (int32_t)bson_iter_as_int64(&it);
	if (bson_iter_init_find(&it, &fp_data, "errorLabels") && BSON_ITER_HOLDS_ARRAY(&it))
		copy_sub(&it, &action->error_labels);
	if (action->error_code != 0 && !bson_iter_init_find(&it, &fp_data, "errorLabels"))
		add_default_labels(name, action);
	/* Only where the server waits for write concern (service entry point:
	 * the fail point's writeConcernError stands in for that wait). */
	if (takes_write_concern && bson_iter_init_find(&it, &fp_data, "writeConcernError") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it))
		copy_sub(&it, &action->write_concern_error);
done:
	pthread_mutex_unlock(&fp_mutex);
}

void
failpoint_action_cleanup(failpoint_action_t *action)
{
	bson_destroy(&action->error_labels);
	bson_destroy(&action->write_concern_error);
}

/* Parses mode into mode and count; false + code 2 when malformed. */
static bool
parse_mode(bson_iter_t *it, fp_mode_t *mode, int64_t *count, bson_error_t *error)
{
	bson_iter_t sub;

	if (BSON_ITER_HOLDS_UTF8(it)) {
		const char *s = bson_iter_utf8(it, NULL);
		if (strcmp(s, "alwaysOn") == 0) {
			*mode = FP_ALWAYS;
			return true;
		}
		if (strcmp(s, "off") == 0) {
			*mode = FP_OFF;
			return true;
		}
		cmd_error(error, 2, "unknown fail point mode '%s'", s);
		return false;
	}
	if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &sub) ||
	    !bson_iter_next(&sub)) {
		cmd_error(error, 2, "'mode' must be a string or an object");
		return false;
	}
	const char *key = bson_iter_key(&sub);
	if (strcmp(key, "activationProbability") == 0) {
		*mode = FP_ALWAYS;
		return true;
	}
	if (!BSON_ITER_HOLDS_NUMBER(&sub) || bson_iter_as_int64(&sub) < 0) {
		cmd_error(error, 2, "'mode.%s' must be a non-negative number", key);
		return false;
	}
	*count = bson_iter_as_int64(&sub);
	if (strcmp(key, "times") == 0) {
		*mode = *count > 0 ? FP_TIMES : FP_OFF;
		return true;
	}
	if (strcmp(key, "skip") == 0) {
		*mode = FP_SKIP;
		return true;
	}
	cmd_error(error, 2, "unknown fail point mode '%s'", key);
	return false;
}

bool
cmd_configure_fail_point(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	fp_mode_t mode = FP_OFF;
	int64_t count = 0;
	bson_t data = BSON_INITIALIZER;

	if (strcmp(ctx->db, "admin") != 0) {
		cmd_error(error, 13,
			  "configureFailPoint may only be run against the admin database.");
		return false;
	}
	if (!bson_iter_init(&it, ctx->cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it)) {
		cmd_error(error, 2, "'configureFailPoint' must be the name of a fail point");
		return false;
	}
	if (strcmp(bson_iter_utf8(&it, NULL), "failCommand") != 0) {
		cmd_error(error, 2,
			  "unknown fail point '%s' (mongod-lite implements failCommand only)",
			  bson_iter_utf8(&it, NULL));
		return false;
	}
	if (!bson_iter_init_find(&it, ctx->cmd, "mode")) {
		cmd_error(error, 2, "missing 'mode'");
		return false;
	}
	if (!parse_mode(&it, &mode, &count, error))
		return false;
	if (bson_iter_init_find(&it, ctx->cmd, "data")) {
		const uint8_t *raw;
		uint32_t len;
		bson_t view;
		if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
			cmd_error(error, 2, "'data' must be an object");
			return false;
		}
		bson_iter_document(&it, &len, &raw);
		if (bson_init_static(&view, raw, len))
			bson_concat(&data, &view);
	}
	if (mode != FP_OFF) {
		bson_iter_t names;
		if (!bson_iter_init_find(&it, &data, "failCommands") ||
		    !BSON_ITER_HOLDS_ARRAY(&it)) {
			bson_destroy(&data);
			cmd_error(error, 2,
				  "failCommand fail point requires 'data.failCommands', an array "
				  "of names");
			return false;
		}
		bson_iter_recurse(&it, &names);
		while (bson_iter_next(&names)) {
			if (!BSON_ITER_HOLDS_UTF8(&names)) {
				bson_destroy(&data);
				cmd_error(error, 2, "'data.failCommands' must hold command names");
				return false;
			}
		}
	}
	pthread_mutex_lock(&fp_mutex);
	BSON_APPEND_INT32(reply, "count", (int32_t)fp_entered);
	fp_mode = mode;
	fp_count = count;
	fp_entered = 0;
	bson_reinit(&fp_data);
	bson_concat(&fp_data, &data);
	pthread_mutex_unlock(&fp_mutex);
	bson_destroy(&data);
	server_log(1, "fail point failCommand set (mode %d, count %lld)", (int)mode,
		   (long long)count);
	return true;
}
