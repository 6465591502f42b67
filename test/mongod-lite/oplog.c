/* Placeholder until mongod-lite part 2: an oplog that only keeps time. */
#include "oplog.h"

#include <time.h>

static uint32_t last_t, last_i;

bool
oplog_init(bson_error_t *error)
{
	(void)error;
	return true;
}

void
oplog_shutdown(void)
{
}

static void
tick(void)
{
	uint32_t now = (uint32_t)time(NULL);

	if (now > last_t) {
		last_t = now;
		last_i = 1;
	} else {
		last_i++;
	}
}

bool
oplog_append(const bson_t *entry, bson_error_t *error)
{
	(void)entry;
	(void)error;
	tick();
	return true;
}

bool
oplog_sync(bson_error_t *error)
{
	(void)error;
	return true;
}

void
oplog_last_time(uint32_t *t, uint32_t *i)
{
	if (last_t == 0)
		tick();
	*t = last_t;
	*i = last_i;
}

void
oplog_current_time(uint32_t *t, uint32_t *i)
{
	oplog_last_time(t, i);
}
