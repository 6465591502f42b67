/* Source transactions across collections, one target transaction (replay_xtxn.h). */
#include "replay_xtxn.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "replay_txn.h"
#include "retry.h"
#include "staging_format.h"
#include "stop.h"
#include "txn_record.h"

#define XTXN_POLL_FIRST_MS 5
#define XTXN_POLL_MAX_MS 200
/* A participant that is not the first by name applies the transaction once
 * every part has been reachable this long (the first one does not run). */
#define XTXN_TAKEOVER_MS 1000
#define XTXN_WARN_AFTER_MS 5000
#define XTXN_WARN_EVERY_MS 30000

struct replay_xtxn {
	mongoc_client_t *client;
	mongoc_collection_t *staging, *meta;
	lease_t *lease;
	char *ns, *db, *target_db; /* db: the source database of ns */
	int64_t max_docs;
	int64_t marked_through; /* seqs up to it are marked done by this run */
	int64_t deadline_ms;    /* clock_mono_ms() at which a wait ends (--max-wait); 0: none */
	mongoc_client_session_t *session;
};

typedef enum { PART_WAIT, PART_READY, PART_DONE } part_state_t;

typedef struct part_view {
	const txn_part_t *part;
	part_state_t state;
	int64_t pending_before; /* WAIT: a pending seq before the part; 0: the part is not all
				   staged */
} part_view_t;

/* One transaction's wait, across polls. */
typedef struct xwait {
	const txn_key_t *key;
	const txn_record_t *rec;
	part_view_t *views;
	int64_t started_ms, all_ready_ms, warned_ms;
	long poll_ms;
} xwait_t;

replay_xtxn_t *
replay_xtxn_new(mongoc_client_t *client, mongoc_collection_t *staging, mongoc_collection_t *meta,
		lease_t *lease, const char *ns, const char *target_db, int64_t max_docs)
{
	replay_xtxn_t *x = bson_malloc0(sizeof *x);
	const char *dot = strchr(ns, '.');

	x->client = client;
	x->staging = staging;
	x->meta = meta;
	x->lease = lease;
	x->ns = bson_strdup(ns);
	x->db = bson_strndup(ns, dot ? (size_t)(dot - ns) : strlen(ns));
	x->target_db = bson_strdup(target_db);
	x->max_docs = max_docs;
	return x;
}

void
replay_xtxn_set_deadline(replay_xtxn_t *x, int64_t deadline_ms)
{
	x->deadline_ms = deadline_ms;
}

void
replay_xtxn_destroy(replay_xtxn_t *x)
{
	if (!x)
		return;
	if (x->session)
		mongoc_client_session_destroy(x->session);
	bson_free(x->ns);
	bson_free(x->db);
	bson_free(x->target_db);
	bson_free(x);
}

/* The parts as "'db.a' (seq 4..6), 'db.b' (seq 9..9)"; bson_free() it. */
static char *
parts_describe(const txn_record_t *rec)
{
	char *out = bson_strdup("");

	for (size_t k = 0; k < rec->n; k++) {
		char *next = bson_strdup_printf("%s%s'%s' (seq %" PRId64 "..%" PRId64 ")", out,
						k ? ", " : "", rec->parts[k].ns,
						rec->parts[k].first_seq, rec->parts[k].last_seq);
		bson_free(out);
		out = next;
	}
	return out;
}

/* Whether events[a..b) and the record can go in one target transaction
 * here; warns when not, as they are then applied collection by collection. */
static bool
fits(const replay_xtxn_t *x, const txn_record_t *rec, const replay_batch_t *batch, size_t a,
     size_t b, const txn_key_t *key)
{
	const txn_part_t *own = txn_record_part(rec, x->ns);
	size_t dblen = strlen(x->db);
	int64_t docs = 0;
	const char *why = NULL;

	for (size_t k = 0; k < rec->n; k++) {
		docs += rec->parts[k].last_seq - rec->parts[k].first_seq + 1;
		if (strncmp(rec->parts[k].ns, x->db, dblen) != 0 || rec->parts[k].ns[dblen] != '.')
			why = "it names another database";
	}
	if (!own || own->first_seq != batch->events[a].first_seq ||
	    own->last_seq != batch->events[b - 1].last_seq)
		why = why ? why : "this collection's part is not whole in one batch";
	if (docs > x->max_docs)
		why = why ? why : "its parts hold more events than one batch (--batch-size)";
	if (!why)
		return true;
	char *what = txn_key_describe(key), *parts = parts_describe(rec);
	log_warn("source transaction %s spans collections (%s), but %s: each collection's part is "
		 "applied in a target transaction of its own, and a reader of the target may see "
		 "part of it",
		 what, parts, why);
	bson_free(parts);
	bson_free(what);
	return false;
}

/* Staged documents of ns in lo..hi with status (NULL: any) into *n. */
static bool
count_range(replay_xtxn_t *x, const char *ns, int64_t lo, int64_t hi, const char *status,
	    int64_t *n, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, range;

	BSON_APPEND_UTF8(&filter, STAGED_F_NS, ns);
	if (status)
		BSON_APPEND_UTF8(&filter, STAGED_F_STATUS, status);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, STAGED_F_SEQ, &range);
	BSON_APPEND_INT64(&range, "$gte", lo);
	BSON_APPEND_INT64(&range, "$lte", hi);
	bson_append_document_end(&filter, &range);
	*n = mongoc_collection_count_documents(x->staging, &filter, NULL, NULL, NULL, error);
	bson_destroy(&filter);
	if (*n >= 0)
		return true;
	csm_error_keep_transient(error, NULL);
	csm_error_prefix(error, "cannot count the staged events of '%s'", ns);
	return false;
}

/* Where v's part stands; own: this replay's (whose earlier events it applied). */
static bool
part_check(replay_xtxn_t *x, part_view_t *v, bool own, bson_error_t *error)
{
	const txn_part_t *p = v->part;
	int64_t span = p->last_seq - p->first_seq + 1, n = 0;

	v->state = PART_WAIT;
	v->pending_before = 0;
	if (!own && p->first_seq > 1) {
		if (!count_range(x, p->ns, 1, p->first_seq - 1, STAGING_STATUS_PENDING, &n, error))
			return false;
		if (n > 0) {
			v->pending_before = n;
			return true;
		}
	}
	if (!count_range(x, p->ns, p->first_seq, p->last_seq, STAGING_STATUS_PENDING, &n, error))
		return false;
	if (n == span) {
		v->state = PART_READY;
		return true;
	}
	if (n != 0)
		return true; /* partly staged, or partly applied on its own: wait */
	if (!count_range(x, p->ns, p->first_seq, p->last_seq, STAGING_STATUS_DONE, &n, error))
		return false;
	/* none of it pending and some later event staged: applied, and maybe
	 * purged (--purge-applied) */
	if (n != span && !count_range(x, p->ns, p->last_seq + 1, INT64_MAX, NULL, &n, error))
		return false;
	if (n > 0)
		v->state = PART_DONE;
	return true;
}

/* Every part's state; *all_ready: none waits; *first: this replay is the
 * first by name of the participants with a part still pending. */
static bool
parts_check(replay_xtxn_t *x, xwait_t *w, bool *all_ready, bool *first, bson_error_t *error)
{
	const char *lowest = NULL;

	*all_ready = true;
	for (size_t k = 0; k < w->rec->n; k++) {
		part_view_t *v = &w->views[k];
		v->part = &w->rec->parts[k];
		if (!part_check(x, v, strcmp(v->part->ns, x->ns) == 0, error))
			return false;
		if (v->state == PART_WAIT)
			*all_ready = false;
		if (v->state != PART_DONE && (!lowest || strcmp(v->part->ns, lowest) < 0))
			lowest = v->part->ns;
	}
	*first = lowest && strcmp(lowest, x->ns) == 0;
	return true;
}

/* Says, after a while and then now and then, which collection it waits for. */
static void
maybe_warn(replay_xtxn_t *x, xwait_t *w)
{
	int64_t now = clock_mono_ms();
	const part_view_t *v = NULL;

	if (now - w->started_ms < XTXN_WARN_AFTER_MS ||
	    (w->warned_ms && now - w->warned_ms < XTXN_WARN_EVERY_MS))
		return;
	for (size_t k = 0; k < w->rec->n && !v; k++)
		if (w->views[k].state == PART_WAIT)
			v = &w->views[k];
	if (!v)
		return;
	w->warned_ms = now;
	char *what = txn_key_describe(w->key), *parts = parts_describe(w->rec);
	if (v->pending_before)
		log_warn("'%s' waits %" PRId64 " s to apply source transaction %s, which spans %s, "
			 "as one target transaction: '%s' still has %" PRId64 " event(s) pending "
			 "before its part; is its cdc-replay running? (sync_migration.sh DB --all "
			 "runs one per collection)",
			 x->ns, (now - w->started_ms) / 1000, what, parts, v->part->ns,
			 v->pending_before);
	else
		log_warn("'%s' waits %" PRId64 " s to apply source transaction %s, which spans %s, "
			 "as one target transaction: the part of '%s' is not all staged yet (or "
			 "partly applied alone); capture stages it",
			 x->ns, (now - w->started_ms) / 1000, what, parts, v->part->ns);
	bson_free(parts);
	bson_free(what);
}

/* Marks events[0..a) of batch done (those not marked by this run yet):
 * applied, and the other participants wait for nothing pending before
 * their part. */
static bool
mark_before(replay_xtxn_t *x, const replay_batch_t *batch, size_t a, bson_error_t *error)
{
	int64_t from = batch->events[0].first_seq, to = batch->events[a - 1].last_seq;
	retry_t retry;

	from = from > x->marked_through ? from : x->marked_through + 1;
	if (from > to)
		return true;
	retry_init(&retry, 0);
	while (!lease_hold(x->lease, error) ||
	       !replay_batch_mark_done(x->staging, x->ns, from, to, error))
		if (!csm_error_is_transient(error, NULL) ||
		    !retry_wait(&retry, "marking the events before a source transaction done",
				error))
			return false;
	x->marked_through = to;
	return true;
}

/* Writes and claims every part still pending, then commits; *raced when
 * another replay had claimed one first. */
static replay_txn_result_t
txn_once(replay_xtxn_t *x, xwait_t *w, const replay_batch_t *batch, size_t a, size_t b,
	 const replay_batch_t *parts, bool *raced, bson_error_t *error)
{
	mongoc_transaction_opt_t *topts = mongoc_transaction_opts_new();
	mongoc_write_concern_t *wc = mongoc_write_concern_new();
	bson_t reply = BSON_INITIALIZER;
	replay_txn_result_t r = GROUP_DONE;

	mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
	mongoc_transaction_opts_set_write_concern(topts, wc);
	if (!x->session && !(x->session = mongoc_client_start_session(x->client, NULL, error)))
		r = replay_txn_failure(&reply, error);
	else if (!lease_hold(x->lease, error))
		r = replay_txn_failure(&reply, error);
	else if (!mongoc_client_session_start_transaction(x->session, topts, error))
		r = GROUP_ORDINARY;
	for (size_t k = 0; r == GROUP_DONE && k < w->rec->n; k++) {
		const txn_part_t *p = w->views[k].part;
		bool own = strcmp(p->ns, x->ns) == 0;
		int64_t marked = 0;

		if (w->views[k].state != PART_READY)
			continue;
		mongoc_collection_t *coll = mongoc_client_get_collection(x->client, x->target_db,
									 p->ns + strlen(x->db) + 1);
		if (!replay_txn_write(x->session, coll, own ? batch->events + a : parts[k].events,
				      own ? b - a : parts[k].len, &reply, error) ||
		    !replay_batch_claim_in(x->staging, p->ns, p->first_seq, p->last_seq, x->session,
					   &marked, error))
			r = replay_txn_failure(&reply, error);
		else if (marked != p->last_seq - p->first_seq + 1)
			*raced = true, r = GROUP_RETRY;
		mongoc_collection_destroy(coll);
	}
	if (r == GROUP_DONE && !replay_txn_commit(x->session, &reply, error))
		r = replay_txn_failure(&reply, error);
	if (r != GROUP_DONE && x->session && mongoc_client_session_in_transaction(x->session))
		mongoc_client_session_abort_transaction(x->session, NULL);
	bson_destroy(&reply);
	mongoc_write_concern_destroy(wc);
	mongoc_transaction_opts_destroy(topts);
	return r;
}

/* Reads the other collections' parts (outside the transaction: its marks
 * say whether they were still pending), then txn_once. */
static replay_txn_result_t
apply_all(replay_xtxn_t *x, xwait_t *w, const replay_batch_t *batch, size_t a, size_t b,
	  bool *raced, bson_error_t *error)
{
	size_t n = w->rec->n;
	replay_batch_t *parts = bson_malloc0(n * sizeof *parts);
	replay_txn_result_t r = GROUP_DONE;

	*raced = false;
	for (size_t k = 0; k < n; k++)
		replay_batch_init(&parts[k]);
	for (size_t k = 0; r == GROUP_DONE && k < n; k++) {
		const txn_part_t *p = w->views[k].part;
		replay_batch_t *pb = &parts[k];

		if (w->views[k].state != PART_READY || strcmp(p->ns, x->ns) == 0)
			continue;
		if (!replay_batch_read(x->staging, p->ns, p->first_seq - 1,
				       p->last_seq - p->first_seq + 1, SIZE_MAX, pb, error))
			r = csm_error_is_transient(error, NULL) ? GROUP_RETRY : GROUP_FAIL;
		else if (pb->len == 0 || pb->events[0].first_seq != p->first_seq ||
			 pb->events[pb->len - 1].last_seq != p->last_seq)
			*raced = true, r = GROUP_RETRY; /* applied meanwhile */
	}
	if (r == GROUP_DONE)
		r = txn_once(x, w, batch, a, b, parts, raced, error);
	for (size_t k = 0; k < n; k++)
		replay_batch_destroy(&parts[k]);
	bson_free(parts);
	return r;
}

/* One poll: GROUP_DONE when the part is done (here or by another replay),
 * GROUP_RETRY to poll again, GROUP_ORDINARY or GROUP_FAIL. */
static replay_txn_result_t
poll_once(replay_xtxn_t *x, xwait_t *w, const replay_batch_t *batch, size_t a, size_t b,
	  retry_t *retry, const char *what, bson_error_t *error)
{
	bool all_ready, first, raced = false;
	int64_t now = clock_mono_ms();
	replay_txn_result_t r = GROUP_RETRY;

	if (!parts_check(x, w, &all_ready, &first, error))
		return csm_error_is_transient(error, NULL) && retry_wait(retry, what, error)
			       ? GROUP_RETRY
			       : GROUP_FAIL;
	if (txn_record_part(w->rec, x->ns) &&
	    w->views[txn_record_part(w->rec, x->ns) - w->rec->parts].state == PART_DONE)
		return GROUP_DONE;
	w->all_ready_ms = all_ready ? (w->all_ready_ms ? w->all_ready_ms : now) : 0;
	if (all_ready && (first || now - w->all_ready_ms >= XTXN_TAKEOVER_MS)) {
		r = apply_all(x, w, batch, a, b, &raced, error);
		if (r == GROUP_DONE || r == GROUP_ORDINARY || r == GROUP_FAIL)
			return r;
		if (raced)
			return GROUP_RETRY;
		return retry_wait(retry, what, error) ? GROUP_RETRY : GROUP_FAIL;
	}
	maybe_warn(x, w);
	if (x->deadline_ms > 0 && now >= x->deadline_ms) {
		csm_error_set(
			error, CSM_EXIT_TEMPFAIL,
			"--drain of '%s' did not complete within --max-wait: it still waits to "
			"apply a source transaction that spans collections, for the replays of "
			"the others (it stays pending, with what follows it: run the same "
			"command again to go on)",
			x->ns);
		return GROUP_FAIL;
	}
	if (!stop_sleep_ms(w->poll_ms)) {
		csm_error_stopped(error,
				  "stopped while '%s' waited to apply a source transaction "
				  "that spans collections (it stays pending)",
				  x->ns);
		return GROUP_FAIL;
	}
	w->poll_ms = w->poll_ms * 2 > XTXN_POLL_MAX_MS ? XTXN_POLL_MAX_MS : w->poll_ms * 2;
	return GROUP_RETRY;
}

static xtxn_result_t
cross(replay_xtxn_t *x, const replay_batch_t *batch, size_t a, size_t b, const txn_key_t *key,
      const txn_record_t *rec, bson_error_t *error)
{
	xwait_t w = {.key = key,
		     .rec = rec,
		     .started_ms = clock_mono_ms(),
		     .poll_ms = XTXN_POLL_FIRST_MS};
	char *txn = txn_key_describe(key), *parts = parts_describe(rec);
	char *what = bson_strdup_printf(
		"applying source transaction %s across %s as one target transaction (a "
		"transaction a killed cdc-replay left open holds its documents until the target "
		"aborts it, after its transactionLifetimeLimitSeconds, 60 s by default)",
		txn, parts);
	replay_txn_result_t r;
	retry_t retry;

	retry_init(&retry, 0);
	w.views = bson_malloc0(rec->n * sizeof *w.views);
	if (a > 0 && !mark_before(x, batch, a, error))
		r = GROUP_FAIL;
	else
		while ((r = poll_once(x, &w, batch, a, b, &retry, what, error)) == GROUP_RETRY)
			;
	if (r == GROUP_DONE)
		x->marked_through = batch->events[b - 1].last_seq;
	if (r == GROUP_ORDINARY)
		log_warn("cannot apply source transaction %s across %s as one target transaction: "
			 "%s; applying the part of '%s' as the other events",
			 txn, parts, error->message, x->ns);
	bson_free(w.views);
	bson_free(what);
	bson_free(parts);
	bson_free(txn);
	return r == GROUP_DONE ? XTXN_DONE : r == GROUP_ORDINARY ? XTXN_ORDINARY : XTXN_FAIL;
}

xtxn_result_t
replay_xtxn_apply(replay_xtxn_t *x, const replay_batch_t *batch, size_t a, size_t b,
		  bson_error_t *error)
{
	txn_key_t key;
	txn_record_t rec;
	retry_t retry;
	bool found = false;
	xtxn_result_t r = XTXN_ALONE;

	if (!txn_key_of(batch->events[a].event, batch->events[a].cluster_time, &key))
		return XTXN_ALONE;
	txn_record_init(&rec);
	retry_init(&retry, 0);
	while (!txn_record_read(x->meta, &key, &rec, &found, error))
		if (!csm_error_is_transient(error, NULL) ||
		    !retry_wait(&retry, "reading a source transaction's record", error)) {
			txn_record_cleanup(&rec);
			return XTXN_FAIL;
		}
	if (found && rec.n >= 2 && fits(x, &rec, batch, a, b, &key))
		r = cross(x, batch, a, b, &key, &rec, error);
	txn_record_cleanup(&rec);
	return r;
}
