/*
 * dump-wrap: copy one collection out (dump) and back in (restore), with
 * mongodump/mongorestore when they are installed, else the native engine
 * writing the same format (SPEC §2, §6).
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

#define DEFAULT_JOBS 4
#define DEFAULT_STATUS_INTERVAL_S 5

enum {
	OPT_DB = 0x100,
	OPT_COLL,
	OPT_OUT,
	OPT_IN,
	OPT_TO_DB,
	OPT_TO_COLL,
	OPT_DROP,
	OPT_DEFER,
	OPT_STAGING,
	OPT_ONCE,
	OPT_ENGINE,
	OPT_JOBS,
	OPT_GZIP,
	OPT_STATUS_INTERVAL,
	OPT_HELP,
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
	      "complete once its metadata file exists. restore loads such a dump (its own or\n"
	      "mongodump's): collection and options, then the data, then the indexes, then a\n"
	      "restore marker in DB.<staging>_meta on the target.\n"
	      "\n"
	      "  --db DB, --coll COLL    the source collection (also the dump's names)\n"
	      "  --out DIR / --in DIR    the dump directory\n"
	      "  --to-db DB2, --to-coll COLL2  restore under another name\n"
	      "  --drop                  drop the target collection first\n"
	      "  --defer-constraints     do not build unique and TTL indexes: record them in\n"
	      "                          the restore marker for cdc-replay (SPEC §6)\n"
	      "  --once                  if the restore marker exists, do nothing and exit 0\n"
	      "  --staging-coll NAME     staging collection of the marker (default cdc)\n"
	      "  --engine auto|native|external  external runs mongodump/mongorestore; auto\n"
	      "                          (default) does when they are on PATH\n"
	      "  --jobs N                parallel inserters on restore (default 4)\n"
	      "  --gzip                  compress the dump files (restore finds .gz alone)\n"
	      "  --status-interval SECONDS  status line period when stderr is not a TTY\n"
	      "                          (default 5)\n" CONN_USAGE_SOURCE CONN_USAGE_TARGET
		      CLI_USAGE_LOG "  --help                  this text\n"
	      "\n"
	      "Exit status: 0 done, 64 usage, 65 bad or incomplete dump / unique index\n"
	      "violated, 66 no such collection or dump, 69 server unreachable, 74 I/O error,\n"
	      "77 not authorized.\n",
	      out);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"coll", required_argument, NULL, OPT_COLL},
		{"out", required_argument, NULL, OPT_OUT},
		{"in", required_argument, NULL, OPT_IN},
		{"to-db", required_argument, NULL, OPT_TO_DB},
		{"to-coll", required_argument, NULL, OPT_TO_COLL},
		{"drop", no_argument, NULL, OPT_DROP},
		{"defer-constraints", no_argument, NULL, OPT_DEFER},
		{"staging-coll", required_argument, NULL, OPT_STAGING},
		{"once", no_argument, NULL, OPT_ONCE},
		{"engine", required_argument, NULL, OPT_ENGINE},
		{"jobs", required_argument, NULL, OPT_JOBS},
		{"gzip", no_argument, NULL, OPT_GZIP},
		{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
		{"help", no_argument, NULL, OPT_HELP},
		CONN_LONGOPTS_SOURCE,
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_LOG,
		{NULL, 0, NULL, 0},
	};
	dump_run_opts_t run = {0};
	conn_opts_t conn = {NULL, NULL};
	cli_log_opts_t log_opts;
	bson_error_t error;
	const char *command;
	const char *out_dir = NULL, *in_dir = NULL;
	bool is_dump, restore_only = false, mongoc_ready = false;
	int64_t jobs = DEFAULT_JOBS, interval_s = DEFAULT_STATUS_INTERVAL_S;
	int rc = CSM_EXIT_USAGE;
	int opt;

	cli_log_opts_init(&log_opts);
	memset(&error, 0, sizeof error);
	run.engine = DUMP_ENGINE_AUTO;
	run.staging = STAGING_DEFAULT_COLL;
	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		rc = 0;
		goto cleanup;
	}
	if (argc < 2 || (strcmp(argv[1], "dump") != 0 && strcmp(argv[1], "restore") != 0)) {
		fprintf(stderr, "dump-wrap: expected a command, dump or restore\n");
		usage(stderr);
		goto cleanup;
	}
	command = argv[1];
	is_dump = strcmp(command, "dump") == 0;
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int taken;

		switch (opt) {
		case OPT_DB:
			run.db = optarg;
			continue;
		case OPT_COLL:
			run.coll = optarg;
			continue;
		case OPT_OUT:
			out_dir = optarg;
			continue;
		case OPT_IN:
			in_dir = optarg;
			continue;
		case OPT_TO_DB:
			run.to_db = optarg;
			restore_only = true;
			continue;
		case OPT_TO_COLL:
			run.to_coll = optarg;
			restore_only = true;
			continue;
		case OPT_DROP:
			run.drop = true;
			restore_only = true;
			continue;
		case OPT_DEFER:
			run.defer_constraints = true;
			restore_only = true;
			continue;
		case OPT_STAGING:
			run.staging = optarg;
			restore_only = true;
			continue;
		case OPT_ONCE:
			run.once = true;
			restore_only = true;
			continue;
		case OPT_ENGINE:
			if (!dump_engine_parse(optarg, &run.engine)) {
				csm_error_set(&error, CSM_EXIT_USAGE,
					      "invalid value '%s' for --engine: expected auto, "
					      "native or external",
					      optarg);
				goto usage_error;
			}
			continue;
		case OPT_JOBS:
			if (!cli_parse_int("--jobs", optarg, 1, 64, &jobs, &error))
				goto usage_error;
			continue;
		case OPT_GZIP:
			run.gzip = true;
			continue;
		case OPT_STATUS_INTERVAL:
			if (!cli_parse_int("--status-interval", optarg, 1, 3600, &interval_s,
					   &error))
				goto usage_error;
			continue;
		case OPT_HELP:
			usage(stdout);
			rc = 0;
			goto cleanup;
		case '?':
			usage(stderr);
			goto cleanup;
		}
		if ((opt == CONN_OPT_SOURCE_URI || opt == CONN_OPT_SOURCE_URI_FILE) && !is_dump) {
			csm_error_set(&error, CSM_EXIT_USAGE,
				      "restore writes to the target: use --target-uri-file or "
				      "TARGET_URI, not %s",
				      argv[optind - 1]);
			goto usage_error;
		}
		if ((opt == CONN_OPT_TARGET_URI || opt == CONN_OPT_TARGET_URI_FILE) && is_dump) {
			csm_error_set(&error, CSM_EXIT_USAGE,
				      "dump reads the source: use --source-uri-file or SOURCE_URI, "
				      "not %s",
				      argv[optind - 1]);
			goto usage_error;
		}
		taken = conn_opts_take(&conn, opt, optarg, &error);
		if (taken == 0)
			taken = cli_take_log_opt(&log_opts, opt, optarg, &error);
		if (taken < 0) {
			rc = csm_exit_code(&error);
			fprintf(stderr, "dump-wrap: %s\n", error.message);
			goto cleanup;
		}
	}
	if (optind < argc) {
		csm_error_set(&error, CSM_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
		goto usage_error;
	}
	if (run.db == NULL || run.coll == NULL || *run.db == '\0' || *run.coll == '\0') {
		csm_error_set(&error, CSM_EXIT_USAGE, "--db and --coll are required");
		goto usage_error;
	}
	if (is_dump && (out_dir == NULL || in_dir != NULL || restore_only)) {
		csm_error_set(&error, CSM_EXIT_USAGE,
			      "dump takes --out DIR and none of --in, --to-db, --to-coll, --drop, "
			      "--defer-constraints, --once, --staging-coll");
		goto usage_error;
	}
	if (!is_dump && (in_dir == NULL || out_dir != NULL)) {
		csm_error_set(&error, CSM_EXIT_USAGE, "restore takes --in DIR (not --out)");
		goto usage_error;
	}
	run.root = is_dump ? out_dir : in_dir;
	run.jobs = (int)jobs;
	run.status_interval_ms = interval_s * 1000;
	log_init("dump-wrap", log_opts.level, log_opts.format);
	/* A dying gzip must be an error we report, not a signal that kills us. */
	signal(SIGPIPE, SIG_IGN);
	if (!conn_opts_resolve(&conn, is_dump, !is_dump, &error))
		goto fail;
	run.uri = is_dump ? conn.source_uri : conn.target_uri;
	conn_global_init();
	mongoc_ready = true;
	if (!(is_dump ? dump_run_dump(&run, &error) : dump_run_restore(&run, &error)))
		goto fail;
	rc = 0;
	goto cleanup;

usage_error:
	fprintf(stderr, "dump-wrap: %s\n", error.message);
	usage(stderr);
	rc = CSM_EXIT_USAGE;
	goto cleanup;

fail:
	rc = csm_exit_code(&error);
	log_error("%s", error.message);

cleanup:
	if (mongoc_ready)
		conn_global_cleanup();
	conn_opts_cleanup(&conn);
	if (fclose(stdout) != 0 && rc == 0)
		rc = CSM_EXIT_IOERR;
	return rc;
}
