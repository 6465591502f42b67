/*
 * A stop flag set by SIGINT and SIGTERM. Long-running loops check it between
 * batches: they finish the batch, save their position and exit 0
 * (docs/DESIGN.md, "Signals and stopping").
 */
#ifndef CSM_STOP_H
#define CSM_STOP_H

#include <stdbool.h>

/* Installs the handlers (no SA_RESTART, so blocking waits return early). */
void stop_install_handlers(void);

/* True once SIGINT or SIGTERM arrived. */
bool stop_requested(void);

/* Sleeps up to ms milliseconds, returning early (false) when stop is
 * requested. */
bool stop_sleep_ms(long ms);

#endif
