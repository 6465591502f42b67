/* Unit tests of an unfinished dump's plan and checkpoints (dump_plan.h;
 * docs/DESIGN.md, "Resuming a dump"). */
#include <string.h>

#include "dump_plan.h"
#include "error.h"
#include "unit.h"

/* {_id: v} from extended JSON. */
static bson_t *
id_doc(const char *json)
{
	bson_error_t error;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &error);

	if (doc == NULL)
		fprintf(stderr, "bad JSON %s: %s\n", json, error.message);
	return doc;
}

/* Bounds and a last _id of types a plain JSON number would lose (Int64,
 * Decimal128, a double) come back as they were written. */
static void
case_round_trip(void)
{
	const char *dir = unit_scratch_dir("plan", "round_trip");
	char *path = bson_strdup_printf("%s/c.dump-plan.json", dir);
	char *cp = bson_strdup_printf("%s/c.part-1.checkpoint.json", dir);
	bson_t *b1 = id_doc("{\"_id\": {\"$numberLong\": \"7\"}}");
	bson_t *b2 = id_doc("{\"_id\": {\"$numberDecimal\": \"8.5\"}}");
	bson_t *last = id_doc("{\"_id\": {\"$numberDouble\": \"7.25\"}}");
	dump_plan_t plan, read;
	bson_error_t error;
	bool found = false;

	dump_plan_init(&plan, "shop.orders", "native", 3, "0123456789abcdef0123456789abcdef");
	dump_plan_add_part(&plan, NULL);
	dump_plan_add_part(&plan, b1);
	dump_plan_add_part(&plan, b2);
	plan.parts[1].bytes = 300;
	plan.parts[1].documents = 3;
	plan.parts[1].last_offset = 200;
	bson_concat(&plan.parts[1].last_id, last);
	CHECK(dump_plan_write(path, &plan, &error));
	CHECK(dump_part_checkpoint_write(cp, plan.ns, 1, &plan.parts[1], &error));
	CHECK(dump_plan_read(path, &read, &found, &error) && found);
	CHECK_STR(read.ns, "shop.orders");
	CHECK_INT(read.jobs, 3);
	CHECK_INT(read.nparts, 3);
	CHECK(bson_empty(&read.parts[0].lower) && bson_equal(&read.parts[0].upper, b1));
	CHECK(bson_equal(&read.parts[1].lower, b1) && bson_equal(&read.parts[1].upper, b2));
	CHECK(bson_equal(&read.parts[2].lower, b2) && bson_empty(&read.parts[2].upper));
	CHECK(dump_part_checkpoint_read(cp, &read, 1, &error));
	CHECK_INT(read.parts[1].bytes, 300);
	CHECK_INT(read.parts[1].documents, 3);
	CHECK_INT(read.parts[1].last_offset, 200);
	CHECK(bson_equal(&read.parts[1].last_id, last));
	/* no checkpoint yet: nothing durable */
	CHECK(dump_part_checkpoint_read("/nonexistent/cp.json", &read, 2, &error));
	CHECK_INT(read.parts[2].bytes, 0);
	dump_plan_cleanup(&read);
	dump_plan_cleanup(&plan);
	bson_destroy(last);
	bson_destroy(b2);
	bson_destroy(b1);
	bson_free(cp);
	bson_free(path);
}

/* A checkpoint of another partition, or one counting documents without a
 * last _id, is 65. */
static void
case_bad_checkpoint_is_65(void)
{
	const char *dir = unit_scratch_dir("plan", "bad_checkpoint");
	char *cp = bson_strdup_printf("%s/cp.json", dir);
	dump_plan_t plan;
	bson_error_t error;

	dump_plan_init(&plan, "shop.orders", "native", 2, "");
	dump_plan_add_part(&plan, NULL);
	dump_plan_add_part(&plan, NULL);
	CHECK(dump_part_checkpoint_write(cp, plan.ns, 0, &plan.parts[0], &error));
	CHECK(!dump_part_checkpoint_read(cp, &plan, 1, &error));
	CHECK_INT(error.code, CSM_EXIT_DATAERR);
	CHECK_CONTAINS(error.message, "not of partition 1");
	plan.parts[0].documents = 1;
	plan.parts[0].bytes = 10;
	CHECK(dump_part_checkpoint_write(cp, plan.ns, 0, &plan.parts[0], &error));
	CHECK(!dump_part_checkpoint_read(cp, &plan, 0, &error));
	CHECK_INT(error.code, CSM_EXIT_DATAERR);
	dump_plan_cleanup(&plan);
	bson_free(cp);
}

static const unit_case_t cases[] = {
	{"round_trip", case_round_trip},
	{"bad_checkpoint_is_65", case_bad_checkpoint_is_65},
};

UNIT_MAIN(cases)
