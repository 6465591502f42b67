/*
 * Exit codes of every program (docs/DESIGN.md, "Exit codes"). The sysexits.h
 * values are used so that shell drivers and operators can tell a retryable
 * failure from one that needs a human; the two project-specific codes sit
 * below 64 where sysexits leaves room.
 */
#ifndef CSM_EXITCODES_H
#define CSM_EXITCODES_H

enum csm_exit {
	CSM_EXIT_OK = 0,
	/* A check failed: cdc-verify, source and target differ; cdc-status, a
	 * migration is unhealthy. */
	CSM_EXIT_DIFFERENT = 1,
	/* The source oplog no longer holds the resume point: start over. */
	CSM_EXIT_HISTORY_LOST = 3,
	/* Stopped at a drop/rename/dropDatabase/invalidate event. */
	CSM_EXIT_DDL = 4,
	/* Bad command line: nothing was done. */
	CSM_EXIT_USAGE = 64,
	/* Corrupt token/state file, bad dump, real unique-key conflict. */
	CSM_EXIT_DATAERR = 65,
	/* No such collection, dump or token file. */
	CSM_EXIT_NOINPUT = 66,
	/* Server cannot be reached or refuses the operation for good. */
	CSM_EXIT_UNAVAILABLE = 69,
	/* A bug: an invariant of our own failed. */
	CSM_EXIT_SOFTWARE = 70,
	/* An output that must not be overwritten already exists. */
	CSM_EXIT_CANTCREAT = 73,
	/* A local file could not be read or written. */
	CSM_EXIT_IOERR = 74,
	/* Temporary failure: running the same command again may succeed. */
	CSM_EXIT_TEMPFAIL = 75,
	/* The server says the user lacks a privilege. */
	CSM_EXIT_NOPERM = 77,
};

/*
 * Errors raised by lib/ carry this domain in bson_error_t and an enum csm_exit
 * value as their code, so main() can exit with csm_exit_code(&error).
 */
#define CSM_ERROR_DOMAIN 0x43534d /* "CSM" */

#endif
