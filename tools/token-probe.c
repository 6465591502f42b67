/*
 * token-probe: take a change-stream resume point on a source collection
 * before it is copied, and write it to <state-dir>/<db>.<coll>.token
 * (SPEC §1, §2, §4).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conn.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "probe.h"
#include "tokenfile.h"

#define DEFAULT_TIMEOUT_S 30

enum {
	OPT_DB = 0x100,
	OPT_COLL,
	OPT_METHOD,
	OPT_STATE_DIR,
	OPT_FORCE,
	OPT_TIMEOUT,
	OPT_HELP,
};

static void
usage(FILE *out)
{
	fputs("usage: token-probe --db DB --coll COLL [--method dummy|now] [--state-dir DIR]\n"
	      "                   [--force] [--timeout SECONDS] [source options]\n"
	      "\n"
	      "Takes a change-stream resume point on the source collection DB.COLL and\n"
	      "writes it to DIR/DB.COLL.token, before the collection is copied.\n"
	      "\n"
	      "  --db DB                 source database\n"
	      "  --coll COLL             source collection\n"
	      "  --method dummy          insert and delete one sentinel document (its _id is\n"
	      "                          {\"" PROBE_SENTINEL_FIELD "\": ObjectId, host, pid})\n"
	      "                          and take the delete event's token (default)\n"
	      "  --method now            read-only: the postBatchResumeToken of an empty\n"
	      "                          change stream; writes nothing to the source\n"
	      "  --state-dir DIR         where the token file goes (default: .)\n"
	      "  --force                 replace an existing token file\n"
	      "  --timeout SECONDS       wait for the sentinel's event (default "
	      "30)\n" CONN_USAGE_SOURCE CLI_USAGE_LOG "  --help                  this text\n"
	      "\n"
	      "Exit status: 0 written, 64 usage, 66 no such collection, 69 source unreachable\n"
	      "or not a replica set, 73 token file exists, 74 cannot write it, 77 not\n"
	      "authorized.\n",
	      out);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"coll", required_argument, NULL, OPT_COLL},
		{"method", required_argument, NULL, OPT_METHOD},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"force", no_argument, NULL, OPT_FORCE},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"help", no_argument, NULL, OPT_HELP},
		CONN_LONGOPTS_SOURCE,
		CLI_LONGOPTS_LOG,
		{NULL, 0, NULL, 0},
	};
	conn_opts_t conn = {NULL, NULL};
	cli_log_opts_t log_opts;
	token_file_t token_file;
	bson_error_t error;
	mongoc_client_t *client = NULL;
	char *path = NULL;
	const char *db = NULL, *coll = NULL, *state_dir = ".";
	probe_method_t method = PROBE_METHOD_DUMMY;
	const char *method_name = "dummy";
	int64_t timeout_s = DEFAULT_TIMEOUT_S;
	bool force = false, capped = false, mongoc_ready = false;
	int rc = CSM_EXIT_USAGE;
	int opt;

	token_file_init(&token_file);
	cli_log_opts_init(&log_opts);
	memset(&error, 0, sizeof error);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int taken;

		switch (opt) {
		case OPT_DB:
			db = optarg;
			continue;
		case OPT_COLL:
			coll = optarg;
			continue;
		case OPT_METHOD:
			if (!probe_method_parse(optarg, &method)) {
				fprintf(stderr,
					"token-probe: invalid value '%s' for --method: expected "
					"dummy or now\n",
					optarg);
				usage(stderr);
				goto cleanup;
			}
			method_name = optarg;
			continue;
		case OPT_STATE_DIR:
			state_dir = optarg;
			continue;
		case OPT_FORCE:
			force = true;
			continue;
		case OPT_TIMEOUT:
			if (!cli_parse_int("--timeout", optarg, 1, 3600, &timeout_s, &error))
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
		taken = conn_opts_take(&conn, opt, optarg, &error);
		if (taken == 0)
			taken = cli_take_log_opt(&log_opts, opt, optarg, &error);
		if (taken < 0) {
			rc = csm_exit_code(&error);
			fprintf(stderr, "token-probe: %s\n", error.message);
			goto cleanup;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "token-probe: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		goto cleanup;
	}
	if (db == NULL || coll == NULL || *db == '\0' || *coll == '\0') {
		fprintf(stderr, "token-probe: --db and --coll are required\n");
		usage(stderr);
		goto cleanup;
	}
	log_init("token-probe", log_opts.level, log_opts.format);

	path = token_file_path(state_dir, db, coll);
	if (!force && access(path, F_OK) == 0) {
		log_error("token file '%s' already exists: a migration of '%s.%s' may be running "
			  "(cdc-capture resumes from it); remove it or pass --force to take a new "
			  "resume point",
			  path, db, coll);
		rc = CSM_EXIT_CANTCREAT;
		goto cleanup;
	}
	if (!conn_opts_resolve(&conn, true, false, &error))
		goto fail;
	conn_global_init();
	mongoc_ready = true;
	client = conn_client_new(conn.source_uri, "source", &error);
	if (client == NULL)
		goto fail;
	if (!probe_check_source(client, db, coll, &capped, &error))
		goto fail;
	if (capped && method == PROBE_METHOD_DUMMY) {
		csm_error_set(&error, CSM_EXIT_USAGE,
			      "'%s.%s' is capped: the dummy probe's insert could evict its oldest "
			      "document; use --method now",
			      db, coll);
		goto fail;
	}
	if (!probe_run(client, db, coll, method, timeout_s * 1000, &token_file.resume_token,
		       &token_file.cluster_time, &error))
		goto fail;
	token_file.ns = bson_strdup_printf("%s.%s", db, coll);
	token_file.writer = bson_strdup_printf("token-probe/%s", method_name);
	if (!fs_mkdir_p(state_dir, &error) || !token_file_write(path, &token_file, &error))
		goto fail;
	log_info("wrote the resume point of '%s' (clusterTime %u.%u, method %s) to '%s'",
		 token_file.ns, token_file.cluster_time.t, token_file.cluster_time.i, method_name,
		 path);
	rc = 0;
	goto cleanup;

usage_error:
	fprintf(stderr, "token-probe: %s\n", error.message);
	usage(stderr);
	rc = CSM_EXIT_USAGE;
	goto cleanup;

fail:
	rc = csm_exit_code(&error);
	log_error("%s", error.message);

cleanup:
	mongoc_client_destroy(client);
	if (mongoc_ready)
		conn_global_cleanup();
	token_file_cleanup(&token_file);
	conn_opts_cleanup(&conn);
	bson_free(path);
	if (fclose(stdout) != 0 && rc == 0)
		rc = CSM_EXIT_IOERR;
	return rc;
}
