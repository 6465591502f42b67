/* The first error of several threads (first_error.h). */
#include "first_error.h"

void
first_error_init(first_error_t *fe)
{
	pthread_mutex_init(&fe->lock, NULL);
	fe->failed = false;
	memset(&fe->error, 0, sizeof fe->error);
}

void
first_error_destroy(first_error_t *fe)
{
	pthread_mutex_destroy(&fe->lock);
}

void
first_error_set(first_error_t *fe, const bson_error_t *error)
{
	pthread_mutex_lock(&fe->lock);
	if (!fe->failed) {
		fe->failed = true;
		fe->error = *error;
	}
	pthread_mutex_unlock(&fe->lock);
}

bool
first_error_get(first_error_t *fe, bson_error_t *out)
{
	bool failed;

	pthread_mutex_lock(&fe->lock);
	failed = fe->failed;
	if (failed && out)
		*out = fe->error;
	pthread_mutex_unlock(&fe->lock);
	return failed;
}
