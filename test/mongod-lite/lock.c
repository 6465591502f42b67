/* server_lock, the oplog mutex and collection locks (see lock.h). */
#include "lock.h"

#include <stdlib.h>

static pthread_rwlock_t server_lock;
static pthread_once_t server_lock_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t oplog_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t oplog_cond = PTHREAD_COND_INITIALIZER;
/* How this thread holds server_lock. */
static __thread lock_mode_t held;

static void
init_writer_preferred(pthread_rwlock_t *lock)
{
	pthread_rwlockattr_t attr;

	if (pthread_rwlockattr_init(&attr) != 0)
		abort();
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(lock, &attr) != 0)
		abort();
	pthread_rwlockattr_destroy(&attr);
}

static void
server_lock_init(void)
{
	init_writer_preferred(&server_lock);
}

void
server_lock_take(lock_mode_t mode)
{
	pthread_once(&server_lock_once, server_lock_init);
	if (mode == LOCK_SHARED)
		pthread_rwlock_rdlock(&server_lock);
	else
		pthread_rwlock_wrlock(&server_lock);
	held = mode;
}

void
server_unlock(void)
{
	held = LOCK_NONE;
	pthread_rwlock_unlock(&server_lock);
}

lock_mode_t
server_lock_release(void)
{
	lock_mode_t mode = held;
	if (mode != LOCK_NONE)
		server_unlock();
	return mode;
}

void
server_lock_retake(lock_mode_t mode)
{
	if (mode != LOCK_NONE)
		server_lock_take(mode);
}

void
server_oplog_lock(void)
{
	pthread_mutex_lock(&oplog_mutex);
}

void
server_oplog_unlock(void)
{
	pthread_mutex_unlock(&oplog_mutex);
}

void
server_oplog_broadcast(void)
{
	pthread_cond_broadcast(&oplog_cond);
}

void
server_oplog_wait(const struct timespec *deadline)
{
	/* the oplog mutex is taken before server_lock is let go: an append,
	 * which needs both, cannot slip in between and go unseen */
	pthread_mutex_lock(&oplog_mutex);
	lock_mode_t mode = server_lock_release();
	pthread_cond_timedwait(&oplog_cond, &oplog_mutex, deadline);
	pthread_mutex_unlock(&oplog_mutex);
	server_lock_retake(mode);
}

void
coll_lock_init(pthread_rwlock_t *lock)
{
	init_writer_preferred(lock);
}

void
coll_lock_take(pthread_rwlock_t *lock, lock_mode_t mode)
{
	if (mode == LOCK_SHARED)
		pthread_rwlock_rdlock(lock);
	else
		pthread_rwlock_wrlock(lock);
}

void
coll_lock_release(pthread_rwlock_t *lock)
{
	pthread_rwlock_unlock(lock);
}
