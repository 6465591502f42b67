/*
 * The --dbpath journal: an append-only file of oplog entries, so the store
 * and the oplog survive kill -9. Only oplog.c uses it.
 *
 * File DIR/oplog.journal, a sequence of records:
 *   uint32 magic "MLJ1", uint32 length, uint32 CRC-32C of the BSON, BSON
 * (little endian). Replay stops at the first short or damaged record (a
 * write torn by a crash) and truncates the file there, so later appends
 * follow the last good record.
 */
#ifndef MLITE_JOURNAL_H
#define MLITE_JOURNAL_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server.h"

typedef struct journal journal_t;

/* Called once per intact record, oldest first; entry is borrowed for the
 * call. Returning false stops the replay there (the rest is truncated). */
typedef bool (*journal_replay_fn)(const bson_t *entry, void *ctx);

/*
 * Opens (creating DIR and the file when missing) and locks the journal of
 * dbpath, replays every intact record through replay, and starts the
 * group-commit thread for SYNC_BATCH. Returns NULL + error on failure
 * (another process holds the lock, I/O error). journal_close frees it.
 */
journal_t *journal_open(const char *dbpath, sync_policy_t policy, journal_replay_fn replay,
			void *ctx, bson_error_t *error);

/* Appends one record with a single write. false + error on I/O failure
 * (the file is cut back to the previous record). Call with server_lock and
 * the oplog mutex held (lock.h), which order the appends. */
bool journal_append(journal_t *j, const bson_t *entry, bson_error_t *error);

/*
 * Makes every appended record durable per the policy: ALWAYS fsyncs now;
 * BATCH waits (server_lock released meanwhile) for the group commit, which
 * writers arriving during an fsync share (unwaited data is fsynced every
 * JOURNAL_GROUP_COMMIT_MS in the background); NONE returns at once.
 * Call with server_lock held.
 */
bool journal_sync(journal_t *j, bson_error_t *error);

/* Stops the group-commit thread (waiters in journal_sync fail), fsyncs,
 * closes. Accepts NULL. May be called with server_lock held. */
void journal_close(journal_t *j);

#define JOURNAL_GROUP_COMMIT_MS 10

#endif
