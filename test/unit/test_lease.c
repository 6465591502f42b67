/*
 * Tests of the single-writer lease (lease.h) against a server: the URI
 * comes from CSM_TEST_URI, the database from CSM_TEST_DB (test/lease.bats
 * starts the server). Owners on "another machine" are this process's
 * identity with another host and boot id.
 */
#include <mongoc/mongoc.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "lease.h"
#include "stop.h"
#include "unit.h"

static mongoc_client_t *client;
static mongoc_collection_t *meta;

static void
connect_meta(const char *coll)
{
	const char *uri = getenv("CSM_TEST_URI"), *db = getenv("CSM_TEST_DB");
	bson_error_t error;

	if (!uri || !db) {
		fprintf(stderr, "CSM_TEST_URI and CSM_TEST_DB must be set\n");
		exit(2);
	}
	mongoc_init();
	client = mongoc_client_new(uri);
	CHECK(client != NULL);
	/* As conn_client_new() sets it: server errors in the server domain. */
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	meta = mongoc_client_get_collection(client, db, coll);
	mongoc_collection_drop(meta, &error);
}

static void
disconnect(void)
{
	mongoc_collection_destroy(meta);
	mongoc_client_destroy(client);
	mongoc_cleanup();
}

static void
other_machine(lease_owner_t *owner, const char *host)
{
	lease_owner_self(owner, "cdc-replay");
	bson_strncpy(owner->host, host, sizeof owner->host);
	bson_strncpy(owner->boot_id, "00000000-0000-0000-0000-000000000000", sizeof owner->boot_id);
}

static void
case_take_and_refuse(void)
{
	lease_owner_t a, b;
	lease_t *la, *lb;
	bson_error_t error;
	char *text;

	connect_meta("take_meta");
	other_machine(&a, "host-a");
	other_machine(&b, "host-b");
	la = lease_new(meta, "apply:db.c", &a, 30000);
	lb = lease_new(meta, "apply:db.c", &b, 30000);
	CHECK(lease_acquire(la, &error));
	CHECK_INT(lease_term(la), 1);
	/* A second writer is refused at start, told who holds it and until when. */
	CHECK(!lease_acquire(lb, &error));
	CHECK_INT(csm_exit_code(&error), CSM_EXIT_CANTCREAT);
	CHECK_CONTAINS(error.message, "cdc-replay on host host-a");
	CHECK_CONTAINS(error.message, "term 1");
	CHECK_CONTAINS(error.message, "lease runs until");
	CHECK_INT(lease_term(lb), 0);
	text = lease_describe(meta, "apply:db.c", &error);
	CHECK_CONTAINS(text, "held by cdc-replay on host host-a");
	bson_free(text);
	/* Released, it is free at once for the next writer, with a new term. */
	CHECK(lease_release(la, &error));
	CHECK(lease_acquire(lb, &error));
	CHECK_INT(lease_term(lb), 2);
	text = lease_describe(meta, "apply:db.c", &error);
	CHECK_CONTAINS(text, "host-b");
	bson_free(text);
	text = lease_describe(meta, "apply:other", &error);
	CHECK_STR(text, "none");
	bson_free(text);
	lease_destroy(la);
	lease_destroy(lb);
	disconnect();
}

static void
case_expired_taken_and_stale_refused(void)
{
	lease_owner_t a, b;
	lease_t *la, *lb;
	bson_error_t error;
	int64_t deadline;
	bool taken = false;

	connect_meta("expiry_meta");
	other_machine(&a, "host-a");
	other_machine(&b, "host-b");
	la = lease_new(meta, "apply:db.c", &a, 300);
	lb = lease_new(meta, "apply:db.c", &b, 30000);
	CHECK(lease_acquire(la, &error));
	CHECK(lease_hold(la, &error));
	/* A holder on another machine that stops renewing loses it at expiry. */
	deadline = clock_mono_ms() + 10000;
	while (!taken && clock_mono_ms() < deadline) {
		taken = lease_acquire(lb, &error);
		if (!taken) {
			CHECK_INT(csm_exit_code(&error), CSM_EXIT_CANTCREAT);
			stop_sleep_ms(50);
		}
	}
	CHECK(taken);
	CHECK_INT(lease_term(lb), 2);
	/* The stale holder learns it at its next publish and is refused. */
	CHECK(!lease_hold(la, &error));
	CHECK_INT(csm_exit_code(&error), CSM_EXIT_CANTCREAT);
	CHECK_CONTAINS(error.message, "lost the lease of 'apply:db.c' (term 1)");
	CHECK_CONTAINS(error.message, "host-b");
	CHECK(!lease_renew(la, &error));
	/* Its release does not free the lease it no longer holds. */
	CHECK(lease_release(la, &error));
	CHECK(lease_hold(lb, &error));
	CHECK(lease_renew(lb, &error));
	CHECK_INT(lease_term(lb), 2);
	lease_destroy(la);
	lease_destroy(lb);
	disconnect();
}

/*
 * The lease "apply:db.c" taken by process pid of this machine (start time
 * unknown when !start_known), then by this process at once: term 2. The
 * caller destroys *mine.
 */
static void
check_taken_from(pid_t pid, bool start_known, lease_t **mine)
{
	lease_owner_t dead, me;
	lease_t *ld;
	bson_error_t error;

	lease_owner_self(&dead, "cdc-replay");
	dead.pid = pid;
	if (!start_known)
		dead.started = 0;
	ld = lease_new(meta, "apply:db.c", &dead, 30000);
	CHECK(lease_acquire(ld, &error));
	lease_owner_self(&me, "cdc-replay");
	*mine = lease_new(meta, "apply:db.c", &me, 30000);
	CHECK(lease_acquire(*mine, &error));
	CHECK_INT(lease_term(*mine), 2);
	lease_destroy(ld);
}

/* A child that has exited: reaped, or left a zombie (never waited for). */
static pid_t
exited_child(bool reap)
{
	siginfo_t info;
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	if (reap)
		waitpid(child, NULL, 0);
	else
		CHECK(waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT) == 0);
	return child;
}

static void
case_dead_holder_here_taken_at_once(void)
{
	lease_owner_t alive;
	lease_t *la, *lm;
	bson_error_t error;
	pid_t child;

	connect_meta("dead_meta");
	/* A process of this machine that held the lease and died (kill -9). */
	child = exited_child(true);
	check_taken_from(child, true, &lm);
	/* A live holder of this machine (this very process) is not taken over. */
	lease_owner_self(&alive, "dump-wrap");
	la = lease_new(meta, "apply:db.c", &alive, 30000);
	CHECK(!lease_acquire(la, &error));
	CHECK_INT(csm_exit_code(&error), CSM_EXIT_CANTCREAT);
	CHECK_CONTAINS(error.message, "cdc-replay");
	lease_destroy(la);
	lease_destroy(lm);
	disconnect();
}

static void
case_zombie_holder_taken_at_once(void)
{
	lease_t *lm;
	pid_t child;

	connect_meta("zombie_meta");
	/* Killed and never reaped (pid 1 of a container may never wait): a zombie. */
	child = exited_child(false);
	/* Its start time unknown: only the process's state can tell. */
	check_taken_from(child, false, &lm);
	waitpid(child, NULL, 0);
	lease_destroy(lm);
	disconnect();
}

static void
case_kept_renewed_while_idle(void)
{
	const char *uri = getenv("CSM_TEST_URI"), *db = getenv("CSM_TEST_DB");
	lease_owner_t other;
	lease_t *kept, *lo;
	bson_error_t error;

	connect_meta("kept_meta");
	/* A lease of 0.6 s (tests only), renewed by its own thread. */
	setenv("CSM_TEST_LEASE_TTL_MS", "600", 1);
	kept = lease_open(uri, db, "kept_meta", "capture:db.c", "cdc-capture", &error);
	unsetenv("CSM_TEST_LEASE_TTL_MS");
	CHECK(kept != NULL);
	if (!kept) {
		fprintf(stderr, "%s\n", error.message);
		disconnect();
		return;
	}
	/* Its holder writes nothing for three times the ttl: still its lease. */
	stop_sleep_ms(1800);
	other_machine(&other, "host-b");
	lo = lease_new(meta, "capture:db.c", &other, 30000);
	CHECK(!lease_acquire(lo, &error));
	CHECK_INT(csm_exit_code(&error), CSM_EXIT_CANTCREAT);
	CHECK_CONTAINS(error.message, "cdc-capture on host");
	CHECK(lease_hold(kept, &error));
	CHECK_INT(lease_term(kept), 1);
	/* Released, the next writer takes it at once. */
	CHECK(lease_release(kept, &error));
	CHECK_INT(lease_term(kept), 0);
	CHECK(lease_acquire(lo, &error));
	CHECK_INT(lease_term(lo), 2);
	lease_destroy(kept);
	lease_destroy(lo);
	disconnect();
}

static const unit_case_t cases[] = {
	{"take_and_refuse", case_take_and_refuse},
	{"expired_taken_and_stale_refused", case_expired_taken_and_stale_refused},
	{"dead_holder_here_taken_at_once", case_dead_holder_here_taken_at_once},
	{"zombie_holder_taken_at_once", case_zombie_holder_taken_at_once},
	{"kept_renewed_while_idle", case_kept_renewed_while_idle},
};

UNIT_MAIN(cases)
