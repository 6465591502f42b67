/*
 * What the drivers' state directory says of one namespace, for cdc-status
 * (status_view.h): whether its token and dump-pending files exist, whether
 * its capture and replay pid files name live processes of those programs,
 * how its last replay ended (DB.COLL.replay.exit, written by
 * sync_migration.sh), its throttle file, and the newest error line of the
 * current run in its capture and replay logs. Reading only.
 */
#ifndef CSM_STATUS_FILES_H
#define CSM_STATUS_FILES_H

#include <stdbool.h>

#include "throttle.h"

/* What the state directory says of one ns; all false/-1 without one. */
typedef struct status_files {
	bool token;                 /* DB.COLL.token exists */
	bool dump_pending;          /* DB.COLL.dump-pending exists */
	bool capture_running;       /* DB.COLL.capture.pid names a live cdc-capture */
	bool replay_running;        /* DB.COLL.replay.pid names a live cdc-replay */
	int replay_exit;            /* DB.COLL.replay.exit's status; -1 none */
	bool replay_drained;        /* ... and it says the drain completed */
	throttle_limits_t throttle; /* DB.COLL.throttle; -1 each when absent */
	char last_error[1024];      /* the newest error line of the current runs' logs; "" none */
} status_files_t;

/*
 * Reads the files of ns ("db.coll") in state_dir into files; what cannot
 * be read counts as absent (a throttle file that does not parse puts its
 * message in last_error).
 */
void status_files_read(const char *state_dir, const char *ns, status_files_t *files);

#endif
