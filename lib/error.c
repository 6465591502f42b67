/*
 * Raising and classifying errors (error.h). Project errors carry
 * CSM_ERROR_DOMAIN and their exit code; driver errors keep libmongoc's
 * domain (clients use error API 2, so server errors arrive in
 * MONGOC_ERROR_SERVER with the server's code) and are sorted here, the one
 * place that knows which server codes mean what.
 */
#include <mongoc/mongoc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "server_codes.h"

/* Server error codes a retry can cure: host and network trouble,
 * elections, shutdowns, a lost cursor, secondaries that lag behind a
 * write concern (the write itself is on the primary, and every write the
 * toolkit repeats is idempotent). */
static const int32_t transient_codes[] = {
	SERVER_HOST_UNREACHABLE,
	SERVER_HOST_NOT_FOUND,
	SERVER_CURSOR_NOT_FOUND,
	SERVER_WRITE_CONCERN_FAILED,
	SERVER_NETWORK_TIMEOUT,
	SERVER_SHUTDOWN_IN_PROGRESS,
	SERVER_PRIMARY_STEPPED_DOWN,
	SERVER_EXCEEDED_TIME_LIMIT,
	SERVER_SOCKET_EXCEPTION,
	SERVER_NOT_WRITABLE_PRIMARY,
	SERVER_INTERRUPTED_AT_SHUTDOWN,
	SERVER_INTERRUPTED_DUE_TO_REPL_STATE_CHANGE,
	SERVER_NOT_PRIMARY_NO_SECONDARY_OK,
	SERVER_NOT_PRIMARY_OR_SECONDARY,
};

static const char *const transient_labels[] = {
	"RetryableWriteError",
	"ResumableChangeStreamError",
	"TransientTransactionError",
	"NetworkError",
};

/* The words of exitcodes.h, for --help and messages. */
static const struct {
	int code;
	const char *meaning;
} exit_meanings[] = {
	{CSM_EXIT_OK,
	 "done, or (capture, replay) stopped by SIGINT/SIGTERM with the position saved"},
	{CSM_EXIT_DIFFERENT,
	 "a check failed: source and target differ, or a migration is unhealthy"},
	{CSM_EXIT_HISTORY_LOST, "the source oplog no longer holds the resume point: start over"},
	{CSM_EXIT_DDL, "stopped at a drop, rename, dropDatabase or invalidate event"},
	{CSM_EXIT_USAGE, "bad command line: nothing was done"},
	{CSM_EXIT_DATAERR, "corrupt token or state file, bad dump, or a real conflict"},
	{CSM_EXIT_NOINPUT, "no such collection, dump or token file"},
	{CSM_EXIT_UNAVAILABLE, "a server cannot be reached or refuses the login"},
	{CSM_EXIT_SOFTWARE, "a bug: an invariant of the toolkit failed"},
	{CSM_EXIT_CANTCREAT, "an output that must not be overwritten already exists"},
	{CSM_EXIT_IOERR, "a local file could not be read or written"},
	{CSM_EXIT_TEMPFAIL, "temporary failure: the same command again may succeed"},
	{CSM_EXIT_NOPERM, "the server says the user lacks a privilege"},
};

void
csm_error_set(bson_error_t *error, int exit_code, const char *fmt, ...)
{
	va_list ap;

	if (!error)
		return;
	error->domain = CSM_ERROR_DOMAIN;
	error->code = (uint32_t)exit_code;
	va_start(ap, fmt);
	vsnprintf(error->message, sizeof error->message, fmt, ap);
	va_end(ap);
}

void
csm_error_stopped(bson_error_t *error, const char *fmt, ...)
{
	va_list ap;

	if (!error)
		return;
	error->domain = CSM_ERROR_DOMAIN;
	error->code = CSM_EXIT_OK;
	va_start(ap, fmt);
	vsnprintf(error->message, sizeof error->message, fmt, ap);
	va_end(ap);
}

bool
csm_error_is_stopped(const bson_error_t *error)
{
	return error && error->domain == CSM_ERROR_DOMAIN && error->code == CSM_EXIT_OK;
}

void
csm_error_prefix(bson_error_t *error, const char *fmt, ...)
{
	char joined[sizeof error->message];
	size_t used, rest;
	va_list ap;
	int n;

	if (!error)
		return;
	va_start(ap, fmt);
	n = vsnprintf(joined, sizeof joined, fmt, ap);
	va_end(ap);
	used = n < 0 ? 0 : (size_t)n;
	if (used > sizeof joined - 1)
		used = sizeof joined - 1;
	/* Append ": " and the old message, cut to fit. */
	rest = strlen(error->message);
	if (used + 2 < sizeof joined) {
		memcpy(joined + used, ": ", 2);
		used += 2;
		if (rest > sizeof joined - 1 - used)
			rest = sizeof joined - 1 - used;
		memcpy(joined + used, error->message, rest);
		used += rest;
	}
	joined[used] = '\0';
	memcpy(error->message, joined, sizeof error->message);
}

static bool
is_server_domain(uint32_t domain)
{
	return domain == MONGOC_ERROR_SERVER || domain == MONGOC_ERROR_WRITE_CONCERN ||
	       domain == MONGOC_ERROR_QUERY;
}

int32_t
csm_error_server_code(const bson_error_t *error, const bson_t *reply)
{
	bson_iter_t it;

	if (reply && bson_iter_init_find(&it, reply, "code") && BSON_ITER_HOLDS_NUMBER(&it))
		return (int32_t)bson_iter_as_int64(&it);
	if (error && is_server_domain(error->domain))
		return (int32_t)error->code;
	return 0;
}

static bool
has_transient_label(const bson_t *reply)
{
	if (!reply)
		return false;
	for (size_t i = 0; i < sizeof transient_labels / sizeof transient_labels[0]; i++)
		if (mongoc_error_has_label(reply, transient_labels[i]))
			return true;
	return false;
}

csm_error_class_t
csm_error_classify(const bson_error_t *error, const bson_t *reply)
{
	int32_t code;

	if (error && error->domain == CSM_ERROR_DOMAIN) {
		if (error->code == CSM_EXIT_OK)
			return CSM_ERRCLASS_STOPPED;
		if (error->code == CSM_EXIT_TEMPFAIL)
			return CSM_ERRCLASS_TRANSIENT;
		if (error->code == CSM_EXIT_HISTORY_LOST)
			return CSM_ERRCLASS_HISTORY_LOST;
		if (error->code == CSM_EXIT_NOPERM)
			return CSM_ERRCLASS_AUTH;
		return CSM_ERRCLASS_FATAL;
	}
	if (has_transient_label(reply))
		return CSM_ERRCLASS_TRANSIENT;
	if (!error)
		return CSM_ERRCLASS_FATAL;
	if (error->domain == MONGOC_ERROR_STREAM || error->domain == MONGOC_ERROR_SERVER_SELECTION)
		return CSM_ERRCLASS_TRANSIENT;
	if (error->domain == MONGOC_ERROR_CLIENT && error->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
		return CSM_ERRCLASS_AUTH;
	code = csm_error_server_code(error, reply);
	switch (code) {
	case 0:
		return CSM_ERRCLASS_FATAL;
	case SERVER_UNAUTHORIZED:
		return CSM_ERRCLASS_AUTH;
	case SERVER_CHANGE_STREAM_HISTORY_LOST:
	case SERVER_CHANGE_STREAM_FATAL:
	case SERVER_CAPPED_POSITION_LOST:
		return CSM_ERRCLASS_HISTORY_LOST;
	case SERVER_DUPLICATE_KEY:
	case SERVER_DUPLICATE_KEY_ON_UPDATE:
		return CSM_ERRCLASS_DUPLICATE_KEY;
	default:
		break;
	}
	for (size_t i = 0; i < sizeof transient_codes / sizeof transient_codes[0]; i++)
		if (code == transient_codes[i])
			return CSM_ERRCLASS_TRANSIENT;
	return CSM_ERRCLASS_FATAL;
}

bool
csm_error_is_transient(const bson_error_t *error, const bson_t *reply)
{
	return csm_error_classify(error, reply) == CSM_ERRCLASS_TRANSIENT;
}

void
csm_error_keep_transient(bson_error_t *error, const bson_t *reply)
{
	char message[sizeof error->message];

	if (!reply || csm_error_is_transient(error, NULL) || !csm_error_is_transient(error, reply))
		return;
	bson_strncpy(message, error->message, sizeof message);
	csm_error_set(error, CSM_EXIT_TEMPFAIL, "%s", message);
}

int
csm_exit_code(const bson_error_t *error)
{
	if (!error)
		return CSM_EXIT_SOFTWARE;
	if (error->domain == CSM_ERROR_DOMAIN)
		return (int)error->code;
	/*
	 * A server we cannot reach, or one that rejects our credentials, needs
	 * a human to fix the URI or the server: 69. Authentication failures
	 * (libmongoc reports them as MONGOC_ERROR_CLIENT_AUTHENTICATE whatever
	 * the server's code 18 said) land here on purpose; 77 is kept for a
	 * user who is known but lacks a privilege.
	 */
	if (error->domain == MONGOC_ERROR_SERVER_SELECTION || error->domain == MONGOC_ERROR_STREAM)
		return CSM_EXIT_UNAVAILABLE;
	switch (csm_error_classify(error, NULL)) {
	case CSM_ERRCLASS_AUTH:
		return error->domain == MONGOC_ERROR_CLIENT ? CSM_EXIT_UNAVAILABLE
							    : CSM_EXIT_NOPERM;
	case CSM_ERRCLASS_HISTORY_LOST:
		return CSM_EXIT_HISTORY_LOST;
	case CSM_ERRCLASS_TRANSIENT:
		return CSM_EXIT_TEMPFAIL;
	default:
		return CSM_EXIT_DATAERR;
	}
}

const char *
csm_exit_describe(int code)
{
	for (size_t i = 0; i < sizeof exit_meanings / sizeof exit_meanings[0]; i++)
		if (exit_meanings[i].code == code)
			return exit_meanings[i].meaning;
	return "";
}
