/* Unit tests of error classification (error.h) and the stop flag (stop.h). */
#include <mongoc/mongoc.h>
#include <signal.h>
#include <time.h>

#include "error.h"
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

static const unit_case_t cases[] = {
	{"exit_codes", case_exit_codes},
	{"transient", case_transient},
	{"prefix", case_prefix},
	{"stop_sleep", case_stop_sleep},
};

UNIT_MAIN(cases)
