/*
 * Connection options and clients (docs/DESIGN.md, "Connections and secrets").
 * A URI comes from, in order of precedence: --source-uri/--target-uri,
 * --source-uri-file/--target-uri-file (a file holding the URI, so no secret
 * sits in argv), or the environment variables SOURCE_URI/TARGET_URI.
 */
#ifndef CSM_CONN_H
#define CSM_CONN_H

#include <getopt.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>

/* getopt_long values for the connection options; tools put
 * CONN_LONGOPTS_SOURCE / CONN_LONGOPTS_TARGET in their longopts[]. */
enum {
	CONN_OPT_SOURCE_URI = 0x1000,
	CONN_OPT_SOURCE_URI_FILE,
	CONN_OPT_TARGET_URI,
	CONN_OPT_TARGET_URI_FILE,
};

#define CONN_LONGOPTS_SOURCE                                                                       \
	{"source-uri", required_argument, NULL, CONN_OPT_SOURCE_URI},                              \
	{                                                                                          \
		"source-uri-file", required_argument, NULL, CONN_OPT_SOURCE_URI_FILE               \
	}
#define CONN_LONGOPTS_TARGET                                                                       \
	{"target-uri", required_argument, NULL, CONN_OPT_TARGET_URI},                              \
	{                                                                                          \
		"target-uri-file", required_argument, NULL, CONN_OPT_TARGET_URI_FILE               \
	}

/* The usage text for the connection options, for tools' --help. */
#define CONN_USAGE_SOURCE                                                                          \
	"  --source-uri-file FILE  read the source URI from FILE (or env SOURCE_URI)\n"            \
	"  --source-uri URI        source URI (visible in ps: prefer the above)\n"
#define CONN_USAGE_TARGET                                                                          \
	"  --target-uri-file FILE  read the target URI from FILE (or env TARGET_URI)\n"            \
	"  --target-uri URI        target URI (visible in ps: prefer the above)\n"

typedef struct conn_opts {
	char *source_uri; /* owned; NULL until given or resolved */
	char *target_uri; /* owned */
} conn_opts_t;

/*
 * Handles one getopt_long result. Returns 1 when opt was a connection option
 * and was taken, 0 when opt is not one (the caller handles it), -1 on error
 * (unreadable URI file: error filled, exit 66/74).
 */
int conn_opts_take(conn_opts_t *opts, int opt, const char *arg, bson_error_t *error);

/*
 * Fills what is still missing from SOURCE_URI / TARGET_URI and checks that
 * each needed URI is present and parses. Missing or malformed: exit code 64,
 * message redacted.
 */
bool conn_opts_resolve(conn_opts_t *opts, bool need_source, bool need_target, bson_error_t *error);

/* Frees the URIs (and scrubs them from memory). */
void conn_opts_cleanup(conn_opts_t *opts);

/* mongoc_init() plus the log handler; mongoc_cleanup(). Call once each. */
void conn_global_init(void);
void conn_global_cleanup(void);

/*
 * A client for uri with appname "changestream-migration/<role>", retryable
 * reads and writes on, and bounded timeouts (server selection 10 s, connect
 * 10 s, socket 5 min). Pings the server before returning: unreachable means
 * NULL with exit code 69; a URI that does not parse, 64. The caller destroys
 * it with mongoc_client_destroy(). Thread-unsafe, as libmongoc clients are.
 */
mongoc_client_t *conn_client_new(const char *uri, const char *role, bson_error_t *error);

/*
 * conn_client_new with the appname "changestream-migration/<app>" (so that
 * its commands can be told from the role's others) and, when timeout_ms >
 * 0, connect and socket timeouts of timeout_ms whatever the URI says: for
 * a client whose every command is small and must not hang (the lease's).
 */
mongoc_client_t *conn_client_new_for(const char *uri, const char *role, const char *app,
				     int32_t timeout_ms, bson_error_t *error);

/* The same as a pool for multi-threaded tools; mongoc_client_pool_destroy(). */
mongoc_client_pool_t *conn_pool_new(const char *uri, const char *role, bson_error_t *error);

#endif
