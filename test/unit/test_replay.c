/*
 * Unit tests of cdc-replay's decisions without a server (replay_policy.h):
 * when --drain is complete, when the deferred unique indexes may be built
 * (the lag of the status line: test_replay_lag.c); and of the pieces they stand on: the restore
 * marker's view (replay_meta.h) and the catch-up window's skip rule
 * (replay_apply.h).
 */
#include <string.h>

#include "checkpoint.h"
#include "marker.h"
#include "replay_apply.h"
#include "replay_meta.h"
#include "replay_policy.h"
#include "server_codes.h"
#include "unit.h"

/* The drain began at this wall clock time (ms); T0 is that second. */
#define START_MS ((int64_t)1700000000 * 1000)
#define T0 1700000000u

/* A checkpoint at cluster time (t, i), heartbeat hb_ms, in state. */
static checkpoint_t
make_cp(uint32_t t, uint32_t i, int64_t hb_ms, const char *state)
{
	checkpoint_t cp;

	memset(&cp, 0, sizeof cp);
	cp.cluster_time = (optime_t){t, i};
	cp.heartbeat_ms = hb_ms;
	bson_strncpy(cp.state, state, sizeof cp.state);
	return cp;
}

static void
case_drain_no_checkpoint(void)
{
	CHECK_INT(replay_drain_decide(NULL, false, START_MS, START_MS), REPLAY_DRAIN_NO_CAPTURE);
}

static void
case_drain_cluster_time(void)
{
	checkpoint_t cp = make_cp(T0 - 1, 5, START_MS + 60000, "running");

	/* A fresh heartbeat does not count while the clusterTime is behind. */
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_BEHIND);
	cp = make_cp(T0, 0, 0, "running");
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_CAUGHT_UP);
	/* Past the start, an old heartbeat does not matter either. */
	cp = make_cp(T0 + 1, 1, START_MS - 3600000, "running");
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_CAUGHT_UP);
	/* The start falls inside second T0: T0 * 1000 is before it. */
	cp = make_cp(T0, 9, 0, "running");
	CHECK_INT(replay_drain_decide(&cp, true, START_MS + 500, START_MS + 500),
		  REPLAY_DRAIN_BEHIND);
}

static void
case_drain_heartbeat_only(void)
{
	checkpoint_t cp = make_cp(0, 0, START_MS, "running");

	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_BEHIND);
	cp.heartbeat_ms = START_MS + 1;
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_CAUGHT_UP);
	cp.heartbeat_ms = 0;
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_BEHIND);
}

static void
case_drain_capture_state(void)
{
	checkpoint_t cp = make_cp(T0 - 10, 1, 0, CHECKPOINT_STATE_HISTORY_LOST);

	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_HISTORY_LOST);
	cp = make_cp(T0 - 10, 1, 0, CHECKPOINT_STATE_STOPPED);
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_PAUSED);
	cp = make_cp(T0 - 10, 1, 0, CHECKPOINT_STATE_DDL);
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_PAUSED);
	cp = make_cp(T0 - 10, 1, 0, "");
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_BEHIND);
	/* The state only matters while capture is behind the start. */
	cp = make_cp(T0 + 10, 1, 0, CHECKPOINT_STATE_HISTORY_LOST);
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_CAUGHT_UP);
}

static void
case_drain_silent_capture(void)
{
	/* Killed -9 a minute before the drain: its state still says running. */
	checkpoint_t cp = make_cp(T0 - 60, 1, START_MS - 60000, CHECKPOINT_STATE_RUNNING);

	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_SILENT);
	/* A heartbeat within the threshold is a capture at work on a backlog. */
	cp.heartbeat_ms = START_MS - REPLAY_CAPTURE_SILENT_MS;
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_BEHIND);
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS + 1), REPLAY_DRAIN_SILENT);
	/* Without a clusterTime the heartbeat is what is behind. */
	cp = make_cp(0, 0, START_MS - 20000, "");
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_SILENT);
	/* An unknown heartbeat tells nothing. */
	cp = make_cp(T0 - 60, 1, 0, CHECKPOINT_STATE_RUNNING);
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS + 3600000),
		  REPLAY_DRAIN_BEHIND);
	/* Stopped or lost say so themselves; past the start it does not matter. */
	cp = make_cp(T0 - 60, 1, START_MS - 60000, CHECKPOINT_STATE_STOPPED);
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_PAUSED);
	cp = make_cp(T0 - 60, 1, START_MS - 60000, CHECKPOINT_STATE_HISTORY_LOST);
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS), REPLAY_DRAIN_HISTORY_LOST);
	cp = make_cp(T0 + 1, 1, START_MS - 60000, CHECKPOINT_STATE_RUNNING);
	CHECK_INT(replay_drain_decide(&cp, true, START_MS, START_MS + 3600000),
		  REPLAY_DRAIN_CAUGHT_UP);
}

static void
case_drain_warn_cadence(void)
{
	CHECK(replay_drain_warn_due(0, 5));
	CHECK(!replay_drain_warn_due(1000, 1000));
	CHECK(!replay_drain_warn_due(1000, 1000 + REPLAY_DRAIN_WARN_EVERY_MS - 1));
	CHECK(replay_drain_warn_due(1000, 1000 + REPLAY_DRAIN_WARN_EVERY_MS));
}

static void
case_drain_max_wait(void)
{
	CHECK(!replay_drain_out_of_time(1000, 1000 + 3600000, 0));
	CHECK(!replay_drain_out_of_time(1000, 1000 + 2999, 3));
	CHECK(replay_drain_out_of_time(1000, 1000 + 3000, 3));
	CHECK(replay_drain_out_of_time(1000, 1000 + 604800000LL, 604800));
}

/* A view with deferred unique indexes still to build, window end (t, i). */
static replay_marker_t
pending_unique(uint32_t t, uint32_t i)
{
	replay_marker_t m;

	memset(&m, 0, sizeof m);
	m.found = true;
	m.dump_end = (optime_t){t, i};
	m.n_unique = 1;
	m.unique_created = false;
	m.ttl_created = true;
	return m;
}

static void
case_unique_nothing_to_do(void)
{
	replay_marker_t m = pending_unique(T0, 5);
	checkpoint_t cp = make_cp(T0 + 1, 0, 0, "running");

	m.unique_created = true;
	CHECK_INT(replay_unique_decide(&m, false, OPTIME_ZERO, &cp, true), REPLAY_UNIQUE_NONE);
	/* No dump end time: no window to wait for, nothing built here. */
	m = pending_unique(0, 0);
	CHECK_INT(replay_unique_decide(&m, false, OPTIME_ZERO, &cp, true), REPLAY_UNIQUE_NONE);
}

static void
case_unique_head_in_window(void)
{
	replay_marker_t m = pending_unique(T0, 5);
	checkpoint_t cp = make_cp(T0 + 1, 0, 0, "running");

	CHECK_INT(replay_unique_decide(&m, true, (optime_t){T0, 5}, &cp, true),
		  REPLAY_UNIQUE_IN_WINDOW);
	CHECK_INT(replay_unique_decide(&m, true, (optime_t){T0 - 1, 99}, NULL, false),
		  REPLAY_UNIQUE_IN_WINDOW);
	/* Past the dump end, or no head time, or nothing pending: capture
	 * decides. */
	CHECK_INT(replay_unique_decide(&m, true, (optime_t){T0, 6}, NULL, false),
		  REPLAY_UNIQUE_ASK_CAPTURE);
	CHECK_INT(replay_unique_decide(&m, true, OPTIME_ZERO, NULL, false),
		  REPLAY_UNIQUE_ASK_CAPTURE);
	CHECK_INT(replay_unique_decide(&m, false, OPTIME_ZERO, NULL, false),
		  REPLAY_UNIQUE_ASK_CAPTURE);
}

static void
case_unique_capture(void)
{
	replay_marker_t m = pending_unique(T0, 5);
	checkpoint_t cp = make_cp(T0, 4, START_MS + 60000, "running");

	CHECK_INT(replay_unique_decide(&m, false, OPTIME_ZERO, NULL, false),
		  REPLAY_UNIQUE_ASK_CAPTURE);
	CHECK_INT(replay_unique_decide(&m, false, OPTIME_ZERO, &cp, false),
		  REPLAY_UNIQUE_WAIT_CAPTURE);
	CHECK_INT(replay_unique_decide(&m, false, OPTIME_ZERO, &cp, true),
		  REPLAY_UNIQUE_WAIT_CAPTURE);
	cp.cluster_time = OPTIME_ZERO;
	CHECK_INT(replay_unique_decide(&m, false, OPTIME_ZERO, &cp, true),
		  REPLAY_UNIQUE_WAIT_CAPTURE);
	cp.cluster_time = (optime_t){T0, 5};
	CHECK_INT(replay_unique_decide(&m, false, OPTIME_ZERO, &cp, true), REPLAY_UNIQUE_BUILD);
	cp.cluster_time = (optime_t){T0 + 1, 0};
	CHECK_INT(replay_unique_decide(&m, true, (optime_t){T0 + 1, 0}, &cp, true),
		  REPLAY_UNIQUE_BUILD);
}

static void
append_spec(bson_t *array, const char *key, const char *name, bool ttl)
{
	bson_t spec;

	BSON_APPEND_DOCUMENT_BEGIN(array, key, &spec);
	BSON_APPEND_UTF8(&spec, "name", name);
	if (ttl)
		BSON_APPEND_INT32(&spec, "expireAfterSeconds", 3600);
	else
		BSON_APPEND_BOOL(&spec, "unique", true);
	bson_append_document_end(array, &spec);
}

static void
case_marker_view(void)
{
	restore_marker_t marker;
	replay_marker_t view;
	bson_iter_t iter;

	restore_marker_init(&marker);
	replay_marker_init(&view);
	CHECK(!view.found && view.unique_created && view.ttl_created);
	marker.dump_end = (optime_t){T0, 7};
	append_spec(&marker.deferred_indexes, "0", "email_1", false);
	append_spec(&marker.deferred_indexes, "1", "at_1", true);
	append_spec(&marker.deferred_indexes, "2", "sku_1", false);
	replay_marker_view(&view, &marker);
	CHECK(view.found);
	CHECK_INT(view.dump_end.t, T0);
	CHECK_INT(view.dump_end.i, 7);
	CHECK_INT(view.n_unique, 2);
	CHECK_INT(view.n_ttl, 1);
	CHECK(!view.unique_created && !view.ttl_created);
	CHECK(bson_iter_init_find(&iter, &view.ttl_specs, "0"));
	CHECK(bson_iter_init_find(&iter, &view.unique_specs, "1"));
	/* Built ones, as the marker records them, are not built again. */
	marker.unique_created_ms = START_MS;
	replay_marker_view(&view, &marker);
	CHECK(view.unique_created && !view.ttl_created);
	/* Nothing deferred: nothing to build. */
	bson_reinit(&marker.deferred_indexes);
	replay_marker_view(&view, &marker);
	CHECK(view.unique_created && view.ttl_created);
	CHECK_INT(view.n_unique + view.n_ttl, 0);
	replay_marker_cleanup(&view);
	restore_marker_cleanup(&marker);
}

static void
case_window_skip(void)
{
	optime_t end = {T0, 5};

	CHECK(replay_window_skippable(true, end, (optime_t){T0, 5}, SERVER_BAD_VALUE));
	CHECK(replay_window_skippable(true, end, (optime_t){T0 - 1, 9}, SERVER_TYPE_MISMATCH));
	CHECK(replay_window_skippable(true, end, (optime_t){T0, 1}, SERVER_PATH_NOT_VIABLE));
	/* A replacement whose _id the document matched by its key no longer has. */
	CHECK(replay_window_skippable(true, end, (optime_t){T0, 1}, SERVER_IMMUTABLE_FIELD));
	/* After the dump end, no window, no time, another error: never. */
	CHECK(!replay_window_skippable(true, end, (optime_t){T0, 6}, SERVER_BAD_VALUE));
	CHECK(!replay_window_skippable(false, end, (optime_t){T0, 1}, SERVER_BAD_VALUE));
	CHECK(!replay_window_skippable(true, end, OPTIME_ZERO, SERVER_BAD_VALUE));
	CHECK(!replay_window_skippable(true, end, (optime_t){T0, 1}, SERVER_DUPLICATE_KEY));
	CHECK(!replay_window_skippable(true, end, (optime_t){T0, 6}, SERVER_IMMUTABLE_FIELD));
}

static const unit_case_t cases[] = {
	{"drain_no_checkpoint", case_drain_no_checkpoint},
	{"drain_cluster_time", case_drain_cluster_time},
	{"drain_heartbeat_only", case_drain_heartbeat_only},
	{"drain_capture_state", case_drain_capture_state},
	{"drain_silent_capture", case_drain_silent_capture},
	{"drain_warn_cadence", case_drain_warn_cadence},
	{"drain_max_wait", case_drain_max_wait},
	{"unique_nothing_to_do", case_unique_nothing_to_do},
	{"unique_head_in_window", case_unique_head_in_window},
	{"unique_capture", case_unique_capture},
	{"marker_view", case_marker_view},
	{"window_skip", case_window_skip},
};

UNIT_MAIN(cases)
