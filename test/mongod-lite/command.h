/*
 * Command handlers and their dispatch (a table of name -> handler, aliases
 * listed explicitly). A handler runs with server_lock held.
 */
#ifndef MLITE_COMMAND_H
#define MLITE_COMMAND_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct conn conn_t;

typedef struct command_ctx {
	conn_t *conn;       /* the client connection */
	const char *db;     /* $db */
	const char *name;   /* the command name as sent */
	const bson_t *cmd;  /* the whole command, kind-1 sections folded in */
	const bson_t *lsid; /* NULL when none */
	int64_t txn_number; /* -1 when none */
	bool wants_durable; /* writeConcern j:true or w:"majority" */
	int64_t connection_id;
} command_ctx_t;

/*
 * A handler appends its reply fields to reply (without ok/operationTime/
 * $clusterTime: dispatch adds those). On failure it returns false with
 * error->code set to the MongoDB error code (never 0) and error->message;
 * it may have appended extra fields to reply (errorLabels, keyPattern...),
 * which dispatch keeps.
 */
typedef bool (*command_fn)(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/* Sets error to a MongoDB error code and message. */
void cmd_error(bson_error_t *error, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The codeName of a MongoDB error code ("DuplicateKey" for 11000). */
const char *cmd_code_name(int code);

/* Handlers implemented outside the core command files. */
bool cmd_configure_fail_point(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

#endif
