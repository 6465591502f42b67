/*
 * The plan and checkpoints of an unfinished native dump (dump_plan.h), as
 * canonical extended JSON, which keeps every _id's BSON type (an Int64
 * stays an Int64, a Decimal128 a Decimal128).
 */
#include "dump_plan.h"

#include <string.h>

#include "clock.h"
#include "dump_format.h"
#include "error.h"

static void
part_init(dump_part_t *part)
{
	memset(part, 0, sizeof *part);
	bson_init(&part->lower);
	bson_init(&part->upper);
	bson_init(&part->last_id);
}

static void
part_cleanup(dump_part_t *part)
{
	bson_destroy(&part->lower);
	bson_destroy(&part->upper);
	bson_destroy(&part->last_id);
}

void
dump_plan_init(dump_plan_t *plan, const char *ns, const char *engine, int jobs, const char *uuid)
{
	memset(plan, 0, sizeof *plan);
	plan->ns = bson_strdup(ns);
	plan->engine = bson_strdup(engine);
	plan->jobs = jobs;
	bson_strncpy(plan->uuid, uuid ? uuid : "", sizeof plan->uuid);
}

void
dump_plan_cleanup(dump_plan_t *plan)
{
	for (int k = 0; k < plan->nparts; k++)
		part_cleanup(&plan->parts[k]);
	bson_free(plan->ns);
	bson_free(plan->engine);
	memset(plan, 0, sizeof *plan);
}

void
dump_plan_add_part(dump_plan_t *plan, const bson_t *lower)
{
	dump_part_t *part = &plan->parts[plan->nparts];

	BSON_ASSERT(plan->nparts < DUMP_PLAN_MAX_PARTS);
	part_init(part);
	if (lower != NULL && !bson_empty(lower)) {
		bson_concat(&part->lower, lower);
		if (plan->nparts > 0)
			bson_concat(&plan->parts[plan->nparts - 1].upper, lower);
	}
	plan->nparts++;
}

char *
dump_plan_path(const char *partial, const char *db, const char *coll, int k, const char *suffix)
{
	char *escaped = dump_escape_name(coll);
	char *path =
		k < 0 ? bson_strdup_printf("%s/%s/%s%s", partial, db, escaped, suffix)
		      : bson_strdup_printf("%s/%s/%s.part-%d%s", partial, db, escaped, k, suffix);

	bson_free(escaped);
	return path;
}

bool
dump_plan_write(const char *path, const dump_plan_t *plan, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER, bounds;
	bool ok;

	BSON_APPEND_UTF8(&doc, "ns", plan->ns);
	BSON_APPEND_UTF8(&doc, "engine", plan->engine);
	BSON_APPEND_INT32(&doc, "jobs", plan->jobs);
	BSON_APPEND_UTF8(&doc, "uuid", plan->uuid);
	/* Partition k > 0 starts at bounds[k - 1]. */
	BSON_APPEND_ARRAY_BEGIN(&doc, "bounds", &bounds);
	for (int k = 1; k < plan->nparts; k++) {
		char key[16];
		const char *key_str;

		bson_uint32_to_string((uint32_t)(k - 1), &key_str, key, sizeof key);
		BSON_APPEND_DOCUMENT(&bounds, key_str, &plan->parts[k].lower);
	}
	bson_append_array_end(&doc, &bounds);
	BSON_APPEND_DATE_TIME(&doc, "writtenAt", clock_wall_ms());
	ok = dump_json_write(path, &doc, error);
	bson_destroy(&doc);
	return ok;
}

/* A UTF-8 field of doc, or NULL. */
static const char *
utf8_field(const bson_t *doc, const char *name)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, name) || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	return bson_iter_utf8(&it, NULL);
}

/* The fields of a plan document; false when one is missing or wrong. */
static bool
plan_from_doc(const bson_t *doc, dump_plan_t *plan)
{
	const char *ns = utf8_field(doc, "ns"), *engine = utf8_field(doc, "engine");
	const char *uuid = utf8_field(doc, "uuid");
	bson_iter_t it, bounds;

	if (!ns || !engine || !uuid || !bson_iter_init_find(&it, doc, "jobs") ||
	    !BSON_ITER_HOLDS_INT32(&it) || bson_iter_int32(&it) < 1)
		return false;
	dump_plan_init(plan, ns, engine, bson_iter_int32(&it), uuid);
	if (!bson_iter_init_find(&it, doc, "bounds") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &bounds))
		return false;
	dump_plan_add_part(plan, NULL);
	while (bson_iter_next(&bounds)) {
		uint32_t len;
		const uint8_t *data;
		bson_t lower;

		if (!BSON_ITER_HOLDS_DOCUMENT(&bounds) || plan->nparts >= DUMP_PLAN_MAX_PARTS)
			return false;
		bson_iter_document(&bounds, &len, &data);
		if (!bson_init_static(&lower, data, len) || !bson_has_field(&lower, "_id"))
			return false;
		dump_plan_add_part(plan, &lower);
	}
	return true;
}

bool
dump_plan_read(const char *path, dump_plan_t *plan, bool *found, bson_error_t *error)
{
	bson_t *doc = NULL;
	bool ok = true;

	memset(plan, 0, sizeof *plan);
	if (!dump_json_read(path, found, &doc, error))
		return false;
	if (*found && (doc == NULL || !plan_from_doc(doc, plan))) {
		dump_plan_cleanup(plan);
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "the plan '%s' of an unfinished dump is unreadable (it needs ns, "
			      "engine, jobs, uuid and bounds); remove its .partial directory to "
			      "dump from the start",
			      path);
		ok = false;
	}
	bson_destroy(doc);
	return ok;
}

bool
dump_part_checkpoint_write(const char *path, const char *ns, int k, const dump_part_t *part,
			   bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&doc, "ns", ns);
	BSON_APPEND_INT32(&doc, "partition", k);
	BSON_APPEND_INT64(&doc, "bytes", part->bytes);
	BSON_APPEND_INT64(&doc, "documents", part->documents);
	BSON_APPEND_INT64(&doc, "lastOffset", part->last_offset);
	if (!bson_empty(&part->last_id))
		BSON_APPEND_DOCUMENT(&doc, "lastId", &part->last_id);
	BSON_APPEND_BOOL(&doc, "done", part->done);
	BSON_APPEND_DATE_TIME(&doc, "writtenAt", clock_wall_ms());
	ok = dump_json_write(path, &doc, error);
	bson_destroy(&doc);
	return ok;
}

/* An Int64 field >= 0 of doc into *out; false when missing or wrong. */
static bool
count_field(const bson_t *doc, const char *name, int64_t *out)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, name) || !BSON_ITER_HOLDS_INT64(&it))
		return false;
	*out = bson_iter_int64(&it);
	return *out >= 0;
}

/* The fields of partition k's checkpoint document into part. */
static bool
checkpoint_from_doc(const bson_t *doc, const dump_plan_t *plan, int k, dump_part_t *part)
{
	const char *ns = utf8_field(doc, "ns");
	bson_iter_t it;

	if (!ns || strcmp(ns, plan->ns) != 0 || !bson_iter_init_find(&it, doc, "partition") ||
	    !BSON_ITER_HOLDS_INT32(&it) || bson_iter_int32(&it) != k ||
	    !count_field(doc, "bytes", &part->bytes) ||
	    !count_field(doc, "documents", &part->documents) ||
	    !count_field(doc, "lastOffset", &part->last_offset) ||
	    !bson_iter_init_find(&it, doc, "done") || !BSON_ITER_HOLDS_BOOL(&it))
		return false;
	part->done = bson_iter_bool(&it);
	bson_reinit(&part->last_id);
	if (bson_iter_init_find(&it, doc, "lastId")) {
		uint32_t len;
		const uint8_t *data;
		bson_t last;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			return false;
		bson_iter_document(&it, &len, &data);
		if (!bson_init_static(&last, data, len) || !bson_has_field(&last, "_id"))
			return false;
		bson_concat(&part->last_id, &last);
	}
	/* Documents counted need a last one, and it lies inside the bytes. */
	return (part->documents == 0) == bson_empty(&part->last_id) &&
	       (part->documents == 0 || part->last_offset < part->bytes);
}

bool
dump_part_checkpoint_read(const char *path, dump_plan_t *plan, int k, bson_error_t *error)
{
	dump_part_t *part = &plan->parts[k];
	bson_t *doc = NULL;
	bool found = false;
	bool ok = true;

	part->bytes = part->documents = part->last_offset = 0;
	part->done = false;
	bson_reinit(&part->last_id);
	if (!dump_json_read(path, &found, &doc, error))
		return false;
	if (found && (doc == NULL || !checkpoint_from_doc(doc, plan, k, part))) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "the checkpoint '%s' of an unfinished dump of '%s' is unreadable or "
			      "not of partition %d; remove its .partial directory to dump from "
			      "the start",
			      path, plan->ns, k);
		ok = false;
	}
	bson_destroy(doc);
	return ok;
}
