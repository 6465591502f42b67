/*
 * cdc-verify: compares a source and a target collection (SPEC §2): counts,
 * then every document by _id, byte-equal BSON. Exit 0 when equal, 1 when
 * they differ.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "verify.h"

enum {
	OPT_DB = 0x2000,
	OPT_COLL,
	OPT_TO_DB,
	OPT_TO_COLL,
	OPT_SAMPLE,
	OPT_MAX_REPORT,
	OPT_BATCH_SIZE,
	OPT_HELP,
};

static const char usage_text[] =
	"usage: cdc-verify --db DB --coll COLL [--to-db DB2] [--to-coll COLL2]\n"
	"                  [--sample N] [--max-report K] [options]\n"
	"\n"
	"Compares SOURCE db.coll with TARGET db2.coll2: the counts, then every\n"
	"document by _id (byte-equal BSON), reading both in _id order with bounded\n"
	"memory. Prints the counts, the first K differences and the totals on\n"
	"stdout:\n"
	"  missing on target: _id ID   on the source only\n"
	"  extra on target: _id ID     on the target only\n"
	"  different: _id ID (...)     on both, not byte-equal\n"
	"Exit status: 0 equal, 1 different, 64 usage, 66 no such collection,\n"
	"69 server unreachable, 70 the server returned _ids out of MongoDB's\n"
	"order (e.g. a collection collation on string _ids).\n"
	"\n"
	"options:\n"
	"  --db DB                 source database (required)\n"
	"  --coll COLL             source collection (required)\n"
	"  --to-db DB2             target database (default: DB)\n"
	"  --to-coll COLL2         target collection (default: COLL)\n"
	"  --sample N              compare N random _ids only (huge collections;\n"
	"                          $sample, or a reservoir sample of the _ids)\n"
	"  --max-report K          print at most K differences (default 20)\n"
	"  --batch-size N          documents per find batch (default: the server's)\n"
	CONN_USAGE_SOURCE CONN_USAGE_TARGET CLI_USAGE_LOG
	"  --help                  print this help\n";

static void
usage(FILE *to)
{
	fputs(usage_text, to);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"coll", required_argument, NULL, OPT_COLL},
		{"to-db", required_argument, NULL, OPT_TO_DB},
		{"to-coll", required_argument, NULL, OPT_TO_COLL},
		{"sample", required_argument, NULL, OPT_SAMPLE},
		{"max-report", required_argument, NULL, OPT_MAX_REPORT},
		{"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
		{"help", no_argument, NULL, OPT_HELP},
		CONN_LONGOPTS_SOURCE,
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_LOG,
		{NULL, 0, NULL, 0},
	};
	conn_opts_t conn = {0};
	cli_log_opts_t log_opts;
	verify_opts_t opts;
	verify_result_t result;
	mongoc_client_t *source = NULL;
	mongoc_client_t *target = NULL;
	bson_error_t error = {0};
	bool mongoc_ready = false;
	int64_t number;
	int rc = CSM_EXIT_USAGE;
	int opt, taken;

	cli_log_opts_init(&log_opts);
	verify_opts_init(&opts);
	log_init("cdc-verify", log_opts.level, log_opts.format);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		taken = conn_opts_take(&conn, opt, optarg, &error);
		if (taken == 0)
			taken = cli_take_log_opt(&log_opts, opt, optarg, &error);
		if (taken < 0)
			goto fail;
		if (taken > 0)
			continue;
		switch (opt) {
		case OPT_DB:
			opts.db = optarg;
			break;
		case OPT_COLL:
			opts.coll = optarg;
			break;
		case OPT_TO_DB:
			opts.to_db = optarg;
			break;
		case OPT_TO_COLL:
			opts.to_coll = optarg;
			break;
		case OPT_SAMPLE:
			if (!cli_parse_int("--sample", optarg, 1, VERIFY_MAX_SAMPLE, &number, &error))
				goto fail_usage;
			opts.sample = number;
			break;
		case OPT_MAX_REPORT:
			if (!cli_parse_int("--max-report", optarg, 0, INT64_MAX, &number, &error))
				goto fail_usage;
			opts.max_report = number;
			break;
		case OPT_BATCH_SIZE:
			if (!cli_parse_int("--batch-size", optarg, 1, 100000, &number, &error))
				goto fail_usage;
			opts.batch_size = (int32_t)number;
			break;
		case OPT_HELP:
			usage(stdout);
			rc = CSM_EXIT_OK;
			goto cleanup;
		default:
			usage(stderr);
			rc = CSM_EXIT_USAGE;
			goto cleanup;
		}
	}
	log_init("cdc-verify", log_opts.level, log_opts.format);
	if (optind < argc) {
		csm_error_set(&error, CSM_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
		goto fail_usage;
	}
	if (!opts.db || !*opts.db || !opts.coll || !*opts.coll) {
		csm_error_set(&error, CSM_EXIT_USAGE, "--db and --coll are required");
		goto fail_usage;
	}
	if ((opts.to_db && !*opts.to_db) || (opts.to_coll && !*opts.to_coll)) {
		csm_error_set(&error, CSM_EXIT_USAGE, "--to-db and --to-coll must not be empty");
		goto fail_usage;
	}
	if (!conn_opts_resolve(&conn, true, true, &error))
		goto fail_usage;

	conn_global_init();
	mongoc_ready = true;
	source = conn_client_new(conn.source_uri, "source", &error);
	if (!source)
		goto fail;
	target = conn_client_new(conn.target_uri, "target", &error);
	if (!target)
		goto fail;
	if (!verify_run(source, target, &opts, &result, &error))
		goto fail;

	printf("compared %" PRId64 " %s_ids: %" PRId64 " missing on target, %" PRId64
	       " extra on target, %" PRId64 " different\n",
	       result.compared, result.sampled ? "sampled " : "", result.missing, result.extra,
	       result.different);
	if (result.source_count != result.target_count)
		printf("counts differ: source %" PRId64 ", target %" PRId64 "\n",
		       result.source_count, result.target_count);
	printf("result: %s\n", verify_result_equal(&result) ? "equal" : "different");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		csm_error_set(&error, CSM_EXIT_IOERR, "cannot write to stdout");
		goto fail;
	}
	rc = verify_result_equal(&result) ? CSM_EXIT_OK : CSM_EXIT_DIFFERENT;
	goto cleanup;

fail_usage:
	log_error("%s", error.message);
	usage(stderr);
	rc = CSM_EXIT_USAGE;
	goto cleanup;
fail:
	log_error("%s", error.message);
	rc = csm_exit_code(&error);
cleanup:
	mongoc_client_destroy(target);
	mongoc_client_destroy(source);
	if (mongoc_ready)
		conn_global_cleanup();
	conn_opts_cleanup(&conn);
	if (fclose(stdout) != 0 && rc == CSM_EXIT_OK)
		rc = CSM_EXIT_IOERR;
	return rc;
}
