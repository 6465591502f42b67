/*
 * The stop flag and its deadline (stop.h). Handlers are installed without
 * SA_RESTART so a blocking read or sleep in the main thread returns with
 * EINTR at once. The deadline runs in a thread of its own, woken by the
 * handler through a semaphore (sem_post is async-signal-safe), so the line
 * it logs goes through the ordinary logger.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"
#include "numparse.h"
#include "stop.h"

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t drain_flag;
/* stop_remove_at_deadline()'s paths, removed by the deadline (stop.h). */
static pthread_mutex_t stop_paths_lock = PTHREAD_MUTEX_INITIALIZER;
static char *stop_paths[STOP_MAX_PATHS];
/* Set once the deadline thread waits on stop_sem. */
static volatile sig_atomic_t stop_deadline_armed;
static sem_t stop_sem;

static void
stop_on_signal(int sig)
{
	int saved_errno = errno;

	(void)sig;
	if (!stop_flag) {
		stop_flag = 1;
		if (stop_deadline_armed)
			sem_post(&stop_sem);
	}
	errno = saved_errno;
}

/* The deadline's line could not be written in time either (stderr blocked):
 * leave without it. */
static void
stop_on_alarm(int sig)
{
	(void)sig;
	_exit(CSM_EXIT_TEMPFAIL);
}

/* Waits for the first stop request, then STOP_GRACE_S seconds, then ends
 * the process: whatever was still running is safe to abandon (stop.h). */
static void *
stop_deadline_main(void *arg)
{
	struct timespec deadline;
	struct sigaction sa;

	(void)arg;
	while (sem_wait(&stop_sem) != 0)
		if (errno != EINTR)
			return NULL;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STOP_GRACE_S;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
		;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = stop_on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(2);
	pthread_mutex_lock(&stop_paths_lock);
	/* Newest first: a file before the directory registered before it. */
	for (int k = STOP_MAX_PATHS - 1; k >= 0; k--)
		if (stop_paths[k])
			remove(stop_paths[k]);
	log_warn("the server did not answer within %d s of the stop request; exiting now: "
		 "nothing is lost, the next run resumes from the last saved position",
		 STOP_GRACE_S);
	_exit(CSM_EXIT_TEMPFAIL);
	return NULL;
}

/* Starts the deadline thread with every signal blocked in it, so the stop
 * signals reach the threads that do the work. */
static void
stop_start_deadline(void)
{
	pthread_t thread;
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	if (sem_init(&stop_sem, 0, 0) != 0) {
		log_warn("cannot arm the stop deadline: %s", strerror(errno));
		return;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&thread, &attr, stop_deadline_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warn("cannot arm the stop deadline: %s", strerror(rc));
		return;
	}
	stop_deadline_armed = 1;
}

void
stop_install_handlers(void)
{
	static bool installed;
	struct sigaction sa;

	if (installed)
		return;
	installed = true;
	stop_start_deadline();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = stop_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
stop_on_drain(int sig)
{
	(void)sig;
	drain_flag = 1;
}

void
stop_catch_drain(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = stop_on_drain;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

bool
stop_drain_requested(void)
{
	return drain_flag != 0;
}

void
stop_with_parent(void)
{
	const char *text = getenv(STOP_PARENT_ENV);
	int64_t parent = 0;
	bool named;

	if (!text)
		return;
	named = parse_int64(text, 2, INT_MAX, &parent);
	unsetenv(STOP_PARENT_ENV);
	if (!named || prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
		return;
	/* The parent may have ended before the request: then nobody would send it. */
	if (getppid() != (pid_t)parent)
		raise(SIGTERM);
}

bool
stop_remove_at_deadline(const char *path)
{
	bool taken = false;

	pthread_mutex_lock(&stop_paths_lock);
	for (int k = 0; k < STOP_MAX_PATHS && !taken; k++) {
		if (!stop_paths[k]) {
			stop_paths[k] = strdup(path);
			taken = stop_paths[k] != NULL;
		}
	}
	pthread_mutex_unlock(&stop_paths_lock);
	return taken;
}

void
stop_forget_path(const char *path)
{
	pthread_mutex_lock(&stop_paths_lock);
	for (int k = 0; k < STOP_MAX_PATHS; k++) {
		if (stop_paths[k] && strcmp(stop_paths[k], path) == 0) {
			free(stop_paths[k]);
			stop_paths[k] = NULL;
		}
	}
	pthread_mutex_unlock(&stop_paths_lock);
}

bool
stop_requested(void)
{
	return stop_flag != 0;
}

bool
stop_sleep_ms(long ms)
{
	struct timespec now, deadline, slice;
	long long left_ns;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	/*
	 * Sleep in short slices: the signal may be delivered to another
	 * thread, leaving this one's nanosleep uninterrupted.
	 */
	for (;;) {
		if (stop_flag)
			return false;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ns = (long long)(deadline.tv_sec - now.tv_sec) * 1000000000LL +
			  (deadline.tv_nsec - now.tv_nsec);
		if (left_ns <= 0)
			return !stop_flag;
		if (left_ns > 100000000LL)
			left_ns = 100000000LL;
		slice.tv_sec = 0;
		slice.tv_nsec = (long)left_ns;
		if (nanosleep(&slice, NULL) != 0 && errno != EINTR)
			return !stop_flag;
	}
}
