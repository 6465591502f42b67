/*
 * The status line of cdc-replay.
 */
#include "replay_status.h"

#include <jansson.h>

#include "log.h"

void
replay_status_init(replay_status_t *st, int64_t interval_s)
{
	int64_t now = replay_now_ms();

	*st = (replay_status_t){0};
	st->interval_ms = interval_s * 1000;
	st->started_ms = now;
	st->last_emit_ms = now;
}

void
replay_status_batch_done(replay_status_t *st, const replay_batch_t *batch)
{
	const replay_event_t *last;

	if (batch->len == 0)
		return;
	last = &batch->events[batch->len - 1];
	st->applied += (int64_t)batch->len;
	st->batches++;
	st->last_seq = last->last_seq;
	if (last->wall_ms > 0)
		st->last_event_ms = last->wall_ms;
	else if (last->cluster_time_t > 0)
		st->last_event_ms = (int64_t)last->cluster_time_t * 1000;
}

bool
replay_status_due(const replay_status_t *st)
{
	return st->interval_ms > 0 && replay_now_ms() - st->last_emit_ms >= st->interval_ms;
}

void
replay_status_emit(replay_status_t *st, const char *ns, int64_t pending,
		   const replay_checkpoint_t *cp, int64_t fallbacks, bool final)
{
	int64_t now = replay_now_ms();
	int64_t span = final ? now - st->started_ms : now - st->last_emit_ms;
	int64_t count = final ? st->applied : st->applied - st->applied_at_emit;
	double rate = span > 0 ? (double)count * 1000.0 / (double)span : 0.0;
	json_t *fields = json_object();
	json_t *lag = json_null();

	if (pending == 0 && cp && cp->found && cp->heartbeat_ms > 0)
		lag = json_real((double)(now - cp->heartbeat_ms) / 1000.0);
	else if (pending == 0 && (!cp || !cp->found))
		lag = json_real(0.0);
	else if (st->last_event_ms > 0)
		lag = json_real((double)(now - st->last_event_ms) / 1000.0);
	if (json_is_real(lag) && json_real_value(lag) < 0)
		json_real_set(lag, 0.0);
	/* Round for humans: a tenth of a second is all lag needs. */
	if (json_is_real(lag))
		json_real_set(lag, (double)(int64_t)(json_real_value(lag) * 10.0 + 0.5) / 10.0);

	json_object_set_new(fields, "ns", json_string(ns));
	json_object_set_new(fields, "applied", json_integer(st->applied));
	json_object_set_new(fields, "rate", json_real((double)(int64_t)(rate * 10.0) / 10.0));
	if (pending >= 0)
		json_object_set_new(fields, "pending", json_integer(pending));
	else
		json_object_set_new(fields, "pending", json_null());
	json_object_set_new(fields, "lagSeconds", lag);
	json_object_set_new(fields, "lastSeq", json_integer(st->last_seq));
	if (fallbacks > 0)
		json_object_set_new(fields, "orderedFallbacks", json_integer(fallbacks));
	log_fields(LOG_INFO, final ? "replay finished" : "replay status", fields);
	st->last_emit_ms = now;
	st->applied_at_emit = st->applied;
}
