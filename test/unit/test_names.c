/* Unit tests of the name checks (names.h). */
#include "error.h"
#include "names.h"
#include "unit.h"

static void
case_staging_collisions(void)
{
	bson_error_t e;

	/* The target defaults to the source's names. */
	CHECK(!names_check_staging("shop", "cdc", NULL, NULL, "cdc", &e));
	CHECK_INT(csm_exit_code(&e), CSM_EXIT_USAGE);
	CHECK_CONTAINS(e.message, "'shop.cdc'");
	CHECK_CONTAINS(e.message, "--staging-coll");
	CHECK(!names_check_staging("shop", "cdc_meta", NULL, NULL, "cdc", &e));
	CHECK(!names_check_staging("shop", "orders", NULL, "cdc", "cdc", &e));
	CHECK(!names_check_staging("shop", "orders", "shop", "stage_meta", "stage", &e));
	CHECK(!names_check_staging("shop", "stage", NULL, NULL, "stage", &e));
	/* Another database, or another staging name, does not collide. */
	CHECK(names_check_staging("shop", "cdc", "shop2", NULL, "cdc", &e));
	CHECK(names_check_staging("shop", "cdc", NULL, NULL, "staging", &e));
	CHECK(names_check_staging("shop", "orders", NULL, NULL, "cdc", &e));
	CHECK(names_check_staging("shop", "cdc_metadata", NULL, NULL, "cdc", &e));
	CHECK(names_check_staging("shop", "orders", NULL, "cdc2", "cdc", &e));
}

static void
case_source_collisions(void)
{
	bson_error_t e;

	/* token-probe and cdc-capture know only the source: its names are the
	 * target's by default, so they refuse them. */
	CHECK(!names_check_source("shop", "cdc", "cdc", &e));
	CHECK_INT(csm_exit_code(&e), CSM_EXIT_USAGE);
	CHECK_CONTAINS(e.message, "'shop.cdc'");
	CHECK_CONTAINS(e.message, "'shop.cdc_meta'");
	CHECK_CONTAINS(e.message, "--staging-coll");
	CHECK(!names_check_source("shop", "cdc_meta", "cdc", &e));
	CHECK(!names_check_source("shop", "stage", "stage", &e));
	CHECK(!names_check_source("shop", "stage_meta", "stage", &e));
	CHECK(names_check_source("shop", "cdc", "stage", &e));
	CHECK(names_check_source("shop", "orders", "cdc", &e));
	CHECK(names_check_source("shop", "cdc_metadata", "cdc", &e));
	CHECK(names_check_source("shop", "meta", "cdc", &e));
}

static const unit_case_t cases[] = {
	{"staging_collisions", case_staging_collisions},
	{"source_collisions", case_source_collisions},
};

UNIT_MAIN(cases)
