/*
 * cdc-replay's decisions, as pure functions of what it has read (capture's
 * checkpoint, the restore marker, the head of the pending events) and the
 * clock readings it passes in: when --drain is complete (docs/DESIGN.md,
 * "Replay rules"), when the deferred unique indexes may be built
 * (docs/DESIGN.md, "The catch-up window") and how far behind replay is
 * (docs/DESIGN.md, "Logs and status lines"). Nothing here talks to a
 * server, so unit tests exercise every case directly.
 */
#ifndef CSM_REPLAY_POLICY_H
#define CSM_REPLAY_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "checkpoint.h"
#include "optime.h"
#include "replay_meta.h"

/* Where --drain stands once nothing is left to read. */
typedef enum replay_drain {
	/* No checkpoint: capture never ran; done once nothing is pending. */
	REPLAY_DRAIN_NO_CAPTURE,
	/* Capture has read the source past the drain start: done once
	 * nothing is pending. */
	REPLAY_DRAIN_CAUGHT_UP,
	/* Capture's checkpoint predates the drain start: wait for it. */
	REPLAY_DRAIN_BEHIND,
	/* ... and capture is not running (its state is not "running"): wait
	 * for it to run again. */
	REPLAY_DRAIN_PAUSED,
	/* ... and capture lost its resume point: --drain cannot complete. */
	REPLAY_DRAIN_HISTORY_LOST,
} replay_drain_t;

/*
 * The drain decision. cp (read with found) is capture's checkpoint;
 * drain_start_ms the wall clock when replay began. Capture is past the
 * drain start when its clusterTime (the source time it has read up to,
 * which an idle stream's postBatchResumeToken keeps advancing) is at or
 * past drain_start_ms; heartbeatAt alone proves only that capture is alive
 * (it is written while capture works through a backlog too), so it counts
 * only for a checkpoint without a clusterTime (then it must be past the
 * start). cp may be NULL when found is false.
 */
replay_drain_t replay_drain_decide(const checkpoint_t *cp, bool found, int64_t drain_start_ms);

/* Whether the deferred unique indexes may be built now. */
typedef enum replay_unique {
	/* Built already, none deferred, or no dump end time: nothing to do. */
	REPLAY_UNIQUE_NONE,
	/* A pending event is at or before the dump end: not yet. */
	REPLAY_UNIQUE_IN_WINDOW,
	/* Only capture's checkpoint can tell: read it and decide again. */
	REPLAY_UNIQUE_ASK_CAPTURE,
	/* Capture has not passed the dump end: it may still stage events of
	 * the window. */
	REPLAY_UNIQUE_WAIT_CAPTURE,
	/* Every event the dump may have raced with is applied: build them. */
	REPLAY_UNIQUE_BUILD,
} replay_unique_t;

/*
 * The catch-up window decision. marker is the restore marker's view;
 * has_head/head_time the first pending staged document (has_head false:
 * nothing pending; a zero head_time does not count as inside the window);
 * cp the capture checkpoint, NULL when it has not been read (then the
 * answer is at most REPLAY_UNIQUE_ASK_CAPTURE), read with found.
 */
replay_unique_t replay_unique_decide(const replay_marker_t *marker, bool has_head,
				     optime_t head_time, const checkpoint_t *cp, bool found);

/*
 * The lag, in seconds, at wall clock now_ms: while nothing is pending, how
 * old capture's heartbeat is (cp, NULL when there is no checkpoint or it
 * could not be read: then 0), else how old the last applied event is
 * (last_event_ms: its wallTime, else its clusterTime, in Unix ms; 0 when
 * none was applied). pending < 0 means unknown. Never negative; -1 when
 * nothing tells (no event applied while events are pending).
 */
double replay_lag_seconds(int64_t now_ms, int64_t pending, const checkpoint_t *cp,
			  int64_t last_event_ms);

#endif
