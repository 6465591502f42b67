/*
 * One cdc-replay run (docs/DESIGN.md, "Flow" and "Replay rules"): the
 * connection to the target and the collections it works on, and the follow
 * loop that reads the pending staged events of one collection in seq
 * order, applies them, marks them done, builds the deferred indexes when
 * the catch-up window allows, reports status lines and ends on a stop
 * request, at a stop event, or once --drain is complete.
 */
#ifndef CSM_REPLAY_RUN_H
#define CSM_REPLAY_RUN_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

/* What the command line asks for; the strings are borrowed (argv). */
typedef struct replay_opts {
	const char *db;           /* source database; the staging one on the target */
	const char *coll;         /* source collection */
	const char *to_db;        /* target database; NULL: db */
	const char *to_coll;      /* target collection; NULL: coll */
	const char *staging_coll; /* staging collection's name */
	int64_t batch_size;       /* staged documents per batch */
	int64_t workers;          /* parallel lanes per batch */
	int64_t status_interval;  /* seconds between status lines; 0: none */
	bool drain;               /* end once capture is past the start and nothing is pending */
	int64_t max_wait;         /* --drain: seconds before it gives up (75); 0: no limit */
	int64_t max_ops_per_sec;  /* events applied per second at most; 0: no limit */
	const char *rate_file;    /* --throttle-file, re-read for the limit; NULL: none */
	int64_t purge_applied_s;  /* delete done events applied this long ago; < 0: never */
} replay_opts_t;

typedef struct replay_session replay_session_t;

/*
 * Connects to the target at target_uri (a pool whose clients carry the
 * appname "changestream-migration/target") and opens the staging, meta and
 * target collections for opts (borrowed; must outlive the session). NULL +
 * error (exit 69 unreachable, 64 bad URI or a target collection named like
 * the staging collections, names.h) on failure. Free with
 * replay_session_close().
 */
replay_session_t *replay_session_open(const char *target_uri, const replay_opts_t *opts,
				      bson_error_t *error);
void replay_session_close(replay_session_t *session);

/*
 * Runs the follow loop until a stop request (SIGINT/SIGTERM: the batch in
 * flight is applied and marked first), a stop event, a failure, or (with
 * --drain, or once SIGUSR1 asked for it: stop_catch_drain) the end of the
 * drain, then writes the final status line.
 * Returns the exit code: 0 done or stopped, 3 capture lost its resume point
 * during --drain, 4 a drop/rename/dropDatabase/invalidate event, 65 a real
 * conflict or a corrupt staged event, 69 the target unreachable, 75 --drain
 * not complete within opts->max_wait seconds.
 */
int replay_session_run(replay_session_t *session);

#endif
