/* Multi-document transactions (txn.h): sessions, private copies, commit. */
#include "txn.h"

#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "oplog.h"
#include "server.h"

#define TXN_BUCKETS 256
#define TXN_DEFAULT_LIFETIME_S 60

typedef enum { TXN_NONE, TXN_OPEN, TXN_COMMITTED, TXN_ABORTED } txn_state_t;

/* A collection as the transaction sees it: its private copy. */
typedef struct txn_copy {
	scoll_t *real;
	scoll_t *copy; /* detached (store_clone_coll), freed at the end */
	struct txn_copy *next;
} txn_copy_t;

typedef struct txn_session {
	uint8_t lsid[16];
	int64_t txn_number; /* the newest transaction started; -1 none */
	txn_state_t state;
	int64_t started_ms;   /* clock_mono_ms() at startTransaction */
	int64_t snapshot_seq; /* the newest oplog seq when it started */
	txn_copy_t *copies;
	bson_t **ops; /* the oplog entries to append at commit, in order */
	size_t n_ops, cap_ops;
	char abort_reason[96];
	struct txn_session *next;
} txn_session_t;

static txn_session_t *sessions[TXN_BUCKETS];
static int64_t total_started, total_committed, total_aborted;
static int64_t lifetime_s = TXN_DEFAULT_LIFETIME_S;
/* The open transaction the thread's statement runs in, and the session of
 * its command (commit/abort read it). */
static __thread txn_session_t *current;
static __thread txn_session_t *command_session;

bool
txn_lsid_id(const bson_t *lsid, uint8_t out[16])
{
	bson_iter_t it;
	bson_subtype_t st;
	uint32_t len;
	const uint8_t *data;

	if (!lsid || !bson_iter_init_find(&it, lsid, "id") || !BSON_ITER_HOLDS_BINARY(&it))
		return false;
	bson_iter_binary(&it, &st, &len, &data);
	memset(out, 0, 16);
	memcpy(out, data, len < 16 ? len : 16);
	return true;
}

size_t
txn_lsid_bucket(const uint8_t lsid[16], size_t buckets)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (int i = 0; i < 16; i++)
		h = (h ^ lsid[i]) * 16777619u;
	return h % buckets;
}

static size_t
bucket(const uint8_t lsid[16])
{
	return txn_lsid_bucket(lsid, TXN_BUCKETS);
}

static txn_session_t *
session_get(const uint8_t lsid[16], bool create)
{
	for (txn_session_t *s = sessions[bucket(lsid)]; s; s = s->next)
		if (memcmp(s->lsid, lsid, 16) == 0)
			return s;
	if (!create)
		return NULL;
	txn_session_t *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	memcpy(s->lsid, lsid, 16);
	s->txn_number = -1;
	s->next = sessions[bucket(lsid)];
	sessions[bucket(lsid)] = s;
	return s;
}

/* Drops the copies and the recorded entries. */
static void
release(txn_session_t *s)
{
	while (s->copies) {
		txn_copy_t *n = s->copies->next;
		store_free_clone(s->copies->copy);
		free(s->copies);
		s->copies = n;
	}
	for (size_t k = 0; k < s->n_ops; k++)
		bson_destroy(s->ops[k]);
	free(s->ops);
	s->ops = NULL;
	s->n_ops = s->cap_ops = 0;
}

static void
txn_abort(txn_session_t *s, const char *reason)
{
	if (s->state != TXN_OPEN)
		return;
	release(s);
	s->state = TXN_ABORTED;
	total_aborted++;
	snprintf(s->abort_reason, sizeof s->abort_reason, "%s", reason);
	server_log(1, "transaction %" PRId64 " aborted: %s", s->txn_number, reason);
	/* writers outside waiting for this document may go on */
	server_oplog_broadcast();
}

static scoll_t *view_of(txn_session_t *s, scoll_t *c);

static void
txn_start(txn_session_t *s, int64_t txn_number)
{
	int64_t first, last;

	oplog_bounds(&first, &last);
	s->txn_number = txn_number;
	s->state = TXN_OPEN;
	total_started++;
	s->started_ms = clock_mono_ms();
	s->snapshot_seq = last;
	s->abort_reason[0] = '\0';
	/* MongoDB reads every collection of a transaction as of one point, its
	 * first operation's: a view of each now, not at its first use (the
	 * copies take constant time, store.h). */
	for (sdb_t *db = store_dbs(); db; db = db->next)
		for (scoll_t *c = db->colls; c; c = c->next)
			view_of(s, c);
}

/* ns and o2 (document key) of an oplog entry; false when it has none. */
static bool
entry_key(const bson_t *entry, const char **ns, bson_t *o2)
{
	bson_iter_t it;
	const uint8_t *d;
	uint32_t l;

	if (!bson_iter_init_find(&it, entry, "ns") || !BSON_ITER_HOLDS_UTF8(&it))
		return false;
	*ns = bson_iter_utf8(&it, NULL);
	if (!bson_iter_init_find(&it, entry, "o2") || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	bson_iter_document(&it, &l, &d);
	return bson_init_static(o2, d, l);
}

static bool
same_key(const bson_t *entry, const char *ns, const bson_t *o2)
{
	const char *ens;
	bson_t eo2;

	return entry_key(entry, &ens, &eo2) && strcmp(ens, ns) == 0 && eo2.len == o2->len &&
	       memcmp(bson_get_data(&eo2), bson_get_data(o2), o2->len) == 0;
}

static bool
holds_key(const txn_session_t *s, const char *ns, const bson_t *o2)
{
	for (size_t k = 0; k < s->n_ops; k++)
		if (same_key(s->ops[k], ns, o2))
			return true;
	return false;
}

/* Another open transaction wrote the document, or a commit changed it after
 * s started (an oplog entry past its snapshot names it). */
static bool
conflicts(const txn_session_t *s, const char *ns, const bson_t *o2)
{
	int64_t first, last;

	for (size_t b = 0; b < TXN_BUCKETS; b++)
		for (txn_session_t *o = sessions[b]; o; o = o->next)
			if (o != s && o->state == TXN_OPEN && holds_key(o, ns, o2))
				return true;
	oplog_bounds(&first, &last);
	if (first > s->snapshot_seq + 1)
		return true; /* the entries that would tell have fallen off */
	for (int64_t seq = s->snapshot_seq + 1; seq <= last; seq++) {
		bson_t e;
		uint32_t t, i;
		if (oplog_get(seq, &e, &t, &i) && same_key(&e, ns, o2))
			return true;
	}
	return false;
}

bool
txn_any_open(void)
{
	return total_started != total_committed + total_aborted;
}

bool
txn_active(void)
{
	return current != NULL;
}

void *
txn_suspend(void)
{
	txn_session_t *s = current;
	current = NULL;
	return s;
}

void
txn_resume(void *txn)
{
	current = txn;
}

/* s's view of c: its copy, made now if s has none yet. */
static scoll_t *
view_of(txn_session_t *s, scoll_t *c)
{
	for (txn_copy_t *x = s->copies; x; x = x->next)
		if (x->real == c)
			return x->copy;
	txn_copy_t *x = calloc(1, sizeof *x);
	if (!x)
		abort();
	x->real = c;
	x->copy = store_clone_coll(c);
	x->next = s->copies;
	s->copies = x;
	return x->copy;
}

scoll_t *
txn_view(scoll_t *c)
{
	if (!current || !c)
		return c;
	return view_of(current, c);
}

static bool
record(txn_session_t *s, const bson_t *entry, bson_error_t *error)
{
	const char *ns;
	bson_t o2;

	if (!entry_key(entry, &ns, &o2)) {
		cmd_error(error, 263,
			  "Cannot run a catalog operation in a multi-document "
			  "transaction.");
		return false;
	}
	if (!holds_key(s, ns, &o2) && conflicts(s, ns, &o2)) {
		cmd_error(error, 112,
			  "WriteConflict error: this operation conflicted with another operation. "
			  "Please retry your operation or multi-document transaction.");
		return false;
	}
	if (s->n_ops == s->cap_ops) {
		s->cap_ops = s->cap_ops ? s->cap_ops * 2 : 8;
		s->ops = realloc(s->ops, s->cap_ops * sizeof *s->ops);
		if (!s->ops)
			abort();
	}
	bson_t *copy = bson_copy(entry);
	BSON_APPEND_INT32(copy, "txnOpIndex", (int32_t)s->n_ops);
	s->ops[s->n_ops++] = copy;
	return true;
}

bool
txn_note_write(const bson_t *entry, bool *recorded, bson_error_t *error)
{
	const char *ns;
	bson_t o2;

	*recorded = false;
	if (current) {
		*recorded = true;
		return record(current, entry, error);
	}
	/* with no transaction open no session holds a document */
	if (!txn_any_open() || !entry_key(entry, &ns, &o2))
		return true;
	for (size_t b = 0; b < TXN_BUCKETS; b++)
		for (txn_session_t *o = sessions[b]; o; o = o->next)
			if (o->state == TXN_OPEN && holds_key(o, ns, &o2))
				txn_abort(o, "a write outside the transaction changed a document "
					     "it wrote");
	return true;
}

void
txn_reap_expired(void)
{
	int64_t now = clock_mono_ms();

	for (size_t b = 0; b < TXN_BUCKETS; b++)
		for (txn_session_t *s = sessions[b]; s; s = s->next)
			if (s->state == TXN_OPEN && now - s->started_ms > lifetime_s * 1000)
				txn_abort(s, "transactionLifetimeLimitSeconds expired");
}

void
txn_end_session(const uint8_t lsid[16])
{
	for (txn_session_t **p = &sessions[bucket(lsid)]; *p; p = &(*p)->next) {
		if (memcmp((*p)->lsid, lsid, 16) == 0) {
			txn_session_t *s = *p;
			txn_abort(s, "its session ended");
			*p = s->next;
			free(s);
			return;
		}
	}
}

/* ---- the statements ---- */

static bool
allowed_in_txn(const command_ctx_t *ctx)
{
	static const char *const names[] = {
		"insert",
		"update",
		"delete",
		"findAndModify",
		"findandmodify",
		"find",
		"getMore",
		"aggregate",
		"distinct",
		"killCursors",
		"commitTransaction",
		"abortTransaction",
	};
	bson_iter_t it, st, stage;

	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		if (strcmp(ctx->name, names[k]) != 0)
			continue;
		if (strcmp(ctx->name, "aggregate") != 0 ||
		    !bson_iter_init_find(&it, ctx->cmd, "pipeline") ||
		    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &st))
			return true;
		while (bson_iter_next(&st))
			if (BSON_ITER_HOLDS_DOCUMENT(&st) && bson_iter_recurse(&st, &stage) &&
			    bson_iter_next(&stage) &&
			    (strcmp(bson_iter_key(&stage), "$changeStream") == 0 ||
			     strcmp(bson_iter_key(&stage), "$out") == 0 ||
			     strcmp(bson_iter_key(&stage), "$merge") == 0))
				return false;
		return true;
	}
	return false;
}

/* A statement that continues transaction txn_number of s: may it run? */
static bool
check_continue(const txn_session_t *s, const txn_cmd_t *tc, int64_t txn_number, bson_error_t *error)
{
	if (txn_number < s->txn_number) {
		cmd_error(error, 225,
			  "Cannot continue transaction %" PRId64 " on session because a newer "
			  "transaction %" PRId64 " has already started.",
			  txn_number, s->txn_number);
		return false;
	}
	if (txn_number != s->txn_number || s->state == TXN_NONE) {
		cmd_error(error, 251,
			  "Given transaction number %" PRId64 " does not match any in-progress "
			  "transactions. The active transaction number is %" PRId64,
			  txn_number, s->txn_number);
		return false;
	}
	if (s->state == TXN_ABORTED && !tc->commit_or_abort) {
		cmd_error(error, 251,
			  "Transaction with { txnNumber: %" PRId64 " } has been aborted%s%s",
			  txn_number, s->abort_reason[0] ? ": " : ".", s->abort_reason);
		return false;
	}
	if (s->state == TXN_COMMITTED && !tc->commit_or_abort) {
		cmd_error(error, 256,
			  "Transaction with { txnNumber: %" PRId64 " } has been committed.",
			  txn_number);
		return false;
	}
	return true;
}

static bool
check_start(txn_session_t *s, int64_t txn_number, bson_error_t *error)
{
	if (txn_number < s->txn_number) {
		cmd_error(error, 225,
			  "Cannot start transaction %" PRId64 " on session because a newer "
			  "transaction %" PRId64 " has already started.",
			  txn_number, s->txn_number);
		return false;
	}
	if (txn_number == s->txn_number && s->state != TXN_NONE) {
		cmd_error(error, 117,
			  "Cannot start a transaction at given transaction number %" PRId64
			  " a transaction with the same number is in state %s",
			  txn_number, s->state == TXN_COMMITTED ? "committed" : "in progress");
		return false;
	}
	txn_abort(s, "a newer transaction started on its session");
	release(s);
	txn_start(s, txn_number);
	return true;
}

void
txn_classify(const command_ctx_t *ctx, txn_cmd_t *tc)
{
	memset(tc, 0, sizeof *tc);
	tc->commit_or_abort = strcmp(ctx->name, "commitTransaction") == 0 ||
			      strcmp(ctx->name, "abortTransaction") == 0;
	tc->commit = strcmp(ctx->name, "commitTransaction") == 0;
	tc->has_autocommit = bson_has_field(ctx->cmd, "autocommit");
}

bool
txn_begin_command(command_ctx_t *ctx, txn_cmd_t *tc, bson_error_t *error)
{
	bson_iter_t it;
	uint8_t id[16];

	txn_classify(ctx, tc);
	current = command_session = NULL;
	if (!bson_iter_init_find(&it, ctx->cmd, "autocommit")) {
		if (!tc->commit_or_abort)
			return true;
		cmd_error(error, 50768, "%s must be run within a transaction", ctx->name);
		return false;
	}
	if (server_config.standalone) {
		cmd_error(error, 20,
			  "Transaction numbers are only allowed on a replica set member "
			  "or mongos");
		return false;
	}
	if (bson_iter_as_bool(&it) || !txn_lsid_id(ctx->lsid, id) || ctx->txn_number < 0) {
		cmd_error(error, 72,
			  "autocommit:false needs an lsid and a txnNumber, and "
			  "autocommit can only be false");
		return false;
	}
	if (!allowed_in_txn(ctx)) {
		cmd_error(error, 263, "Cannot run '%s' in a multi-document transaction.",
			  ctx->name);
		return false;
	}
	txn_session_t *s = session_get(id, true);
	bool start =
		bson_iter_init_find(&it, ctx->cmd, "startTransaction") && bson_iter_as_bool(&it);
	if (start ? !check_start(s, ctx->txn_number, error)
		  : !check_continue(s, tc, ctx->txn_number, error))
		return false;
	command_session = s;
	if (!tc->commit_or_abort && s->state == TXN_OPEN) {
		current = s;
		tc->in_txn = true;
	}
	return true;
}

/* The code of the first writeErrors element; 0 when there is none. */
static int32_t
first_write_error(const bson_t *reply, const char **msg)
{
	bson_iter_t it, el, f;

	*msg = "";
	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &el) || !bson_iter_next(&el) || !bson_iter_recurse(&el, &f))
		return 0;
	int32_t code = 0;
	while (bson_iter_next(&f)) {
		if (strcmp(bson_iter_key(&f), "code") == 0)
			code = bson_iter_int32(&f);
		else if (strcmp(bson_iter_key(&f), "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&f))
			*msg = bson_iter_utf8(&f, NULL);
	}
	return code ? code : 1;
}

bool
txn_end_command(const txn_cmd_t *tc, bool ok, const bson_t *reply, bson_error_t *error)
{
	txn_session_t *s = current;
	const char *msg;
	int32_t code = ok ? first_write_error(reply, &msg) : 0;

	current = NULL;
	if (!tc->in_txn || !s)
		return true;
	if (ok && code == 0)
		return true;
	txn_abort(s, ok ? "a statement failed with a write error" : "a statement failed");
	if (code == 112) {
		cmd_error(error, 112, "%s", msg);
		return false;
	}
	return true;
}

static bool
retryable_code(uint32_t code)
{
	static const uint32_t codes[] = {6,    7,     89,    91,    189,   262,
					 9001, 10107, 11600, 11602, 13435, 13436};
	for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++)
		if (codes[k] == code)
			return true;
	return false;
}

void
txn_error_labels(const txn_cmd_t *tc, const bson_error_t *error, bool write_concern_error,
		 bson_t *body)
{
	uint32_t code = error ? error->code : 0;
	bool transient, unknown = false;
	bson_t labels;

	if (!tc->has_autocommit || bson_has_field(body, "errorLabels"))
		return;
	if (tc->commit_or_abort) {
		transient = code == 112 || code == 24 || (code == 251 && !write_concern_error);
		unknown = tc->commit && (retryable_code(code) || code == 50 || write_concern_error);
	} else {
		transient = code == 112 || code == 24 || code == 251 || retryable_code(code);
	}
	if (!transient && !unknown)
		return;
	bson_append_array_begin(body, "errorLabels", -1, &labels);
	BSON_APPEND_UTF8(&labels, "0",
			 transient ? "TransientTransactionError"
				   : "UnknownTransactionCommitResult");
	bson_append_array_end(body, &labels);
}

/* ---- commitTransaction, abortTransaction ---- */

static bool
commit(txn_session_t *s, bson_error_t *error)
{
	bson_error_t apply_error;

	for (size_t k = 0; k < s->n_ops; k++)
		if (!store_apply_oplog_entry(s->ops[k], &apply_error))
			server_log(0, "transaction %" PRId64 ": cannot apply statement %zu: %s",
				   s->txn_number, k, apply_error.message);
	bool ok = s->n_ops == 0 || oplog_append_group(s->ops, s->n_ops, error);
	release(s);
	s->state = TXN_COMMITTED;
	total_committed++;
	return ok;
}

bool
cmd_commit_transaction(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	txn_session_t *s = command_session;
	(void)ctx;
	(void)reply;

	if (!s)
		return true;
	if (s->state == TXN_COMMITTED)
		return true; /* a retried commit: the same answer */
	if (s->state == TXN_ABORTED) {
		cmd_error(error, 251,
			  "Transaction with { txnNumber: %" PRId64 " } has been aborted%s%s",
			  s->txn_number, s->abort_reason[0] ? ": " : ".", s->abort_reason);
		return false;
	}
	return commit(s, error);
}

bool
cmd_abort_transaction(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	txn_session_t *s = command_session;
	(void)ctx;
	(void)reply;

	if (!s)
		return true;
	if (s->state == TXN_COMMITTED) {
		cmd_error(error, 256,
			  "Transaction with { txnNumber: %" PRId64 " } has been committed.",
			  s->txn_number);
		return false;
	}
	if (s->state == TXN_ABORTED) {
		cmd_error(error, 251,
			  "Transaction with { txnNumber: %" PRId64 " } has been aborted.",
			  s->txn_number);
		return false;
	}
	txn_abort(s, "abortTransaction");
	return true;
}

/* ---- transactionLifetimeLimitSeconds ---- */

bool
cmd_set_parameter(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	int64_t v;
	bool any = false;

	if (strcmp(ctx->db, "admin") != 0) {
		cmd_error(error, 13, "setParameter may only be run against the admin database.");
		return false;
	}
	bson_iter_init(&it, ctx->cmd);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "setParameter") == 0 || k[0] == '$' || strcmp(k, "lsid") == 0)
			continue;
		if (strcmp(k, "transactionLifetimeLimitSeconds") != 0) {
			cmd_error(error, 2, "attempted to set unrecognized parameter [%s]", k);
			return false;
		}
		if (!cmd_as_int64(&it, &v) || v < 1) {
			cmd_error(error, 2, "transactionLifetimeLimitSeconds must be at least 1");
			return false;
		}
		BSON_APPEND_INT32(reply, "was", (int32_t)lifetime_s);
		lifetime_s = v;
		any = true;
	}
	if (!any) {
		cmd_error(error, 2, "no option found to set, use help:true to see options ");
		return false;
	}
	return true;
}

bool
txn_get_parameter(const bson_t *cmd, bool all, bson_t *reply)
{
	if (!all && !bson_has_field(cmd, "transactionLifetimeLimitSeconds"))
		return false;
	BSON_APPEND_INT32(reply, "transactionLifetimeLimitSeconds", (int32_t)lifetime_s);
	return true;
}

void
txn_server_status(bson_t *reply)
{
	bson_t sub;
	int64_t open = 0;

	for (size_t b = 0; b < TXN_BUCKETS; b++)
		for (txn_session_t *s = sessions[b]; s; s = s->next)
			open += s->state == TXN_OPEN;
	BSON_APPEND_DOCUMENT_BEGIN(reply, "transactions", &sub);
	BSON_APPEND_INT64(&sub, "currentOpen", open);
	BSON_APPEND_INT64(&sub, "totalStarted", total_started);
	BSON_APPEND_INT64(&sub, "totalCommitted", total_committed);
	BSON_APPEND_INT64(&sub, "totalAborted", total_aborted);
	bson_append_document_end(reply, &sub);
}
