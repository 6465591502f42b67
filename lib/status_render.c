/* Phase, health and renderings of cdc-status (status_render.h). */
#include "status_render.h"

#include <string.h>

#include "clock.h"
#include "replay_policy.h"

/* Seconds between a and b (ms), to a tenth; -1 when from_ms is unknown. */
static double
age_s(int64_t now_ms, int64_t from_ms)
{
	double s;

	if (from_ms <= 0)
		return -1;
	s = (double)(now_ms - from_ms) / 1000.0;
	return s < 0 ? 0 : (double)(int64_t)(s * 10) / 10.0;
}

static bool
capture_silent(const status_view_t *v)
{
	return v->has_checkpoint &&
	       (!v->cp.state[0] || strcmp(v->cp.state, CHECKPOINT_STATE_RUNNING) == 0) &&
	       v->now_ms - v->cp.heartbeat_ms > REPLAY_CAPTURE_SILENT_MS;
}

/* A reason the ns stopped, into out; false when it did not. */
static bool
stopped_reason(const status_view_t *v, char *out, size_t size)
{
	const char *state = v->has_checkpoint ? v->cp.state : "";

	if (strcmp(state, CHECKPOINT_STATE_DDL) == 0 ||
	    strcmp(state, CHECKPOINT_STATE_HISTORY_LOST) == 0 ||
	    (strcmp(state, CHECKPOINT_STATE_STOPPED) == 0 && !v->files.replay_drained)) {
		snprintf(out, size, "capture %s%s%s", state, v->cp.detail[0] ? ": " : "",
			 v->cp.detail);
		return true;
	}
	if (capture_silent(v)) {
		snprintf(out, size,
			 "capture is not running: its checkpoint is %.0f s old (state 'running')",
			 age_s(v->now_ms, v->cp.heartbeat_ms));
		return true;
	}
	if (v->files.replay_exit > 0 && !v->files.replay_running &&
	    !lease_info_live(&v->apply_lease, v->now_ms)) {
		snprintf(out, size, "replay exited with status %d", v->files.replay_exit);
		return true;
	}
	return false;
}

const char *
status_phase(const status_view_t *v, char *reason, size_t size)
{
	bool replay_live = v->files.replay_running || lease_info_live(&v->apply_lease, v->now_ms);

	reason[0] = '\0';
	if (v->files.replay_drained && !replay_live && v->pending == 0)
		return "drained";
	if (stopped_reason(v, reason, size))
		return "stopped";
	if (replay_live)
		return v->pending > 0 ? "replaying" : "caught up";
	if (v->has_marker)
		return "restored";
	if (v->has_files && v->files.token && !v->files.dump_pending && v->has_checkpoint)
		return "dumped";
	if (v->has_checkpoint || v->staged > 0 || lease_info_live(&v->capture_lease, v->now_ms))
		return "capturing";
	if (v->files.token)
		return "probed";
	snprintf(reason, size, "nothing of it is on the target%s",
		 v->has_files ? " and it has no token file" : "");
	return "none";
}

bool
status_healthy(const status_view_t *v)
{
	char reason[512];

	const char *phase = status_phase(v, reason, sizeof reason);

	return strcmp(phase, "stopped") != 0 && strcmp(phase, "none") != 0 && !capture_silent(v);
}

static json_t *
number_or_null(double value)
{
	return value < 0 ? json_null() : json_real(value);
}

/* The lease object, or null when there is no lease document. */
static json_t *
lease_json(const lease_info_t *l, int64_t now_ms)
{
	char until[CLOCK_UTC_SIZE];

	if (!l->exists)
		return json_null();
	clock_format_utc(l->expires_ms, false, until, sizeof until);
	return json_pack("{s:s, s:s, s:I, s:I, s:s, s:b}", "program", l->holder.program, "host",
			 l->holder.host, "pid", (json_int_t)l->holder.pid, "term",
			 (json_int_t)l->term, "expiresAt", until, "live",
			 lease_info_live(l, now_ms));
}

/* waiting, built, failed: the deferred indexes of the marker. A failed
 * build is the one replay's last error names. */
static void
count_indexes(const status_view_t *v, int64_t *waiting, int64_t *built, int64_t *failed)
{
	int64_t unique = 0, ttl = 0;
	bson_iter_t it, spec;

	*waiting = *built = *failed = 0;
	if (!v->has_marker || !bson_iter_init(&it, &v->marker.deferred_indexes))
		return;
	while (bson_iter_next(&it))
		if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &spec) &&
		    bson_iter_find(&spec, "expireAfterSeconds"))
			ttl++;
		else
			unique++;
	*built = (v->marker.unique_created_ms > 0 ? unique : 0) +
		 (v->marker.ttl_created_ms > 0 ? ttl : 0);
	*waiting = unique + ttl - *built;
	if (*waiting > 0 && strstr(v->files.last_error, "cannot create deferred")) {
		*failed = 1;
		(*waiting)--;
	}
}

/* The throttle file's limits, or null when none is set. */
static json_t *
throttle_json(const status_view_t *v)
{
	const throttle_limits_t *t = &v->files.throttle;

	if (!v->has_files || (t->ops_per_sec < 0 && t->docs_per_sec < 0 && t->mb_per_sec < 0))
		return json_null();
	return json_pack(
		"{s:o, s:o, s:o}", "maxOpsPerSec",
		t->ops_per_sec < 0 ? json_null() : json_integer(t->ops_per_sec), "maxDocsPerSec",
		t->docs_per_sec < 0 ? json_null() : json_integer(t->docs_per_sec), "maxMbPerSec",
		t->mb_per_sec < 0 ? json_null() : json_integer(t->mb_per_sec));
}

/* The lags: capture's from its checkpoint's clusterTime (caughtUpAt if later), replay's as its
 * status lines count it (replay_lag_seconds). */
static void
lags(const status_view_t *v, double *capture, double *replay)
{
	int64_t position = v->has_checkpoint && v->cp.cluster_time.t > 0
				   ? (int64_t)v->cp.cluster_time.t * 1000
				   : 0;

	if (position > 0 && v->cp.caught_up_ms > position)
		position = v->cp.caught_up_ms;
	*capture = position > 0 ? age_s(v->now_ms, position) : -1;
	*replay = replay_lag_seconds(v->now_ms, v->pending, v->has_checkpoint ? &v->cp : NULL,
				     v->applied_wall_ms);
	if (*replay >= 0)
		*replay = (double)(int64_t)(*replay * 10) / 10.0;
}

json_t *
status_json(const status_view_t *v)
{
	char reason[512];
	const char *phase = status_phase(v, reason, sizeof reason);
	double capture_lag, replay_lag;
	int64_t waiting, built, failed;
	json_t *obj;

	lags(v, &capture_lag, &replay_lag);
	count_indexes(v, &waiting, &built, &failed);
	obj = json_pack("{s:s, s:s, s:s, s:o, s:b, s:I, s:I, s:I, s:I}", "ns", v->ns, "targetNs",
			v->target_ns, "phase", phase, "reason",
			reason[0] ? json_string(reason) : json_null(), "healthy", status_healthy(v),
			"staged", (json_int_t)v->staged, "pending", (json_int_t)v->pending,
			"applied", (json_int_t)v->applied, "stagingDocuments",
			(json_int_t)v->staging_docs);
	json_object_set_new(obj, "captureLagSeconds", number_or_null(capture_lag));
	json_object_set_new(obj, "replayLagSeconds", number_or_null(replay_lag));
	json_object_set_new(obj, "captureState",
			    v->has_checkpoint && v->cp.state[0] ? json_string(v->cp.state)
								: json_null());
	json_object_set_new(
		obj, "heartbeatAgeSeconds",
		number_or_null(v->has_checkpoint ? age_s(v->now_ms, v->cp.heartbeat_ms) : -1));
	json_object_set_new(obj, "deferredIndexes",
			    json_pack("{s:I, s:I, s:I}", "waiting", (json_int_t)waiting, "built",
				      (json_int_t)built, "failed", (json_int_t)failed));
	json_object_set_new(obj, "lease",
			    json_pack("{s:o, s:o}", "capture",
				      lease_json(&v->capture_lease, v->now_ms), "apply",
				      lease_json(&v->apply_lease, v->now_ms)));
	json_object_set_new(obj, "throttle", throttle_json(v));
	json_object_set_new(obj, "lastError",
			    v->files.last_error[0] ? json_string(v->files.last_error)
						   : json_null());
	return obj;
}

void
status_table_header(FILE *out)
{
	fprintf(out, "%-28s %-10s %9s %9s %9s %8s %8s %6s %-7s %s\n", "NS", "PHASE", "STAGED",
		"PENDING", "APPLIED", "CAP-LAG", "REP-LAG", "BEAT", "IDX-WBF", "LEASE / REASON");
}

/* "12.3" or "-" */
static const char *
seconds_text(double s, char *buf, size_t size)
{
	if (s < 0)
		return "-";
	snprintf(buf, size, "%.1f", s);
	return buf;
}

void
status_table_row(FILE *out, const status_view_t *v)
{
	char reason[512], cap[32], rep[32], beat[32], idx[80], who[400] = "";
	const char *phase = status_phase(v, reason, sizeof reason);
	double capture_lag, replay_lag;
	int64_t waiting, built, failed;
	const lease_info_t *l =
		lease_info_live(&v->apply_lease, v->now_ms) ? &v->apply_lease : &v->capture_lease;

	lags(v, &capture_lag, &replay_lag);
	count_indexes(v, &waiting, &built, &failed);
	snprintf(idx, sizeof idx, "%lld/%lld/%lld", (long long)waiting, (long long)built,
		 (long long)failed);
	if (lease_info_live(l, v->now_ms))
		snprintf(who, sizeof who, "%s@%s:%lld", l->holder.program, l->holder.host,
			 (long long)l->holder.pid);
	fprintf(out, "%-28s %-10s %9lld %9lld %9lld %8s %8s %6s %-7s %s%s%s%s\n", v->ns, phase,
		(long long)v->staged, (long long)v->pending, (long long)v->applied,
		seconds_text(capture_lag, cap, sizeof cap),
		seconds_text(replay_lag, rep, sizeof rep),
		seconds_text(v->has_checkpoint ? age_s(v->now_ms, v->cp.heartbeat_ms) : -1, beat,
			     sizeof beat),
		idx, who, who[0] && (reason[0] || v->files.last_error[0]) ? " " : "", reason,
		reason[0] ? "" : v->files.last_error);
}
