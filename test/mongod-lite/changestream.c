/* Placeholder until mongod-lite part 2: change streams are not served yet. */
#include "changestream.h"

bool
changestream_open(command_ctx_t *ctx, const bson_t *pipeline, bson_t *reply, bson_error_t *error)
{
	(void)ctx;
	(void)pipeline;
	(void)reply;
	cmd_error(error, 115, "$changeStream is not supported by this build");
	return false;
}
