/*
 * Authentication: SASL PLAIN (saslStart / saslContinue / logout) against the
 * one user configured by --auth-user and --auth-password-file.
 */
#ifndef MLITE_CMD_AUTH_H
#define MLITE_CMD_AUTH_H

#include <bson/bson.h>
#include <stdbool.h>

#include "command.h"

bool cmd_sasl_start(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_sasl_continue(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);
bool cmd_logout(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/*
 * Reads the password of --auth-password-file into server_config.auth_password
 * (one trailing newline is dropped). False with a message in errbuf when the
 * file cannot be read or is empty.
 */
bool auth_load_password(const char *path, char *errbuf, size_t errlen);

#endif
