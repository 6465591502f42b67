/*
 * Progress of a long copy (docs/DESIGN.md, "Logs and status lines"): on a
 * terminal (stderr is a TTY) one line redrawn in place with documents
 * done/total, MB/s and ETA; otherwise a status line through log_fields every
 * few seconds, so logs stay readable.
 */
#ifndef CSM_PROGRESS_H
#define CSM_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "throttle.h"

typedef struct progress progress_t;

/*
 * A progress meter for label ("dump 'shop.orders'"). total_docs and
 * total_bytes may be 0 when unknown; the ETA then comes from whichever is
 * known (bytes first), or is not shown. interval_ms is the time between two
 * status lines when stderr is not a TTY. The caller frees it with
 * progress_destroy(). Returns NULL only when memory runs out.
 */
progress_t *progress_new(const char *label, int64_t total_docs, int64_t total_bytes,
			 int64_t interval_ms);

/* Adds docs and bytes done and redraws when due. Thread-safe. */
void progress_add(progress_t *progress, int64_t docs, int64_t bytes);

/*
 * Paces the copy (dump-wrap dump --max-docs-per-sec, --max-mb-per-sec):
 * every progress_add then waits as throttle says (throttle.h) for the
 * documents and bytes it counts, outside the meter's lock, and the status
 * lines carry the limits in force (maxDocsPerSec, maxMbPerSec, when set).
 * throttle (NULL: none) is borrowed and must outlive progress.
 */
void progress_set_throttle(progress_t *progress, throttle_t *throttle);

/* Draws the final state (a last line on a TTY, a last status line
 * otherwise). Call once, after the copy. */
void progress_finish(progress_t *progress);

/* Frees progress; NULL is accepted. */
void progress_destroy(progress_t *progress);

#endif
