/*
 * The command handlers of mongod-lite part 1 (each has command_fn's
 * signature; see command.h) and the helpers they share (dispatch.c).
 */
#ifndef MLITE_CMDS_H
#define MLITE_CMDS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "store.h"

/* cmd_admin.c */
bool cmd_hello(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_ping(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_build_info(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_server_status(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_list_databases(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_get_parameter(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_get_cmd_line_opts(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_whatsmyuri(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_connection_status(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_repl_set_get_status(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/* cmd_catalog.c */
bool cmd_create(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_coll_mod(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_drop(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_drop_database(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_rename_collection(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_list_collections(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_list_indexes(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_create_indexes(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_drop_indexes(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_db_stats(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_coll_stats(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/* cmd_crud.c */
bool cmd_insert(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_update(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_delete(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_find_and_modify(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_find(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_get_more(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_kill_cursors(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_count(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_distinct(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/* cmd_aggregate.c */
bool cmd_aggregate(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/* ---- shared helpers (dispatch.c) ---- */

/* The collection a command targets: its first element as a valid
 * collection name; false + 2/73 when not a string or invalid. */
const char *cmd_coll_arg(command_ctx_t *ctx, bson_error_t *error);

/* Checks a collection name; false + 73 InvalidNamespace. */
bool cmd_valid_coll_name(const char *db, const char *coll, bson_error_t *error);

/*
 * Appends an oplog entry {op, ns: db.coll ("db.$cmd" when coll is NULL),
 * o, o2?, ud?, pre?, lsid?, txnNumber?} (lsid and txnNumber when the
 * command carried a txnNumber).
 */
bool cmd_oplog(command_ctx_t *ctx, const char *op, const char *coll, const bson_t *o,
	       const bson_t *o2, const bson_t *ud, const bson_t *pre, bson_error_t *error);

/* Appends the "c" entry {create: name, <options>} of a new collection,
 * with its UUID as the entry's "ui" so a journal replay keeps it. */
bool cmd_oplog_create(command_ctx_t *ctx, const scoll_t *c, bson_error_t *error);

/* Logs catalog command o ("c") for the collection with UUID ui (NULL:
 * none), o2 (may be NULL) holding what the change stream reports of the
 * state before it. */
bool cmd_oplog_ddl(command_ctx_t *ctx, const bson_t *o, const bson_t *o2, const uint8_t *ui,
		   bson_error_t *error);

/* The collection for a write: created (with its "c" create entry) when
 * missing. */
bool cmd_coll_for_write(command_ctx_t *ctx, const char *coll, scoll_t **out, bson_error_t *error);

/* A numeric field as int64 (int32/int64/double); false when not a number. */
bool cmd_as_int64(const bson_iter_t *it, int64_t *out);

/* An optional sub-document field of the command as a static view (false
 * + 14 TypeMismatch when present but not a document). *present says
 * whether it was there. */
bool cmd_doc_field(const bson_t *cmd, const char *field, bson_t *view, bool *present,
		   bson_error_t *error);

#endif
