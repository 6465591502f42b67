/*
 * Logging to stderr: levels, timestamps, the program name; human lines by
 * default, one JSON object a line with --log-format json. Every message is
 * passed through redact_uri_text() before it is written.
 */
#ifndef CSM_LOG_H
#define CSM_LOG_H

#include <jansson.h>
#include <stdbool.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;
typedef enum { LOG_FORMAT_HUMAN, LOG_FORMAT_JSON } log_format_t;

/* Sets the program name, threshold and format; installs a libmongoc log
 * handler that routes driver messages through this logger. */
void log_init(const char *program, log_level_t threshold, log_format_t format);

/* Routes libmongoc's log messages through this logger (log_init does it
 * too; conn_global_init calls it for tools that skip log_init). */
void log_install_driver_handler(void);

/*
 * Emits, through this logger and in the format chosen by now, the driver
 * messages that came before the program's options were read (libmongoc's
 * load-time initialization logs before main), and from then on lets driver
 * messages through at once. conn_global_init() calls it; so does exit().
 */
void log_flush_early_driver_messages(void);

/* Parses "human"|"json" / "debug"|"info"|"warn"|"error"; false when unknown. */
bool log_parse_format(const char *name, log_format_t *out);
bool log_parse_level(const char *name, log_level_t *out);

/* Writes one line at level (printf-style). Thread-safe. */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/*
 * Writes a structured line: "msg k=v k=v" for humans, or msg plus the fields
 * merged into the JSON object. fields is stolen (decref'd here); may be NULL.
 * Used for status lines (docs/DESIGN.md, "Logs and status lines").
 */
void log_fields(log_level_t level, const char *msg, json_t *fields);

#endif
