/*
 * cdc-cleanup: removes what the migration of one collection left on the
 * target — its staged events, checkpoint, restore marker and leases, and
 * with --drop-target the restored collection — and drops the staging
 * collections once no collection is left in them (docs/DESIGN.md,
 * "Programs"). init_migration.sh --cleanup runs it, then removes the state
 * files and the dump. The work is lib/cleanup.c.
 */
#include <getopt.h>
#include <stdio.h>

#include "cleanup.h"
#include "cli.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "staging_format.h"
#include "stop.h"

#define PROGRAM "cdc-cleanup"

enum {
	OPT_STAGING_COLL = CLI_OPT_FIRST,
	OPT_DROP_TARGET,
};

static const char usage_text[] =
	"usage: cdc-cleanup --db DB --coll COLL [--staging-coll NAME] [--drop-target]\n"
	"                   [options]\n"
	"\n"
	"Removes the migration of DB.COLL from the TARGET: its staged events in\n"
	"DB.NAME, its checkpoint, restore marker, leases and the records of\n"
	"transactions across collections that name it in DB.NAME_meta and, with\n"
	"--drop-target, the collection it was restored into; then drops DB.NAME and\n"
	"DB.NAME_meta when no other collection is left in them. It takes the\n"
	"collection's leases first, so it refuses (73) while a cdc-capture,\n"
	"cdc-replay or dump-wrap restore of it runs anywhere. Prints what it removed.\n"
	"Running it again is harmless.\n"
	"\n"
	"options:\n"
	"  --db DB                 source database (required)\n"
	"  --coll COLL             source collection (required)\n"
	"  --staging-coll NAME     staging collection (default: cdc)\n"
	"  --drop-target           also drop the restored collection (starting "
	"over)\n" CONN_USAGE_TARGET CLI_USAGE_LOG CLI_USAGE_HELP;

static const cli_exit_t exit_codes[] = {
	{CSM_EXIT_OK, "removed (or nothing was there)"},
	{CSM_EXIT_USAGE, NULL},
	{CSM_EXIT_UNAVAILABLE, "the target"},
	{CSM_EXIT_CANTCREAT, "a capture, replay or restore of the collection holds its lease: "
			     "nothing was removed; stop it first"},
	{CSM_EXIT_TEMPFAIL, "the target failed part way: run the same command again"},
	{CSM_EXIT_NOPERM, NULL},
};

static void
usage(FILE *to)
{
	fputs(usage_text, to);
	cli_print_exit_codes(to, exit_codes, sizeof exit_codes / sizeof exit_codes[0]);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_NS,
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"drop-target", no_argument, NULL, OPT_DROP_TARGET},
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_END,
	};
	cleanup_opts_t o = {.staging = STAGING_DEFAULT_COLL};
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
			o.staging = optarg;
			break;
		case OPT_DROP_TARGET:
			o.drop_target = true;
			break;
		}
	}
	if (!cli_common_end(&common, argc - optind, argv + optind, &error))
		goto misuse;
	if (!*o.staging) {
		csm_error_set(&error, CSM_EXIT_USAGE, "--staging-coll must not be empty");
		goto misuse;
	}
	if (!cli_common_start(&common, false, true, &error))
		goto misuse;
	o.db = common.db;
	o.coll = common.coll;
	stop_install_handlers();
	stop_with_parent();
	rc = cleanup_run(common.conn.target_uri, &o, stdout, &error) ? CSM_EXIT_OK
								     : cli_fail(&error);
	goto cleanup;

misuse:
	rc = cli_common_misuse(&common, &error);
cleanup:
	return cli_common_finish(&common, rc);
}
