/*
 * The one rate limiter of the project (docs/DESIGN.md, "Programs" and
 * "Logs and status lines"): dump-wrap dump's --max-docs-per-sec and
 * --max-mb-per-sec, cdc-replay's --max-ops-per-sec. A throttle holds two
 * limits, items per second (documents, or applied events) and MB (10^6
 * bytes) per second, each 0 for none. The work is counted after it is done
 * (throttle_take) and the caller waits until the average since then is
 * back under the limits, so over any stretch of time the rate exceeds a
 * limit by at most one batch.
 *
 * Changing the limits while a program runs: the throttle file (given with
 * --throttle-file, the drivers pass <state-dir>/DB.COLL.throttle) holds
 * lines "KEY VALUE" with KEY max-ops-per-sec, max-docs-per-sec or
 * max-mb-per-sec and VALUE a whole number, 0 for no limit; '#' starts a
 * comment. throttle_take looks at the file at most once a second and
 * re-reads it when it changed: a key the file names replaces the
 * command-line value, a key it does not name (or a missing file) gives the
 * command-line value back. A file that does not parse is warned about and
 * the limits stay as they were.
 */
#ifndef CSM_THROTTLE_H
#define CSM_THROTTLE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#define THROTTLE_KEY_OPS "max-ops-per-sec"
#define THROTTLE_KEY_DOCS "max-docs-per-sec"
#define THROTTLE_KEY_MB "max-mb-per-sec"
/* The largest limit an option or the file may give. */
#define THROTTLE_MAX_LIMIT 100000000

/* What a throttle file says; -1 for a key it does not name. */
typedef struct throttle_limits {
	int64_t ops_per_sec;
	int64_t docs_per_sec;
	int64_t mb_per_sec;
} throttle_limits_t;

/*
 * Reads the throttle file path into limits. A missing file is true with
 * every limit -1 (*exists false when exists is not NULL). false + error
 * (exit code 65 naming the file and line, 74 unreadable) otherwise.
 */
bool throttle_file_read(const char *path, throttle_limits_t *limits, bool *exists,
			bson_error_t *error);

typedef struct throttle throttle_t;

/*
 * A throttle of items_key's limit (THROTTLE_KEY_OPS or THROTTLE_KEY_DOCS:
 * which line of the file sets the item limit) at items_per_sec and
 * mb_per_sec (0: none), re-read from file (NULL: none; copied) as the
 * header says. Thread-safe. Free with throttle_destroy (NULL accepted).
 */
throttle_t *throttle_new(const char *items_key, int64_t items_per_sec, int64_t mb_per_sec,
			 const char *file);
void throttle_destroy(throttle_t *throttle);

/*
 * Counts items and bytes just done, then sleeps until the rate since the
 * first take is back under the limits; the sleep gives way to a stop
 * request (false then). A NULL throttle, or one without limits, returns
 * at once. Logs when the file changed the limits.
 */
bool throttle_take(throttle_t *throttle, int64_t items, int64_t bytes);

/* The limits in force now (0: none); 0 for a NULL throttle. */
int64_t throttle_items_per_sec(throttle_t *throttle);
int64_t throttle_mb_per_sec(throttle_t *throttle);

#endif
