/*
 * mongod-lite's locks. Every command holds server_lock: exclusively, as
 * every command did when it was the one lock, or shared by the commands
 * that touch one existing collection and nothing else of the catalog (the
 * fast path: find, getMore of a find cursor, insert, update, delete outside
 * transactions, dispatch.c), which then hold that collection's own lock
 * too (shared to read, exclusive to write). So a reader of one collection
 * does not wait on writers of another, and a catalog change, a transaction
 * or a change stream still runs alone. Order: server_lock, then a
 * collection's lock, then the oplog mutex (appends), then the journal's.
 *
 * The oplog mutex orders appends: an entry gets its time and seq and is
 * pushed under it while the writer holds its collection's lock, so the oplog
 * order is the order in which writes became visible. server_oplog_wait
 * waits for an append with server_lock released.
 */
#ifndef MLITE_LOCK_H
#define MLITE_LOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

typedef enum { LOCK_NONE, LOCK_SHARED, LOCK_EXCLUSIVE } lock_mode_t;

/* Takes server_lock in mode (writers are preferred: a waiting exclusive
 * locker holds off new shared ones). */
void server_lock_take(lock_mode_t mode);
void server_unlock(void);

/* For waits: releases server_lock as the thread holds it and returns the
 * mode, which server_lock_retake takes again. */
lock_mode_t server_lock_release(void);
void server_lock_retake(lock_mode_t mode);

/* The oplog mutex, held by appends (oplog.c). */
void server_oplog_lock(void);
void server_oplog_unlock(void);
/* Wakes server_oplog_wait; with the oplog mutex held or not. */
void server_oplog_broadcast(void);
/* With server_lock held (any mode): waits until an append, a broadcast or
 * the deadline (CLOCK_REALTIME), server_lock released meanwhile. */
void server_oplog_wait(const struct timespec *deadline);

/* A collection's lock (store.h scoll_t.lock). */
void coll_lock_init(pthread_rwlock_t *lock);
void coll_lock_take(pthread_rwlock_t *lock, lock_mode_t mode);
void coll_lock_release(pthread_rwlock_t *lock);

#endif
