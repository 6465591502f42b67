/*
 * A stop flag set by SIGINT and SIGTERM. Long-running loops check it between
 * batches: they finish the batch, save their position and exit 0
 * (docs/DESIGN.md, "Signals and stopping").
 *
 * The first SIGINT/SIGTERM also starts a deadline of STOP_GRACE_S seconds:
 * a program still running then (a server that does not answer keeps it in
 * a call that only the 5-minute socket timeout would end) logs one line and
 * leaves with _exit(CSM_EXIT_TEMPFAIL). That is safe by design: every
 * program survives kill -9 at any moment, so a hard exit loses nothing and
 * the next run resumes from the last saved position.
 */
#ifndef CSM_STOP_H
#define CSM_STOP_H

#include <stdbool.h>

/* Seconds between the first stop request and the hard exit (75). */
#define STOP_GRACE_S 5

/*
 * Installs the handlers (no SA_RESTART, so blocking waits return early) and
 * starts the thread that enforces the deadline. Call it once, after
 * log_init (the deadline's line goes through the logger).
 */
void stop_install_handlers(void);

/* True once SIGINT or SIGTERM arrived. */
bool stop_requested(void);

/* Sleeps up to ms milliseconds, returning early (false) when stop is
 * requested. */
bool stop_sleep_ms(long ms);

#endif
