/*
 * The oplog: every write appends an entry with a strictly increasing cluster
 * time. Change streams read it; the journal (--dbpath) persists it and
 * replays it at start. Calls with server_lock held.
 *
 * Entry format (a BSON document; the writer supplies all but ts/wall/seq):
 *   ts    Timestamp (t = unix seconds, i = counter within the second)
 *   wall  Date
 *   seq   Int64, 1, 2, 3... (position; resume tokens encode it)
 *   op    "i" insert | "u" update | "r" replace | "d" delete | "c" command
 *         | "n" no-op
 *   ns    "db.coll" ("db.$cmd" for commands)
 *   o     i/r/u: the document after the write (post-image);
 *         c: the command: {create: coll, <options>} | {drop: coll}
 *            | {renameCollection: "db.a", to: "db.b", dropTarget: bool}
 *            | {dropDatabase: 1} | {createIndexes: coll, spec: {...}}
 *            | {dropIndexes: coll, index: name} | {collMod: coll, ...}
 *   o2    i/u/r/d: the document key {_id: ...}
 *   ud    u only: {updatedFields: {...}, removedFields: [...],
 *         truncatedArrays: [{field, newSize}]}
 *   pre   u/r/d: the document before, when the collection has
 *         changeStreamPreAndPostImages enabled
 *   lsid, txnNumber  when the write came with them
 */
#ifndef MLITE_OPLOG_H
#define MLITE_OPLOG_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

/* Loads/creates state; with --dbpath replays the journal into the store. */
bool oplog_init(bson_error_t *error);
void oplog_shutdown(void);

/*
 * Appends entry (fields as above, without ts/wall/seq), assigning them, and
 * wakes waiting change streams. With --dbpath the entry is journaled; it is
 * durable after oplog_sync(). false only on journal I/O failure.
 */
bool oplog_append(const bson_t *entry, bson_error_t *error);

/* Makes every appended entry durable (fsync per --sync-policy). Called
 * before acknowledging a write with j:true or w:"majority". */
bool oplog_sync(bson_error_t *error);

/* The newest cluster time (for $clusterTime/operationTime and hello's
 * lastWrite); {now, 0} when empty. */
void oplog_last_time(uint32_t *t, uint32_t *i);

/* A no-op tick so the cluster time moves (used for PBRT and operationTime). */
void oplog_current_time(uint32_t *t, uint32_t *i);

#endif
