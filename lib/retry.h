/*
 * The one backoff of the toolkit. Whatever is retried (a staged batch, a
 * bulk write, a stream reopen, a restore insert) waits 100 ms before its
 * first retry, doubling to at most 5 s, logs one "retrying" warning per
 * wait, and gives way to a stop request (SIGINT/SIGTERM) during the wait.
 *
 *	retry_t r;
 *	retry_init(&r, 0);
 *	while (!do_it(&error)) {
 *		if (!csm_error_is_transient(&error, NULL) ||
 *		    !retry_wait(&r, "staging a batch on the target", &error))
 *			return false;  // error says why: the cause, or stopped
 *	}
 */
#ifndef CSM_RETRY_H
#define CSM_RETRY_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 5000

typedef struct retry {
	int max_attempts; /* retries allowed; 0: no limit */
	int attempt;      /* retries waited for so far */
	int64_t delay_ms; /* the last wait; 0 before the first */
} retry_t;

/* A fresh retry state allowing max_attempts retries (0: unlimited). */
void retry_init(retry_t *r, int max_attempts);

/* After progress: the next failure waits RETRY_FIRST_MS again. */
void retry_reset(retry_t *r);

/*
 * Before the next try of `what` (a phrase: "staging a batch of 'db.c' on
 * the target"), which failed with *error: logs the warning "retrying" with
 * what, attempt, delayMs and the reason, then sleeps. Returns true when the
 * caller should try again. false when no retry is left (*error unchanged)
 * or a stop was requested (*error becomes csm_error_stopped(), naming what
 * and the cause).
 */
bool retry_wait(retry_t *r, const char *what, bson_error_t *error);

#endif
