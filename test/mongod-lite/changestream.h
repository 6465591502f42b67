/*
 * $changeStream aggregations. aggregate calls changestream_open when the
 * first stage is $changeStream; the cursor it registers serves getMore.
 */
#ifndef MLITE_CHANGESTREAM_H
#define MLITE_CHANGESTREAM_H

#include "command.h"

/*
 * Handles an aggregate whose pipeline starts with $changeStream: validates,
 * registers a tailable cursor, and appends {cursor: {id, ns, firstBatch,
 * postBatchResumeToken}} to reply. false + MongoDB error code on failure
 * (40573 standalone, 286, 280, 260, 2, 9...).
 */
bool changestream_open(command_ctx_t *ctx, const bson_t *pipeline, bson_t *reply,
		       bson_error_t *error);

#endif
