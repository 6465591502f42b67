/*
 * cdc-capture — stage every change of one source collection on the target,
 * exactly once, across any crash (docs/DESIGN.md, "Programs" and "Staged
 * events").
 *
 * The change stream on SOURCE db.coll resumes after the newest of the token
 * file and the staged events (lib/capture.h); events are staged in ordered
 * w:majority, j:true batches (lib/staging.h); only then are the token file
 * and the checkpoint rewritten. The state machine is lib/capture_run.h:
 * this file parses the options and runs its steps.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "capture_db.h"
#include "capture_run.h"
#include "cli.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "fsutil.h"
#include "log.h"
#include "staging_format.h"
#include "stop.h"

#define PROGRAM "cdc-capture"

enum {
	OPT_STATE_DIR = CLI_OPT_FIRST,
	OPT_STAGING_COLL,
	OPT_FULL_DOCUMENT,
	OPT_SPLIT_EVENTS,
	OPT_BATCH_SIZE,
	OPT_BATCH_MS,
	OPT_STATUS_INTERVAL,
	OPT_COLLS,
	OPT_COLLS_FILE,
	OPT_ALL_COLLS,
	OPT_LIST_NAMESPACES,
};

static const cli_exit_t exit_codes[] = {
	{CSM_EXIT_OK, NULL},
	{CSM_EXIT_HISTORY_LOST, "migrate the collection again from init"},
	{CSM_EXIT_DDL, "the event is staged; cdc-replay applies every event before it"},
	{CSM_EXIT_USAGE, "also a collection named like the staging collections (--staging-coll), "
			 "--full-document required on a collection without post-images (database "
			 "mode: any of them at start)"},
	{CSM_EXIT_DATAERR, "a corrupt token file, a resume token the source rejects, or a token "
			   "file token-probe wrote after events were staged (start over)"},
	{CSM_EXIT_NOINPUT, "no token file and nothing staged: run token-probe first"},
	{CSM_EXIT_UNAVAILABLE, "also when the source is not a replica set or sharded cluster"},
	{CSM_EXIT_CANTCREAT, "another cdc-capture stages the same collection (it holds its "
			     "lease, or took it over)"},
	{CSM_EXIT_IOERR, "the token file could not be written"},
	{CSM_EXIT_TEMPFAIL, "a server did not let a stop finish within 5 s"},
	{CSM_EXIT_NOPERM, NULL},
};

static void
usage(FILE *out)
{
	fputs("usage: cdc-capture --db DB --coll COLL [options]\n"
	      "       cdc-capture --db DB --colls A,B,C | --colls-file F | --all-colls [options]\n"
	      "       cdc-capture --db DB --list-namespaces [--state-dir DIR]\n"
	      "\n"
	      "Follows the change stream of SOURCE DB.COLL from its token file\n"
	      "(<state-dir>/DB.COLL.token, written by token-probe) and stages every event\n"
	      "in DB.<staging> on TARGET, exactly once, until stopped by SIGINT/SIGTERM\n"
	      "or a drop/rename/dropDatabase/invalidate event.\n"
	      "\n"
	      "  --db DB                 source database (also the staging database)\n"
	      "  --coll COLL             source collection\n"
	      "\n"
	      "Database mode: one change stream on SOURCE DB feeds every collection named,\n"
	      "each staged as its own capture stages it, from the position file\n"
	      "<state-dir>/DB.token (written by token-probe --db DB); a drop or rename\n"
	      "stops that collection only, dropDatabase every one (exit 4):\n"
	      "  --colls A,B,C           these collections (each must exist: else 66)\n"
	      "  --colls-file F          the collections in F, one a line\n"
	      "  --all-colls             every collection, also those created later\n"
	      "                          (captured from their first event)\n"
	      "  --list-namespaces       print the position file's collections and their\n"
	      "                          state (COLL<TAB>capturing|stopped|ignored), no\n"
	      "                          server asked\n"
	      "\n"
	      "  --state-dir DIR         where the token file lives (default: .)\n"
	      "  --staging-coll NAME     staging collection (default: cdc)\n"
	      "  --full-document MODE    default (the default: updates carry their delta),\n"
	      "                          updateLookup (also the current document;\n"
	      "                          it can run ahead of other documents, see README),\n"
	      "                          required or whenAvailable (the post-image as of\n"
	      "                          the event: the collection must have\n"
	      "                          changeStreamPreAndPostImages, MongoDB 6.0+;\n"
	      "                          database mode: every collection at start, else\n"
	      "                          required is 64 naming them, whenAvailable warns)\n"
	      "  --split-events MODE     auto (default: $changeStreamSplitLargeEvent when the\n"
	      "                          source has it) or never\n"
	      "  --batch-size N          events per staged batch (default: 1000)\n"
	      "  --batch-ms MS           longest wait before a batch is staged (default: 200)\n"
	      "  --status-interval S     seconds between status lines (default: 10)\n",
	      out);
	fputs(CONN_USAGE_SOURCE CONN_USAGE_TARGET CLI_USAGE_LOG CLI_USAGE_HELP, out);
	cli_print_exit_codes(out, exit_codes, sizeof exit_codes / sizeof exit_codes[0]);
}

/* Takes one of the two-valued options: *flag true for `yes`, false for `no`. */
static bool
take_choice(const char *option, const char *arg, const char *yes, const char *no, bool *flag,
	    bson_error_t *error)
{
	if (!strcmp(arg, yes) || !strcmp(arg, no)) {
		*flag = !strcmp(arg, yes);
		return true;
	}
	cli_bad_value(error, option, arg, "%s or %s", yes, no);
	return false;
}

/* Database mode (capture_db.h) to its end. */
static void
run_db(const capture_config_t *config, const collset_t *colls, const conn_opts_t *conn,
       bson_error_t *error)
{
	capture_db_t *capture =
		capture_db_new(config, colls, conn->source_uri, conn->target_uri, error);

	if (capture)
		while (capture_db_next(capture, error))
			;
	capture_db_destroy(capture);
}

/* Takes --full-document: default, updateLookup, required, whenAvailable. */
static bool
take_full_document(const char *arg, capture_config_t *config, bson_error_t *error)
{
	static const char *const post_images[] = {"required", "whenAvailable"};

	for (size_t i = 0; i < sizeof post_images / sizeof *post_images; i++) {
		if (strcmp(arg, post_images[i]) == 0) {
			config->post_image = post_images[i];
			config->update_lookup = false;
			return true;
		}
	}
	config->post_image = NULL;
	if (!strcmp(arg, "updateLookup") || !strcmp(arg, "default")) {
		config->update_lookup = !strcmp(arg, "updateLookup");
		return true;
	}
	cli_bad_value(error, "--full-document", arg,
		      "default, updateLookup, required or whenAvailable");
	return false;
}

/* Makes the state directory and runs the capture to its end; the exit code. */
static int
run(const capture_config_t *config, const collset_t *colls, const conn_opts_t *conn)
{
	capture_run_t *capture;
	bson_error_t error;

	if (!fs_mkdir_p(config->state_dir, &error))
		return cli_fail(&error);
	stop_install_handlers();
	if (colls) {
		run_db(config, colls, conn, &error);
	} else {
		capture = capture_run_new(config, conn->source_uri, conn->target_uri, &error);
		if (capture)
			while (capture_next(capture, &error))
				;
		capture_run_destroy(capture);
	}
	if (csm_error_is_stopped(&error))
		log_info("%s", error.message);
	else
		log_error("%s", error.message);
	return csm_exit_code(&error);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_NS,
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"full-document", required_argument, NULL, OPT_FULL_DOCUMENT},
		{"split-events", required_argument, NULL, OPT_SPLIT_EVENTS},
		{"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
		{"batch-ms", required_argument, NULL, OPT_BATCH_MS},
		{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
		{"colls", required_argument, NULL, OPT_COLLS},
		{"colls-file", required_argument, NULL, OPT_COLLS_FILE},
		{"all-colls", no_argument, NULL, OPT_ALL_COLLS},
		{"list-namespaces", no_argument, NULL, OPT_LIST_NAMESPACES},
		CONN_LONGOPTS_SOURCE,
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_END,
	};
	capture_config_t config = {
		.state_dir = ".",
		.staging_coll = STAGING_DEFAULT_COLL,
		.update_lookup = false,
		.batch_size = 1000,
		.batch_ms = 200,
		.status_interval = 10,
	};
	cli_common_t common;
	bson_error_t error = {0};
	collset_t colls;
	bool list = false;
	int rc = CSM_EXIT_USAGE;
	int opt, taken;

	collset_init(&colls);
	cli_common_init(&common, PROGRAM, usage);
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if ((taken = cli_take_common(&common, opt, optarg, &rc)) != 0) {
			if (taken < 0)
				goto cleanup;
			continue;
		}
		switch (opt) {
		case OPT_STATE_DIR:
			config.state_dir = optarg;
			break;
		case OPT_STAGING_COLL:
			config.staging_coll = optarg;
			break;
		case OPT_FULL_DOCUMENT:
			if (!take_full_document(optarg, &config, &error))
				goto misuse;
			break;
		case OPT_SPLIT_EVENTS:
			if (!take_choice("--split-events", optarg, "never", "auto",
					 &config.split_never, &error))
				goto misuse;
			break;
		case OPT_BATCH_SIZE:
			if (!cli_parse_int("--batch-size", optarg, 1, 100000, &config.batch_size,
					   &error))
				goto misuse;
			break;
		case OPT_BATCH_MS:
			if (!cli_parse_int("--batch-ms", optarg, 1, 60000, &config.batch_ms,
					   &error))
				goto misuse;
			break;
		case OPT_STATUS_INTERVAL:
			if (!cli_parse_int("--status-interval", optarg, 1, 86400,
					   &config.status_interval, &error))
				goto misuse;
			break;
		case OPT_COLLS:
			common.db_only = true;
			if (!collset_add_list(&colls, optarg, "--colls", &error))
				goto misuse;
			break;
		case OPT_COLLS_FILE:
			common.db_only = true;
			if (!collset_add_file(&colls, optarg, &error)) {
				rc = cli_fail(&error);
				goto cleanup;
			}
			break;
		case OPT_ALL_COLLS:
			common.db_only = colls.all = true;
			break;
		case OPT_LIST_NAMESPACES:
			common.db_only = list = true;
			break;
		}
	}
	if (!cli_common_end(&common, argc - optind, argv + optind, &error))
		goto misuse;
	if (colls.all && colls.n) {
		csm_error_set(
			&error, CSM_EXIT_USAGE,
			"--all-colls takes every collection: not with --colls or --colls-file");
		goto misuse;
	}
	if (list) {
		rc = capture_db_list(config.state_dir, common.db, stdout, &error)
			     ? 0
			     : cli_fail(&error);
		goto cleanup;
	}
	if (!cli_common_start(&common, true, true, &error))
		goto misuse;
	config.db = common.db;
	config.coll = common.coll;
	rc = run(&config, common.db_only ? &colls : NULL, &common.conn);
	goto cleanup;

misuse:
	rc = cli_common_misuse(&common, &error);
cleanup:
	collset_cleanup(&colls);
	return cli_common_finish(&common, rc);
}
