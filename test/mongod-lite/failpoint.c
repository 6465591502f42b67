/* Placeholder until mongod-lite part 2: no fail point ever fires. */
#include "failpoint.h"
#include "command.h"

void
failpoint_check(const char *name, const char *app_name, failpoint_action_t *action)
{
	(void)name;
	(void)app_name;
	memset(action, 0, sizeof *action);
	bson_init(&action->error_labels);
	bson_init(&action->write_concern_error);
}

void
failpoint_action_cleanup(failpoint_action_t *action)
{
	bson_destroy(&action->error_labels);
	bson_destroy(&action->write_concern_error);
}

bool
cmd_configure_fail_point(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	(void)ctx;
	(void)reply;
	cmd_error(error, 115, "configureFailPoint is not supported by this build");
	return false;
}
