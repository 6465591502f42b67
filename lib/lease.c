/*
 * Leases (lease.h). The document:
 *   _id "lease:<name>", name, term (Int64, +1 on every takeover),
 *   owner {id, host, bootId, pid, started, program}, acquiredAt, renewedAt,
 *   expiresAt (Dates), releasedAt (Date, once given up).
 * Every write is w: majority, j: true: a fence that a failover forgets is
 * no fence.
 */
#include "lease.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bsonfield.h"
#include "clock.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "meta_doc.h"
#include "numparse.h"
#include "retry.h"
#include "staging_format.h"

#define LEASE_ID_PREFIX "lease:"
/* Concurrent takers of one dead holder's lease: one wins, the others look again. */
#define LEASE_TAKE_TRIES 3

/* A lease_hold in a kept lease waits at most this long for a renewal it asked for. */
#define LEASE_HOLD_WAIT_MS 1000
/* A failed renewal of a kept lease is tried again after this long at most. */
#define LEASE_RETRY_MS 1000

struct lease {
	mongoc_collection_t *meta; /* borrowed, or own_meta */
	char *doc_id;
	char *name;
	lease_owner_t owner;
	int64_t ttl_ms;
	/* Guarded by lock once the keeper runs; before, the caller's alone. */
	int64_t term;            /* 0 while not held */
	int64_t renewed_mono_ms; /* when the last renewal (or the take) was sent */
	/* lease_open's: its own client and the keeper thread renewing on it. */
	mongoc_client_t *own_client;
	mongoc_collection_t *own_meta;
	bool kept;        /* the keeper thread runs (or ran): lock, changed valid */
	bool stopping;    /* the keeper must end */
	bool kick;        /* renew now: a holder found the renewal overdue */
	bool lost;        /* another owner took it over: lost_error says who */
	bool failing;     /* the last renewal failed: last_error says why */
	int64_t attempts; /* renewals the keeper tried */
	bson_error_t lost_error;
	bson_error_t last_error;
	pthread_t keeper;
	pthread_mutex_t lock;
	pthread_cond_t changed;
};

static void keeper_stop(lease_t *lease);

/* What the lease document says. */
typedef lease_info_t lease_state_t;

static void
read_line_file(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)size, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/*
 * Fields 3 and 22 of /proc/<pid>/stat: the process's state letter ('\0'
 * when unknown) and its start time (0 when unknown).
 */
static int64_t
process_stat(int64_t pid, char *state)
{
	char path[64], buf[1024];
	const char *p;
	long long started = 0;
	FILE *f;
	size_t n;

	*state = '\0';
	snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and ')': fields count after the last ')'. */
	if (!(p = strrchr(buf, ')')))
		return 0;
	if (p[1] == ' ' && p[2])
		*state = p[2];
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p && sscanf(p + 1, "%lld", &started) != 1)
		started = 0;
	return (int64_t)started;
}

static int64_t
process_started(int64_t pid)
{
	char state;

	return process_stat(pid, &state);
}

void
lease_owner_self(lease_owner_t *owner, const char *program)
{
	bson_oid_t oid;

	memset(owner, 0, sizeof *owner);
	bson_oid_init(&oid, NULL);
	bson_oid_to_string(&oid, owner->id);
	if (gethostname(owner->host, sizeof owner->host - 1) != 0)
		bson_strncpy(owner->host, "unknown", sizeof owner->host);
	read_line_file("/proc/sys/kernel/random/boot_id", owner->boot_id, sizeof owner->boot_id);
	owner->pid = (int64_t)getpid();
	owner->started = process_started(owner->pid);
	bson_strncpy(owner->program, program ? program : "", sizeof owner->program);
}

lease_t *
lease_new(mongoc_collection_t *meta, const char *name, const lease_owner_t *owner, int64_t ttl_ms)
{
	lease_t *lease = bson_malloc0(sizeof *lease);

	lease->meta = meta;
	lease->name = bson_strdup(name);
	lease->doc_id = bson_strdup_printf("%s%s", LEASE_ID_PREFIX, name);
	lease->owner = *owner;
	lease->ttl_ms = ttl_ms > 0 ? ttl_ms : LEASE_TTL_MS;
	return lease;
}

void
lease_destroy(lease_t *lease)
{
	if (!lease)
		return;
	keeper_stop(lease);
	mongoc_collection_destroy(lease->own_meta);
	mongoc_client_destroy(lease->own_client);
	bson_free(lease->doc_id);
	bson_free(lease->name);
	bson_free(lease);
}

int64_t
lease_term(lease_t *lease)
{
	int64_t term;

	if (!lease->kept)
		return lease->term;
	pthread_mutex_lock(&lease->lock);
	term = lease->lost ? 0 : lease->term;
	pthread_mutex_unlock(&lease->lock);
	return term;
}

static void
owner_from_doc(const bson_t *owner_doc, lease_owner_t *owner)
{
	memset(owner, 0, sizeof *owner);
	bsonfield_utf8(owner_doc, "id", owner->id, sizeof owner->id);
	bsonfield_utf8(owner_doc, "host", owner->host, sizeof owner->host);
	bsonfield_utf8(owner_doc, "bootId", owner->boot_id, sizeof owner->boot_id);
	bsonfield_utf8(owner_doc, "program", owner->program, sizeof owner->program);
	owner->pid = bsonfield_int64(owner_doc, "pid", 0);
	owner->started = bsonfield_int64(owner_doc, "started", 0);
}

static void
state_from_doc(const bson_t *doc, lease_state_t *state)
{
	bson_iter_t it;

	state->exists = true;
	state->term = bsonfield_int64(doc, "term", 0);
	state->expires_ms = bsonfield_date(doc, "expiresAt");
	state->released = bson_has_field(doc, "releasedAt");
	if (bson_iter_init_find(&it, doc, "owner") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t view;

		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&view, data, len))
			owner_from_doc(&view, &state->holder);
	}
}

static bool
read_state(mongoc_collection_t *meta, const char *doc_id, lease_state_t *state, bson_error_t *error)
{
	bson_t doc;
	bool found, ok;

	memset(state, 0, sizeof *state);
	ok = meta_doc_read(meta, doc_id, &doc, &found, error);
	if (!ok)
		csm_error_prefix(error, "cannot read the lease '%s'", doc_id);
	else if (found)
		state_from_doc(&doc, state);
	bson_destroy(&doc);
	return ok;
}

/* "cdc-replay on host h (pid 12, term 3)" */
static void
describe_holder(const lease_state_t *state, char *out, size_t size)
{
	snprintf(out, size, "%s on host %s (pid %lld, term %lld)",
		 state->holder.program[0] ? state->holder.program : "a writer",
		 state->holder.host[0] ? state->holder.host : "unknown",
		 (long long)state->holder.pid, (long long)state->term);
}

/* True when the holder ran on this very machine and its process is gone. */
static bool
holder_is_dead_here(const lease_owner_t *holder, const lease_owner_t *self)
{
	int64_t started;
	char state;

	if (!holder->boot_id[0] || strcmp(holder->boot_id, self->boot_id) != 0 ||
	    strcmp(holder->host, self->host) != 0 || holder->pid <= 0)
		return false;
	if (kill((pid_t)holder->pid, 0) != 0 && errno == ESRCH)
		return true;
	/* The pid lives on in another process: the holder is gone all the same. */
	started = process_stat(holder->pid, &state);
	/* A zombie (killed, not reaped yet: pid 1 may never reap it) is dead. */
	if (state == 'Z' || state == 'X')
		return true;
	return holder->started && started && started != holder->started;
}

static void
append_owner(bson_t *set, const lease_owner_t *owner)
{
	bson_t child;

	BSON_APPEND_DOCUMENT_BEGIN(set, "owner", &child);
	BSON_APPEND_UTF8(&child, "id", owner->id);
	BSON_APPEND_UTF8(&child, "host", owner->host);
	BSON_APPEND_UTF8(&child, "bootId", owner->boot_id);
	BSON_APPEND_INT64(&child, "pid", owner->pid);
	BSON_APPEND_INT64(&child, "started", owner->started);
	BSON_APPEND_UTF8(&child, "program", owner->program);
	bson_append_document_end(set, &child);
}

/*
 * One conditional update of the lease document: filter (borrowed) must match
 * for it to apply. *matched tells whether it did (an upsert counts).
 */
static bool
update_lease(lease_t *lease, bson_t *filter, bson_t *update, bool upsert, bool *matched,
	     bson_error_t *error)
{
	bson_t opts = BSON_INITIALIZER, reply;
	bool ok;

	meta_doc_durable(&opts);
	if (upsert)
		BSON_APPEND_BOOL(&opts, "upsert", true);
	ok = mongoc_collection_update_one(lease->meta, filter, update, &opts, &reply, error);
	*matched = ok && (bson_has_field(&reply, "upsertedId")
				  ? true
				  : (bsonfield_int64(&reply, "matchedCount", 0) > 0));
	bson_destroy(&reply);
	bson_destroy(&opts);
	return ok;
}

/* The update that makes this owner the holder with the next term. */
static void
take_update(const lease_t *lease, bson_t *update)
{
	int64_t now = clock_wall_ms();
	bson_t set, inc;

	bson_init(update);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
	BSON_APPEND_UTF8(&set, "name", lease->name);
	append_owner(&set, &lease->owner);
	BSON_APPEND_DATE_TIME(&set, "acquiredAt", now);
	BSON_APPEND_DATE_TIME(&set, "renewedAt", now);
	BSON_APPEND_DATE_TIME(&set, "expiresAt", now + lease->ttl_ms);
	bson_append_document_end(update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$unset", &set);
	BSON_APPEND_UTF8(&set, "releasedAt", "");
	bson_append_document_end(update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$inc", &inc);
	BSON_APPEND_INT64(&inc, "term", 1);
	bson_append_document_end(update, &inc);
}

/* Takes the lease if it is free, expired or ours: upsert on those terms. */
static bool
take_if_free(lease_t *lease, bool *taken, bool *held_by_other, bson_error_t *error)
{
	bson_t *filter = bson_new(), update;
	bool ok;

	*held_by_other = false;
	BCON_APPEND(filter, META_F_ID, BCON_UTF8(lease->doc_id), "$or", "[", "{", "expiresAt", "{",
		    "$lte", BCON_DATE_TIME(clock_wall_ms()), "}", "}", "{", "owner.id",
		    BCON_UTF8(lease->owner.id), "}", "]");
	take_update(lease, &update);
	ok = update_lease(lease, filter, &update, true, taken, error);
	bson_destroy(&update);
	bson_destroy(filter);
	if (!ok && csm_error_classify(error, NULL) == CSM_ERRCLASS_DUPLICATE_KEY) {
		/* The document exists and is someone else's, live: the upsert collided. */
		*held_by_other = true;
		return true;
	}
	return ok;
}

/* Takes over from a holder seen dead at term `term`, if nobody was faster. */
static bool
take_from_dead(lease_t *lease, const lease_state_t *seen, bool *taken, bson_error_t *error)
{
	bson_t *filter = bson_new(), update;
	bool ok;

	BCON_APPEND(filter, META_F_ID, BCON_UTF8(lease->doc_id), "term", BCON_INT64(seen->term),
		    "owner.id", BCON_UTF8(seen->holder.id));
	take_update(lease, &update);
	ok = update_lease(lease, filter, &update, false, taken, error);
	bson_destroy(&update);
	bson_destroy(filter);
	return ok;
}

/* After a take: the term it gave us, checked to be ours. */
static bool
confirm_taken(lease_t *lease, bson_error_t *error)
{
	lease_state_t state;

	if (!read_state(lease->meta, lease->doc_id, &state, error))
		return false;
	if (!state.exists || strcmp(state.holder.id, lease->owner.id) != 0) {
		csm_error_set(error, CSM_EXIT_TEMPFAIL, "the lease '%s' changed hands while taken",
			      lease->name);
		return false;
	}
	lease->term = state.term;
	lease->renewed_mono_ms = clock_mono_ms();
	return true;
}

static void
refuse_held(const lease_t *lease, const lease_state_t *state, bson_error_t *error)
{
	char holder[400], until[32];
	int64_t left_s = (state->expires_ms - clock_wall_ms() + 999) / 1000;

	describe_holder(state, holder, sizeof holder);
	clock_format_utc(state->expires_ms, false, until, sizeof until);
	csm_error_set(error, CSM_EXIT_CANTCREAT,
		      "'%s' is being written by %s, whose lease runs until %s (%lld s from now): "
		      "one writer at a time; stop that process and run this again, or, if it "
		      "died on another machine, run this again once its lease has expired (the "
		      "document '%s' in '%s')",
		      lease->name, holder, until, (long long)(left_s > 0 ? left_s : 0),
		      lease->doc_id, mongoc_collection_get_name(lease->meta));
}

bool
lease_acquire(lease_t *lease, bson_error_t *error)
{
	lease_state_t state;
	bool taken = false, held_by_other;

	for (int attempt = 0; attempt < LEASE_TAKE_TRIES; attempt++) {
		if (!take_if_free(lease, &taken, &held_by_other, error))
			return false;
		if (taken)
			return confirm_taken(lease, error);
		if (!read_state(lease->meta, lease->doc_id, &state, error))
			return false;
		if (!state.exists)
			continue; /* released and removed meanwhile: try again */
		if (!holder_is_dead_here(&state.holder, &lease->owner)) {
			if (!held_by_other && state.expires_ms <= clock_wall_ms())
				continue; /* expired between the two reads */
			refuse_held(lease, &state, error);
			return false;
		}
		if (!take_from_dead(lease, &state, &taken, error))
			return false;
		if (taken)
			return confirm_taken(lease, error);
	}
	if (!read_state(lease->meta, lease->doc_id, &state, error))
		return false;
	refuse_held(lease, &state, error);
	return false;
}

static void
refuse_lost(const lease_t *lease, bson_error_t *error)
{
	lease_state_t state;
	bson_error_t read_error;
	char holder[400] = "another writer";

	if (read_state(lease->meta, lease->doc_id, &state, &read_error) && state.exists)
		describe_holder(&state, holder, sizeof holder);
	csm_error_set(error, CSM_EXIT_CANTCREAT,
		      "lost the lease of '%s' (term %lld) to %s: another writer took over while "
		      "this one was stopped or cut off; stopping without writing anything more "
		      "(the other one carries on: do not run this again beside it)",
		      lease->name, (long long)lease->term, holder);
}

/*
 * One conditional renewal of term: *matched false when the lease is no
 * longer ours. *sent_mono: when it was sent, the start of the new span.
 */
static bool
renew_once(lease_t *lease, int64_t term, int64_t *sent_mono, bool *matched, bson_error_t *error)
{
	bson_t *filter = bson_new(), update = BSON_INITIALIZER, set;
	int64_t now = clock_wall_ms();
	bool ok;

	*sent_mono = clock_mono_ms();
	BCON_APPEND(filter, META_F_ID, BCON_UTF8(lease->doc_id), "term", BCON_INT64(term),
		    "owner.id", BCON_UTF8(lease->owner.id));
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_DATE_TIME(&set, "renewedAt", now);
	BSON_APPEND_DATE_TIME(&set, "expiresAt", now + lease->ttl_ms);
	bson_append_document_end(&update, &set);
	ok = update_lease(lease, filter, &update, false, matched, error);
	if (!ok)
		csm_error_prefix(error, "cannot renew the lease of '%s'", lease->name);
	bson_destroy(&update);
	bson_destroy(filter);
	return ok;
}

/* Without a keeper: renews on the caller's thread. */
static bool
renew_here(lease_t *lease, bson_error_t *error)
{
	int64_t sent_mono;
	bool matched = false;

	if (lease->term == 0) {
		csm_error_set(error, CSM_EXIT_SOFTWARE, "the lease '%s' is not held", lease->name);
		return false;
	}
	if (!renew_once(lease, lease->term, &sent_mono, &matched, error))
		return false;
	if (!matched) {
		refuse_lost(lease, error);
		lease->term = 0;
		return false;
	}
	/* The lease runs from when the renewal was sent, not when it came back. */
	lease->renewed_mono_ms = sent_mono;
	return true;
}

/* Kept: how long the keeper waits before its next renewal. */
static int64_t
keeper_delay_ms(const lease_t *lease)
{
	int64_t every = lease->ttl_ms / 3, retry = lease->ttl_ms / 10;

	if (retry > LEASE_RETRY_MS)
		retry = LEASE_RETRY_MS;
	if (lease->kick)
		return 0;
	if (lease->failing)
		return retry;
	return lease->renewed_mono_ms + every - clock_mono_ms();
}

/* pthread_cond_timedwait on the monotonic clock for up to ms. */
static void
wait_changed(lease_t *lease, int64_t ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(ms / 1000);
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&lease->changed, &lease->lock, &deadline);
}

/* Kept, lock held: what one renewal found. */
static void
keeper_record(lease_t *lease, bool ok, bool matched, int64_t sent_mono, const bson_error_t *error)
{
	lease->attempts++;
	if (ok && matched) {
		if (lease->failing)
			log_info("renewed the lease of '%s' again", lease->name);
		lease->renewed_mono_ms = sent_mono;
		lease->failing = false;
	} else if (ok) {
		/* Said by the holder's next lease_hold, which stops it. */
		lease->lost = true;
		lease->lost_error = *error;
	} else {
		if (!lease->failing)
			log_warn("%s; trying again", error->message);
		lease->failing = true;
		lease->last_error = *error;
	}
	pthread_cond_broadcast(&lease->changed);
}

/* The keeper thread: renews every ttl/3 (sooner when kicked) until stopped or lost. */
static void *
keeper_main(void *arg)
{
	lease_t *lease = arg;
	bson_error_t error;
	int64_t term, sent_mono, delay;
	bool ok, matched;

	pthread_mutex_lock(&lease->lock);
	while (!lease->stopping && !lease->lost) {
		delay = keeper_delay_ms(lease);
		if (delay > 0) {
			wait_changed(lease, delay);
			continue;
		}
		lease->kick = false;
		term = lease->term;
		pthread_mutex_unlock(&lease->lock);
		matched = false;
		ok = renew_once(lease, term, &sent_mono, &matched, &error);
		if (ok && !matched)
			refuse_lost(lease, &error);
		pthread_mutex_lock(&lease->lock);
		keeper_record(lease, ok, matched, sent_mono, &error);
	}
	pthread_mutex_unlock(&lease->lock);
	return NULL;
}

/* Kept, lock held: true while the last renewal leaves a third of the ttl. */
static bool
kept_fresh(const lease_t *lease)
{
	return clock_mono_ms() - lease->renewed_mono_ms < lease->ttl_ms - lease->ttl_ms / 3;
}

/*
 * Kept: no I/O on the caller's thread. Fresh: true at once. Overdue (the
 * keeper could not renew, or the process was frozen): asks the keeper for
 * a renewal and waits for it a moment.
 */
static bool
hold_kept(lease_t *lease, bson_error_t *error)
{
	int64_t waited_for, deadline = clock_mono_ms() + LEASE_HOLD_WAIT_MS;
	bool ok;

	pthread_mutex_lock(&lease->lock);
	waited_for = lease->attempts + 1;
	while (!lease->lost && !kept_fresh(lease) && lease->attempts < waited_for &&
	       clock_mono_ms() < deadline) {
		lease->kick = true;
		pthread_cond_broadcast(&lease->changed);
		wait_changed(lease, deadline - clock_mono_ms());
	}
	ok = !lease->lost && kept_fresh(lease);
	if (lease->lost)
		*error = lease->lost_error;
	else if (!ok)
		csm_error_set(error, CSM_EXIT_TEMPFAIL,
			      "the lease of '%s' was last renewed %.1f s ago (%s): nothing is "
			      "written until it is renewed",
			      lease->name, (double)(clock_mono_ms() - lease->renewed_mono_ms) / 1e3,
			      lease->failing ? lease->last_error.message : "renewal overdue");
	pthread_mutex_unlock(&lease->lock);
	return ok;
}

bool
lease_renew(lease_t *lease, bson_error_t *error)
{
	if (lease->kept)
		return hold_kept(lease, error);
	return renew_here(lease, error);
}

bool
lease_hold(lease_t *lease, bson_error_t *error)
{
	if (lease->kept)
		return hold_kept(lease, error);
	if (lease->term != 0 && clock_mono_ms() - lease->renewed_mono_ms < lease->ttl_ms / 3)
		return true;
	return renew_here(lease, error);
}

/* Stops and joins the keeper thread, if one runs. */
static void
keeper_stop(lease_t *lease)
{
	if (!lease->kept)
		return;
	pthread_mutex_lock(&lease->lock);
	lease->stopping = true;
	pthread_cond_broadcast(&lease->changed);
	pthread_mutex_unlock(&lease->lock);
	pthread_join(lease->keeper, NULL);
	pthread_cond_destroy(&lease->changed);
	pthread_mutex_destroy(&lease->lock);
	lease->kept = false;
	if (lease->lost)
		lease->term = 0;
}

bool
lease_release(lease_t *lease, bson_error_t *error)
{
	bson_t *filter, update = BSON_INITIALIZER, set;
	int64_t now = clock_wall_ms();
	bool matched, ok;

	keeper_stop(lease);
	if (lease->term == 0)
		return true;
	filter = bson_new();
	BCON_APPEND(filter, META_F_ID, BCON_UTF8(lease->doc_id), "term", BCON_INT64(lease->term),
		    "owner.id", BCON_UTF8(lease->owner.id));
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_DATE_TIME(&set, "expiresAt", now);
	BSON_APPEND_DATE_TIME(&set, "releasedAt", now);
	bson_append_document_end(&update, &set);
	ok = update_lease(lease, filter, &update, false, &matched, error);
	bson_destroy(&update);
	bson_destroy(filter);
	if (ok)
		lease->term = 0;
	else
		csm_error_prefix(error, "cannot release the lease of '%s'", lease->name);
	return ok;
}

bool
lease_remove(lease_t *lease, bson_error_t *error)
{
	bson_t *filter, opts = BSON_INITIALIZER;
	bool ok;

	keeper_stop(lease);
	if (lease->term == 0)
		return true;
	filter = bson_new();
	BCON_APPEND(filter, META_F_ID, BCON_UTF8(lease->doc_id), "term", BCON_INT64(lease->term),
		    "owner.id", BCON_UTF8(lease->owner.id));
	meta_doc_durable(&opts);
	ok = mongoc_collection_delete_one(lease->meta, filter, &opts, NULL, error);
	bson_destroy(&opts);
	bson_destroy(filter);
	if (ok)
		lease->term = 0;
	else
		csm_error_prefix(error, "cannot remove the lease of '%s'", lease->name);
	return ok;
}

/* CSM_TEST_LEASE_TTL_MS (tests only: a stale writer in seconds), else LEASE_TTL_MS. */
static int64_t
open_ttl_ms(void)
{
	const char *text = getenv("CSM_TEST_LEASE_TTL_MS");
	int64_t ttl;

	if (text && *text && parse_int64(text, 300, LEASE_TTL_MS, &ttl))
		return ttl;
	return LEASE_TTL_MS;
}

/* Takes the lease, retrying transient failures until a stop request. */
static bool
acquire_retrying(lease_t *lease, bson_error_t *error)
{
	char *what = bson_strdup_printf("taking the lease of '%s' (target)", lease->name);
	retry_t retry;
	bool ok;

	retry_init(&retry, 0);
	while (!(ok = lease_acquire(lease, error)) && csm_error_is_transient(error, NULL) &&
	       retry_wait(&retry, what, error))
		;
	bson_free(what);
	return ok;
}

/* Starts the keeper thread, SIGINT and SIGTERM blocked in it (they are main's). */
static bool
keeper_start(lease_t *lease, bson_error_t *error)
{
	pthread_condattr_t attr;
	sigset_t block, old;
	int rc;

	pthread_mutex_init(&lease->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&lease->changed, &attr);
	pthread_condattr_destroy(&attr);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&lease->keeper, NULL, keeper_main, lease);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&lease->changed);
		pthread_mutex_destroy(&lease->lock);
		csm_error_set(error, CSM_EXIT_SOFTWARE, "cannot start the lease thread: %s",
			      strerror(rc));
		return false;
	}
	lease->kept = true;
	return true;
}

lease_t *
lease_open(const char *uri, const char *db, const char *meta_coll, const char *name,
	   const char *program, bson_error_t *error)
{
	int64_t ttl = open_ttl_ms();
	mongoc_client_t *client =
		conn_client_new_for(uri, "target", "lease", (int32_t)(ttl / 3), error);
	lease_owner_t owner;
	lease_t *lease;

	if (!client)
		return NULL;
	lease_owner_self(&owner, program);
	lease = lease_new(NULL, name, &owner, ttl);
	lease->own_client = client;
	lease->own_meta = mongoc_client_get_collection(client, db, meta_coll);
	lease->meta = lease->own_meta;
	if (!acquire_retrying(lease, error) || !keeper_start(lease, error)) {
		lease_destroy(lease);
		return NULL;
	}
	log_debug("took the lease of '%s' (term %" PRId64 ", %" PRId64 " ms)", name, lease->term,
		  ttl);
	return lease;
}

bool
lease_read(mongoc_collection_t *meta, const char *name, lease_info_t *info, bson_error_t *error)
{
	char *doc_id = bson_strdup_printf("%s%s", LEASE_ID_PREFIX, name);
	bool ok = read_state(meta, doc_id, info, error);

	bson_free(doc_id);
	return ok;
}

bool
lease_info_live(const lease_info_t *info, int64_t now_ms)
{
	return info->exists && !info->released && info->expires_ms > now_ms;
}

char *
lease_describe(mongoc_collection_t *meta, const char *name, bson_error_t *error)
{
	char *doc_id = bson_strdup_printf("%s%s", LEASE_ID_PREFIX, name);
	char holder[400], until[32];
	lease_state_t state;
	bool ok = read_state(meta, doc_id, &state, error);

	bson_free(doc_id);
	if (!ok)
		return NULL;
	if (!state.exists)
		return bson_strdup("none");
	describe_holder(&state, holder, sizeof holder);
	clock_format_utc(state.expires_ms, false, until, sizeof until);
	if (state.released || state.expires_ms <= clock_wall_ms())
		return bson_strdup_printf("free (last held by %s, until %s)", holder, until);
	return bson_strdup_printf("held by %s until %s", holder, until);
}
