/*
 * SASL PLAIN as mongod does it for authSource $external: one saslStart whose
 * payload is "authzid\0user\0password" (BinData from pymongo, base64 in a
 * string from libmongoc) completes the conversation. With --auth-user the
 * credentials must match; without it any are accepted. Passwords are never
 * logged.
 */
#include "cmd_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "server.h"
#include "wire.h"

enum { CODE_UNAUTHORIZED = 13, CODE_AUTH_FAILED = 18, CODE_MECH_UNAVAILABLE = 334 };

/* Standard base64 (padding optional); returns the length or -1. */
static ssize_t
b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < inlen; i++) {
		char c = in[i];
		int v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outcap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (ssize_t)n;
}

/* Timing does not depend on where the strings first differ. */
static bool
same_secret(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	unsigned diff = (unsigned)(alen != blen);
	for (size_t i = 0; i < alen; i++)
		diff |= (unsigned)(uint8_t)a[i] ^ (unsigned)(uint8_t)b[blen ? i % blen : 0];
	return diff == 0;
}

/*
 * Gets the payload bytes into buf; *as_string tells whether it came as a
 * base64 string (the reply payload then takes the same form).
 */
static bool
get_payload(const bson_t *cmd, uint8_t *buf, size_t cap, size_t *len, bool *as_string,
	    bson_error_t *error)
{
	bson_iter_t it;
	*as_string = false;
	if (!bson_iter_init_find(&it, cmd, "payload")) {
		cmd_error(error, 9, "Missing required field 'payload'");
		return false;
	}
	if (BSON_ITER_HOLDS_BINARY(&it)) {
		bson_subtype_t st;
		uint32_t l;
		const uint8_t *d;
		bson_iter_binary(&it, &st, &l, &d);
		if (l > cap) {
			cmd_error(error, CODE_AUTH_FAILED, "Authentication failed.");
			return false;
		}
		memcpy(buf, d, l);
		*len = l;
		return true;
	}
	if (BSON_ITER_HOLDS_UTF8(&it)) {
		uint32_t l;
		const char *s = bson_iter_utf8(&it, &l);
		ssize_t n = b64_decode(s, l, buf, cap);
		if (n < 0) {
			cmd_error(error, 17, "Invalid base64 in the SASL payload");
			return false;
		}
		*len = (size_t)n;
		*as_string = true;
		return true;
	}
	cmd_error(error, 14, "BSON field 'payload' is the wrong type, expected BinData or string");
	return false;
}

static void
append_done(bson_t *reply, bool as_string)
{
	BSON_APPEND_INT32(reply, "conversationId", 1);
	BSON_APPEND_BOOL(reply, "done", true);
	if (as_string)
		BSON_APPEND_UTF8(reply, "payload", "");
	else
		BSON_APPEND_BINARY(reply, "payload", BSON_SUBTYPE_BINARY, (const uint8_t *)"", 0);
}

/* Checks "authzid\0user\0password" of a PLAIN payload. */
static bool
plain_check(conn_t *conn, const uint8_t *p, size_t len, bson_error_t *error)
{
	const uint8_t *z1 = memchr(p, '\0', len);
	const uint8_t *z2 = z1 ? memchr(z1 + 1, '\0', len - (size_t)(z1 + 1 - p)) : NULL;
	if (!z2) {
		cmd_error(error, CODE_AUTH_FAILED, "Authentication failed.");
		return false;
	}
	const char *user = (const char *)z1 + 1;
	size_t user_len = (size_t)(z2 - (z1 + 1));
	const char *pw = (const char *)z2 + 1;
	size_t pw_len = len - (size_t)(z2 + 1 - p);
	char shown[128];
	snprintf(shown, sizeof shown, "%.*s", (int)(user_len < 100 ? user_len : 100), user);

	if (server_config.auth_user) {
		bool user_ok = user_len == strlen(server_config.auth_user) &&
			       memcmp(user, server_config.auth_user, user_len) == 0;
		bool pw_ok = same_secret(pw, pw_len, server_config.auth_password);
		if (!user_ok || !pw_ok) {
			server_log(0,
				   "conn%" PRId64 ": authentication failed for user '%s' (PLAIN)",
				   conn->id, shown);
			cmd_error(error, CODE_AUTH_FAILED, "Authentication failed.");
			return false;
		}
	}
	conn->authenticated = true;
	server_log(1, "conn%" PRId64 ": authenticated as '%s' (PLAIN)", conn->id, shown);
	return true;
}

bool
cmd_sasl_start(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	const char *mech = NULL;
	uint8_t buf[4096];
	size_t len = 0;
	bool as_string;

	if (bson_iter_init_find(&it, ctx->cmd, "mechanism") && BSON_ITER_HOLDS_UTF8(&it))
		mech = bson_iter_utf8(&it, NULL);
	if (!mech) {
		cmd_error(error, 9, "Missing required field 'mechanism'");
		return false;
	}
	if (strcmp(mech, "PLAIN") != 0) {
		cmd_error(
			error, CODE_MECH_UNAVAILABLE,
			"Received authentication for mechanism %s which is unknown or not enabled",
			mech);
		return false;
	}
	if (strcmp(ctx->db, "$external") != 0) {
		/* mongod keeps PLAIN users in $external only */
		cmd_error(error, CODE_AUTH_FAILED, "Authentication failed.");
		return false;
	}
	if (!get_payload(ctx->cmd, buf, sizeof buf, &len, &as_string, error))
		return false;
	bool ok = plain_check(ctx->conn, buf, len, error);
	explicit_bzero(buf, sizeof buf);
	if (!ok)
		return false;
	append_done(reply, as_string);
	return true;
}

/* PLAIN is done after saslStart: a continuation of conversation 1 just
 * confirms it; anything else is an unknown conversation. */
bool
cmd_sasl_continue(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	int64_t id = 0;
	if (bson_iter_init_find(&it, ctx->cmd, "conversationId"))
		cmd_as_int64(&it, &id);
	if (id != 1 || !ctx->conn->authenticated) {
		cmd_error(error, 17, "No SASL session state found");
		return false;
	}
	append_done(reply,
		    bson_iter_init_find(&it, ctx->cmd, "payload") && BSON_ITER_HOLDS_UTF8(&it));
	return true;
}

bool
cmd_logout(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	(void)reply;
	(void)error;
	ctx->conn->authenticated = false;
	return true;
}

bool
auth_load_password(const char *path, char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(errbuf, errlen, "cannot read --auth-password-file '%s': %s", path,
			 strerror(errno));
		return false;
	}
	static char pw[1024];
	size_t n = fread(pw, 1, sizeof pw - 1, f);
	bool bad = ferror(f) || !feof(f);
	fclose(f);
	if (bad) {
		snprintf(errbuf, errlen,
			 "cannot read --auth-password-file '%s' (or longer than %zu bytes)", path,
			 sizeof pw - 2);
		return false;
	}
	pw[n] = '\0';
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	if (n == 0 || memchr(pw, '\0', n)) {
		snprintf(errbuf, errlen, "--auth-password-file '%s' holds no password", path);
		return false;
	}
	server_config.auth_password = pw;
	return true;
}
