/*
 * Update pipelines: the stages MongoDB allows in an update ($set /
 * $addFields, $unset, $project, $replaceRoot, $replaceWith), run on one
 * document with the expressions of pipeline_expr.h.
 */
#ifndef MLITE_PIPELINE_H
#define MLITE_PIPELINE_H

#include <bson/bson.h>
#include <stdbool.h>

/* Checks a stage name: false + 72 InvalidOptions for a stage an update
 * may not use, 40324 for one MongoDB does not know. */
bool pipeline_stage_allowed(const char *name, bson_error_t *error);

/*
 * Runs pipeline (an array of stages) on doc into out (initialized by the
 * call). false + MongoDB's code when a stage or an expression fails.
 */
bool pipeline_run(const bson_t *doc, const bson_value_t *pipeline, bson_t *out,
		  bson_error_t *error);

#endif
