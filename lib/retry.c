/* The toolkit's backoff (retry.h). */
#include "retry.h"

#include <jansson.h>

#include "error.h"
#include "log.h"
#include "stop.h"

void
retry_init(retry_t *r, int max_attempts)
{
	r->max_attempts = max_attempts;
	retry_reset(r);
}

void
retry_reset(retry_t *r)
{
	r->attempt = 0;
	r->delay_ms = 0;
}

bool
retry_wait(retry_t *r, const char *what, bson_error_t *error)
{
	json_t *fields;
	char cause[sizeof error->message];

	if (r->max_attempts > 0 && r->attempt >= r->max_attempts)
		return false;
	r->attempt++;
	r->delay_ms = r->delay_ms ? r->delay_ms * 2 : RETRY_FIRST_MS;
	if (r->delay_ms > RETRY_MAX_MS)
		r->delay_ms = RETRY_MAX_MS;
	fields = json_pack("{s:s, s:i, s:I, s:s}", "what", what, "attempt", r->attempt, "delayMs",
			   (json_int_t)r->delay_ms, "reason", error->message);
	log_fields(LOG_WARN, "retrying", fields);
	if (stop_sleep_ms((long)r->delay_ms))
		return true;
	bson_strncpy(cause, error->message, sizeof cause);
	csm_error_stopped(error, "stopped while retrying %s (%s)", what, cause);
	return false;
}
