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

/*
 * The environment variable by which the drivers ask a program they run in
 * the foreground to end with them: its value is the driver's pid.
 */
#define STOP_PARENT_ENV "CSM_STOP_WITH_PARENT"

/*
 * When STOP_PARENT_ENV names this process's parent: asks the kernel for a
 * SIGTERM once that parent ends (prctl PR_SET_PDEATHSIG), so that a driver
 * killed with kill -9 (the OOM killer, systemd KillMode=process) leaves no
 * program running beside the next one; a parent already gone (getppid()
 * is another pid) means SIGTERM at once. The variable is removed from the
 * environment: it names this process's parent, not its children's. Call
 * it after stop_install_handlers() where there is one (the SIGTERM is then
 * a clean stop); without a handler the program just ends.
 */
void stop_with_parent(void);

/* True once SIGINT or SIGTERM arrived. */
bool stop_requested(void);

/* Sleeps up to ms milliseconds, returning early (false) when stop is
 * requested. */
bool stop_sleep_ms(long ms);

#endif
