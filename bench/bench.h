/*
 * Helpers shared by the benchmark drivers in bench/ (each bench/NAME.c is
 * its own program, so everything here is static inline). Drivers print one
 * JSON object on stdout with their measurements; bench/run.sh reads it.
 */
#ifndef CSM_BENCH_H
#define CSM_BENCH_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "numparse.h"

/*
 * Seconds on the monotonic clock, to the nanosecond: what a benchmark
 * measures (durations and rates it reports, the pacing derived from them).
 * lib/clock.h counts whole milliseconds, too coarse here: limit_bulk adds up
 * single bulk writes that can take well under a millisecond each, and a
 * short run would report a rate of 0. Deadlines and timeouts use
 * clock_mono_ms(), wall times clock_wall_ms().
 */
static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints "prog: message" to stderr. */
static inline void bench_warn(const char *prog, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);
static inline void
bench_warn(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Parses a count argument through the project's strict parser. */
static inline bool
bench_parse(const char *prog, const char *what, const char *text, int64_t min, int64_t max,
	    int64_t *out)
{
	if (parse_int64(text, min, max, out))
		return true;
	bench_warn(prog, "invalid %s '%s': expected an integer from %lld to %lld", what, text,
		   (long long)min, (long long)max);
	return false;
}

/*
 * A client for uri with the given appname, pinged once so a dead server
 * fails here rather than in the timed loop. NULL (message printed) on error.
 */
static inline mongoc_client_t *
bench_client_new(const char *prog, const char *uri)
{
	bson_error_t error;
	bson_t ping = BSON_INITIALIZER;
	mongoc_client_t *client = mongoc_client_new(uri);

	if (client == NULL) {
		bench_warn(prog, "cannot parse the URI");
		return NULL;
	}
	mongoc_client_set_appname(client, prog);
	BSON_APPEND_INT32(&ping, "ping", 1);
	if (!mongoc_client_command_simple(client, "admin", &ping, NULL, NULL, &error)) {
		bench_warn(prog, "cannot reach the server: %s", error.message);
		mongoc_client_destroy(client);
		client = NULL;
	}
	bson_destroy(&ping);
	return client;
}

/* Size of the "pad" string that makes {_id: Int64, n: Int64, pad: ""}
 * exactly size bytes of BSON (at least 0). */
static inline size_t
bench_pad_len(int64_t size)
{
	/* 4 length + 13 _id + 11 n + 10 pad header + 1 terminator = 39. */
	return size > 39 ? (size_t)(size - 39) : 0;
}

/* The pad string for documents of size bytes (see bench_pad_len): the
 * letters a-z over and over. The caller frees it with bson_free(). */
static inline char *
bench_pad_new(int64_t size)
{
	size_t len = bench_pad_len(size);
	char *pad = bson_malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		pad[i] = (char)('a' + i % 26);
	pad[len] = '\0';
	return pad;
}

#endif
