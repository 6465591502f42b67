/* cdc-replay's decisions (replay_policy.h). */
#include "replay_policy.h"

#include <string.h>

replay_drain_t
replay_drain_decide(const checkpoint_t *cp, bool found, int64_t drain_start_ms, int64_t now_ms)
{
	bool behind;

	if (!found || !cp)
		return REPLAY_DRAIN_NO_CAPTURE;
	if (!optime_is_zero(cp->cluster_time))
		behind = (int64_t)cp->cluster_time.t * 1000 < drain_start_ms;
	else
		behind = cp->heartbeat_ms <= drain_start_ms;
	if (!behind)
		return REPLAY_DRAIN_CAUGHT_UP;
	if (strcmp(cp->state, CHECKPOINT_STATE_HISTORY_LOST) == 0)
		return REPLAY_DRAIN_HISTORY_LOST;
	if (cp->state[0] && strcmp(cp->state, CHECKPOINT_STATE_RUNNING) != 0)
		return REPLAY_DRAIN_PAUSED;
	if (cp->heartbeat_ms > 0 && now_ms - cp->heartbeat_ms > REPLAY_CAPTURE_SILENT_MS)
		return REPLAY_DRAIN_SILENT;
	return REPLAY_DRAIN_BEHIND;
}

bool
replay_drain_warn_due(int64_t last_ms, int64_t now_ms)
{
	return last_ms == 0 || now_ms - last_ms >= REPLAY_DRAIN_WARN_EVERY_MS;
}

bool
replay_drain_out_of_time(int64_t started_ms, int64_t now_ms, int64_t max_wait_s)
{
	return max_wait_s > 0 && now_ms - started_ms >= max_wait_s * 1000;
}

replay_unique_t
replay_unique_decide(const replay_marker_t *marker, bool has_head, optime_t head_time,
		     const checkpoint_t *cp, bool found)
{
	if (marker->unique_created || optime_is_zero(marker->dump_end))
		return REPLAY_UNIQUE_NONE;
	if (has_head && !optime_is_zero(head_time) && optime_cmp(head_time, marker->dump_end) <= 0)
		return REPLAY_UNIQUE_IN_WINDOW;
	if (!cp)
		return REPLAY_UNIQUE_ASK_CAPTURE;
	if (!found || optime_cmp(cp->cluster_time, marker->dump_end) < 0)
		return REPLAY_UNIQUE_WAIT_CAPTURE;
	return REPLAY_UNIQUE_BUILD;
}

double
replay_lag_seconds(int64_t now_ms, int64_t pending, const checkpoint_t *cp, int64_t last_event_ms)
{
	int64_t covered = last_event_ms;
	double lag;

	if (pending == 0 && !cp)
		return 0.0;
	if (pending == 0) {
		int64_t position = cp->cluster_time.t > 0 ? (int64_t)cp->cluster_time.t * 1000
							  : cp->heartbeat_ms;

		if (position > covered)
			covered = position;
		if (cp->caught_up_ms > covered)
			covered = cp->caught_up_ms;
	}
	if (covered <= 0)
		return -1.0;
	lag = (double)(now_ms - covered) / 1000.0;
	return lag < 0 ? 0.0 : lag;
}

long
replay_idle_next_ms(long last_ms, int64_t idle_for_ms)
{
	if (last_ms <= 0 || idle_for_ms < REPLAY_IDLE_FAST_MS)
		return REPLAY_IDLE_FIRST_MS;
	return last_ms * 2 > REPLAY_IDLE_MAX_MS ? REPLAY_IDLE_MAX_MS : last_ms * 2;
}
