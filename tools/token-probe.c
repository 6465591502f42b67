/*
 * token-probe: take a change-stream resume point on a source collection
 * before it is copied, and write it to <state-dir>/<db>.<coll>.token
 * (docs/DESIGN.md, "Flow", "Programs" and "Token file").
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "collset.h"
#include "conn.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "names.h"
#include "probe.h"
#include "staging_format.h"
#include "stop.h"
#include "tokenfile.h"

#define PROGRAM "token-probe"
#define DEFAULT_TIMEOUT_S 30

enum {
	OPT_METHOD = CLI_OPT_FIRST,
	OPT_STATE_DIR,
	OPT_FORCE,
	OPT_TIMEOUT,
	OPT_STAGING_COLL,
	OPT_COLLS,
	OPT_COLLS_FILE,
	OPT_ALL_COLLS,
};

static const cli_exit_t exit_codes[] = {
	{CSM_EXIT_OK, NULL},
	{CSM_EXIT_USAGE, "also a capped collection without --method now, or one named like the "
			 "staging collections"},
	{CSM_EXIT_NOINPUT, NULL},
	{CSM_EXIT_UNAVAILABLE, "also a standalone source (change streams need a replica set)"},
	{CSM_EXIT_CANTCREAT, "the token file exists: a migration may be running (--force)"},
	{CSM_EXIT_IOERR, NULL},
	{CSM_EXIT_TEMPFAIL, "the probe's change event did not come in time, or SIGINT/SIGTERM "
			    "stopped it (no token file written)"},
	{CSM_EXIT_NOPERM, NULL},
};

static void
usage(FILE *out)
{
	fputs("usage: token-probe --db DB --coll COLL [--method dummy|now] [--state-dir DIR]\n"
	      "                   [--force] [--timeout SECONDS] [--staging-coll NAME]\n"
	      "                   [source options]\n"
	      "       token-probe --db DB --colls A,B,C | --colls-file F | --all-colls [...]\n"
	      "\n"
	      "Takes a change-stream resume point on the source collection DB.COLL and\n"
	      "writes it to DIR/DB.COLL.token, before the collection is copied.\n"
	      "Database mode (--colls, --colls-file, --all-colls; see cdc-capture): the\n"
	      "resume point of the database's stream, in its position file DIR/DB.token;\n"
	      "every listed collection must exist (66), --all-colls needs one; --method\n"
	      "now probes the database stream, dummy puts its sentinel in the first\n"
	      "collection (logged).\n"
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
	      "  --timeout SECONDS       wait for the sentinel's event (default 30)\n"
	      "  --staging-coll NAME     staging collection capture will use (default: cdc);\n"
	      "                          a collection named like it is refused\n" CONN_USAGE_SOURCE
		      CLI_USAGE_LOG CLI_USAGE_HELP,
	      out);
	cli_print_exit_codes(out, exit_codes, sizeof exit_codes / sizeof exit_codes[0]);
}

/* What the command line asks for, beyond the common options. */
typedef struct probe_opts {
	const char *state_dir;
	probe_method_t method;
	const char *method_name;
	const char *staging_coll;
	int64_t timeout_s;
	bool force;
} probe_opts_t;

/*
 * Database mode: the collections exist (listed) or are there (all), and
 * the first one is where the checks and a dummy probe's sentinel go.
 */
static bool
resolve_colls(mongoc_client_t *client, const char *db, collset_t *colls, const char *staging,
	      bson_error_t *error)
{
	if (!collset_resolve(colls, client, db, error) ||
	    !collset_check_staging(colls, db, staging, error))
		return false;
	if (colls->n == 0) {
		csm_error_set(error, CSM_EXIT_NOINPUT,
			      "database '%s' has no collection on the source: nothing to capture",
			      db);
		return false;
	}
	return true;
}

/*
 * Takes the resume point of db.coll (colls not NULL: of db's stream)
 * through client and writes it to path. Returns the exit code.
 */
static int
probe_and_write(mongoc_client_t *client, const cli_common_t *common, collset_t *colls,
		const probe_opts_t *opts, const char *path)
{
	token_file_t token_file;
	bson_error_t error;
	bool capped = false;
	const char *coll = common->coll;
	int rc = 0;

	token_file_init(&token_file);
	if (colls && !resolve_colls(client, common->db, colls, opts->staging_coll, &error))
		goto fail;
	if (colls)
		coll = colls->names[0];
	if (!probe_check_source(client, common->db, coll, &capped, &error))
		goto fail;
	if (capped && opts->method == PROBE_METHOD_DUMMY) {
		csm_error_set(&error, CSM_EXIT_USAGE,
			      "'%s.%s' is capped: the dummy probe's insert could evict its oldest "
			      "document; use --method now",
			      common->db, coll);
		goto fail;
	}
	if (colls && opts->method == PROBE_METHOD_DUMMY)
		log_info("the dummy probe of database '%s' puts its sentinel in '%s.%s'",
			 common->db, common->db, coll);
	if (!probe_run(client, common->db, colls && opts->method == PROBE_METHOD_NOW ? NULL : coll,
		       opts->method, opts->timeout_s * 1000, &token_file.resume_token,
		       &token_file.cluster_time, &error))
		goto fail;
	if (stop_requested()) {
		csm_error_stopped(&error,
				  "stopped by a signal after taking the resume point of "
				  "'%s.%s'",
				  common->db, colls ? "*" : coll);
		goto fail;
	}
	token_file.ns = bson_strdup_printf("%s.%s", common->db, colls ? "*" : coll);
	token_file.writer = bson_strdup_printf("token-probe/%s", opts->method_name);
	if (!fs_mkdir_p(opts->state_dir, &error) || !token_file_write(path, &token_file, &error))
		goto fail;
	log_info("wrote the resume point of '%s' (clusterTime %u.%u, method %s) to '%s'",
		 token_file.ns, token_file.cluster_time.t, token_file.cluster_time.i,
		 opts->method_name, path);
	goto done;

fail:
	if (csm_error_is_stopped(&error)) {
		/* No token file, so not a success: init_migration.sh must not go
		 * on to start a capture without one. */
		log_warn("%s; no token file was written: run token-probe again", error.message);
		rc = CSM_EXIT_TEMPFAIL;
	} else {
		rc = cli_fail(&error);
	}
done:
	token_file_cleanup(&token_file);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_NS,
		{"method", required_argument, NULL, OPT_METHOD},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"force", no_argument, NULL, OPT_FORCE},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"colls", required_argument, NULL, OPT_COLLS},
		{"colls-file", required_argument, NULL, OPT_COLLS_FILE},
		{"all-colls", no_argument, NULL, OPT_ALL_COLLS},
		CONN_LONGOPTS_SOURCE,
		CLI_LONGOPTS_END,
	};
	probe_opts_t opts = {
		".", PROBE_METHOD_DUMMY, "dummy", STAGING_DEFAULT_COLL, DEFAULT_TIMEOUT_S, false};
	cli_common_t common;
	bson_error_t error = {0};
	mongoc_client_t *client = NULL;
	char *path = NULL;
	collset_t colls;
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
		case OPT_METHOD:
			if (!probe_method_parse(optarg, &opts.method)) {
				cli_bad_value(&error, "--method", optarg, "dummy or now");
				goto misuse;
			}
			opts.method_name = optarg;
			break;
		case OPT_STATE_DIR:
			opts.state_dir = optarg;
			break;
		case OPT_FORCE:
			opts.force = true;
			break;
		case OPT_TIMEOUT:
			if (!cli_parse_int("--timeout", optarg, 1, 3600, &opts.timeout_s, &error))
				goto misuse;
			break;
		case OPT_STAGING_COLL:
			opts.staging_coll = optarg;
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
		}
	}
	if (!cli_common_end(&common, argc - optind, argv + optind, &error))
		goto misuse;
	if (common.db_only
		    ? !collset_check_staging(&colls, common.db, opts.staging_coll, &error)
		    : !names_check_source(common.db, common.coll, opts.staging_coll, &error)) {
		rc = cli_fail(&error);
		goto cleanup;
	}
	path = token_file_path(opts.state_dir, common.db, common.coll);
	if (!opts.force && access(path, F_OK) == 0) {
		log_error("token file '%s' already exists: a migration of '%s.%s' may be running "
			  "(cdc-capture resumes from it); remove it or pass --force to take a new "
			  "resume point",
			  path, common.db, common.coll ? common.coll : "*");
		rc = CSM_EXIT_CANTCREAT;
		goto cleanup;
	}
	if (!cli_common_start(&common, true, false, &error))
		goto misuse;
	/* A signal ends the probe cleanly: the sentinel deleted, no token. */
	stop_install_handlers();
	client = conn_client_new(common.conn.source_uri, "source", &error);
	if (client == NULL) {
		rc = cli_fail(&error);
		goto cleanup;
	}
	rc = probe_and_write(client, &common, common.db_only ? &colls : NULL, &opts, path);
	goto cleanup;

misuse:
	rc = cli_common_misuse(&common, &error);
cleanup:
	mongoc_client_destroy(client);
	bson_free(path);
	collset_cleanup(&colls);
	return cli_common_finish(&common, rc);
}
