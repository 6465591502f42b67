/*
 * The logger (log.h): one line per call on stderr, human or JSON, every
 * message and string field passed through redact_uri_text() first. A mutex
 * keeps lines from interleaving; each line goes out in one write(2).
 */
#include <errno.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "redact.h"

static char log_program[64] = "changestream-migration";
static log_level_t log_threshold = LOG_INFO;
static log_format_t log_format = LOG_FORMAT_HUMAN;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static const char *
level_name(log_level_t level)
{
	if ((int)level < 0 || level > LOG_ERROR)
		return "error";
	return level_names[level];
}

/* Writes all of line to stderr under the lock. */
static void
write_line(const char *line, size_t len)
{
	ssize_t n;

	pthread_mutex_lock(&log_mutex);
	while (len > 0) {
		n = write(STDERR_FILENO, line, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		line += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&log_mutex);
}

/*
 * A JSON string for text; jansson refuses invalid UTF-8, so such bytes
 * become '?' rather than losing the line.
 */
static json_t *
json_text(const char *text)
{
	json_t *s;
	char *copy;
	size_t i;

	s = json_string(text);
	if (s)
		return s;
	copy = strdup(text);
	if (!copy)
		return json_string("(out of memory)");
	for (i = 0; copy[i]; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	s = json_string(copy);
	free(copy);
	return s;
}

/* Replaces value, when a string, or every string inside it (recursively)
 * by its redacted form. */
static void
redact_json(json_t *value)
{
	const char *key;
	json_t *item;
	size_t index;
	char *clean;

	if (json_is_string(value)) {
		clean = redact_uri_text(json_string_value(value));
		if (clean)
			json_string_set(value, clean);
		free(clean);
	} else if (json_is_object(value)) {
		json_object_foreach (value, key, item)
			redact_json(item);
	} else if (json_is_array(value)) {
		json_array_foreach (value, index, item)
			redact_json(item);
	}
}

/* True when a human-form string value needs quotes to stay one token. */
static bool
needs_quotes(const char *s)
{
	return *s == '\0' || strpbrk(s, " \t\n\"=") != NULL;
}

/* Emits one line; msg is already formatted. fields may be NULL (borrowed). */
static void
emit(log_level_t level, const char *msg, json_t *fields)
{
	char ts[40];
	char *clean, *line = NULL, *dumped;
	size_t len = 0;
	FILE *mem;
	json_t *obj, *value;
	const char *key;

	if (level < log_threshold)
		return;
	clean = redact_uri_text(msg ? msg : "");
	if (!clean)
		return;
	clock_format_utc(clock_wall_ms(), true, ts, sizeof ts);
	if (fields)
		redact_json(fields);

	if (log_format == LOG_FORMAT_JSON) {
		obj = json_object();
		json_object_set_new(obj, "ts", json_string(ts));
		json_object_set_new(obj, "prog", json_text(log_program));
		json_object_set_new(obj, "level", json_string(level_name(level)));
		json_object_set_new(obj, "msg", json_text(clean));
		if (json_is_object(fields)) {
			json_object_foreach (fields, key, value) {
				/* The fixed keys stay what they are. */
				if (!json_object_get(obj, key))
					json_object_set(obj, key, value);
			}
		}
		dumped = json_dumps(obj, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		json_decref(obj);
		if (dumped) {
			len = strlen(dumped);
			dumped = realloc(dumped, len + 2);
			if (dumped) {
				dumped[len++] = '\n';
				dumped[len] = '\0';
				write_line(dumped, len);
			}
			free(dumped);
		}
		free(clean);
		return;
	}

	mem = open_memstream(&line, &len);
	if (!mem) {
		free(clean);
		return;
	}
	fprintf(mem, "%s %s %s: %s", ts, log_program, level_name(level), clean);
	if (json_is_object(fields)) {
		json_object_foreach (fields, key, value) {
			if (json_is_string(value)) {
				const char *s = json_string_value(value);

				if (needs_quotes(s)) {
					dumped = json_dumps(value, JSON_ENCODE_ANY);
					fprintf(mem, " %s=%s", key, dumped ? dumped : "\"\"");
					free(dumped);
				} else {
					fprintf(mem, " %s=%s", key, s);
				}
			} else {
				dumped = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT |
								   JSON_REAL_PRECISION(6));
				fprintf(mem, " %s=%s", key, dumped ? dumped : "null");
				free(dumped);
			}
		}
	}
	fputc('\n', mem);
	if (fclose(mem) == 0 && line)
		write_line(line, len);
	free(line);
	free(clean);
}

/*
 * Driver messages that came before the program chose its log format (see
 * log_preinit): emitted by log_flush_early_driver_messages(), in order.
 */
#define EARLY_MAX 8
static pthread_mutex_t early_mutex = PTHREAD_MUTEX_INITIALIZER;
static bool early_open;
static struct {
	log_level_t level;
	char *line;
} early[EARLY_MAX];
static size_t early_len, early_dropped;

/* Queues line while the queue is open; false when it is closed. */
static bool
early_take(log_level_t level, const char *line)
{
	bool queued = false;

	pthread_mutex_lock(&early_mutex);
	if (early_open) {
		queued = true;
		if (early_len < EARLY_MAX) {
			early[early_len].level = level;
			early[early_len++].line = strdup(line);
		} else {
			early_dropped++;
		}
	}
	pthread_mutex_unlock(&early_mutex);
	return queued;
}

void
log_flush_early_driver_messages(void)
{
	size_t k;

	pthread_mutex_lock(&early_mutex);
	early_open = false;
	pthread_mutex_unlock(&early_mutex);
	for (k = 0; k < early_len; k++) {
		if (early[k].line)
			emit(early[k].level, early[k].line, NULL);
		free(early[k].line);
		early[k].line = NULL;
	}
	if (early_dropped > 0)
		log_warn("%zu more driver messages from before the start were dropped",
			 early_dropped);
	early_len = early_dropped = 0;
}

static void
driver_log_handler(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
	log_level_t ours;
	char *line;
	size_t len;

	(void)data;
	switch (level) {
	case MONGOC_LOG_LEVEL_ERROR:
	case MONGOC_LOG_LEVEL_CRITICAL:
		ours = LOG_ERROR;
		break;
	case MONGOC_LOG_LEVEL_WARNING:
		ours = LOG_WARN;
		break;
	case MONGOC_LOG_LEVEL_TRACE:
		return; /* only in tracing builds, and far too verbose */
	default:
		ours = LOG_DEBUG;
		break;
	}
	line = bson_strdup_printf("driver (%s): %s", domain ? domain : "mongoc",
				  message ? message : "");
	/* Some driver messages end in a newline: one line per message. */
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (!early_take(ours, line) && ours >= log_threshold)
		emit(ours, line, NULL);
	bson_free(line);
}

void
log_install_driver_handler(void)
{
	mongoc_log_set_handler(driver_log_handler, NULL);
}

/*
 * libmongoc built with automatic initialization (Debian's is) runs
 * mongoc_init() from a constructor as the library loads, before main, and
 * what it logs then (mongoc-counters.c: "Falling back to malloc for
 * counters." when no shared memory segment can be made, e.g. /dev/shm not
 * writable) would reach libmongoc's default handler and stderr raw. An
 * executable's preinit functions run before any shared library's
 * constructor (ELF gABI, DT_PREINIT_ARRAY), so the handler is installed
 * here, in every program linked with this file; it queues messages until
 * the program has chosen its log format (conn_global_init()) or exits.
 *
 * It also removes a stale shared-memory segment of the driver's counters
 * named for this pid: each process makes "/mongoc-<pid>" (O_EXCL) and
 * removes it at exit, so one that exists now was left by a killed process
 * whose pid came round again, and would make the driver warn "Falling back
 * to malloc for counters" for nothing. (MONGOC_DISABLE_SHM cannot be set
 * from here: libc's own initialisation, which runs later, resets environ.)
 */
/* Removes "/mongoc-<pid>", formatted by hand: stdio is not set up yet. */
static void
forget_stale_counters(void)
{
	char name[32] = "/mongoc-", digits[16];
	unsigned pid = (unsigned)getpid();
	size_t n = 0, at = strlen(name);

	do {
		digits[n++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0);
	while (n > 0)
		name[at++] = digits[--n];
	name[at] = '\0';
	shm_unlink(name);
}

static void
log_preinit(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)argv;
	(void)envp;
	forget_stale_counters();
	early_open = true;
	log_install_driver_handler();
	/* A program that ends before conn_global_init() (--help, misuse)
	 * still says what the driver said. */
	atexit(log_flush_early_driver_messages);
}

__attribute__((section(".preinit_array"),
	       used)) static void (*const log_preinit_entry)(int, char **, char **) = log_preinit;

void
log_init(const char *program, log_level_t threshold, log_format_t format)
{
	if (program) {
		const char *slash = strrchr(program, '/');

		snprintf(log_program, sizeof log_program, "%s", slash ? slash + 1 : program);
	}
	log_threshold = threshold;
	log_format = format;
	log_install_driver_handler();
}

bool
log_parse_format(const char *name, log_format_t *out)
{
	if (!name)
		return false;
	if (strcmp(name, "human") == 0)
		*out = LOG_FORMAT_HUMAN;
	else if (strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return false;
	return true;
}

bool
log_parse_level(const char *name, log_level_t *out)
{
	int i;

	if (!name)
		return false;
	for (i = 0; i <= (int)LOG_ERROR; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (log_level_t)i;
			return true;
		}
	}
	if (strcmp(name, "warning") == 0) {
		*out = LOG_WARN;
		return true;
	}
	return false;
}

void
log_msg(log_level_t level, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int n;

	if (level < log_threshold)
		return;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	emit(level, msg, NULL);
	free(msg);
}

void
log_fields(log_level_t level, const char *msg, json_t *fields)
{
	emit(level, msg, fields);
	json_decref(fields);
}
