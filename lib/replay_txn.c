/* Source transactions applied as target transactions (replay_txn.h). */
#include "replay_txn.h"

#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "checkpoint.h"
#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "replay_xtxn.h"
#include "retry.h"
#include "staging_format.h"
#include "txn_record.h"

/* hello's wire versions of 4.0 (replica set transactions) and 4.2 (mongos). */
#define WIRE_VERSION_REPLSET_TXN 7
#define WIRE_VERSION_SHARDED_TXN 8

typedef enum { SUPPORT_UNKNOWN, SUPPORT_NO, SUPPORT_YES } support_t;

typedef replay_txn_result_t group_result_t;

struct replay_txn {
	mongoc_client_t *client;
	replay_applier_t *applier;
	mongoc_collection_t *target;
	mongoc_collection_t *staging;
	mongoc_collection_t *meta;
	lease_t *lease;
	char *ns;
	int64_t max_docs;  /* a full batch: this many staged documents */
	size_t max_bytes;  /* ... or this many staged bytes */
	optime_t dump_end; /* zero: no catch-up window */
	support_t support;
	mongoc_client_session_t *session; /* started at the first transaction */
	char split_warned[96];            /* the last transaction told to be split */
	replay_xtxn_t *xtxn;              /* NULL: no transactions across collections */
};

static bool
event_key(const replay_event_t *ev, txn_key_t *key)
{
	return txn_key_of(ev->event, ev->cluster_time, key);
}

replay_txn_t *
replay_txn_new(mongoc_client_t *client, replay_applier_t *applier, mongoc_collection_t *target,
	       mongoc_collection_t *staging, mongoc_collection_t *meta, lease_t *lease,
	       const char *ns, int64_t max_docs, size_t max_bytes)
{
	replay_txn_t *rt = bson_malloc0(sizeof *rt);

	rt->max_docs = max_docs;
	rt->max_bytes = max_bytes;

	rt->client = client;
	rt->applier = applier;
	rt->target = target;
	rt->staging = staging;
	rt->meta = meta;
	rt->lease = lease;
	rt->ns = bson_strdup(ns);
	return rt;
}

void
replay_txn_destroy(replay_txn_t *rt)
{
	if (!rt)
		return;
	if (rt->session)
		mongoc_client_session_destroy(rt->session);
	replay_xtxn_destroy(rt->xtxn);
	bson_free(rt->ns);
	bson_free(rt);
}

void
replay_txn_set_cross(replay_txn_t *rt, const char *target_db)
{
	replay_xtxn_destroy(rt->xtxn);
	rt->xtxn = replay_xtxn_new(rt->client, rt->staging, rt->meta, rt->lease, rt->ns, target_db,
				   rt->max_docs);
}

void
replay_txn_set_deadline(replay_txn_t *rt, int64_t deadline_ms)
{
	if (rt->xtxn)
		replay_xtxn_set_deadline(rt->xtxn, deadline_ms);
}

void
replay_txn_set_window(replay_txn_t *rt, optime_t dump_end)
{
	rt->dump_end = dump_end;
}

/* ---- where a transaction ends ---- */

/*
 * The first staged document of the ns after seq: *found, and whether it
 * belongs to the transaction key (a chunk part, which has no event, by its
 * clusterTime alone).
 */
static bool
next_staged(replay_txn_t *rt, int64_t seq, const txn_key_t *key, bool *found, bool *same,
	    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, range, child;
	bson_t opts = BSON_INITIALIZER;
	const bson_t *doc;
	bool ok = true;

	*found = *same = false;
	BSON_APPEND_UTF8(&filter, STAGED_F_NS, rt->ns);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, STAGED_F_SEQ, &range);
	BSON_APPEND_INT64(&range, "$gt", seq);
	bson_append_document_end(&filter, &range);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &child);
	BSON_APPEND_INT32(&child, STAGED_F_SEQ, 1);
	bson_append_document_end(&opts, &child);
	BSON_APPEND_INT64(&opts, "limit", 1);
	mongoc_cursor_t *cursor =
		mongoc_collection_find_with_opts(rt->staging, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &doc)) {
		bson_iter_t it;
		optime_t t = OPTIME_ZERO;
		txn_key_t next;
		bson_t event;
		const uint8_t *data;
		uint32_t len;

		*found = true;
		optime_from_doc(doc, STAGED_F_CLUSTER_TIME, &t);
		if (bson_iter_init_find(&it, doc, STAGED_F_EVENT) &&
		    BSON_ITER_HOLDS_DOCUMENT(&it)) {
			bson_iter_document(&it, &len, &data);
			*same = bson_init_static(&event, data, len) &&
				txn_key_of(&event, t, &next) && txn_key_same(&next, key);
		} else {
			*same = optime_cmp(t, key->cluster_time) == 0;
		}
	}
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read the staged events of '%s' after seq %" PRId64,
				 rt->ns, seq);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

/* Whether capture's checkpoint has moved past cluster_time. */
static bool
checkpoint_past(replay_txn_t *rt, optime_t cluster_time, bool *past, bson_error_t *error)
{
	checkpoint_t cp;
	bool found = false;
	bool ok;

	checkpoint_init(&cp);
	ok = checkpoint_read(rt->meta, rt->ns, &cp, &found, error);
	*past = ok && found && optime_cmp(cp.cluster_time, cluster_time) > 0;
	checkpoint_cleanup(&cp);
	return ok;
}

/* Drops events[from..len) (and the stop event): they stay pending. */
static void
batch_cut(replay_batch_t *batch, size_t from)
{
	for (size_t k = from; k < batch->len; k++)
		bson_destroy(batch->events[k].event);
	batch->len = from;
	if (batch->has_stop)
		bson_destroy(batch->stop_event.event);
	batch->stop_event.event = NULL;
	batch->has_stop = false;
}

/* Whether the read stopped at its limits (not at the end of what was staged). */
static bool
batch_full(const replay_txn_t *rt, const replay_batch_t *batch)
{
	int64_t docs = 0;

	for (size_t k = 0; k < batch->len; k++)
		docs += batch->events[k].last_seq - batch->events[k].first_seq + 1;
	return docs >= rt->max_docs || batch->bytes >= rt->max_bytes;
}

static void
warn_split(replay_txn_t *rt, const txn_key_t *key)
{
	char *what = txn_key_describe(key);

	if (strncmp(rt->split_warned, what, sizeof rt->split_warned - 1) != 0)
		log_warn("source transaction %s of '%s' has more events than one batch holds "
			 "(--batch-size, 16 MiB): it is applied in one target transaction per "
			 "batch, and a reader of the target may see part of it",
			 what, rt->ns);
	snprintf(rt->split_warned, sizeof rt->split_warned, "%s", what);
	bson_free(what);
}

bool
replay_txn_hold_open(replay_txn_t *rt, replay_batch_t *batch, bson_error_t *error)
{
	txn_key_t last, key;
	bool found, same, past;

	if (batch->len == 0 || !event_key(&batch->events[batch->len - 1], &last))
		return true;
	size_t start = batch->len - 1;
	while (start > 0 && event_key(&batch->events[start - 1], &key) && txn_key_same(&key, &last))
		start--;
	if (!next_staged(rt, batch->events[batch->len - 1].last_seq, &last, &found, &same, error))
		return false;
	if (found && !same)
		return true; /* another event follows: the transaction is whole */
	if (!found) {
		if (!checkpoint_past(rt, last.cluster_time, &past, error))
			return false;
		if (past)
			return true;
	}
	if (start == 0 && found && batch_full(rt, batch)) {
		warn_split(rt, &last); /* it goes on past a full batch */
		return true;
	}
	/* the rest was staged after the read: read the whole of it next */
	batch_cut(batch, start);
	return true;
}

/* ---- applying ---- */

/* Whether the target runs transactions; asked once, said once when not. */
static bool
target_supports(replay_txn_t *rt, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, reply;
	bson_iter_t it;
	bool ok;

	if (rt->support != SUPPORT_UNKNOWN)
		return true;
	BSON_APPEND_INT32(&cmd, "hello", 1);
	ok = mongoc_client_command_simple(rt->client, "admin", &cmd, NULL, &reply, error);
	if (ok) {
		bool mongos = bson_iter_init_find(&it, &reply, "msg") &&
			      BSON_ITER_HOLDS_UTF8(&it) &&
			      strcmp(bson_iter_utf8(&it, NULL), "isdbgrid") == 0;
		bool replset = bson_iter_init_find(&it, &reply, "setName");
		int64_t wire = bson_iter_init_find(&it, &reply, "maxWireVersion")
				       ? bson_iter_as_int64(&it)
				       : 0;
		bool yes = (replset && wire >= WIRE_VERSION_REPLSET_TXN) ||
			   (mongos && wire >= WIRE_VERSION_SHARDED_TXN);
		rt->support = yes ? SUPPORT_YES : SUPPORT_NO;
		if (!yes)
			log_warn("the target cannot run transactions (%s): the events of a source "
				 "transaction of '%s' are applied as the others, and a reader of "
				 "the target may see part of one",
				 replset || mongos ? "a server before 4.0" : "not a replica set",
				 rt->ns);
	} else {
		csm_error_keep_transient(error, &reply);
		csm_error_prefix(error, "cannot ask the target whether it runs transactions");
	}
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return ok;
}

replay_txn_result_t
replay_txn_failure(const bson_t *reply, bson_error_t *error)
{
	if (mongoc_error_has_label(reply, "TransientTransactionError") ||
	    csm_error_is_transient(error, reply))
		return GROUP_RETRY;
	if (csm_error_is_stopped(error) || csm_exit_code(error) == CSM_EXIT_CANTCREAT)
		return GROUP_FAIL;
	return GROUP_ORDINARY;
}

bool
replay_txn_commit(mongoc_client_session_t *session, bson_t *reply, bson_error_t *error)
{
	retry_t retry;

	retry_init(&retry, 0);
	for (;;) {
		bson_destroy(reply);
		if (mongoc_client_session_commit_transaction(session, reply, error))
			return true;
		if (!mongoc_error_has_label(reply, "UnknownTransactionCommitResult") ||
		    !retry_wait(&retry, "committing a source transaction on the target", error))
			return false;
	}
}

bool
replay_txn_write(mongoc_client_session_t *session, mongoc_collection_t *target,
		 const replay_event_t *events, size_t n, bson_t *reply, bson_error_t *error)
{
	apply_op_list_t ops;
	bson_t opts = BSON_INITIALIZER;
	mongoc_bulk_operation_t *bulk = NULL;
	bool ok = mongoc_client_session_append(session, &opts, error);

	apply_op_list_init(&ops);
	for (size_t k = 0; ok && k < n; k++)
		if (events[k].kind == APPLY_KIND_DATA)
			ok = apply_event_ops(events[k].event, k, &ops, error);
	if (ok && ops.len > 0) {
		bulk = mongoc_collection_create_bulk_operation_with_opts(target, &opts);
		for (size_t k = 0; ok && k < ops.len; k++)
			ok = apply_op_to_bulk(bulk, &ops.ops[k], error);
		if (ok) {
			bson_destroy(reply); /* execute initializes it again */
			ok = mongoc_bulk_operation_execute(bulk, reply, error) != 0;
		}
	}
	mongoc_bulk_operation_destroy(bulk);
	apply_op_list_destroy(&ops);
	bson_destroy(&opts);
	return ok;
}

/* One try: start, write, mark, commit. */
static group_result_t
group_once(replay_txn_t *rt, const replay_batch_t *batch, size_t a, size_t b, bson_error_t *error)
{
	mongoc_transaction_opt_t *topts = mongoc_transaction_opts_new();
	mongoc_write_concern_t *wc = mongoc_write_concern_new();
	bson_t reply = BSON_INITIALIZER;
	group_result_t result = GROUP_DONE;

	mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
	mongoc_transaction_opts_set_write_concern(topts, wc);
	if (!rt->session && !(rt->session = mongoc_client_start_session(rt->client, NULL, error)))
		result = replay_txn_failure(&reply, error);
	else if (!lease_hold(rt->lease, error))
		result = replay_txn_failure(&reply, error);
	else if (!mongoc_client_session_start_transaction(rt->session, topts, error))
		result = GROUP_ORDINARY;
	else if (!replay_txn_write(rt->session, rt->target, batch->events + a, b - a, &reply,
				   error) ||
		 !replay_batch_mark_done_in(rt->staging, rt->ns, batch->events[a].first_seq,
					    batch->events[b - 1].last_seq, rt->session, error) ||
		 !replay_txn_commit(rt->session, &reply, error))
		result = replay_txn_failure(&reply, error);
	if (result != GROUP_DONE && rt->session &&
	    mongoc_client_session_in_transaction(rt->session))
		mongoc_client_session_abort_transaction(rt->session, NULL);
	bson_destroy(&reply);
	mongoc_write_concern_destroy(wc);
	mongoc_transaction_opts_destroy(topts);
	return result;
}

/* events[a..b), one source transaction: GROUP_DONE, GROUP_ORDINARY (apply
 * them as the others) or GROUP_FAIL. */
static group_result_t
apply_group(replay_txn_t *rt, const replay_batch_t *batch, size_t a, size_t b, bson_error_t *error)
{
	txn_key_t key;
	retry_t retry;
	group_result_t r;

	event_key(&batch->events[a], &key);
	char *txn = txn_key_describe(&key);
	char *what = bson_strdup_printf(
		"applying source transaction %s of '%s' as one target transaction (a "
		"transaction a killed cdc-replay left open holds its documents until the "
		"target aborts it, after its transactionLifetimeLimitSeconds, 60 s by default)",
		txn, rt->ns);
	retry_init(&retry, 0);
	while ((r = group_once(rt, batch, a, b, error)) == GROUP_RETRY)
		if (!retry_wait(&retry, what, error)) {
			r = GROUP_FAIL;
			break;
		}
	if (r == GROUP_ORDINARY)
		log_warn("cannot apply source transaction %s of '%s' as one target transaction: "
			 "%s; applying its %zu event(s) as the others",
			 txn, rt->ns, error->message, b - a);
	bson_free(what);
	bson_free(txn);
	return r;
}

/* Whether events[a] (of a transaction) goes in a target transaction. */
static bool
wants_group(replay_txn_t *rt, const replay_event_t *ev, bson_error_t *error, bool *want)
{
	*want = false;
	if (!optime_is_zero(rt->dump_end) && !optime_is_zero(ev->cluster_time) &&
	    optime_cmp(ev->cluster_time, rt->dump_end) <= 0)
		return true; /* the catch-up window */
	retry_t retry;
	retry_init(&retry, 0);
	while (!target_supports(rt, error))
		if (!csm_error_is_transient(error, NULL) ||
		    !retry_wait(&retry, "asking the target whether it runs transactions", error))
			return false;
	*want = rt->support == SUPPORT_YES;
	return true;
}

static bool
apply_ordinary(replay_txn_t *rt, const replay_batch_t *batch, size_t a, size_t b,
	       replay_txn_mark_fn mark, void *ctx, bson_error_t *error)
{
	replay_batch_t view = *batch;

	view.events = batch->events + a;
	view.len = b - a;
	view.has_stop = false;
	return replay_applier_apply(rt->applier, &view, error) &&
	       (!mark ||
		mark(ctx, batch->events[a].first_seq, batch->events[b - 1].last_seq, error));
}

/* events[a..b), one source transaction to group: across collections
 * (replay_xtxn.h) or of this one alone. */
static group_result_t
apply_txn(replay_txn_t *rt, const replay_batch_t *batch, size_t a, size_t b, bson_error_t *error)
{
	switch (rt->xtxn ? replay_xtxn_apply(rt->xtxn, batch, a, b, error) : XTXN_ALONE) {
	case XTXN_ALONE:
		return apply_group(rt, batch, a, b, error);
	case XTXN_DONE:
		return GROUP_DONE;
	case XTXN_ORDINARY:
		return GROUP_ORDINARY;
	default:
		return GROUP_FAIL;
	}
}

bool
replay_txn_apply(replay_txn_t *rt, const replay_batch_t *batch, replay_txn_mark_fn mark, void *ctx,
		 bson_error_t *error)
{
	for (size_t a = 0, b; a < batch->len; a = b) {
		txn_key_t first, key;
		bool in_txn = event_key(&batch->events[a], &first), want = false;

		for (b = a + 1; b < batch->len; b++) {
			bool k = event_key(&batch->events[b], &key);
			if (in_txn ? !k || !txn_key_same(&key, &first) : k)
				break;
		}
		if (in_txn && !wants_group(rt, &batch->events[a], error, &want))
			return false;
		group_result_t r = want ? apply_txn(rt, batch, a, b, error) : GROUP_ORDINARY;
		if (r == GROUP_FAIL)
			return false;
		if (r == GROUP_ORDINARY && !apply_ordinary(rt, batch, a, b, mark, ctx, error))
			return false;
	}
	return true;
}
