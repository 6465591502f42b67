/*
 * Raising and classifying errors (error.h). Project errors carry
 * CSM_ERROR_DOMAIN and their exit code; driver errors keep libmongoc's
 * domain (clients use error API 2, so server errors arrive in
 * MONGOC_ERROR_SERVER with the server's code) and are mapped here.
 */
#include <mongoc/mongoc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* Server error codes a retry can cure (SPEC §7, WIRE-NOTES): host and
 * network trouble, elections, shutdowns, a lost cursor. */
static const int32_t transient_codes[] = {
	6,     /* HostUnreachable */
	7,     /* HostNotFound */
	43,    /* CursorNotFound */
	89,    /* NetworkTimeout */
	91,    /* ShutdownInProgress */
	189,   /* PrimarySteppedDown */
	262,   /* ExceededTimeLimit */
	9001,  /* SocketException */
	10107, /* NotWritablePrimary */
	11600, /* InterruptedAtShutdown */
	11602, /* InterruptedDueToReplStateChange */
	13435, /* NotPrimaryNoSecondaryOk */
	13436, /* NotPrimaryOrSecondary */
};

static const char *const transient_labels[] = {
	"RetryableWriteError",
	"ResumableChangeStreamError",
	"TransientTransactionError",
	"NetworkError",
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
	return domain == MONGOC_ERROR_SERVER || domain == MONGOC_ERROR_WRITE_CONCERN;
}

bool
csm_error_is_transient(const bson_error_t *error, const bson_t *reply)
{
	size_t i;

	if (reply) {
		for (i = 0; i < sizeof transient_labels / sizeof transient_labels[0]; i++)
			if (mongoc_error_has_label(reply, transient_labels[i]))
				return true;
	}
	if (!error)
		return false;
	if (error->domain == CSM_ERROR_DOMAIN)
		return error->code == CSM_EXIT_TEMPFAIL;
	if (error->domain == MONGOC_ERROR_STREAM || error->domain == MONGOC_ERROR_SERVER_SELECTION)
		return true;
	if (is_server_domain(error->domain)) {
		for (i = 0; i < sizeof transient_codes / sizeof transient_codes[0]; i++)
			if ((int32_t)error->code == transient_codes[i])
				return true;
	}
	return false;
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
	if (error->domain == MONGOC_ERROR_CLIENT && error->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
		return CSM_EXIT_UNAVAILABLE;
	if (is_server_domain(error->domain)) {
		if (error->code == 13) /* Unauthorized */
			return CSM_EXIT_NOPERM;
		if (error->code == 286) /* ChangeStreamHistoryLost */
			return CSM_EXIT_HISTORY_LOST;
	}
	if (csm_error_is_transient(error, NULL))
		return CSM_EXIT_TEMPFAIL;
	return CSM_EXIT_DATAERR;
}
