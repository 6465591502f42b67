/*
 * cdc-replay: applies the pending staged events of one collection to the
 * target in seq order, marks them done, follows new ones and reports lag
 * (docs/DESIGN.md, "Programs" and "Replay rules"). Killed at any point, the
 * same command picks up where it stopped: a batch applied but not marked is
 * applied again, which converges because every rule is idempotent. The
 * run itself is lib/replay_run.c; this file is its command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "replay_run.h"
#include "staging_format.h"
#include "stop.h"

#define PROGRAM "cdc-replay"
#define REPLAY_DEFAULT_BATCH 1000
/* Measured on mongod-lite (2 cores): see the cdc-replay report. */
#define REPLAY_DEFAULT_WORKERS 1
#define REPLAY_DEFAULT_STATUS_INTERVAL 10

enum {
	OPT_DB = CLI_OPT_FIRST,
	OPT_COLL,
	OPT_TO_DB,
	OPT_TO_COLL,
	OPT_STAGING_COLL,
	OPT_BATCH_SIZE,
	OPT_WORKERS,
	OPT_DRAIN,
	OPT_STATUS_INTERVAL,
};

static const char usage_text[] =
	"usage: cdc-replay --db DB --coll COLL [--to-db DB2] [--to-coll COLL2]\n"
	"                  [--staging-coll NAME] [--batch-size N] [--workers W]\n"
	"                  [--drain] [--status-interval S] [options]\n"
	"\n"
	"Applies the pending staged change events of DB.COLL, read from\n"
	"DB.NAME on the TARGET in seq order, to DB2.COLL2 on the target as ordered\n"
	"bulk writes, and marks each batch done. Keeps following new events until\n"
	"stopped (SIGINT/SIGTERM finish the current batch and exit 0). Restart it\n"
	"with the same command at any time: nothing is lost or applied out of\n"
	"order. Creates the indexes that dump-wrap restore deferred: the unique\n"
	"ones once every event up to the dump end is applied, the TTL ones when\n"
	"--drain completes.\n"
	"\n"
	"options:\n"
	"  --db DB                 source database of the staged events (required);\n"
	"                          the staging collection lives in DB on the target\n"
	"  --coll COLL             source collection (required)\n"
	"  --to-db DB2             target database (default: DB)\n"
	"  --to-coll COLL2         target collection (default: COLL)\n"
	"  --staging-coll NAME     staging collection (default: cdc)\n"
	"  --batch-size N          staged documents per batch, 1..100000 (default 1000)\n"
	"  --workers W             apply each batch in W parallel lanes split by\n"
	"                          documentKey, 1..64 (default 1)\n"
	"  --drain                 exit 0 once nothing is pending and capture has\n"
	"                          caught up past the moment cdc-replay started\n"
	"                          (cutover); creates the deferred TTL indexes\n"
	"  --status-interval S     status line every S seconds, 0 for none (default "
	"10)\n" CONN_USAGE_TARGET CLI_USAGE_LOG CLI_USAGE_HELP;

static const cli_exit_t exit_codes[] = {
	{CSM_EXIT_OK, "--drain completed; a stop first marks the batch in flight done"},
	{CSM_EXIT_HISTORY_LOST, "capture lost it while --drain waited"},
	{CSM_EXIT_DDL, "every event before it is applied; it stays pending"},
	{CSM_EXIT_USAGE, NULL},
	{CSM_EXIT_DATAERR, "a duplicate key that persists in order, or a corrupt staged event"},
	{CSM_EXIT_UNAVAILABLE, "the target"},
	{CSM_EXIT_CANTCREAT, "another cdc-replay or a dump-wrap restore holds the target "
			     "collection's lease, or took it over: nothing more is written"},
	{CSM_EXIT_NOPERM, NULL},
};

static void
usage(FILE *to)
{
	fputs(usage_text, to);
	cli_print_exit_codes(to, exit_codes, sizeof exit_codes / sizeof exit_codes[0]);
}

/* The checks getopt cannot make: required and non-empty names. */
static bool
check_opts(const replay_opts_t *o, bson_error_t *error)
{
	if (!o->db || !*o->db || !o->coll || !*o->coll) {
		csm_error_set(error, CSM_EXIT_USAGE, "--db and --coll are required");
		return false;
	}
	if ((o->to_db && !*o->to_db) || (o->to_coll && !*o->to_coll) || !*o->staging_coll) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "--to-db, --to-coll and --staging-coll must not be empty");
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"coll", required_argument, NULL, OPT_COLL},
		{"to-db", required_argument, NULL, OPT_TO_DB},
		{"to-coll", required_argument, NULL, OPT_TO_COLL},
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"drain", no_argument, NULL, OPT_DRAIN},
		{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
		CLI_LONGOPT_HELP,
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_LOG,
		{NULL, 0, NULL, 0},
	};
	replay_opts_t o = {
		.staging_coll = STAGING_DEFAULT_COLL,
		.batch_size = REPLAY_DEFAULT_BATCH,
		.workers = REPLAY_DEFAULT_WORKERS,
		.status_interval = REPLAY_DEFAULT_STATUS_INTERVAL,
	};
	conn_opts_t conn = {0};
	cli_log_opts_t log_opts;
	replay_session_t *session = NULL;
	bson_error_t error = {0};
	bool mongoc_ready = false, stdout_closed = false;
	int rc = CSM_EXIT_USAGE;
	int opt, taken;

	cli_log_opts_init(&log_opts);
	log_init(PROGRAM, log_opts.level, log_opts.format);
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		taken = conn_opts_take(&conn, opt, optarg, &error);
		if (taken == 0)
			taken = cli_take_log_opt(&log_opts, opt, optarg, &error);
		if (taken < 0 && csm_exit_code(&error) == CSM_EXIT_USAGE)
			goto fail_usage;
		if (taken < 0)
			goto fail;
		if (taken > 0)
			continue;
		switch (opt) {
		case OPT_DB:
			o.db = optarg;
			break;
		case OPT_COLL:
			o.coll = optarg;
			break;
		case OPT_TO_DB:
			o.to_db = optarg;
			break;
		case OPT_TO_COLL:
			o.to_coll = optarg;
			break;
		case OPT_STAGING_COLL:
			o.staging_coll = optarg;
			break;
		case OPT_BATCH_SIZE:
			if (!cli_parse_int("--batch-size", optarg, 1, 100000, &o.batch_size,
					   &error))
				goto fail_usage;
			break;
		case OPT_WORKERS:
			if (!cli_parse_int("--workers", optarg, 1, 64, &o.workers, &error))
				goto fail_usage;
			break;
		case OPT_DRAIN:
			o.drain = true;
			break;
		case OPT_STATUS_INTERVAL:
			if (!cli_parse_int("--status-interval", optarg, 0, 86400,
					   &o.status_interval, &error))
				goto fail_usage;
			break;
		case 'h':
			rc = cli_help(usage);
			stdout_closed = true;
			goto cleanup;
		default:
			rc = cli_misuse(PROGRAM, usage, NULL);
			goto cleanup;
		}
	}
	log_init(PROGRAM, log_opts.level, log_opts.format);
	if (optind < argc) {
		csm_error_set(&error, CSM_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
		goto fail_usage;
	}
	if (!check_opts(&o, &error) || !conn_opts_resolve(&conn, false, true, &error))
		goto fail_usage;

	stop_install_handlers();
	stop_with_parent();
	conn_global_init();
	mongoc_ready = true;
	session = replay_session_open(conn.target_uri, &o, &error);
	if (!session)
		goto fail;
	rc = replay_session_run(session);
	goto cleanup;

fail_usage:
	rc = cli_misuse(PROGRAM, usage, &error);
	goto cleanup;
fail:
	log_error("%s", error.message);
	rc = csm_exit_code(&error);
cleanup:
	replay_session_close(session);
	if (mongoc_ready)
		conn_global_cleanup();
	conn_opts_cleanup(&conn);
	if (!stdout_closed && fclose(stdout) != 0 && rc == CSM_EXIT_OK)
		rc = CSM_EXIT_IOERR;
	return rc;
}
