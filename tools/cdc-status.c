/*
 * cdc-status: where is my migration. One row (or, with --json, one JSON
 * object a line) per namespace of a database: phase, staged, pending and
 * applied events, capture and replay lag, capture's heartbeat, deferred
 * indexes, the lease holders, throttles and the last error, read from the
 * target's staging and meta collections and, with --state-dir, from the
 * drivers' files (docs/DESIGN.md, "Programs"; the JSON keys are in the
 * README). It only reads. The work is lib/status_view.c and
 * lib/status_render.c; this file is its command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "marker.h"
#include "staging_format.h"
#include "status_render.h"
#include "status_view.h"
#include "stop.h"

#define PROGRAM "cdc-status"
#define STATUS_WATCH_MS 1000

enum {
	OPT_STAGING_COLL = CLI_OPT_FIRST,
	OPT_STATE_DIR,
	OPT_JSON,
	OPT_WATCH,
};

static const char usage_text[] =
	"usage: cdc-status --db DB [--coll COLL] [--state-dir DIR] [--staging-coll NAME]\n"
	"                  [--json] [--watch] [options]\n"
	"\n"
	"Shows where the migration of every collection of DB (or of DB.COLL) stands,\n"
	"one row per collection: its phase (probed, capturing, dumped, restored,\n"
	"replaying, caught up, drained, or stopped with the reason), staged, pending\n"
	"and applied events, capture and replay lag in seconds, the age of capture's\n"
	"heartbeat, the deferred indexes (waiting/built/failed), who holds the lease\n"
	"and the last error. Reads the staging and meta collections in DB on the\n"
	"TARGET, and with --state-dir the pid, token, throttle and log files the\n"
	"drivers keep there. Writes nothing.\n"
	"\n"
	"options:\n"
	"  --db DB                 source database: its staging collections (required)\n"
	"  --coll COLL             only this collection\n"
	"  --state-dir DIR         the drivers' state directory (phase, throttles, errors)\n"
	"  --staging-coll NAME     staging collection (default: cdc)\n"
	"  --json                  one JSON object per line, one per collection\n"
	"  --watch                 again every second until Ctrl-C (on a terminal the\n"
	"                          screen is redrawn, like top)\n" CONN_USAGE_TARGET CLI_USAGE_LOG
		CLI_USAGE_HELP;

static const cli_exit_t exit_codes[] = {
	{CSM_EXIT_OK, "every collection is healthy"},
	{CSM_EXIT_DIFFERENT, "a collection stopped, or its capture's heartbeat is older than "
			     "15 s (three heartbeat intervals)"},
	{CSM_EXIT_USAGE, NULL},
	{CSM_EXIT_UNAVAILABLE, "the target"},
	{CSM_EXIT_IOERR, "stdout could not be written"},
	{CSM_EXIT_NOPERM, NULL},
};

typedef struct status_opts {
	const char *db, *coll, *staging, *state_dir;
	bool json, watch, tty;
} status_opts_t;

static void
usage(FILE *to)
{
	fputs(usage_text, to);
	cli_print_exit_codes(to, exit_codes, sizeof exit_codes / sizeof exit_codes[0]);
}

/* Prints one namespace; false + error when it cannot be read. */
static bool
show_ns(mongoc_collection_t *staging, mongoc_collection_t *meta, const status_opts_t *o,
	const char *ns, bool *healthy, bson_error_t *error)
{
	status_view_t view;
	json_t *obj;
	char *line;

	if (!status_view_read(staging, meta, ns, o->state_dir, &view, error))
		return false;
	*healthy = *healthy && status_healthy(&view);
	if (o->json) {
		obj = status_json(&view);
		line = json_dumps(obj, JSON_COMPACT);
		puts(line ? line : "{}");
		free(line);
		json_decref(obj);
	} else {
		status_table_row(stdout, &view);
	}
	status_view_cleanup(&view);
	return true;
}

/* One round: every namespace; the exit code (0 healthy, 1 not). */
static int
show_round(mongoc_client_t *client, const status_opts_t *o, bson_error_t *error)
{
	char *meta_name = marker_meta_coll_name(o->staging), **list = NULL;
	mongoc_collection_t *staging = mongoc_client_get_collection(client, o->db, o->staging);
	mongoc_collection_t *meta = mongoc_client_get_collection(client, o->db, meta_name);
	size_t n = 0;
	bool healthy = true, ok = true;
	int rc = -1;

	if (o->coll) {
		list = bson_malloc0(2 * sizeof *list);
		list[n++] = bson_strdup_printf("%s.%s", o->db, o->coll);
	} else {
		ok = status_view_list(staging, meta, o->db, o->state_dir, &list, &n, error);
	}
	if (ok && o->watch && o->tty)
		fputs("\033[H\033[2J", stdout);
	if (ok && !o->json)
		status_table_header(stdout);
	for (size_t k = 0; ok && k < n; k++)
		ok = show_ns(staging, meta, o, list[k], &healthy, error);
	if (ok && n == 0 && !o->json)
		printf("(no collection of '%s' is being migrated)\n", o->db);
	if (ok && (fflush(stdout) != 0 || ferror(stdout))) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot write to stdout");
		ok = false;
	}
	if (ok)
		rc = healthy ? CSM_EXIT_OK : CSM_EXIT_DIFFERENT;
	bson_strfreev(list);
	mongoc_collection_destroy(meta);
	mongoc_collection_destroy(staging);
	bson_free(meta_name);
	return rc;
}

/* Connects and shows once, or every second with --watch; the exit code. */
static int
run(const cli_common_t *common, status_opts_t *o)
{
	mongoc_client_t *client;
	bson_error_t error;
	int rc;

	stop_install_handlers();
	client = conn_client_new(common->conn.target_uri, "target", &error);
	if (!client)
		return cli_fail(&error);
	o->tty = isatty(STDOUT_FILENO) == 1;
	do {
		rc = show_round(client, o, &error);
		if (rc < 0)
			rc = cli_fail(&error);
	} while (o->watch && rc != CSM_EXIT_IOERR && stop_sleep_ms(STATUS_WATCH_MS));
	mongoc_client_destroy(client);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_NS,
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"json", no_argument, NULL, OPT_JSON},
		{"watch", no_argument, NULL, OPT_WATCH},
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_END,
	};
	status_opts_t o = {.staging = STAGING_DEFAULT_COLL};
	cli_common_t common;
	bson_error_t error = {0};
	int rc = CSM_EXIT_USAGE;
	int opt, taken;

	cli_common_init(&common, PROGRAM, usage);
	common.coll_optional = true;
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if ((taken = cli_take_common(&common, opt, optarg, &rc)) != 0) {
			if (taken < 0)
				goto cleanup;
			continue;
		}
		switch (opt) {
		case OPT_STAGING_COLL:
			o.staging = optarg;
			break;
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_WATCH:
			o.watch = true;
			break;
		}
	}
	if (!cli_common_end(&common, argc - optind, argv + optind, &error))
		goto misuse;
	if (!*o.staging || (o.state_dir && !*o.state_dir)) {
		csm_error_set(&error, CSM_EXIT_USAGE,
			      "--staging-coll and --state-dir must not be empty");
		goto misuse;
	}
	if (!cli_common_start(&common, false, true, &error))
		goto misuse;
	o.db = common.db;
	o.coll = common.coll;
	rc = run(&common, &o);
	goto cleanup;

misuse:
	rc = cli_common_misuse(&common, &error);
cleanup:
	return cli_common_finish(&common, rc);
}
