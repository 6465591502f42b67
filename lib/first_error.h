/*
 * The first error of several threads working on one job: the one to
 * report, because later ones are usually its consequences (a worker
 * stopped because another failed). Thread-safe.
 */
#ifndef CSM_FIRST_ERROR_H
#define CSM_FIRST_ERROR_H

#include <bson/bson.h>
#include <pthread.h>
#include <stdbool.h>

typedef struct first_error {
	pthread_mutex_t lock; /* guards the fields below */
	bool failed;
	bson_error_t error;
} first_error_t;

void first_error_init(first_error_t *fe);
void first_error_destroy(first_error_t *fe);
/* Keeps error unless an error is kept already. */
void first_error_set(first_error_t *fe, const bson_error_t *error);
/* true when an error is kept, copied into *out (out may be NULL). */
bool first_error_get(first_error_t *fe, bson_error_t *out);

#endif
