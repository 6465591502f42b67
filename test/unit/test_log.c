/* Unit tests of the logger (log.h): formats, redaction, driver messages,
 * thread safety. stderr is captured into a file through dup2. */
#include <jansson.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

static int saved_stderr = -1;
static FILE *capture_file;

static void
capture_start(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(capture_file), STDERR_FILENO);
}

/* Stops capturing; returns what was written (free()). */
static char *
capture_stop(void)
{
	long size;
	char *text;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	size = ftell(capture_file);
	text = calloc(1, (size_t)size + 1);
	rewind(capture_file);
	if (size > 0 && fread(text, 1, (size_t)size, capture_file) != (size_t)size)
		text[0] = '\0';
	fclose(capture_file);
	return text;
}

/* The next line of *cursor (NUL-terminated in place), or NULL. */
static char *
next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	return line;
}

static bool
matches(const char *text, const char *pattern)
{
	regex_t re;
	bool ok;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

#define TS_RE "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static void
case_json_lines(void)
{
	char *out, *cursor, *line;
	json_t *obj;
	json_error_t json_error;
	int n = 0;

	log_init("/usr/local/bin/token-probe", LOG_INFO, LOG_FORMAT_JSON);
	capture_start();
	log_info("copying from mongodb://app:s3cret@h1:27017,h2/shop?replicaSet=rs0");
	log_debug("not shown at info");
	log_fields(LOG_WARN, "status",
		   json_pack("{s:s, s:i, s:f, s:{s:s}, s:[s], s:s}", "source",
			     "mongodb+srv://app:s3cret@cluster0.example.net/", "pending", 5, "lag",
			     1.5, "nested", "uri", "mongodb://x:s3cret@h", "list",
			     "mongodb://y:s3cret@h", "msg", "ignored"));
	out = capture_stop();
	CHECK_LACKS(out, "s3cret");
	cursor = out;
	while ((line = next_line(&cursor))) {
		n++;
		CHECK(strncmp(line, "{\"ts\": \"", 8) == 0);
		obj = json_loads(line, 0, &json_error);
		CHECK(obj != NULL);
		CHECK(matches(json_string_value(json_object_get(obj, "ts")), "^" TS_RE "$"));
		CHECK_STR(json_string_value(json_object_get(obj, "prog")), "token-probe");
		if (n == 1) {
			CHECK_STR(json_string_value(json_object_get(obj, "level")), "info");
			CHECK_STR(json_string_value(json_object_get(obj, "msg")),
				  "copying from mongodb://app:***@h1:27017,h2/shop?replicaSet=rs0");
		} else {
			CHECK_STR(json_string_value(json_object_get(obj, "level")), "warn");
			CHECK_STR(json_string_value(json_object_get(obj, "msg")), "status");
			CHECK_STR(json_string_value(json_object_get(obj, "source")),
				  "mongodb+srv://app:***@cluster0.example.net/");
			CHECK_INT(json_integer_value(json_object_get(obj, "pending")), 5);
			CHECK(json_real_value(json_object_get(obj, "lag")) == 1.5);
		}
		json_decref(obj);
	}
	CHECK_INT(n, 2);
	free(out);
}

static void
case_human_format(void)
{
	char *out, *cursor, *line;

	log_init("cdc-replay", LOG_INFO, LOG_FORMAT_HUMAN);
	capture_start();
	log_warn("cannot reach 'mongodb://u:pw@h:1/': try %d", 3);
	log_fields(LOG_INFO, "status",
		   json_pack("{s:i, s:s, s:s, s:f, s:b}", "seen", 3, "state", "running", "note",
			     "two words", "rate", 12.25, "drain", 1));
	log_fields(LOG_INFO, "plain", NULL);
	out = capture_stop();
	cursor = out;
	line = next_line(&cursor);
	CHECK(line && matches(line, "^" TS_RE " cdc-replay warn: cannot reach "
				    "'mongodb://u:\\*\\*\\*@h:1/': try 3$"));
	line = next_line(&cursor);
	CHECK(line && matches(line, "^" TS_RE " cdc-replay info: status seen=3 state=running "
				    "note=\"two words\" rate=12.25 drain=true$"));
	if (line && !matches(line, "drain=true$"))
		fprintf(stderr, "line: %s\n", line);
	line = next_line(&cursor);
	CHECK(line && matches(line, "^" TS_RE " cdc-replay info: plain$"));
	CHECK(next_line(&cursor) == NULL);
	free(out);
}

static void
case_threshold(void)
{
	char *out;

	log_init("x", LOG_WARN, LOG_FORMAT_HUMAN);
	capture_start();
	log_debug("d-line");
	log_info("i-line");
	log_fields(LOG_INFO, "f-line", json_pack("{s:i}", "a", 1));
	log_warn("w-line");
	log_error("e-line");
	out = capture_stop();
	CHECK_LACKS(out, "d-line");
	CHECK_LACKS(out, "i-line");
	CHECK_LACKS(out, "f-line");
	CHECK_CONTAINS(out, "x warn: w-line");
	CHECK_CONTAINS(out, "x error: e-line");
	free(out);
}

static void
case_driver_messages(void)
{
	char *out;

	log_init("dump-wrap", LOG_DEBUG, LOG_FORMAT_HUMAN);
	capture_start();
	mongoc_log(MONGOC_LOG_LEVEL_WARNING, "cluster", "no server at mongodb://u:pw@h:1/");
	mongoc_log(MONGOC_LOG_LEVEL_INFO, "client", "info-from-driver");
	mongoc_log(MONGOC_LOG_LEVEL_ERROR, "stream", "error-from-driver");
	out = capture_stop();
	CHECK_CONTAINS(out, "dump-wrap warn: driver (cluster): no server at mongodb://u:***@h:1/");
	CHECK_CONTAINS(out, "dump-wrap debug: driver (client): info-from-driver");
	CHECK_CONTAINS(out, "dump-wrap error: driver (stream): error-from-driver");
	CHECK_LACKS(out, "pw@");
	free(out);

	log_init("dump-wrap", LOG_INFO, LOG_FORMAT_HUMAN);
	capture_start();
	mongoc_log(MONGOC_LOG_LEVEL_INFO, "client", "info-from-driver");
	mongoc_log(MONGOC_LOG_LEVEL_DEBUG, "client", "debug-from-driver");
	out = capture_stop();
	CHECK_STR(out, "");
	free(out);
}

static void *
log_many(void *arg)
{
	int i;

	for (i = 0; i < 500; i++)
		log_fields(LOG_INFO, "tick",
			   json_pack("{s:i, s:i, s:s}", "thread", (int)(intptr_t)arg, "i", i, "pad",
				     "......................................................"));
	return NULL;
}

static void
case_threads_do_not_interleave(void)
{
	pthread_t threads[4];
	char *out, *cursor, *line;
	json_error_t json_error;
	json_t *obj;
	int i, n = 0, bad = 0;

	log_init("t", LOG_INFO, LOG_FORMAT_JSON);
	capture_start();
	for (i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, log_many, (void *)(intptr_t)i);
	for (i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	out = capture_stop();
	cursor = out;
	while ((line = next_line(&cursor))) {
		n++;
		obj = json_loads(line, 0, &json_error);
		if (!obj)
			bad++;
		json_decref(obj);
	}
	CHECK_INT(n, 2000);
	CHECK_INT(bad, 0);
	free(out);
}

static void
case_invalid_utf8_stays_json(void)
{
	char *out;
	json_error_t json_error;
	json_t *obj;

	log_init("t", LOG_INFO, LOG_FORMAT_JSON);
	capture_start();
	log_info("bad byte \xff here");
	out = capture_stop();
	obj = json_loads(out, 0, &json_error);
	CHECK(obj != NULL);
	CHECK_STR(json_string_value(json_object_get(obj, "msg")), "bad byte ? here");
	json_decref(obj);
	free(out);
}

/* For bats: writes sample JSON lines to the real stderr for an outside
 * parser to check. */
static void
case_emit_json_sample(void)
{
	log_init("sample", LOG_DEBUG, LOG_FORMAT_JSON);
	log_info("source mongodb://app:hunter2@h1:27017,h2/shop and target "
		 "mongodb+srv://bob:p%%40ss@c.example.net/x?w=majority");
	log_debug("quote \" backslash \\ tab \t newline \n end");
	log_fields(LOG_INFO, "status",
		   json_pack("{s:I, s:f, s:s, s:n}", "applied", (json_int_t)123456789012, "lag",
			     0.25, "uri", "mongodb://u:hunter2@h", "none"));
	mongoc_log(MONGOC_LOG_LEVEL_WARNING, "cluster", "server mongodb://u:hunter2@h down");
}

static const unit_case_t cases[] = {
	{"json_lines", case_json_lines},
	{"human_format", case_human_format},
	{"threshold", case_threshold},
	{"driver_messages", case_driver_messages},
	{"threads_do_not_interleave", case_threads_do_not_interleave},
	{"invalid_utf8_stays_json", case_invalid_utf8_stays_json},
	{"emit_json_sample", case_emit_json_sample},
};

int
main(int argc, char **argv)
{
	/* The sample is for bats only; a plain run skips it. */
	static const char *const defaults[] = {
		"",
		"json_lines",
		"human_format",
		"threshold",
		"driver_messages",
		"threads_do_not_interleave",
		"invalid_utf8_stays_json",
	};

	/* As conn_global_init() does: driver messages go out as they come. */
	log_flush_early_driver_messages();
	if (argc < 2)
		return unit_main(cases, sizeof cases / sizeof cases[0],
				 (int)(sizeof defaults / sizeof defaults[0]), (char **)defaults);
	return unit_main(cases, sizeof cases / sizeof cases[0], argc, argv);
}
