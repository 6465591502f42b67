/*
 * Aggregation expressions for update pipelines: literals, field paths,
 * $$ROOT/$$CURRENT/$$REMOVE, object and array expressions, and $literal
 * $setField $getField $unsetField $mergeObjects $concatArrays $slice
 * $arrayElemAt $ifNull $cond $eq $ne $gt $gte $lt $lte $and $or $not
 * $size $type. An operator outside that list fails with 168
 * InvalidPipelineOperator, as MongoDB answers an unknown one.
 */
#ifndef MLITE_PIPELINE_EXPR_H
#define MLITE_PIPELINE_EXPR_H

#include <bson/bson.h>
#include <stdbool.h>

/* An evaluated value, owned; missing (no value, e.g. an absent field or
 * $$REMOVE) when holder is NULL. */
typedef struct {
	bson_t *holder;
	bson_value_t view; /* points into holder */
} pv_t;

#define PV_MISSING                                                                                 \
	{                                                                                          \
		NULL,                                                                              \
		{                                                                                  \
			0                                                                          \
		}                                                                                  \
	}

/* The value, or NULL when missing; valid while pv lives. */
const bson_value_t *pv_value(const pv_t *pv);
/* Sets pv (missing before) to a copy of v. */
void pv_set(pv_t *pv, const bson_value_t *v);
void pv_free(pv_t *pv);

/*
 * Evaluates expr against root (the stage's input document) into out
 * (missing before). false + MongoDB's code and message when the
 * expression is malformed or does not apply to what it meets.
 */
bool expr_eval(const bson_value_t *expr, const bson_t *root, pv_t *out, bson_error_t *error);

/* MongoDB's name of a BSON type ("double", "object", "missing"...). */
const char *expr_type_name(const bson_value_t *v);

#endif
