/*
 * cdc-verify: compares a source and a target collection (docs/DESIGN.md,
 * "Programs"): counts, then every document by _id, byte-equal BSON. Exit 0
 * when equal, 1 when they differ.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "collset.h"
#include "conn.h"
#include "error.h"
#include "exitcodes.h"
#include "log.h"
#include "stop.h"
#include "verify.h"

#define PROGRAM "cdc-verify"

enum {
	OPT_SAMPLE = CLI_OPT_FIRST,
	OPT_MAX_REPORT,
	OPT_BATCH_SIZE,
	OPT_ALL,
	OPT_STAGING_COLL,
	OPT_IGNORE_FIELD_ORDER,
	OPT_EXCEPT,
};

static const cli_exit_t exit_codes[] = {
	{CSM_EXIT_OK, "the collections are equal"},
	{CSM_EXIT_DIFFERENT, NULL},
	{CSM_EXIT_USAGE, NULL},
	{CSM_EXIT_NOINPUT, NULL},
	{CSM_EXIT_UNAVAILABLE, NULL},
	{CSM_EXIT_SOFTWARE, "the server returned _ids out of MongoDB's order (e.g. a collection "
			    "collation on string _ids)"},
};

static const char usage_text[] =
	"usage: cdc-verify --db DB --coll COLL [--to-db DB2] [--to-coll COLL2]\n"
	"                  [--sample N] [--max-report K] [--ignore-field-order]\n"
	"                  [options]\n"
	"       cdc-verify --all --db DB [--to-db DB2] [--except A,B] [--sample N]\n"
	"                  [options]\n"
	"\n"
	"Compares SOURCE db.coll with TARGET db2.coll2: the counts, then every\n"
	"document by _id (byte-equal BSON), reading both in _id order with bounded\n"
	"memory. Prints the counts, the first K differences and the totals on\n"
	"stdout:\n"
	"  missing on target: _id ID   on the source only\n"
	"  extra on target: _id ID     on the target only\n"
	"  different: _id ID (...)     on both, not byte-equal\n"
	"  field order: _id ID (...)   on both, equal up to field order\n"
	"                              (--ignore-field-order; not a difference)\n"
	"With --all, every collection of SOURCE DB (database mode) is compared\n"
	"with its namesake in TARGET DB2, one line each, then the totals:\n"
	"  COLL: equal\n"
	"  COLL: different (N missing, N extra, N different)\n"
	"  COLL: missing on target\n"
	"  COLL: only on the target (not compared: dropped or renamed on the source)\n"
	"  COLL: not compared (--except)\n"
	"  total: N collections, N equal, N different[, N not compared]\n"
	"exit 1 when any collection of the source differs or is missing.\n"
	"\n"
	"options:\n"
	"  --db DB                 source database (required)\n"
	"  --coll COLL             source collection (required)\n"
	"  --to-db DB2             target database (default: DB)\n"
	"  --to-coll COLL2         target collection (default: COLL)\n"
	"  --sample N              compare N random _ids only (huge collections;\n"
	"                          $sample, or a reservoir sample of the _ids)\n"
	"  --max-report K          print at most K differences (default 20)\n"
	"  --ignore-field-order    count documents equal up to the order of their\n"
	"                          fields apart (a source older than 5.0 replayed\n"
	"                          onto a newer target); by default byte-equal\n"
	"  --batch-size N          documents per find batch (default: the "
	"server's)\n"
	"  --all                   every collection of DB (no --coll, --to-coll)\n"
	"  --except A,B            with --all: leave these collections out (e.g. those\n"
	"                          stopped at a drop or rename); each gets its line\n"
	"  --staging-coll NAME     with --all: the staging collection on the target,\n"
	"                          never compared (default: cdc)\n" CONN_USAGE_SOURCE
		CONN_USAGE_TARGET CLI_USAGE_LOG CLI_USAGE_HELP;

static void
usage(FILE *to)
{
	fputs(usage_text, to);
	cli_print_exit_codes(to, exit_codes, sizeof exit_codes / sizeof exit_codes[0]);
}

static bool
has_name(char **names, const char *name)
{
	for (; names && *names; names++)
		if (!strcmp(*names, name))
			return true;
	return false;
}

/* One collection of --all: its line; *equal false when it differs. */
static bool
verify_one(mongoc_client_t *source, mongoc_client_t *target, verify_opts_t *opts, const char *coll,
	   bool on_target, bool *equal, bson_error_t *error)
{
	verify_result_t result;

	*equal = false;
	if (!on_target) {
		printf("%s: missing on target\n", coll);
		return true;
	}
	opts->coll = coll;
	opts->to_coll = NULL;
	if (!verify_run(source, target, opts, &result, error))
		return false;
	*equal = verify_result_equal(&result);
	if (*equal)
		printf("%s: equal\n", coll);
	else
		printf("%s: different (%" PRId64 " missing, %" PRId64 " extra, %" PRId64
		       " different)\n",
		       coll, result.missing, result.extra, result.different);
	return true;
}

/* The totals line of --all. */
static void
print_totals(size_t n, size_t n_equal, size_t n_except)
{
	printf("total: %zu collections, %zu equal, %zu different", n, n_equal, n - n_equal);
	if (n_except)
		printf(", %zu not compared", n_except);
	putchar('\n');
}

/*
 * --all: every collection of the source's db but those in except; true +
 * *rc, or false + error.
 */
static bool
verify_all(mongoc_client_t *source, mongoc_client_t *target, verify_opts_t *opts,
	   const char *staging, const collset_t *except, int *rc, bson_error_t *error)
{
	char **src_names = NULL, **dst_names = NULL, *meta = bson_strdup_printf("%s_meta", staging);
	size_t n_src = 0, n_dst = 0, i, n_equal = 0, n = 0, n_except = 0;

	opts->out = stdout;
	bool ok = false, equal;

	if (!catalog_list_collections(source, opts->db, &src_names, &n_src, error) ||
	    !catalog_list_collections(target, opts->to_db ? opts->to_db : opts->db, &dst_names,
				      &n_dst, error))
		goto done;
	/* One line a collection: neither counts nor differences listed. */
	opts->max_report = 0;
	if (!(opts->out = fopen("/dev/null", "w")))
		opts->out = stdout;
	for (i = 0; i < n_src; i++) {
		if (!strcmp(src_names[i], staging) || !strcmp(src_names[i], meta))
			continue;
		if (collset_has(except, src_names[i])) {
			printf("%s: not compared (--except)\n", src_names[i]);
			n_except++;
			continue;
		}
		if (!verify_one(source, target, opts, src_names[i],
				has_name(dst_names, src_names[i]), &equal, error))
			goto done;
		n_equal += equal;
		n++;
	}
	for (i = 0; i < n_dst; i++)
		if (!has_name(src_names, dst_names[i]) && strcmp(dst_names[i], staging) &&
		    strcmp(dst_names[i], meta))
			printf("%s: only on the target (not compared: dropped or renamed on the "
			       "source)\n",
			       dst_names[i]);
	print_totals(n, n_equal, n_except);
	*rc = n_equal == n ? CSM_EXIT_OK : CSM_EXIT_DIFFERENT;
	ok = true;
done:
	if (opts->out != stdout)
		fclose(opts->out);
	bson_strfreev(src_names);
	bson_strfreev(dst_names);
	bson_free(meta);
	return ok;
}

/* Compares the collections and prints the verdict; returns the exit code. */
static int
verify(const cli_common_t *common, verify_opts_t *opts, const char *all_staging,
       const collset_t *except)
{
	mongoc_client_t *source = NULL;
	mongoc_client_t *target = NULL;
	verify_result_t result;
	bson_error_t error;
	int rc;

	stop_with_parent();
	source = conn_client_new(common->conn.source_uri, "source", &error);
	if (!source)
		goto fail;
	target = conn_client_new(common->conn.target_uri, "target", &error);
	if (!target)
		goto fail;
	opts->db = common->db;
	opts->coll = common->coll;
	opts->to_db = common->to_db;
	opts->to_coll = common->to_coll;
	if (all_staging) {
		if (!verify_all(source, target, opts, all_staging, except, &rc, &error))
			goto fail;
		if (fflush(stdout) == 0 && !ferror(stdout))
			goto done;
		csm_error_set(&error, CSM_EXIT_IOERR, "cannot write to stdout");
		goto fail;
	}
	if (!verify_run(source, target, opts, &result, &error))
		goto fail;
	printf("compared %" PRId64 " %s_ids: %" PRId64 " missing on target, %" PRId64
	       " extra on target, %" PRId64 " different\n",
	       result.compared, result.sampled ? "sampled " : "", result.missing, result.extra,
	       result.different);
	if (opts->ignore_field_order)
		printf("%" PRId64 " equal up to field order\n", result.reordered);
	if (result.source_count != result.target_count)
		printf("counts differ: source %" PRId64 ", target %" PRId64 "\n",
		       result.source_count, result.target_count);
	printf("result: %s\n", verify_result_equal(&result) ? "equal" : "different");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		csm_error_set(&error, CSM_EXIT_IOERR, "cannot write to stdout");
		goto fail;
	}
	rc = verify_result_equal(&result) ? CSM_EXIT_OK : CSM_EXIT_DIFFERENT;
	goto done;

fail:
	rc = cli_fail(&error);
done:
	mongoc_client_destroy(target);
	mongoc_client_destroy(source);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_NS,
		CLI_LONGOPTS_TO_NS,
		{"sample", required_argument, NULL, OPT_SAMPLE},
		{"max-report", required_argument, NULL, OPT_MAX_REPORT},
		{"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
		{"all", no_argument, NULL, OPT_ALL},
		{"staging-coll", required_argument, NULL, OPT_STAGING_COLL},
		{"ignore-field-order", no_argument, NULL, OPT_IGNORE_FIELD_ORDER},
		{"except", required_argument, NULL, OPT_EXCEPT},
		CONN_LONGOPTS_SOURCE,
		CONN_LONGOPTS_TARGET,
		CLI_LONGOPTS_END,
	};
	cli_common_t common;
	verify_opts_t opts;
	collset_t except;
	bson_error_t error = {0};
	int64_t number;
	const char *staging = "cdc";
	int rc = CSM_EXIT_USAGE;
	int opt, taken;

	cli_common_init(&common, PROGRAM, usage);
	verify_opts_init(&opts);
	collset_init(&except);
	while ((opt = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) != -1) {
		if ((taken = cli_take_common(&common, opt, optarg, &rc)) != 0) {
			if (taken < 0)
				goto cleanup;
			continue;
		}
		switch (opt) {
		case OPT_SAMPLE:
			if (!cli_parse_int("--sample", optarg, 1, VERIFY_MAX_SAMPLE, &number,
					   &error))
				goto misuse;
			opts.sample = number;
			break;
		case OPT_MAX_REPORT:
			if (!cli_parse_int("--max-report", optarg, 0, INT64_MAX, &number, &error))
				goto misuse;
			opts.max_report = number;
			break;
		case OPT_BATCH_SIZE:
			if (!cli_parse_int("--batch-size", optarg, 1, 100000, &number, &error))
				goto misuse;
			opts.batch_size = (int32_t)number;
			break;
		case OPT_ALL:
			common.db_only = true;
			break;
		case OPT_STAGING_COLL:
			staging = optarg;
			break;
		case OPT_IGNORE_FIELD_ORDER:
			opts.ignore_field_order = true;
			break;
		case OPT_EXCEPT:
			if (!collset_add_list(&except, optarg, "--except", &error))
				goto misuse;
			break;
		}
	}
	if (!cli_common_end(&common, argc - optind, argv + optind, &error))
		goto misuse;
	if (common.db_only && common.to_coll) {
		csm_error_set(&error, CSM_EXIT_USAGE,
			      "--all compares every collection: no --to-coll");
		goto misuse;
	}
	if (except.n && !common.db_only) {
		csm_error_set(&error, CSM_EXIT_USAGE, "--except is for --all");
		goto misuse;
	}
	if (!cli_common_start(&common, true, true, &error))
		goto misuse;
	rc = verify(&common, &opts, common.db_only ? staging : NULL, &except);
	goto cleanup;

misuse:
	rc = cli_common_misuse(&common, &error);
cleanup:
	collset_cleanup(&except);
	return cli_common_finish(&common, rc);
}
