/*
 * cdc-capture's state machine: the change stream on the source
 * (capture_reader.h) feeding the namespace it stages (capture_ns.h), one
 * step at a time (docs/DESIGN.md, "Flow", "Errors and retries", "Signals
 * and stopping"):
 *
 *	capture_run_t *run = capture_run_new(&config, source_uri, target_uri, &error);
 *	if (run)
 *		while (capture_next(run, &error))
 *			;
 *	// error says why it ended: csm_error_is_stopped() for a SIGINT/SIGTERM
 *	// (exit 0), else csm_exit_code(): 3, 4, 65, 69...
 *	capture_run_destroy(run);
 */
#ifndef CSM_CAPTURE_RUN_H
#define CSM_CAPTURE_RUN_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

/* What cdc-capture's options say; the strings are borrowed. */
typedef struct capture_config {
	const char *db;           /* source database, also the staging database */
	const char *coll;         /* source collection */
	const char *state_dir;    /* where the token file lives */
	const char *staging_coll; /* staging collection in db on the target */
	bool update_lookup;       /* fullDocument updateLookup, else default */
	const char *post_image;   /* fullDocument required|whenAvailable, or NULL */
	bool split_never;         /* no $changeStreamSplitLargeEvent even when there */
	int64_t batch_size;       /* events per staged batch and per getMore */
	int64_t batch_ms;         /* longest wait before a batch is staged */
	int64_t status_interval;  /* seconds between status lines */
} capture_config_t;

typedef struct capture_run capture_run_t;

/*
 * Everything a capture starts from: a source collection not named like
 * the staging collections (64, names.h), the token file (before any server
 * is asked, so a corrupt one is 65 whatever the servers), clients for both
 * URIs, the staging writer and its checkpoint, the resume point and the
 * source. NULL + error (its exit code: 64, 65, 66, 69...) when capture
 * cannot start. config's strings must outlive the run.
 */
capture_run_t *capture_run_new(const capture_config_t *config, const char *source_uri,
			       const char *target_uri, bson_error_t *error);

/*
 * One step: opens the stream, or reads one event (staging a batch when it
 * is due) or one empty getMore, or handles a stream error. true to go on;
 * false + error when capture ends: a stop request (csm_error_stopped(),
 * the batch staged and the position saved when it could be), a DDL event
 * (4), a lost resume point (3) or a fatal error. Not to be called again
 * after false.
 */
bool capture_next(capture_run_t *run, bson_error_t *error);

/* Releases run and its clients; NULL is accepted. */
void capture_run_destroy(capture_run_t *run);

#endif
