/*
 * Command dispatch: name -> handler table, fail points, retryable-write
 * de-duplication, and the fields every reply carries.
 */
#ifndef MLITE_DISPATCH_H
#define MLITE_DISPATCH_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

/* Counters serverStatus shows: the connections and the CRUD opcounters are
 * updated atomically (commands on the fast path share server_lock, lock.h),
 * the others with server_lock held exclusively. */
typedef struct mlite_stats {
	int64_t insert, query, update, delete_, getmore, command;
	int64_t hellos;
	int64_t connections_current, connections_total;
} mlite_stats_t;

extern mlite_stats_t mlite_stats;

/*
 * Runs one command (kind-1 sequences already folded in). legacy_db is the
 * database of an OP_QUERY (NULL for OP_MSG, whose $db is used). Fills reply
 * (initialized by the caller). Returns false when the connection must be
 * closed without a reply (a closeConnection fail point).
 */
bool dispatch_command(conn_t *conn, const bson_t *cmd, const char *legacy_db, bson_t *reply);

/* Appends $clusterTime and operationTime for the newest oplog time
 * (nothing on a standalone). */
void dispatch_append_cluster_time(bson_t *reply);

#endif
