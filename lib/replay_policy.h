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
	/* ... and its state says "running", but its heartbeat is older than
	 * REPLAY_CAPTURE_SILENT_MS: capture died without a word (kill -9, its
	 * host down); wait for it to run again. */
	REPLAY_DRAIN_SILENT,
	/* ... and capture lost its resume point: --drain cannot complete. */
	REPLAY_DRAIN_HISTORY_LOST,
} replay_drain_t;

/*
 * A live capture writes its checkpoint at least once a second (after every
 * staged batch or empty getMore once a second has passed, docs/DESIGN.md,
 * "Meta documents"); fifteen missed heartbeats leave room for its retries
 * (at most 5 s apart) and say it is not running, whatever its state says.
 */
#define REPLAY_CAPTURE_SILENT_MS 15000

/* While --drain waits for a capture that does not run, its warning comes
 * at once, then again this often. */
#define REPLAY_DRAIN_WARN_EVERY_MS 60000

/*
 * The drain decision. cp (read with found) is capture's checkpoint;
 * drain_start_ms the wall clock when replay began, now_ms the wall clock
 * now (capture's heartbeatAt is a wall clock reading too). Capture is past the
 * drain start when its clusterTime (the source time it has read up to,
 * which an idle stream's postBatchResumeToken keeps advancing) is at or
 * past drain_start_ms; heartbeatAt alone proves only that capture is alive
 * (it is written while capture works through a backlog too), so it counts
 * only for a checkpoint without a clusterTime (then it must be past the
 * start). A capture behind the start whose checkpoint says "running" but
 * whose heartbeat is older than REPLAY_CAPTURE_SILENT_MS at now_ms is
 * REPLAY_DRAIN_SILENT. cp may be NULL when found is false.
 */
replay_drain_t replay_drain_decide(const checkpoint_t *cp, bool found, int64_t drain_start_ms,
				   int64_t now_ms);

/*
 * Whether a warning that --drain waits for capture is due at now_ms, the
 * last one having come at last_ms (0: none yet; both on one clock): the
 * first at once, then every REPLAY_DRAIN_WARN_EVERY_MS.
 */
bool replay_drain_warn_due(int64_t last_ms, int64_t now_ms);

/*
 * Whether --drain has used up --max-wait: max_wait_s seconds (0: no limit)
 * have passed between started_ms and now_ms (one clock).
 */
bool replay_drain_out_of_time(int64_t started_ms, int64_t now_ms, int64_t max_wait_s);

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
 * The lag, in seconds, at wall clock now_ms: now minus the newest source
 * time up to which the target is known to hold every write. Events pending
 * (or pending < 0: unknown): the last applied event's (last_event_ms: its
 * wallTime, else its clusterTime, in Unix ms; 0 when none was applied).
 * Nothing pending: the target holds everything capture staged, so the
 * newest of that, the position capture's checkpoint cp names (its
 * clusterTime; without one, its heartbeatAt) and cp's caughtUpAt (a getMore
 * that found nothing past it). Not the heartbeat alone: capture writes it
 * while it works through a backlog too, so a capture that is behind shows
 * its lag here as well. cp NULL (no checkpoint, or it could not be read)
 * with nothing pending: 0. Never negative; -1 when nothing tells.
 */
double replay_lag_seconds(int64_t now_ms, int64_t pending, const checkpoint_t *cp,
			  int64_t last_event_ms);

/*
 * Caught up, cdc-replay polls for capture's next batch every
 * REPLAY_IDLE_FIRST_MS for the first REPLAY_IDLE_FAST_MS of idleness (a
 * busy source's batches come every --batch-ms, 200 ms by default: a longer
 * sleep would add to every event's lag), then backs off, doubling up to
 * REPLAY_IDLE_MAX_MS, so that a quiet collection costs one find a second.
 */
#define REPLAY_IDLE_FIRST_MS 50
#define REPLAY_IDLE_FAST_MS 5000
#define REPLAY_IDLE_MAX_MS 1000

/* The next idle sleep in ms, the last having been last_ms (0: none) and
 * the loop idle for idle_for_ms. */
long replay_idle_next_ms(long last_ms, int64_t idle_for_ms);

#endif
