/*
 * dump-wrap: copy one collection out (dump) and back in (restore), with
 * mongodump/mongorestore when they are installed, else the native engine
 * writing the same format (docs/DESIGN.md, "Programs", "Dump format" and
 * "The catch-up window").
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"
#include "dump_run.h"
#include "error.h"
#include "log.h"
#include "staging_format.h"
#include "stop.h"
#include "throttle.h"

#define PROGRAM "dump-wrap"
#define DEFAULT_JOBS 4
#define DEFAULT_STATUS_INTERVAL_S 5

enum {
	OPT_OUT = CLI_OPT_FIRST,
	OPT_IN,
	OPT_DROP,
	OPT_DEFER,
	OPT_STAGING,
	OPT_ONCE,
	OPT_ENGINE,
	OPT_JOBS,
	OPT_GZIP,
	OPT_STATUS_INTERVAL,
	OPT_MAX_DOCS,
	OPT_MAX_MB,
	OPT_THROTTLE_FILE,
};

static const cli_exit_t exit_codes[] = {
	{CSM_EXIT_OK, NULL},
	{CSM_EXIT_USAGE, "also dump --jobs above 1 with the external engine"},
	{CSM_EXIT_DATAERR, "a bad or incomplete dump, an unfinished dump that this run's "
			   "arguments cannot continue, or restored data that violates a unique "
			   "index"},
	{CSM_EXIT_NOINPUT, NULL},
	{CSM_EXIT_UNAVAILABLE, "also --engine external without the tool on PATH"},
	{CSM_EXIT_CANTCREAT, "restore: another restore or a cdc-replay holds the target "
			     "collection's lease, or took it over"},
	{CSM_EXIT_IOERR, NULL},
	{CSM_EXIT_TEMPFAIL, "stopped by SIGINT/SIGTERM (nothing published; a native dump "
			    "continues when run again), or the target "
			    "kept failing a write after its retries"},
	{CSM_EXIT_NOPERM, NULL},
};

static void
usage(FILE *out)
{
	fputs("usage: dump-wrap dump --db DB --coll COLL --out DIR [options] [source options]\n"
	      "       dump-wrap restore --db DB --coll COLL --in DIR [--to-db DB2]\n"
	      "                 [--to-coll COLL2] [--drop] [--defer-constraints] [--once]\n"
	      "                 [--staging-coll NAME] [options] [target options]\n"
	      "\n"
	      "dump writes DIR/DB/COLL.bson and COLL.metadata.json (mongodump's format) and\n"
	      "COLL.dump-end.json (the source's cluster time when the copy ended); a dump is\n"
	      "complete once its metadata file exists. A native dump that was killed or\n"
	      "stopped continues from its checkpoints when run again with the same\n"
	      "arguments. restore loads such a dump (its own or\n"
	      "mongodump's): collection and options, then the data, then the indexes, then a\n"
	      "restore marker in DB.<staging>_meta on the target.\n"
	      "\n"
	      "  --db DB, --coll COLL    the source collection (also the dump's names)\n"
	      "  --out DIR / --in DIR    the dump directory\n"
	      "  --to-db DB2, --to-coll COLL2  restore under another name\n"
	      "  --drop                  drop the target collection first\n"
	      "  --defer-constraints     do not build unique and TTL indexes: record them in\n"
	      "                          the restore marker for cdc-replay (docs/DESIGN.md,\n"
	      "                          \"The catch-up window\")\n"
	      "  --once                  if the restore marker exists, do nothing and exit 0\n"
	      "  --staging-coll NAME     staging collection of the marker (default cdc)\n"
	      "  --engine auto|native|external  external runs mongodump/mongorestore; auto\n"
	      "                          (default) does when they are on PATH\n"
	      "  --jobs N                dump: partitions of the _id range read by as many\n"
	      "                          cursors (native engine; default 1); restore:\n"
	      "                          parallel inserters (default 4)\n"
	      "  --gzip                  compress the dump files (restore finds .gz alone)\n"
	      "  --status-interval SECONDS  status line period when stderr is not a TTY\n"
	      "                          (default 5)\n"
	      "  --max-docs-per-sec N, --max-mb-per-sec N  dump: read at most N documents,\n"
	      "                          or N MB (10^6 bytes), per second on average,\n"
	      "                          1..100000000 (default: no limit); native engine\n"
	      "                          only (auto picks it)\n"
	      "  --throttle-file FILE    dump: re-read the limits from FILE when it changes,\n"
	      "                          at most once a second: lines 'max-docs-per-sec N'\n"
	      "                          and 'max-mb-per-sec N' (0: no limit) override the\n"
	      "                          options; a missing file or line gives them "
	      "back\n" CONN_USAGE_SOURCE CONN_USAGE_TARGET CLI_USAGE_LOG CLI_USAGE_HELP,
	      out);
	cli_print_exit_codes(out, exit_codes, sizeof exit_codes / sizeof exit_codes[0]);
}

/*
 * dump reads the source only and restore writes the target only: a URI
 * option of the other side is a mistake worth stopping for. The message
 * names the option, never its value (a URI may hold a password).
 */
static bool
uri_opt_fits(bool is_dump, int opt, bson_error_t *error)
{
	/* In the order of conn.h's CONN_OPT_* ids. */
	static const char *const names[] = {"--source-uri", "--source-uri-file", "--target-uri",
					    "--target-uri-file"};
	bool source = opt == CONN_OPT_SOURCE_URI || opt == CONN_OPT_SOURCE_URI_FILE;
	bool target = opt == CONN_OPT_TARGET_URI || opt == CONN_OPT_TARGET_URI_FILE;

	if (source && !is_dump) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "restore writes to the target: use --target-uri-file or TARGET_URI, "
			      "not %s",
			      names[opt - CONN_OPT_SOURCE_URI]);
		return false;
	}
	if (target && is_dump) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "dump reads the source: use --source-uri-file or SOURCE_URI, not %s",
			      names[opt - CONN_OPT_SOURCE_URI]);
		return false;
	}
	return true;
}

/* The options each command takes: false with error (64) for the others. */
static bool
command_opts_fit(bool is_dump, const char *out_dir, const char *in_dir, bool restore_only,
		 bson_error_t *error)
{
	if (is_dump && (out_dir == NULL || in_dir != NULL || restore_only)) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "dump takes --out DIR and none of --in, --to-db, --to-coll, --drop, "
			      "--defer-constraints, --once, --staging-coll");
		return false;
	}
	if (!is_dump && (in_dir == NULL || out_dir != NULL)) {
		csm_error_set(error, CSM_EXIT_USAGE, "restore takes --in DIR (not --out)");
		return false;
	}
	return true;
}

/*
 * A dump or restore stopped by SIGINT/SIGTERM published nothing (no dump,
 * no restore marker), so it is not a success: 75, run the same command
 * again (docs/DESIGN.md, "Signals and stopping").
 */
static int
stopped(bool is_dump, const bson_error_t *error)
{
	log_warn("%s; %s: run the same command again", error->message,
		 is_dump ? "no dump was published (an older complete one is left as it was; the "
			   "native engine's copy continues from its checkpoints)"
			 : "no restore marker was written, so a rerun restores again (documents "
			   "already there count as duplicate keys)");
	return CSM_EXIT_TEMPFAIL;
}

/*
 * The throttle of a dump (NULL: none asked for): only the native engine
 * can be paced, so auto picks it and external is a usage error (64).
 */
static bool
dump_throttle(bool is_dump, int64_t docs, int64_t mb, const char *file, dump_run_opts_t *run,
	      bson_error_t *error)
{
	if (docs == 0 && mb == 0 && !file)
		return true;
	if (!is_dump || run->engine == DUMP_ENGINE_EXTERNAL) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "--max-docs-per-sec, --max-mb-per-sec and --throttle-file pace a "
			      "dump with the native engine: %s",
			      is_dump ? "mongodump cannot be paced (--engine external)"
				      : "restore takes none of them");
		return false;
	}
	run->engine = DUMP_ENGINE_NATIVE;
	run->throttle = throttle_new(THROTTLE_KEY_DOCS, docs, mb, file);
	return true;
}

/* Runs the command on the resolved URI; returns the exit code. */
static int
run_command(bool is_dump, dump_run_opts_t *run, const cli_common_t *common)
{
	bson_error_t error;
	int rc = CSM_EXIT_OK;

	run->db = common->db;
	run->coll = common->coll;
	run->to_db = common->to_db;
	run->to_coll = common->to_coll;
	run->uri = is_dump ? common->conn.source_uri : common->conn.target_uri;
	/* A dying gzip must be an error we report, not a signal that kills us. */
	signal(SIGPIPE, SIG_IGN);
	/* A signal stops the work, the tool it runs, and removes its files. */
	stop_install_handlers();
	stop_with_parent();
	if (!(is_dump ? dump_run_dump(run, &error) : dump_run_restore(run, &error))) {
		/* After a stop, whatever failed failed because of it (a gzip
		 * that got the terminal's SIGINT too). */
		if (!csm_error_is_stopped(&error) && stop_requested()) {
			char cause[sizeof error.message];

			bson_strncpy(cause, error.message, sizeof cause);
			csm_error_stopped(&error, "stopped by a signal (%s)", cause);
		}
		rc = csm_error_is_stopped(&error) ? stopped(is_dump, &error) : cli_fail(&error);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_NS,
		CLI_LONGOPTS_TO_NS,
		{"out", required_argument, NULL, OPT_OUT},
		{"in", required_argument, NULL, OPT_IN},
		{"drop", no_argument, NULL, OPT_DROP},
		{"defer-constraints", no_argument, NULL, OPT_DEFER},
		{"staging-coll", required_argument, NULL, OPT_STAGING},
		{"once", no_argument, NULL, OPT_ONCE},
		{"engine", required_argument, NULL, OPT_ENGINE},
		{"jobs", required_argument, NULL, OPT_JOBS},
		{"gzip", no_argument, NULL, OPT_GZIP},
		{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
		{"max-docs-per-sec", required_argument, NULL, OPT_MAX_DOCS},
		{"max-mb-per-sec", required_argument, NULL, OPT_MAX_MB},
		{"throttle-file", required_argument, NULL, OPT_THROTTLE_FILE},
		CONN_LONGOPTS_SOURCE,
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_END,
	};
	dump_run_opts_t run = {0};
	cli_common_t common;
	bson_error_t error = {0};
	const char *out_dir = NULL, *in_dir = NULL, *throttle_file = NULL;
	int64_t max_docs = 0, max_mb = 0;
	bool is_dump, restore_only = false;
	int64_t jobs = 0, interval_s = DEFAULT_STATUS_INTERVAL_S;
	int rc = CSM_EXIT_USAGE;
	int opt, taken;

	cli_common_init(&common, PROGRAM, usage);
	run.engine = DUMP_ENGINE_AUTO;
	run.staging = STAGING_DEFAULT_COLL;
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		/* The help asked for before a command: the same as after one. */
		cli_take_common(&common, 'h', NULL, &rc);
		goto cleanup;
	}
	if (argc < 2 || (strcmp(argv[1], "dump") != 0 && strcmp(argv[1], "restore") != 0)) {
		csm_error_set(&error, CSM_EXIT_USAGE, "expected a command, dump or restore");
		goto misuse;
	}
	is_dump = strcmp(argv[1], "dump") == 0;
	optind = 2;
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if (!uri_opt_fits(is_dump, opt, &error))
			goto misuse;
		if ((taken = cli_take_common(&common, opt, optarg, &rc)) != 0) {
			if (taken < 0)
				goto cleanup;
			continue;
		}
		switch (opt) {
		case OPT_OUT:
			out_dir = optarg;
			break;
		case OPT_IN:
			in_dir = optarg;
			break;
		case OPT_DROP:
			run.drop = restore_only = true;
			break;
		case OPT_DEFER:
			run.defer_constraints = restore_only = true;
			break;
		case OPT_STAGING:
			run.staging = optarg;
			restore_only = true;
			break;
		case OPT_ONCE:
			run.once = restore_only = true;
			break;
		case OPT_ENGINE:
			if (!dump_engine_parse(optarg, &run.engine)) {
				cli_bad_value(&error, "--engine", optarg,
					      "auto, native or external");
				goto misuse;
			}
			break;
		case OPT_JOBS:
			if (!cli_parse_int("--jobs", optarg, 1, 64, &jobs, &error))
				goto misuse;
			break;
		case OPT_GZIP:
			run.gzip = true;
			break;
		case OPT_STATUS_INTERVAL:
			if (!cli_parse_int("--status-interval", optarg, 1, 3600, &interval_s,
					   &error))
				goto misuse;
			break;
		case OPT_MAX_DOCS:
			if (!cli_parse_int("--max-docs-per-sec", optarg, 1, THROTTLE_MAX_LIMIT,
					   &max_docs, &error))
				goto misuse;
			break;
		case OPT_MAX_MB:
			if (!cli_parse_int("--max-mb-per-sec", optarg, 1, THROTTLE_MAX_LIMIT,
					   &max_mb, &error))
				goto misuse;
			break;
		case OPT_THROTTLE_FILE:
			throttle_file = optarg;
			break;
		}
	}
	restore_only |= common.to_db != NULL || common.to_coll != NULL;
	if (!cli_common_end(&common, argc - optind, argv + optind, &error) ||
	    !command_opts_fit(is_dump, out_dir, in_dir, restore_only, &error) ||
	    !dump_throttle(is_dump, max_docs, max_mb, throttle_file, &run, &error) ||
	    !cli_common_start(&common, is_dump, !is_dump, &error))
		goto misuse;
	run.root = is_dump ? out_dir : in_dir;
	/* One cursor unless asked: a split dump is joined at the end. */
	run.jobs = jobs ? (int)jobs : is_dump ? 1 : DEFAULT_JOBS;
	run.status_interval_ms = interval_s * 1000;
	rc = run_command(is_dump, &run, &common);
	goto cleanup;

misuse:
	rc = cli_common_misuse(&common, &error);
cleanup:
	throttle_destroy(run.throttle);
	return cli_common_finish(&common, rc);
}
