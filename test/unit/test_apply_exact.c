/*
 * Unit tests of exact replay (lib/apply_exact.h, lib/apply.h): when operator
 * updates are exact, the pipeline that addresses each component otherwise,
 * the old-source path reading, and whole documents with top-level '$'
 * fields. Event shapes from MongoDB's
 * jstests/change_streams/expanded_update_description.js.
 */
#include <string.h>

#include "apply.h"
#include "apply_exact.h"
#include "exitcodes.h"
#include "unit.h"

/* A document from relaxed extended JSON; aborts on bad JSON (a test bug). */
static bson_t *
doc_of(const char *json)
{
	bson_error_t error;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &error);

	if (!doc) {
		fprintf(stderr, "bad JSON in test: %s: %s\n", json, error.message);
		exit(100);
	}
	return doc;
}

/* An array document as relaxed extended JSON (caller frees). */
static char *
array_json(const bson_t *array)
{
	size_t len;

	return bson_array_as_json(array, &len);
}

/* The mode of the updateDescription desc_json (target_json may be NULL). */
static exact_mode_t
mode_of(const char *desc_json, const char *target_json)
{
	bson_t *desc = doc_of(desc_json);
	bson_t *target = target_json ? doc_of(target_json) : NULL;
	exact_target_t t = {target, true};
	bson_error_t error;
	exact_mode_t mode = EXACT_FAST;

	if (!apply_exact_mode(desc, target ? &t : NULL, &mode, &error)) {
		fprintf(stderr, "apply_exact_mode failed: %s\n", error.message);
		mode = (exact_mode_t)-1;
	}
	bson_destroy(desc);
	bson_destroy(target);
	return mode;
}

/* The pipeline of desc_json as canonical JSON (caller frees). */
static char *
stages_of(const char *desc_json, const char *target_json)
{
	bson_t *desc = doc_of(desc_json);
	bson_t *target = target_json ? doc_of(target_json) : NULL;
	exact_target_t t = {target, true};
	bson_t pipeline = BSON_INITIALIZER;
	bson_error_t error;
	uint32_t n = 0;
	char *json;

	if (!apply_exact_stages(desc, target ? &t : NULL, &pipeline, &n, &error))
		json = bson_strdup(error.message);
	else
		json = array_json(&pipeline);
	bson_destroy(&pipeline);
	bson_destroy(desc);
	bson_destroy(target);
	return json;
}

static void
case_fast_when_plain(void)
{
	/* expanded_update_description.js: "a path which only contains
	 * non-dotted fields and array indices is not reported". */
	CHECK_INT(mode_of("{\"updatedFields\": {\"a\": 2, \"arrayForReplacement\": [0], "
			  "\"topLevelArray.0.subArray.1.1.0.bottomArray.2\": 3}, "
			  "\"removedFields\": [], \"truncatedArrays\": [], "
			  "\"disambiguatedPaths\": {}}",
			  NULL),
		  EXACT_FAST);
	/* As MongoDB reports it, the changed field comes before the new one:
	 * were both new, $set would add them the other way round. */
	CHECK_INT(mode_of("{\"updatedFields\": {\"arrayForReplacement\": [0], \"a\": 2, "
			  "\"topLevelArray.0.subArray.1.1.0.bottomArray.2\": 3}, "
			  "\"removedFields\": [], \"truncatedArrays\": [], "
			  "\"disambiguatedPaths\": {}}",
			  NULL),
		  EXACT_PIPELINE);
	/* A numeric field name is what $set "o.0" addresses anyway. */
	CHECK_INT(mode_of("{\"updatedFields\": {\"objectWithNumericField.0.1\": \"updated\"}, "
			  "\"disambiguatedPaths\": {\"objectWithNumericField.0.1\": "
			  "[\"objectWithNumericField\", \"0\", \"1\"]}}",
			  NULL),
		  EXACT_FAST);
	CHECK_INT(mode_of("{\"updatedFields\": {\"x\": 1}, \"removedFields\": [\"y.z\"], "
			  "\"truncatedArrays\": [{\"field\": \"t\", \"newSize\": 1}], "
			  "\"disambiguatedPaths\": {}}",
			  NULL),
		  EXACT_FAST);
}

static void
case_pipeline_when_ambiguous(void)
{
	/* Dotted names, from disambiguatedPaths. */
	CHECK_INT(mode_of("{\"updatedFields\": {\"d.o.t\": 1}, "
			  "\"disambiguatedPaths\": {\"d.o.t\": [\"d.o.t\"]}}",
			  NULL),
		  EXACT_PIPELINE);
	/* A '$' name is no operator path. */
	CHECK_INT(mode_of("{\"updatedFields\": {\"a.$b\": 1}, \"disambiguatedPaths\": {}}", NULL),
		  EXACT_PIPELINE);
	/* A value holding a dotted or '$' name. */
	CHECK_INT(mode_of("{\"updatedFields\": {\"a\": {\"x\": [{\"b.c\": 1}]}}, "
			  "\"disambiguatedPaths\": {}}",
			  NULL),
		  EXACT_PIPELINE);
	CHECK_INT(mode_of("{\"updatedFields\": {\"a\": {\"$t\": 1}}, \"disambiguatedPaths\": {}}",
			  NULL),
		  EXACT_PIPELINE);
	/* New siblings not in the order operators add them ("b" after "a",
	 * "10" after "9"): $set would sort them. */
	CHECK_INT(mode_of("{\"updatedFields\": {\"o.b\": 1, \"x\": 1, \"o.a\": 1}, "
			  "\"disambiguatedPaths\": {}}",
			  NULL),
		  EXACT_PIPELINE);
	CHECK_INT(mode_of("{\"updatedFields\": {\"o.a\": 1, \"x\": 1, \"o.b\": 1}, "
			  "\"disambiguatedPaths\": {}}",
			  NULL),
		  EXACT_FAST);
	CHECK_INT(mode_of("{\"updatedFields\": {\"a.9\": 1, \"a.10\": 1}, "
			  "\"disambiguatedPaths\": {}}",
			  NULL),
		  EXACT_PIPELINE);
}

static void
case_pipeline_shape(void)
{
	char *json;

	/* expanded_update_description.js: "a path containing dotted, numeric
	 * and array index fields": each component addressed exactly. */
	json = stages_of("{\"updatedFields\": {\"A.B.0.0\": true}, \"disambiguatedPaths\": "
			 "{\"A.B.0.0\": [\"A.B\", 0, \"0\"]}}",
			 NULL);
	CHECK_STR(json,
		  "[ { \"$replaceWith\" : { \"$setField\" : { \"field\" : \"A.B\", \"input\" : "
		  "\"$$ROOT\", \"value\" : { \"$concatArrays\" : [ [ { \"$setField\" : { "
		  "\"field\" : \"0\", \"input\" : { \"$arrayElemAt\" : [ { \"$getField\" : { "
		  "\"field\" : \"A.B\", \"input\" : \"$$ROOT\" } }, 0 ] }, \"value\" : { "
		  "\"$literal\" : true } } } ], { \"$slice\" : [ { \"$getField\" : { \"field\" : "
		  "\"A.B\", \"input\" : \"$$ROOT\" } }, 1, 2147483647 ] } ] } } } } ]");
	bson_free(json);
	/* Removal, '$' names under $literal, truncation by $slice. */
	json = stages_of("{\"updatedFields\": {}, \"removedFields\": [\"$x\"], "
			 "\"truncatedArrays\": [{\"field\": \"t\", \"newSize\": 2}], "
			 "\"disambiguatedPaths\": {}}",
			 NULL);
	CHECK_STR(json,
		  "[ { \"$replaceWith\" : { \"$setField\" : { \"field\" : \"t\", \"input\" : "
		  "\"$$ROOT\", \"value\" : { \"$slice\" : [ { \"$getField\" : { \"field\" : \"t\", "
		  "\"input\" : \"$$ROOT\" } }, 2 ] } } } }, { \"$replaceWith\" : { \"$setField\" "
		  ": { \"field\" : { \"$literal\" : \"$x\" }, \"input\" : \"$$ROOT\", \"value\" : "
		  "\"$$REMOVE\" } } } ]");
	bson_free(json);
}

/* path resolved against doc_json as "name|#index|..." or "fail: why". */
static char *
resolved(const char *doc_json, const char *path, bool must_exist, bool literal_new)
{
	bson_t *doc = doc_of(doc_json);
	exact_path_t p;
	const char *why = NULL;
	bson_string_t *text = bson_string_new(NULL);

	if (!apply_exact_resolve_path(doc, path, must_exist, literal_new, &p, &why)) {
		bson_string_append_printf(text, "fail: %s", why);
	} else {
		for (size_t i = 0; i < p.n; i++) {
			if (p.comps[i].name)
				bson_string_append_printf(text, "%s%s", i ? "|" : "",
							  p.comps[i].name);
			else
				bson_string_append_printf(text, "%s#%d", i ? "|" : "",
							  (int)p.comps[i].index);
		}
		exact_path_destroy(&p);
	}
	bson_destroy(doc);
	return bson_string_free(text, false);
}

static void
case_old_source_rule(void)
{
	const char *doc =
		"{\"_id\": 1, \"a\": {\"b.c\": {\"d\": 1}}, \"x\": [{\"0\": 1, \"y\": 2}], "
		"\"p\": {\"q\": 1}, \"p.q\": 2}";
	char *r;

	/* An old event's dotted path is read against the target. */
	CHECK_INT(mode_of("{\"updatedFields\": {\"a.b\": 1}}", NULL), EXACT_NEEDS_TARGET);
	CHECK_INT(mode_of("{\"updatedFields\": {\"a\": 1}, \"removedFields\": [\"b\"]}", NULL),
		  EXACT_FAST);
	CHECK_INT(mode_of("{\"updatedFields\": {\"a.b.c.d\": 2}}", doc), EXACT_PIPELINE);
	CHECK_INT(mode_of("{\"updatedFields\": {\"x.0.y\": 3}}", doc), EXACT_FAST);
	r = resolved(doc, "a.b.c.d", true, true);
	CHECK_STR(r, "a|b.c|d");
	bson_free(r);
	r = resolved(doc, "x.0.y", true, true);
	CHECK_STR(r, "x|#0|y");
	bson_free(r);
	/* A new field whose parent the target lacks: a literal dotted name. */
	r = resolved(doc, "n.m", false, true);
	CHECK_STR(r, "n.m");
	bson_free(r);
	/* Unless the target may be newer than the source was (not settled). */
	r = resolved(doc, "n.m", false, false);
	CHECK_STR(r, "fail: the path does not exist in the target document");
	bson_free(r);
	r = resolved(doc, "n.m", true, true);
	CHECK_STR(r, "fail: the path does not exist in the target document");
	bson_free(r);
	/* "p" and "p.q" both match "p.q": no unique reading. */
	r = resolved(doc, "p.q", false, true);
	CHECK_CONTAINS(r, "fail: two fields of an object on the path match it");
	bson_free(r);
	r = resolved(doc, "x.k", false, true);
	CHECK_STR(r, "fail: an array on the path has no such index");
	bson_free(r);
	r = resolved(doc, "_id.z", false, true);
	CHECK_STR(r, "fail: the path runs through a scalar");
	bson_free(r);
}

static void
case_old_source_event(void)
{
	bson_t *event = doc_of("{\"operationType\": \"update\", \"documentKey\": {\"_id\": 1}, "
			       "\"updateDescription\": {\"updatedFields\": {\"p.q\": 5}, "
			       "\"removedFields\": []}}");
	bson_t *target = doc_of("{\"_id\": 1, \"p\": {\"q\": 1}, \"p.q\": 2}");
	apply_op_list_t ops;
	bson_error_t error;

	apply_op_list_init(&ops);
	/* Without the target: no op, and the list says it needs it. */
	CHECK(apply_event_ops(event, 0, &ops, &error));
	CHECK_INT((int)ops.len, 0);
	CHECK(ops.needs_target);
	apply_op_list_clear(&ops);
	CHECK(!apply_event_ops_read(event, target, false, 0, &ops, &error));
	CHECK_INT(error.code, CSM_EXIT_DATAERR);
	CHECK_CONTAINS(error.message, "path 'p.q' cannot be read in one way only");
	CHECK_CONTAINS(error.message, "--full-document updateLookup");
	/* No target document: the update does nothing. */
	CHECK(apply_event_ops_read(event, NULL, false, 0, &ops, &error));
	CHECK_INT((int)ops.len, 0);
	apply_op_list_destroy(&ops);
	bson_destroy(event);
	bson_destroy(target);
}

static void
case_dollar_document(void)
{
	bson_t *event = doc_of("{\"operationType\": \"insert\", \"documentKey\": {\"_id\": 1}, "
			       "\"fullDocument\": {\"_id\": 1, \"$t\": {\"$u\": 1}}}");
	apply_op_list_t ops;
	bson_error_t error;
	char *json;

	apply_op_list_init(&ops);
	CHECK(apply_event_ops(event, 0, &ops, &error));
	CHECK_INT((int)ops.len, 1);
	CHECK_INT(ops.ops[0].kind, APPLY_OP_UPDATE);
	CHECK(ops.ops[0].upsert);
	json = array_json(ops.ops[0].doc);
	CHECK_STR(json, "[ { \"$replaceWith\" : { \"$literal\" : { \"_id\" : 1, \"$t\" : { \"$u\" "
			": 1 } } } } ]");
	bson_free(json);
	apply_op_list_destroy(&ops);
	bson_destroy(event);
}

static const unit_case_t cases[] = {
	{"fast_when_plain", case_fast_when_plain},
	{"pipeline_when_ambiguous", case_pipeline_when_ambiguous},
	{"pipeline_shape", case_pipeline_shape},
	{"old_source_rule", case_old_source_rule},
	{"old_source_event", case_old_source_event},
	{"dollar_document", case_dollar_document},
};

UNIT_MAIN(cases)
