/*
 * The token file <state-dir>/<db>.<coll>.token (docs/DESIGN.md, "Token file"):
 * JSON holding the format version, ns, the resume token as canonical extended
 * JSON, its cluster time, the time written and the writer. Written atomically,
 * mode 0600. A file that cannot be parsed is exit code 65, never overwritten
 * silently and never read as "start from now".
 *
 *   {"version": 1, "ns": "shop.orders",
 *    "resumeToken": {"_data": "8263..."},
 *    "clusterTime": {"t": 1700000000, "i": 3},
 *    "writtenAt": "2026-11-25T18:00:00.000Z",
 *    "writer": "token-probe/dummy"}
 */
#ifndef CSM_TOKENFILE_H
#define CSM_TOKENFILE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "optime.h"

#define TOKEN_FILE_VERSION 1

typedef struct token_file {
	char *ns;              /* "db.coll", owned */
	bson_t resume_token;   /* the change stream's resume token document */
	optime_t cluster_time; /* the resume token's; OPTIME_ZERO when unknown */
	char *writer;          /* owned */
	int64_t written_at_ms; /* Unix ms */
	/*
	 * A database stream's position file only (capture_db.h): each
	 * namespace it feeds, {coll: {"seq": N, "state": "capturing" |
	 * "stopped"}}; empty (and not written) in a collection's token file.
	 */
	bson_t namespaces;
} token_file_t;

/*
 * "<state_dir>/<db>.<coll>.token"; the caller bson_free()s it. coll NULL:
 * "<state_dir>/<db>.token", the position file of a database stream, whose
 * ns is "<db>.*".
 */
char *token_file_path(const char *state_dir, const char *db, const char *coll);

/* Initializes an empty token_file_t (safe to cleanup). */
void token_file_init(token_file_t *tf);

/* Releases what tf owns; tf may then be reused with token_file_init. */
void token_file_cleanup(token_file_t *tf);

/*
 * Writes tf to path atomically (fs_write_atomic). Errors name the path,
 * exit code 74.
 */
bool token_file_write(const char *path, const token_file_t *tf, bson_error_t *error);

/*
 * Reads and validates path into tf (initialized by the call). Missing file:
 * exit code 66. Unparsable JSON, wrong version, missing or wrongly typed
 * field: exit code 65 naming the path and the field.
 */
bool token_file_read(const char *path, token_file_t *tf, bson_error_t *error);

#endif
