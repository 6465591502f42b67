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
#include "numparse.h"
#include "replay_run.h"
#include "staging_format.h"
#include "stop.h"
#include "throttle.h"

#define PROGRAM "cdc-replay"
#define REPLAY_DEFAULT_BATCH 1000
/* Measured on mongod-lite (2 cores): see the cdc-replay report. */
#define REPLAY_DEFAULT_WORKERS 1
#define REPLAY_DEFAULT_STATUS_INTERVAL 10

enum {
	OPT_STAGING_COLL = CLI_OPT_FIRST,
	OPT_BATCH_SIZE,
	OPT_WORKERS,
	OPT_DRAIN,
	OPT_MAX_WAIT,
	OPT_STATUS_INTERVAL,
	OPT_MAX_OPS,
	OPT_THROTTLE_FILE,
	OPT_PURGE_APPLIED,
};

/* --purge-applied: at most ten years. */
#define REPLAY_PURGE_MAX_S (3650LL * 86400)

static const char usage_text[] =
	"usage: cdc-replay --db DB --coll COLL [--to-db DB2] [--to-coll COLL2]\n"
	"                  [--staging-coll NAME] [--batch-size N] [--workers W]\n"
	"                  [--drain [--max-wait S]] [--status-interval S]\n"
	"                  [--max-ops-per-sec N] [--throttle-file FILE]\n"
	"                  [--purge-applied AGE] [options]\n"
	"\n"
	"Applies the pending staged change events of DB.COLL, read from\n"
	"DB.NAME on the TARGET in seq order, to DB2.COLL2 on the target as ordered\n"
	"bulk writes, and marks each batch done; the events of one source\n"
	"transaction go in one target transaction with their mark (a target that\n"
	"cannot run transactions gets them one by one, said once); one that a\n"
	"database capture staged in several collections waits, at its part, for\n"
	"their replays and goes in one target transaction with every part (a wait\n"
	"over 5 s names the collection it waits for). Keeps following\n"
	"new events until\n"
	"stopped (SIGINT/SIGTERM finish the current batch and exit 0, or exit 75\n"
	"after 5 s if the target does not answer; SIGUSR1 turns it into --drain from\n"
	"that moment). Restart it\n"
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
	"                          the documentKey's _id, 1..64 (default 1)\n"
	"  --drain                 exit 0 once nothing is pending and capture has\n"
	"                          caught up past the moment cdc-replay started\n"
	"                          (cutover); creates the deferred TTL indexes;\n"
	"                          warns when capture's checkpoint is 15 s old\n"
	"  --max-wait S            with --drain: exit 75 if not drained after S\n"
	"                          seconds, 0..604800 (default 0: wait for ever)\n"
	"  --status-interval S     status line every S seconds, 0 for none (default "
	"10)\n"
	"  --max-ops-per-sec N     apply at most N events per second on average,\n"
	"                          1..100000000 (default: no limit)\n"
	"  --throttle-file FILE    re-read the limit from FILE when it changes, at most\n"
	"                          once a second: a line 'max-ops-per-sec N' (0: no\n"
	"                          limit) overrides --max-ops-per-sec; a missing file\n"
	"                          or line gives it back\n"
	"  --purge-applied AGE     delete done staged events applied more than AGE ago\n"
	"                          (seconds, or with a suffix s, m, h or d: 1d), in\n"
	"                          batches; never a pending one, the newest done one,\n"
	"                          or what capture's restart reads (default: keep all;\n"
	"                          sync_migration.sh passes 1d)\n" CONN_USAGE_TARGET CLI_USAGE_LOG
		CLI_USAGE_HELP;

static const cli_exit_t exit_codes[] = {
	{CSM_EXIT_OK, "--drain completed; a stop first marks the batch in flight done"},
	{CSM_EXIT_HISTORY_LOST, "capture lost it while --drain waited"},
	{CSM_EXIT_DDL, "every event before it is applied; it stays pending"},
	{CSM_EXIT_USAGE, NULL},
	{CSM_EXIT_DATAERR,
	 "a duplicate key that persists in order, a corrupt staged event, a "
	 "sharded target whose shard key the events' documentKeys lack, or an update it "
	 "cannot apply exactly (a pre-6.1 path with two readings)"},
	{CSM_EXIT_UNAVAILABLE, "the target"},
	{CSM_EXIT_CANTCREAT, "another cdc-replay or a dump-wrap restore holds the target "
			     "collection's lease, or took it over: nothing more is written"},
	{CSM_EXIT_TEMPFAIL, "--max-wait passed before the drain completed, or the target did not "
			    "let a stop finish within 5 s"},
	{CSM_EXIT_NOPERM, NULL},
};

static void
usage(FILE *to)
{
	fputs(usage_text, to);
	cli_print_exit_codes(to, exit_codes, sizeof exit_codes / sizeof exit_codes[0]);
}

/* Opens the session on the target and runs it to its end; the exit code. */
static int
run(const replay_opts_t *opts, const conn_opts_t *conn)
{
	replay_session_t *session;
	bson_error_t error;
	int rc;

	stop_install_handlers();
	stop_catch_drain();
	stop_with_parent();
	session = replay_session_open(conn->target_uri, opts, &error);
	rc = session ? replay_session_run(session) : cli_fail(&error);
	replay_session_close(session);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_NS,
		CLI_LONGOPTS_TO_NS,
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"drain", no_argument, NULL, OPT_DRAIN},
		{"max-wait", required_argument, NULL, OPT_MAX_WAIT},
		{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
		{"max-ops-per-sec", required_argument, NULL, OPT_MAX_OPS},
		{"throttle-file", required_argument, NULL, OPT_THROTTLE_FILE},
		{"purge-applied", required_argument, NULL, OPT_PURGE_APPLIED},
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_END,
	};
	replay_opts_t o = {
		.staging_coll = STAGING_DEFAULT_COLL,
		.batch_size = REPLAY_DEFAULT_BATCH,
		.workers = REPLAY_DEFAULT_WORKERS,
		.status_interval = REPLAY_DEFAULT_STATUS_INTERVAL,
		.purge_applied_s = -1,
	};
	cli_common_t common;
	bson_error_t error = {0};
	int rc = CSM_EXIT_USAGE;
	int opt, taken;

	cli_common_init(&common, PROGRAM, usage);
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if ((taken = cli_take_common(&common, opt, optarg, &rc)) != 0) {
			if (taken < 0)
				goto cleanup;
			continue;
		}
		switch (opt) {
		case OPT_STAGING_COLL:
			o.staging_coll = optarg;
			break;
		case OPT_BATCH_SIZE:
			if (!cli_parse_int("--batch-size", optarg, 1, 100000, &o.batch_size,
					   &error))
				goto misuse;
			break;
		case OPT_WORKERS:
			if (!cli_parse_int("--workers", optarg, 1, 64, &o.workers, &error))
				goto misuse;
			break;
		case OPT_DRAIN:
			o.drain = true;
			break;
		case OPT_MAX_WAIT:
			if (!cli_parse_int("--max-wait", optarg, 0, 604800, &o.max_wait, &error))
				goto misuse;
			break;
		case OPT_STATUS_INTERVAL:
			if (!cli_parse_int("--status-interval", optarg, 0, 86400,
					   &o.status_interval, &error))
				goto misuse;
			break;
		case OPT_MAX_OPS:
			if (!cli_parse_int("--max-ops-per-sec", optarg, 1, THROTTLE_MAX_LIMIT,
					   &o.max_ops_per_sec, &error))
				goto misuse;
			break;
		case OPT_THROTTLE_FILE:
			o.rate_file = optarg;
			break;
		case OPT_PURGE_APPLIED:
			if (!parse_duration_s(optarg, 0, REPLAY_PURGE_MAX_S, &o.purge_applied_s)) {
				cli_bad_value(&error, "--purge-applied", optarg,
					      "seconds, or a number with a suffix s, m, h or d, up "
					      "to 3650d");
				goto misuse;
			}
			break;
		}
	}
	if (!cli_common_end(&common, argc - optind, argv + optind, &error))
		goto misuse;
	if (!*o.staging_coll) {
		csm_error_set(&error, CSM_EXIT_USAGE, "--staging-coll must not be empty");
		goto misuse;
	}
	if (o.max_wait > 0 && !o.drain) {
		csm_error_set(&error, CSM_EXIT_USAGE, "--max-wait needs --drain");
		goto misuse;
	}
	if (!cli_common_start(&common, false, true, &error))
		goto misuse;
	o.db = common.db;
	o.coll = common.coll;
	o.to_db = common.to_db;
	o.to_coll = common.to_coll;
	rc = run(&o, &common.conn);
	goto cleanup;

misuse:
	rc = cli_common_misuse(&common, &error);
cleanup:
	return cli_common_finish(&common, rc);
}
