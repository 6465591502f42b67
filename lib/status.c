/* The status line (status.h). */
#include "status.h"

#include "log.h"

/* A tenth is all a rate or a lag needs. */
static json_t *
tenths(double value)
{
	return json_real((double)(int64_t)(value * 10.0 + (value < 0 ? -0.5 : 0.5)) / 10.0);
}

void
status_emit(const status_line_t *line, bool final, json_t *extra)
{
	json_t *fields = json_object();
	const char *key;
	json_t *value;

	json_object_set_new(fields, "ns", json_string(line->ns));
	json_object_set_new(fields, "state", json_string(line->state));
	json_object_set_new(fields, "events", json_integer(line->events));
	json_object_set_new(fields, "rate", tenths(line->rate));
	json_object_set_new(fields, "lastSeq", json_integer(line->last_seq));
	json_object_set_new(fields, "pending",
			    line->pending < 0 ? json_null() : json_integer(line->pending));
	json_object_set_new(fields, "lagSeconds",
			    line->lag_seconds < 0 ? json_null() : tenths(line->lag_seconds));
	json_object_set_new(fields, "clusterTime",
			    optime_is_zero(line->cluster_time)
				    ? json_null()
				    : json_pack("{s:I, s:I}", "t", (json_int_t)line->cluster_time.t,
						"i", (json_int_t)line->cluster_time.i));
	if (json_is_object(extra)) {
		json_object_foreach (extra, key, value)
			json_object_set(fields, key, value);
	}
	json_decref(extra);
	log_fields(LOG_INFO, final ? "finished" : "status", fields);
}
