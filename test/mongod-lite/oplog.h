/*
 * The oplog: every write appends an entry with a strictly increasing cluster
 * time (the entries of one transaction share theirs). Change streams read it; the journal
 * (--dbpath) persists it and replays it at start. Calls with server_lock held;
 * the writers' calls (appends, the times) take the oplog mutex (lock.h), so
 * commands holding server_lock shared may append side by side.
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
 *            | {dropIndexes: coll, index: name, spec: {...}}
 *            | {collMod: coll, ...}
 *   o2    i/u/r/d: the document key {_id: ...}; c collMod:
 *         {collectionOptions_old: {uuid, <options before>}}
 *   ud    u only: {updatedFields: {...}, removedFields: [...],
 *         truncatedArrays: [{field, newSize}], disambiguatedPaths: {...}}
 *         as MongoDB 7.0 reports the update (docdiff.h)
 *   pre   u/r/d: the document before, when the collection has
 *         changeStreamPreAndPostImages enabled
 *   lsid, txnNumber  when the write came with them
 *   txnOpIndex  Int32 0, 1, 2...: the statement's place in its transaction;
 *         the entries of one transaction are consecutive and share one ts
 *   ui    the collection's UUID (BinData 4): c create (so that a journal
 *         replay gives it back the same UUID), the other catalog commands
 *         but dropDatabase, and i/u/r/d
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

/* Appends the n entries of a committed transaction, in order, all with
 * one new cluster time (consecutive seqs). */
bool oplog_append_group(bson_t *const *entries, size_t n, bson_error_t *error);

/* Makes every appended entry durable (fsync per --sync-policy). Called
 * before acknowledging a write with j:true or w:"majority". With
 * --sync-policy batch it waits for the group commit with server_lock
 * RELEASED (like an awaitData wait): call it when the command no longer
 * holds pointers into the store, i.e. just before replying. */
bool oplog_sync(bson_error_t *error);

/* The newest cluster time (for $clusterTime/operationTime and hello's
 * lastWrite); {now, 1} when empty. */
void oplog_last_time(uint32_t *t, uint32_t *i);

/* A no-op tick so the cluster time moves (used for PBRT and operationTime):
 * at a new wall-clock second the cluster time becomes {now, 1} without an
 * entry; the next append gets a later time. */
void oplog_current_time(uint32_t *t, uint32_t *i);

/* --- Readers (change streams, transactions). Calls with server_lock held
 * exclusively: no append runs meanwhile. --- */

/* The seq of the oldest and of the newest entry held; *first = *last + 1
 * when none is held. *first > 1 once entries have fallen off. */
void oplog_bounds(int64_t *first, int64_t *last);

/*
 * Points entry (bson_init_static: do not destroy) at entry seq and sets its
 * time. Borrowed: valid while server_lock stays held and no append runs
 * (an append may drop the oldest entries). false when seq is not held.
 */
bool oplog_get(int64_t seq, bson_t *entry, uint32_t *t, uint32_t *i);

/* The seq of the first held entry with time >= {t, i}; last + 1 when none. */
int64_t oplog_seek_time(uint32_t t, uint32_t i);

#endif
