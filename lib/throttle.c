/*
 * The rate limiter (throttle.h). Each limit keeps the moment its budget
 * is spent up to (GCRA's "theoretical arrival time"): a take moves it on
 * by the work's cost at the limit's rate, from now when it lies in the
 * past, and the caller sleeps until then. Limits changed by the file
 * start from now, so a lowered limit is not charged for the past.
 */
#include "throttle.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "error.h"
#include "exitcodes.h"
#include "fsutil.h"
#include "log.h"
#include "numparse.h"
#include "stop.h"

#define THROTTLE_FILE_MAX_BYTES 65536
#define THROTTLE_CHECK_EVERY_MS 1000
#define THROTTLE_SLICE_MS 250

struct throttle {
	pthread_mutex_t lock;
	const char *items_key;
	char *file;
	int64_t cli_items, cli_mb; /* the command line's limits */
	int64_t items, mb;         /* in force */
	double items_tat_ms, mb_tat_ms;
	int64_t checked_ms; /* clock_mono_ms() of the last look at the file */
	struct stat seen;   /* the file as last read; st_ino 0: missing */
	bool seen_valid;
};

/* Takes one "KEY VALUE" line into limits; false on a line that is neither. */
static bool
take_line(char *line, throttle_limits_t *limits)
{
	char *key, *value, *rest, *save = NULL;
	int64_t n;

	key = strtok_r(line, " \t\r", &save);
	if (!key)
		return true;
	value = strtok_r(NULL, " \t\r", &save);
	rest = strtok_r(NULL, " \t\r", &save);
	if (!value || rest || !parse_int64(value, 0, THROTTLE_MAX_LIMIT, &n))
		return false;
	if (strcmp(key, THROTTLE_KEY_OPS) == 0)
		limits->ops_per_sec = n;
	else if (strcmp(key, THROTTLE_KEY_DOCS) == 0)
		limits->docs_per_sec = n;
	else if (strcmp(key, THROTTLE_KEY_MB) == 0)
		limits->mb_per_sec = n;
	else
		return false;
	return true;
}

bool
throttle_file_read(const char *path, throttle_limits_t *limits, bool *exists, bson_error_t *error)
{
	char *text, *line, *next, *hash;
	int lineno = 0;
	bool ok = true;

	*limits = (throttle_limits_t){-1, -1, -1};
	if (exists)
		*exists = false;
	text = fs_read_all(path, THROTTLE_FILE_MAX_BYTES, NULL, error);
	if (!text)
		return csm_exit_code(error) == CSM_EXIT_NOINPUT;
	if (exists)
		*exists = true;
	for (line = text; ok && line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		ok = take_line(line, limits);
	}
	if (!ok)
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "throttle file '%s', line %d: expected '%s N', '%s N' or '%s N' with "
			      "N from 0 (no limit) to %d",
			      path, lineno, THROTTLE_KEY_OPS, THROTTLE_KEY_DOCS, THROTTLE_KEY_MB,
			      THROTTLE_MAX_LIMIT);
	free(text);
	return ok;
}

throttle_t *
throttle_new(const char *items_key, int64_t items_per_sec, int64_t mb_per_sec, const char *file)
{
	throttle_t *t = bson_malloc0(sizeof *t);

	pthread_mutex_init(&t->lock, NULL);
	t->items_key = items_key;
	t->file = file ? bson_strdup(file) : NULL;
	t->cli_items = t->items = items_per_sec;
	t->cli_mb = t->mb = mb_per_sec;
	t->checked_ms = -THROTTLE_CHECK_EVERY_MS;
	return t;
}

void
throttle_destroy(throttle_t *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	bson_free(t->file);
	bson_free(t);
}

/* Whether the file is not what was last read (or looked at missing). */
static bool
file_changed(throttle_t *t)
{
	struct stat st;

	if (stat(t->file, &st) != 0)
		memset(&st, 0, sizeof st);
	if (t->seen_valid && st.st_ino == t->seen.st_ino && st.st_size == t->seen.st_size &&
	    st.st_mtim.tv_sec == t->seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == t->seen.st_mtim.tv_nsec)
		return false;
	t->seen = st;
	t->seen_valid = true;
	return true;
}

/* Re-reads the file when due and changed; under the lock. True when the
 * limits changed. */
static bool
reload_locked(throttle_t *t, int64_t now)
{
	throttle_limits_t file;
	bson_error_t error;
	int64_t items, mb;

	if (!t->file || now - t->checked_ms < THROTTLE_CHECK_EVERY_MS)
		return false;
	t->checked_ms = now;
	if (!file_changed(t))
		return false;
	if (!throttle_file_read(t->file, &file, NULL, &error)) {
		log_warn("%s; keeping %s %" PRId64 " and %s %" PRId64, error.message, t->items_key,
			 t->items, THROTTLE_KEY_MB, t->mb);
		return false;
	}
	items = strcmp(t->items_key, THROTTLE_KEY_OPS) == 0 ? file.ops_per_sec : file.docs_per_sec;
	items = items >= 0 ? items : t->cli_items;
	mb = file.mb_per_sec >= 0 ? file.mb_per_sec : t->cli_mb;
	if (items == t->items && mb == t->mb)
		return false;
	log_info("throttle now %s %" PRId64 ", %s %" PRId64 " (0: no limit; from '%s')",
		 t->items_key, items, THROTTLE_KEY_MB, mb, t->file);
	t->items = items;
	t->mb = mb;
	t->items_tat_ms = t->mb_tat_ms = (double)now;
	return true;
}

/* Moves *tat on by amount at per_sec (0: no limit); the ms to wait. */
static double
charge(double *tat, double now, double amount, double per_sec)
{
	if (per_sec <= 0)
		return 0;
	if (*tat < now)
		*tat = now;
	*tat += amount * 1000.0 / per_sec;
	return *tat - now;
}

bool
throttle_take(throttle_t *t, int64_t items, int64_t bytes)
{
	double wait, w;
	int64_t now, until;

	if (!t)
		return !stop_requested();
	pthread_mutex_lock(&t->lock);
	now = clock_mono_ms();
	reload_locked(t, now);
	wait = charge(&t->items_tat_ms, (double)now, (double)items, (double)t->items);
	w = charge(&t->mb_tat_ms, (double)now, (double)bytes / 1e6, (double)t->mb);
	pthread_mutex_unlock(&t->lock);
	until = now + (int64_t)(w > wait ? w : wait);
	/* In slices: a changed file (say, the limit lifted) ends the wait. */
	while ((now = clock_mono_ms()) < until) {
		if (!stop_sleep_ms(until - now < THROTTLE_SLICE_MS ? until - now
								   : THROTTLE_SLICE_MS))
			return false;
		pthread_mutex_lock(&t->lock);
		bool changed = reload_locked(t, clock_mono_ms());
		pthread_mutex_unlock(&t->lock);
		if (changed)
			break;
	}
	return !stop_requested();
}

int64_t
throttle_items_per_sec(throttle_t *t)
{
	int64_t n;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->items;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int64_t
throttle_mb_per_sec(throttle_t *t)
{
	int64_t n;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->mb;
	pthread_mutex_unlock(&t->lock);
	return n;
}
