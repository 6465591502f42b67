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

/*
 * Files that hold a secret (a URI in a tool's config file) and must not
 * outlive the process even when the deadline ends it: the deadline removes
 * the registered path (a file, or an empty directory) before it exits.
 * stop_forget_path() after the caller removed it itself. At most
 * STOP_MAX_PATHS at a time; false when full (the caller then must not rely
 * on it). The path is copied.
 */
#define STOP_MAX_PATHS 4
bool stop_remove_at_deadline(const char *path);
void stop_forget_path(const char *path);

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

/*
 * SIGUSR1 as "drain and exit" (cdc-replay, docs/DESIGN.md, "Signals and
 * stopping"): installs its handler (no SA_RESTART), which only sets a flag
 * that stop_drain_requested() reads; no deadline, no stop. Programs that
 * do not call it keep SIGUSR1's default.
 */
void stop_catch_drain(void);

/* True once SIGUSR1 arrived after stop_catch_drain(). */
bool stop_drain_requested(void);

/* True once SIGINT or SIGTERM arrived. */
bool stop_requested(void);

/* Sleeps up to ms milliseconds, returning early (false) when stop is
 * requested. */
bool stop_sleep_ms(long ms);

#endif
