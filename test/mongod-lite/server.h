/*
 * Process-wide state of mongod-lite shared by every file: the configuration
 * and the locks.
 *
 * Concurrency model: one thread per connection; every command runs with
 * server_lock held, shared or exclusive (lock.h). Waits (awaitData getMore,
 * blockConnection, group commit) release it while they wait.
 */
#ifndef MLITE_SERVER_H
#define MLITE_SERVER_H

#include <bson/bson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { SYNC_ALWAYS, SYNC_BATCH, SYNC_NONE } sync_policy_t;

typedef struct server_config {
	const char *bind_addr;     /* default 127.0.0.1 */
	int port;                  /* 0 = any free port */
	const char *port_file;     /* written once listening */
	const char *replset;       /* default "rs0" */
	const char *host_name;     /* "host:port" in hello; default bind:port */
	int log_level;             /* 0 quiet .. 2 chatty */
	bool standalone;           /* --standalone: no replset, no streams */
	const char *dbpath;        /* --dbpath: NULL = memory only */
	sync_policy_t sync_policy; /* --sync-policy always|batch|none */
	int64_t oplog_max_entries; /* --oplog-max-entries */
	const char *auth_user;     /* --auth-user: NULL = no authentication required */
	const char *auth_password; /* read from --auth-password-file */
	bool router;               /* --router: answer as a mongos (router.h) */
	int shards;                /* --shards N behind the router, default 2 */
	char version[32];          /* --server-version X.Y.Z, default "7.0.0" */
	int version_array[3];      /* its numbers */
} server_config_t;

extern server_config_t server_config;
/* "host:port" this server calls itself (hello's me/hosts). */
extern char server_me[256];

#include "lock.h"
/* Set by SIGTERM/SIGINT; waits end early when it is. */
extern volatile sig_atomic_t server_shutting_down;

/* The clocks: lib/clock.h's (the one lib/ file the server links, as it
 * needs nothing but libc). */
#include "clock.h"

/* Log to stderr when level <= server_config.log_level. */
void server_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
