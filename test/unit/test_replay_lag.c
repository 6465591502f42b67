/*
 * Unit tests of the lag cdc-replay reports (replay_lag_seconds) and of its
 * idle polling (replay_idle_next_ms), replay_policy.h, without a server.
 */
#include <string.h>

#include "checkpoint.h"
#include "replay_policy.h"
#include "unit.h"

/* Now, in Unix ms; T0 is that second. */
#define NOW_MS ((int64_t)1700000000 * 1000)
#define T0 1700000000u

/* Lag values are exact for these inputs; compare in milliseconds. */
#define LAG_MS(x) ((long long)((x)*1000.0 + ((x) < 0 ? -0.5 : 0.5)))

/* A running capture's checkpoint at cluster time second t, heartbeat hb_ms. */
static checkpoint_t
make_cp(uint32_t t, int64_t hb_ms)
{
	checkpoint_t cp;

	memset(&cp, 0, sizeof cp);
	cp.cluster_time = (optime_t){t, t ? 1 : 0};
	cp.heartbeat_ms = hb_ms;
	bson_strncpy(cp.state, CHECKPOINT_STATE_RUNNING, sizeof cp.state);
	return cp;
}

/* Nothing pending, a busy source: the events just applied are newer than
 * the position the checkpoint (written once a second) names. */
static void
case_current_replay(void)
{
	checkpoint_t cp = make_cp(T0 - 1, NOW_MS - 900);

	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, NOW_MS - 120)), 120);
	/* A heartbeat written just now does not hide that the last event
	 * applied is 120 ms old... */
	cp.heartbeat_ms = NOW_MS;
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, NOW_MS - 120)), 120);
	/* ... and a newer position than that event counts. */
	cp.cluster_time = (optime_t){T0, 7};
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, NOW_MS - 1500)), 0);
}

/* Capture behind the source (a backlog, or it cannot keep up): replay keeps
 * up with what is staged, so nothing is pending, and capture writes fresh
 * heartbeats; the lag is still how far the source is ahead. */
static void
case_capture_behind(void)
{
	checkpoint_t cp = make_cp(T0 - 600, NOW_MS - 100);

	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, NOW_MS - 600200)), 600000);
	/* Before replay applied anything (a restart): the position alone. */
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, 0)), 600000);
}

/* A quiet source: a real replica set's cluster time moves only with its
 * 10 s no-op, so the position gets old while capture is caught up; the
 * getMore that found nothing (caughtUpAt) says how current the target is.
 * It never hides a capture behind: caughtUpAt is only written when a
 * getMore found nothing past the position. */
static void
case_quiet_source(void)
{
	checkpoint_t cp = make_cp(T0 - 9, NOW_MS - 300);

	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, NOW_MS - 20000)), 9000);
	cp.caught_up_ms = NOW_MS - 700;
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, NOW_MS - 20000)), 700);
	/* Pending events: the last applied one, as before. */
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 4, &cp, NOW_MS - 20000)), 20000);
	/* An older caughtUpAt than the position changes nothing. */
	cp.caught_up_ms = NOW_MS - 60000;
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, 0)), 9000);
}

/* Events pending: the age of the last applied one, whatever capture says. */
static void
case_pending(void)
{
	checkpoint_t cp = make_cp(T0, NOW_MS);

	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 12, &cp, NOW_MS - 5000)), 5000);
	/* An unknown count is not "nothing pending". */
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, -1, &cp, NOW_MS - 2500)), 2500);
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, -1, NULL, NOW_MS - 2500)), 2500);
	/* Nothing applied yet: nothing tells. */
	CHECK(replay_lag_seconds(NOW_MS, 3, &cp, 0) < 0);
}

/* Without a position, or without a checkpoint at all. */
static void
case_no_position(void)
{
	checkpoint_t cp = make_cp(0, NOW_MS - 30000);

	/* No clusterTime: the heartbeat is the only reading, or a newer event. */
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, 0)), 30000);
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, NOW_MS - 7000)), 7000);
	cp.heartbeat_ms = 0;
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, NOW_MS - 7000)), 7000);
	CHECK(replay_lag_seconds(NOW_MS, 0, &cp, 0) < 0);
	/* No checkpoint and nothing pending: capture never ran, nothing to be
	 * behind. */
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, NULL, NOW_MS - 5000)), 0);
}

/* Clocks a little apart never give a negative lag. */
static void
case_clock_skew(void)
{
	checkpoint_t cp = make_cp(T0 + 1, NOW_MS + 800);

	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 0, &cp, 0)), 0);
	CHECK_INT(LAG_MS(replay_lag_seconds(NOW_MS, 5, NULL, NOW_MS + 800)), 0);
}

/* Polling while idle: the first interval for REPLAY_IDLE_FAST_MS, then
 * doubling up to REPLAY_IDLE_MAX_MS; a batch starts it over. */
static void
case_idle_polling(void)
{
	long ms = 0;
	int64_t idle = 0;

	CHECK_INT(replay_idle_next_ms(0, 0), REPLAY_IDLE_FIRST_MS);
	while (idle < REPLAY_IDLE_FAST_MS) {
		ms = replay_idle_next_ms(ms, idle);
		CHECK_INT(ms, REPLAY_IDLE_FIRST_MS);
		idle += ms;
	}
	CHECK_INT(replay_idle_next_ms(ms, idle), 2 * REPLAY_IDLE_FIRST_MS);
	CHECK_INT(replay_idle_next_ms(800, idle + 3000), REPLAY_IDLE_MAX_MS);
	CHECK_INT(replay_idle_next_ms(REPLAY_IDLE_MAX_MS, idle + 60000), REPLAY_IDLE_MAX_MS);
	/* 0: the last turn applied a batch. */
	CHECK_INT(replay_idle_next_ms(0, idle + 60000), REPLAY_IDLE_FIRST_MS);
}

static const unit_case_t cases[] = {
	{"current_replay", case_current_replay}, {"capture_behind", case_capture_behind},
	{"quiet_source", case_quiet_source},     {"pending", case_pending},
	{"no_position", case_no_position},       {"clock_skew", case_clock_skew},
	{"idle_polling", case_idle_polling},
};

UNIT_MAIN(cases)
