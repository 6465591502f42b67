/* lib/collset.c and the position file's namespaces (lib/tokenfile.c). */
#include <bson/bson.h>

#include "collset.h"
#include "error.h"
#include "exitcodes.h"
#include "tokenfile.h"
#include "unit.h"

static void
case_list_and_file(void)
{
	char dir[] = "/tmp/test_collset.XXXXXX", *path;
	bson_error_t e;
	collset_t set;
	FILE *f;

	collset_init(&set);
	CHECK(collset_add_list(&set, "a,b,a", "--colls", &e));
	CHECK_INT((int)set.n, 2);
	CHECK(collset_has(&set, "b") && !collset_has(&set, "c"));
	CHECK(!collset_add_list(&set, "c,,d", "--colls", &e));
	CHECK_INT(csm_exit_code(&e), CSM_EXIT_USAGE);
	CHECK(!collset_add_list(&set, "c,,d", "--except", &e));
	CHECK(strstr(e.message, "--except names a collection ''") != NULL);
	CHECK(!collset_add_list(&set, "x/y", "--colls", &e));
	CHECK(mkdtemp(dir) != NULL);
	path = bson_strdup_printf("%s/colls", dir);
	CHECK(!collset_add_file(&set, path, &e));
	CHECK_INT(csm_exit_code(&e), CSM_EXIT_NOINPUT);
	f = fopen(path, "w");
	fputs("# the orders\norders\r\n\ncustomers\n", f);
	fclose(f);
	CHECK(collset_add_file(&set, path, &e));
	CHECK(collset_has(&set, "orders") && collset_has(&set, "customers"));
	CHECK(!collset_has(&set, "# the orders"));
	unlink(path);
	rmdir(dir);
	bson_free(path);
	collset_cleanup(&set);
}

static void
case_staging_and_match(void)
{
	bson_error_t e;
	collset_t set;
	bson_t match;
	char *json;

	collset_init(&set);
	CHECK(collset_add_list(&set, "orders,cdc_meta", "--colls", &e));
	CHECK(!collset_check_staging(&set, "shop", "cdc", &e));
	CHECK_INT(csm_exit_code(&e), CSM_EXIT_USAGE);
	set.all = true;
	CHECK(!collset_check_staging(&set, "shop", "cdc", &e));
	CHECK_CONTAINS(e.message, "--all-colls would capture the staging collections");
	CHECK(!collset_match(&set, &match));
	CHECK(bson_empty(&match));
	bson_destroy(&match);
	set.all = false;
	CHECK(collset_match(&set, &match));
	json = bson_as_relaxed_extended_json(&match, NULL);
	CHECK_CONTAINS(json, "\"ns.coll\" : { \"$in\" : [ \"orders\", \"cdc_meta\" ] }");
	CHECK_CONTAINS(json, "\"to.coll\" : { \"$in\"");
	CHECK_CONTAINS(json, "\"dropDatabase\", \"invalidate\"");
	bson_free(json);
	bson_destroy(&match);
	collset_cleanup(&set);
}

static void
case_position_file_namespaces(void)
{
	char dir[] = "/tmp/test_collset.XXXXXX", *path;
	token_file_t tf, back;
	bson_error_t e;
	bson_iter_t it;
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	path = token_file_path(dir, "shop", NULL);
	CHECK_CONTAINS(path, "/shop.token");
	token_file_init(&tf);
	tf.ns = bson_strdup("shop.*");
	tf.writer = bson_strdup("cdc-capture");
	BSON_APPEND_UTF8(&tf.resume_token, "_data", "82AB");
	bson_destroy(&tf.namespaces);
	bson_init_from_json(&tf.namespaces, "{\"orders\": {\"seq\": 7, \"state\": \"stopped\"}}",
			    -1, NULL);
	CHECK(token_file_write(path, &tf, &e));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(token_file_read(path, &back, &e));
	CHECK_STR(back.ns, "shop.*");
	CHECK(bson_iter_init(&it, &back.namespaces) &&
	      bson_iter_find_descendant(&it, "orders.seq", &it) && bson_iter_as_int64(&it) == 7);
	token_file_cleanup(&back);
	token_file_cleanup(&tf);
	unlink(path);
	rmdir(dir);
	bson_free(path);
}

static const unit_case_t cases[] = {
	{"list_and_file", case_list_and_file},
	{"staging_and_match", case_staging_and_match},
	{"position_file_namespaces", case_position_file_namespaces},
};

UNIT_MAIN(cases)
