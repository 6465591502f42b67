/*
 * One way to raise and classify errors. lib/ functions return bool (or NULL)
 * and fill a bson_error_t; project errors use CSM_ERROR_DOMAIN with an exit
 * code, driver errors keep libmongoc's domain and are mapped on exit.
 */
#ifndef CSM_ERROR_H
#define CSM_ERROR_H

#include <bson/bson.h>
#include <stdbool.h>

#include "exitcodes.h"

/* Sets error to CSM_ERROR_DOMAIN/exit_code with a printf-style message. */
void csm_error_set(bson_error_t *error, int exit_code, const char *fmt, ...)
	BSON_GNUC_PRINTF(3, 4);

/*
 * Prefixes error's message with "context: " keeping its domain and code, so
 * a low-level message gains the subject it failed on.
 */
void csm_error_prefix(bson_error_t *error, const char *fmt, ...)
	BSON_GNUC_PRINTF(2, 3);

/*
 * The exit code main() should return for error: its own code for project
 * errors; for driver errors, 69 for connection/server-selection failures, 77
 * for authorization failures (code 13), 75 for retryable ones, 65 otherwise.
 */
int csm_exit_code(const bson_error_t *error);

/* True when a driver/server error is transient: network, election, retry
 * labels, the codes in SPEC §7 / WIRE-NOTES. reply may be NULL. */
bool csm_error_is_transient(const bson_error_t *error, const bson_t *reply);

#endif
