#include "progress.h"

#include <bson/bson.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* A TTY line is redrawn at most this often: faster is flicker, not news. */
#define PROGRESS_TTY_REDRAW_MS 200

struct progress {
	pthread_mutex_t lock;
	char *label;
	int64_t total_docs;
	int64_t total_bytes;
	int64_t docs;
	int64_t bytes;
	int64_t interval_ms;
	int64_t start_ms;
	int64_t last_draw_ms;
	bool tty;
	bool drawn;
	throttle_t *throttle; /* borrowed; NULL: none */
};

progress_t *
progress_new(const char *label, int64_t total_docs, int64_t total_bytes, int64_t interval_ms)
{
	progress_t *progress = calloc(1, sizeof *progress);

	if (progress == NULL)
		return NULL;
	progress->label = strdup(label);
	if (progress->label == NULL) {
		free(progress);
		return NULL;
	}
	pthread_mutex_init(&progress->lock, NULL);
	progress->total_docs = total_docs > 0 ? total_docs : 0;
	progress->total_bytes = total_bytes > 0 ? total_bytes : 0;
	progress->interval_ms = interval_ms > 0 ? interval_ms : 5000;
	progress->start_ms = clock_mono_ms();
	progress->last_draw_ms = progress->start_ms;
	progress->tty = isatty(STDERR_FILENO) == 1;
	return progress;
}

/* Seconds left, or -1 when it cannot be estimated yet. */
static int64_t
eta_seconds(const progress_t *progress, double elapsed_s)
{
	double fraction = 0;

	if (progress->total_bytes > 0)
		fraction = (double)progress->bytes / (double)progress->total_bytes;
	else if (progress->total_docs > 0)
		fraction = (double)progress->docs / (double)progress->total_docs;
	if (fraction <= 0 || elapsed_s < 0.5)
		return -1;
	if (fraction >= 1)
		return 0;
	return (int64_t)(elapsed_s / fraction - elapsed_s + 0.5);
}

static void
draw(progress_t *progress, int64_t now, bool final)
{
	double elapsed_s = (double)(now - progress->start_ms) / 1000.0;
	double mb_per_s = elapsed_s > 0 ? (double)progress->bytes / 1e6 / elapsed_s : 0;
	int64_t eta = final ? 0 : eta_seconds(progress, elapsed_s);

	progress->last_draw_ms = now;
	if (progress->tty) {
		char total[32] = "?";
		char percent[16] = "";
		char eta_text[32] = "ETA --:--";

		if (progress->total_docs > 0) {
			int64_t shown_total = progress->total_docs;

			/* The count is an estimate taken before the copy. */
			if (progress->docs > shown_total)
				shown_total = progress->docs;
			snprintf(total, sizeof total, "%" PRId64, shown_total);
			snprintf(percent, sizeof percent, " %3d%%",
				 (int)(100.0 * (double)progress->docs / (double)shown_total));
		} else if (progress->total_bytes > 0) {
			snprintf(percent, sizeof percent, " %3d%%",
				 (int)(100.0 * (double)progress->bytes /
				       (double)progress->total_bytes));
		}
		if (eta >= 0)
			snprintf(eta_text, sizeof eta_text, "ETA %" PRId64 ":%02d", eta / 60,
				 (int)(eta % 60));
		if (final)
			snprintf(eta_text, sizeof eta_text, "done in %.1fs", elapsed_s);
		fprintf(stderr, "\r%s  %" PRId64 "/%s docs%s  %.1f MB/s  %s\033[K%s",
			progress->label, progress->docs, total, percent, mb_per_s, eta_text,
			final ? "\n" : "");
		fflush(stderr);
	} else {
		json_t *fields =
			json_pack("{s:s, s:I, s:I, s:f, s:f}", "task", progress->label, "docs",
				  (json_int_t)progress->docs, "bytes", (json_int_t)progress->bytes,
				  "mbPerSec", (double)(int64_t)(mb_per_s * 10) / 10.0, "elapsedSec",
				  (double)(int64_t)(elapsed_s * 10) / 10.0);

		if (fields != NULL && progress->total_docs > 0)
			json_object_set_new(fields, "totalDocs",
					    json_integer(progress->total_docs));
		if (fields != NULL && eta >= 0 && !final)
			json_object_set_new(fields, "etaSec", json_integer(eta));
		if (fields != NULL && throttle_items_per_sec(progress->throttle) > 0)
			json_object_set_new(
				fields, "maxDocsPerSec",
				json_integer(throttle_items_per_sec(progress->throttle)));
		if (fields != NULL && throttle_mb_per_sec(progress->throttle) > 0)
			json_object_set_new(fields, "maxMbPerSec",
					    json_integer(throttle_mb_per_sec(progress->throttle)));
		log_fields(LOG_INFO, final ? "copy finished" : "copy progress", fields);
	}
	progress->drawn = true;
}

void
progress_add(progress_t *progress, int64_t docs, int64_t bytes)
{
	int64_t now;

	if (progress == NULL)
		return;
	pthread_mutex_lock(&progress->lock);
	progress->docs += docs;
	progress->bytes += bytes;
	now = clock_mono_ms();
	if (now - progress->last_draw_ms >=
	    (progress->tty ? PROGRESS_TTY_REDRAW_MS : progress->interval_ms))
		draw(progress, now, false);
	pthread_mutex_unlock(&progress->lock);
	/* A stop during the wait is seen by the copy loop's own check. */
	throttle_take(progress->throttle, docs, bytes);
}

void
progress_set_throttle(progress_t *progress, throttle_t *throttle)
{
	if (progress != NULL)
		progress->throttle = throttle;
}

void
progress_finish(progress_t *progress)
{
	if (progress == NULL)
		return;
	pthread_mutex_lock(&progress->lock);
	draw(progress, clock_mono_ms(), true);
	pthread_mutex_unlock(&progress->lock);
}

void
progress_destroy(progress_t *progress)
{
	if (progress == NULL)
		return;
	pthread_mutex_destroy(&progress->lock);
	free(progress->label);
	free(progress);
}
