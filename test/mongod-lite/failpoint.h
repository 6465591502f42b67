/*
 * configureFailPoint failCommand, as real mongod with test commands on.
 */
#ifndef MLITE_FAILPOINT_H
#define MLITE_FAILPOINT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct failpoint_action {
	bool fire;                  /* false: run the command normally */
	bool close_connection;      /* close the socket, no reply */
	int64_t block_ms;           /* sleep this long first (lock released) */
	int32_t error_code;         /* != 0: reply {ok:0, code, errmsg} */
	bson_t error_labels;        /* array; empty when none */
	bson_t write_concern_error; /* empty when none; else add to the reply
				       (with error_labels), failed or not */
} failpoint_action_t;

/*
 * Decides what a failCommand fail point does to command `name` from a client
 * with appName app_name (may be NULL); takes_write_concern tells whether the
 * command waits for write concern (a writeConcernError alone acts on those
 * only). Consumes one of "times". The caller must
 * failpoint_action_cleanup(action) after.
 */
void failpoint_check(const char *name, const char *app_name, bool takes_write_concern,
		     failpoint_action_t *action);
void failpoint_action_cleanup(failpoint_action_t *action);

#endif
