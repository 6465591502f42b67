/*
 * Multi-document transactions, as MongoDB 7.0 runs them on a replica set
 * (startTransaction / autocommit:false, commitTransaction, abortTransaction).
 * Calls with server_lock held.
 *
 * A session (lsid) has at most one transaction. While it is open its
 * statements see a private copy of each collection they touch (copied at
 * the first touch) and record their oplog entries instead of appending
 * them; commitTransaction applies those entries to the store and appends
 * them together, all with one cluster time, in statement order, each with
 * lsid, txnNumber and txnOpIndex (0, 1, 2...). Nobody else sees any of it
 * before the commit; an aborted transaction leaves nothing behind.
 *
 * Write conflicts, by document key: the second open transaction to write a
 * document, or one writing a document that a commit changed after it
 * started, fails with WriteConflict (112) and is aborted. A write outside
 * any transaction to a document an open transaction has written aborts that
 * transaction (MongoDB makes the outside write wait instead; both keep the
 * transaction all-or-nothing). A collection a statement creates is created
 * at once, outside the transaction. A transaction open longer than
 * transactionLifetimeLimitSeconds (setParameter; default 60) is aborted by
 * the server, and so is one of a session that endSessions ends; closing the
 * connection does not end it (MongoDB's sessions outlive connections).
 */
#ifndef MLITE_TXN_H
#define MLITE_TXN_H

#include <bson/bson.h>
#include <stdbool.h>

#include "command.h"
#include "store.h"

/* What txn_begin_command found out about one command. */
typedef struct txn_cmd {
	bool has_autocommit; /* the command is a statement of a transaction */
	bool commit_or_abort;
	bool commit; /* commitTransaction */
	bool in_txn; /* a CRUD statement running inside an open transaction */
} txn_cmd_t;

/* Fills tc's flags from the command alone (no session is touched), so that
 * an error raised before txn_begin_command (a fail point) gets its labels. */
void txn_classify(const command_ctx_t *ctx, txn_cmd_t *tc);

/*
 * Before a command runs: reads autocommit/startTransaction; for a statement
 * of a transaction starts or continues it and makes it the thread's current
 * one. false + error (20 standalone, 72, 225, 251, 263) when the command
 * must not run.
 */
bool txn_begin_command(command_ctx_t *ctx, txn_cmd_t *tc, bson_error_t *error);

/*
 * After the command: a failed statement (or one with writeErrors) aborts its
 * transaction; a WriteConflict reported as a write error becomes the
 * command's error (returns false with error set), as MongoDB reports it.
 * Clears the current transaction.
 */
bool txn_end_command(const txn_cmd_t *tc, bool ok, const bson_t *reply, bson_error_t *error);

/* Appends the errorLabels MongoDB gives a failed transaction command
 * (TransientTransactionError, UnknownTransactionCommitResult) unless body
 * has some already. */
void txn_error_labels(const txn_cmd_t *tc, const bson_error_t *error, bool write_concern_error,
		      bson_t *body);

/* True when some session has an open transaction. */
bool txn_any_open(void);

/* True while the thread runs a statement of an open transaction. */
bool txn_active(void);

/* Runs what follows outside the thread's transaction (NULL: none) until
 * txn_resume(what txn_suspend returned). */
void *txn_suspend(void);
void txn_resume(void *txn);

/* store_get_coll's hook: the current transaction's copy of c (made at the
 * first touch), or c itself outside a transaction. */
scoll_t *txn_view(scoll_t *c);

/*
 * cmd_oplog's hook for an entry (oplog.h format): inside a transaction
 * records it (false + 112 on a write conflict, 263 for a catalog entry) and
 * sets *recorded; outside, aborts the open transactions that wrote the
 * same document.
 */
bool txn_note_write(const bson_t *entry, bool *recorded, bson_error_t *error);

/* Aborts the transactions open past transactionLifetimeLimitSeconds. */
void txn_reap_expired(void);

/* endSessions: aborts the session's open transaction and forgets it. */
void txn_end_session(const uint8_t lsid[16]);

/* commitTransaction, abortTransaction, setParameter. */
bool cmd_commit_transaction(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_abort_transaction(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_set_parameter(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/* Appends serverStatus's transactions: {currentOpen, totalStarted,
 * totalCommitted, totalAborted}. */
void txn_server_status(bson_t *reply);

/* getParameter's transactionLifetimeLimitSeconds (appended when asked or all). */
bool txn_get_parameter(const bson_t *cmd, bool all, bson_t *reply);

/* The 16 bytes of a session id {id: UUID} (false: none); the session
 * tables of retryable writes and of transactions hash them alike. */
bool txn_lsid_id(const bson_t *lsid, uint8_t out[16]);
size_t txn_lsid_bucket(const uint8_t lsid[16], size_t buckets);

#endif
