/* Unit tests of error classification (error.h) and the stop flag (stop.h). */
#include <mongoc/mongoc.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "optime.h"
#include "retry.h"
#include "server_codes.h"
#include "stop.h"
#include "unit.h"

static bson_error_t
driver_error(uint32_t domain, uint32_t code)
{
	bson_error_t error;

	bson_set_error(&error, domain, code, "driver says no");
	return error;
}

static void
case_exit_codes(void)
{
	bson_error_t e;

	csm_error_set(&e, CSM_EXIT_NOINPUT, "no collection '%s'", "a.b");
	CHECK_INT(csm_exit_code(&e), 66);
	CHECK_STR(e.message, "no collection 'a.b'");
	e = driver_error(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE);
	CHECK_INT(csm_exit_code(&e), 69);
	e = driver_error(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_CONNECT);
	CHECK_INT(csm_exit_code(&e), 69);
	e = driver_error(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_AUTHENTICATE);
	CHECK_INT(csm_exit_code(&e), 69);
	e = driver_error(MONGOC_ERROR_SERVER, 13);
	CHECK_INT(csm_exit_code(&e), 77);
	e = driver_error(MONGOC_ERROR_SERVER, 286);
	CHECK_INT(csm_exit_code(&e), 3);
	e = driver_error(MONGOC_ERROR_SERVER, 11600);
	CHECK_INT(csm_exit_code(&e), 75);
	e = driver_error(MONGOC_ERROR_WRITE_CONCERN, 91);
	CHECK_INT(csm_exit_code(&e), 75);
	e = driver_error(MONGOC_ERROR_SERVER, 11000);
	CHECK_INT(csm_exit_code(&e), 65);
	e = driver_error(MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID);
	CHECK_INT(csm_exit_code(&e), 65);
}

static void
case_transient(void)
{
	static const uint32_t transient[] = {6,    7,     43,    89,    91,    189,  262,
					     9001, 10107, 11600, 11602, 13435, 13436};
	bson_error_t e;
	bson_t *reply;
	size_t i;

	for (i = 0; i < sizeof transient / sizeof transient[0]; i++) {
		e = driver_error(MONGOC_ERROR_SERVER, transient[i]);
		if (!csm_error_is_transient(&e, NULL))
			fprintf(stderr, "code %u\n", transient[i]);
		CHECK(csm_error_is_transient(&e, NULL));
	}
	e = driver_error(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET);
	CHECK(csm_error_is_transient(&e, NULL));
	e = driver_error(MONGOC_ERROR_SERVER, 11000);
	CHECK(!csm_error_is_transient(&e, NULL));
	e = driver_error(MONGOC_ERROR_SERVER, 286);
	CHECK(!csm_error_is_transient(&e, NULL));
	reply = BCON_NEW("ok", BCON_DOUBLE(0), "code", BCON_INT32(112), "errorLabels", "[",
			 BCON_UTF8("TransientTransactionError"), "]");
	e = driver_error(MONGOC_ERROR_SERVER, 112);
	CHECK(csm_error_is_transient(&e, reply));
	CHECK(!csm_error_is_transient(&e, NULL));
	CHECK_INT(csm_exit_code(&e), 65);
	bson_destroy(reply);
	reply = BCON_NEW("errorLabels", "[", BCON_UTF8("ResumableChangeStreamError"), "]");
	CHECK(csm_error_is_transient(NULL, reply));
	bson_destroy(reply);
}

static void
case_prefix(void)
{
	bson_error_t e;
	char long_text[600];

	e = driver_error(MONGOC_ERROR_SERVER, 11000);
	csm_error_prefix(&e, "cannot apply batch %d", 7);
	CHECK_STR(e.message, "cannot apply batch 7: driver says no");
	CHECK_INT(e.domain, MONGOC_ERROR_SERVER);
	CHECK_INT(e.code, 11000);
	memset(long_text, 'x', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	csm_error_prefix(&e, "%s", long_text);
	CHECK_INT(strlen(e.message), sizeof e.message - 1);
}

static void
case_stop_sleep(void)
{
	struct timespec t0, t1;
	long elapsed_ms;

	stop_install_handlers();
	CHECK(!stop_requested());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(stop_sleep_ms(120));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(elapsed_ms >= 120);
	raise(SIGTERM); /* the handler runs before raise returns */
	CHECK(stop_requested());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(!stop_sleep_ms(10000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(elapsed_ms < 1000);
}

static void
case_classify(void)
{
	bson_error_t e;
	bson_t *reply;

	e = driver_error(MONGOC_ERROR_SERVER, SERVER_CHANGE_STREAM_HISTORY_LOST);
	CHECK_INT(csm_error_classify(&e, NULL), CSM_ERRCLASS_HISTORY_LOST);
	e = driver_error(MONGOC_ERROR_SERVER, SERVER_CAPPED_POSITION_LOST);
	CHECK_INT(csm_error_classify(&e, NULL), CSM_ERRCLASS_HISTORY_LOST);
	CHECK_INT(csm_exit_code(&e), CSM_EXIT_HISTORY_LOST);
	e = driver_error(MONGOC_ERROR_SERVER, SERVER_DUPLICATE_KEY);
	CHECK_INT(csm_error_classify(&e, NULL), CSM_ERRCLASS_DUPLICATE_KEY);
	e = driver_error(MONGOC_ERROR_SERVER, SERVER_UNAUTHORIZED);
	CHECK_INT(csm_error_classify(&e, NULL), CSM_ERRCLASS_AUTH);
	e = driver_error(MONGOC_ERROR_SERVER, SERVER_BAD_VALUE);
	CHECK_INT(csm_error_classify(&e, NULL), CSM_ERRCLASS_FATAL);
	/* The reply's code wins over a client-side domain (a stream error). */
	e = driver_error(MONGOC_ERROR_CLIENT, 1);
	reply = BCON_NEW("ok", BCON_DOUBLE(0), "code", BCON_INT32(SERVER_INVALID_RESUME_TOKEN));
	CHECK_INT(csm_error_server_code(&e, reply), SERVER_INVALID_RESUME_TOKEN);
	CHECK_INT(csm_error_server_code(&e, NULL), 0);
	bson_destroy(reply);
	csm_error_stopped(&e, "stopped before %s", "x");
	CHECK(csm_error_is_stopped(&e));
	CHECK_INT(csm_error_classify(&e, NULL), CSM_ERRCLASS_STOPPED);
	CHECK_INT(csm_exit_code(&e), CSM_EXIT_OK);
	csm_error_set(&e, CSM_EXIT_TEMPFAIL, "later");
	CHECK(!csm_error_is_stopped(&e));
	CHECK_INT(csm_error_classify(&e, NULL), CSM_ERRCLASS_TRANSIENT);
	CHECK_STR(csm_exit_describe(CSM_EXIT_USAGE), "bad command line: nothing was done");
}

static void
case_optime(void)
{
	optime_t a = {5, 1}, b = {5, 2}, c = {6, 0};
	bson_t *doc = BCON_NEW("ts", BCON_TIMESTAMP(7, 3), "n", BCON_INT32(1));
	optime_t got = OPTIME_ZERO;

	CHECK(optime_cmp(a, b) < 0);
	CHECK(optime_cmp(b, a) > 0);
	CHECK(optime_cmp(b, c) < 0);
	CHECK(optime_cmp(c, c) == 0);
	CHECK(optime_is_zero(OPTIME_ZERO));
	CHECK(!optime_is_zero(a));
	CHECK(optime_from_doc(doc, "ts", &got));
	CHECK_INT(got.t, 7);
	CHECK_INT(got.i, 3);
	CHECK(!optime_from_doc(doc, "n", &got));
	CHECK(!optime_from_doc(doc, "missing", &got));
	CHECK_INT(got.t, 7);
	bson_destroy(doc);
}

static void
case_retry(void)
{
	retry_t r;
	bson_error_t e;

	stop_install_handlers();
	retry_init(&r, 2);
	csm_error_set(&e, CSM_EXIT_TEMPFAIL, "busy");
	CHECK(retry_wait(&r, "a test", &e));
	CHECK_INT(r.delay_ms, RETRY_FIRST_MS);
	CHECK(retry_wait(&r, "a test", &e));
	CHECK_INT(r.delay_ms, 2 * RETRY_FIRST_MS);
	/* Out of retries: the cause stays the error. */
	CHECK(!retry_wait(&r, "a test", &e));
	CHECK_STR(e.message, "busy");
	CHECK(!csm_error_is_stopped(&e));
	retry_reset(&r);
	CHECK_INT(r.delay_ms, 0);
	raise(SIGTERM);
	CHECK(!retry_wait(&r, "staging a batch", &e));
	CHECK(csm_error_is_stopped(&e));
	CHECK_CONTAINS(e.message, "staging a batch");
	CHECK_CONTAINS(e.message, "busy");
}

/* A program stuck past the stop deadline exits 75, and a secret file it
 * registered is gone all the same. */
static void
case_deadline_removes_paths(void)
{
	char dir[] = "/tmp/csm-deadline.XXXXXX", file[64];
	int status = 0;
	pid_t child;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof file, "%s/config.yaml", dir);
	child = fork();
	if (child == 0) {
		stop_install_handlers();
		f = fopen(file, "w");
		if (!f)
			_exit(2);
		fputs("uri: secret\n", f);
		fclose(f);
		stop_remove_at_deadline(dir);
		stop_remove_at_deadline(file);
		raise(SIGTERM);
		/* A server that never answers: the program never gets back to its loop. */
		for (;;)
			pause();
	}
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), CSM_EXIT_TEMPFAIL);
	CHECK(access(file, F_OK) != 0);
	CHECK(access(dir, F_OK) != 0);
	rmdir(dir);
}

static const unit_case_t cases[] = {
	{"deadline_removes_paths", case_deadline_removes_paths},
	{"classify", case_classify},
	{"optime", case_optime},
	{"retry", case_retry},
	{"exit_codes", case_exit_codes},
	{"transient", case_transient},
	{"prefix", case_prefix},
	{"stop_sleep", case_stop_sleep},
};

UNIT_MAIN(cases)
