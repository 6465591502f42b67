/*
 * The stop flag (stop.h). Handlers are installed without SA_RESTART so a
 * blocking read or sleep in the main thread returns with EINTR at once.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "numparse.h"
#include "stop.h"

static volatile sig_atomic_t stop_flag;

static void
stop_on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void
stop_install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = stop_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
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
