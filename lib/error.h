/*
 * One way to raise and classify errors. lib/ functions return bool (or NULL)
 * and fill a bson_error_t; project errors use CSM_ERROR_DOMAIN with an exit
 * code, driver errors keep libmongoc's domain and are mapped on exit.
 */
#ifndef CSM_ERROR_H
#define CSM_ERROR_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "exitcodes.h"

/* Sets error to CSM_ERROR_DOMAIN/exit_code with a printf-style message. */
void csm_error_set(bson_error_t *error, int exit_code, const char *fmt, ...) BSON_GNUC_PRINTF(3, 4);

/*
 * Prefixes error's message with "context: " keeping its domain and code, so
 * a low-level message gains the subject it failed on.
 */
void csm_error_prefix(bson_error_t *error, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);

/*
 * The one way to say "a stop (SIGINT/SIGTERM) was requested while this was
 * being done or retried": a project error whose exit code is 0, with a
 * message saying what was left undone. Whoever meets it unwinds and exits 0.
 */
void csm_error_stopped(bson_error_t *error, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);
bool csm_error_is_stopped(const bson_error_t *error);

/* What an error means for the one who met it. */
typedef enum csm_error_class {
	CSM_ERRCLASS_FATAL,         /* nothing a retry cures: report and exit */
	CSM_ERRCLASS_TRANSIENT,     /* network, election, retry label: back off, retry */
	CSM_ERRCLASS_STOPPED,       /* csm_error_stopped(): unwind and exit 0 */
	CSM_ERRCLASS_HISTORY_LOST,  /* the source oplog no longer holds the resume point */
	CSM_ERRCLASS_DUPLICATE_KEY, /* 11000: the caller knows whether it is a conflict */
	CSM_ERRCLASS_AUTH,          /* not authorized, or the login failed */
} csm_error_class_t;

/*
 * Sorts error (and, when not NULL, the server reply it came with, whose
 * error labels count too) into one of the classes above. Project errors
 * are transient only with exit code 75, stopped with exit code 0.
 */
csm_error_class_t csm_error_classify(const bson_error_t *error, const bson_t *reply);

/* Shorthand for csm_error_classify(error, reply) == CSM_ERRCLASS_TRANSIENT. */
bool csm_error_is_transient(const bson_error_t *error, const bson_t *reply);

/*
 * When the error labels of reply (the server's error document; may be NULL)
 * make error transient but error alone does not say so, re-raises error as
 * exit 75 (CSM_EXIT_TEMPFAIL) keeping its message: the one way a lib
 * function that alone sees the reply hands its verdict to a caller that
 * sees only error.
 */
void csm_error_keep_transient(bson_error_t *error, const bson_t *reply);

/*
 * The server's error code: reply's "code" when it has one, else error's
 * code for server-domain errors; 0 for client-side and project errors.
 */
int32_t csm_error_server_code(const bson_error_t *error, const bson_t *reply);

/*
 * The exit code main() should return for error: its own code for project
 * errors; for driver errors, 69 for connection/server-selection failures
 * and failed logins, 77 for a missing privilege (code 13), 3 for a lost
 * resume point, 75 for retryable ones, 65 otherwise.
 */
int csm_exit_code(const bson_error_t *error);

/* What exit code `code` means, in the words of exitcodes.h ("" if unknown). */
const char *csm_exit_describe(int code);

#endif
