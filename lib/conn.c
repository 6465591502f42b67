/*
 * Connection options and clients (conn.h). URIs hold passwords: every
 * message that could show one goes through redact_uri_text(), messages
 * about a URI name its hosts only, and freed URIs are zeroed first.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conn.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "redact.h"

#define CONN_APPNAME_PREFIX "changestream-migration/"
#define CONN_URI_FILE_MAX (64 * 1024)
#define CONN_DEFAULT_TIMEOUT_MS 10000
#define CONN_DEFAULT_SOCKET_TIMEOUT_MS (5 * 60 * 1000)

/*
 * Which conn_opts_t got its source / target from --X-uri, so that a
 * --X-uri-file seen later does not override it (precedence per conn.h).
 * Tools hold one conn_opts_t; this tracks the most recent.
 */
static const conn_opts_t *source_from_flag;
static const conn_opts_t *target_from_flag;

static void
scrub_free(char *s)
{
	if (!s)
		return;
	/* volatile so the compiler cannot drop the stores before free(). */
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

static void
set_uri(char **slot, char *value)
{
	scrub_free(*slot);
	*slot = value;
}

/* Reads a URI file: contents without trailing whitespace, newly allocated. */
static char *
read_uri_file(const char *role, const char *path, bson_error_t *error)
{
	struct stat st;
	char *text;
	size_t len;

	text = fs_read_all(path, CONN_URI_FILE_MAX, &len, error);
	if (!text) {
		csm_error_prefix(error, "cannot read the %s URI file", role);
		return NULL;
	}
	while (len > 0 && strchr(" \t\r\n\f\v", text[len - 1]))
		text[--len] = '\0';
	if (len == 0) {
		free(text);
		csm_error_set(error, CSM_EXIT_USAGE,
			      "%s URI file '%s' is empty: write the connection string into it",
			      role, path);
		return NULL;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		log_warn("%s URI file '%s' is readable by group or others; chmod 600 it", role,
			 path);
	return text;
}

int
conn_opts_take(conn_opts_t *opts, int opt, const char *arg, bson_error_t *error)
{
	char *value;

	switch (opt) {
	case CONN_OPT_SOURCE_URI:
		set_uri(&opts->source_uri, strdup(arg));
		source_from_flag = opts;
		return 1;
	case CONN_OPT_TARGET_URI:
		set_uri(&opts->target_uri, strdup(arg));
		target_from_flag = opts;
		return 1;
	case CONN_OPT_SOURCE_URI_FILE:
		value = read_uri_file("source", arg, error);
		if (!value)
			return -1;
		if (source_from_flag == opts && opts->source_uri)
			scrub_free(value);
		else
			set_uri(&opts->source_uri, value);
		return 1;
	case CONN_OPT_TARGET_URI_FILE:
		value = read_uri_file("target", arg, error);
		if (!value)
			return -1;
		if (target_from_flag == opts && opts->target_uri)
			scrub_free(value);
		else
			set_uri(&opts->target_uri, value);
		return 1;
	default:
		return 0;
	}
}

/*
 * "source" or "target": the side a role ("cdc-capture-target") is on, the
 * word messages use (the role itself is the appname's, not the user's).
 */
static const char *
role_side(const char *role)
{
	size_t len = strlen(role);

	if (len >= 6 && strcmp(role + len - 6, "source") == 0)
		return "source";
	if (len >= 6 && strcmp(role + len - 6, "target") == 0)
		return "target";
	return role;
}

/*
 * Replaces by "***" every double-quoted part of message that also occurs
 * in uri before its last '@' (the user name and password, with whatever
 * the redactor could not tell apart from them, a space for instance).
 */
static void
blank_quoted_userinfo(char *message, const char *uri)
{
	const char *at = strrchr(uri, '@');
	char *open, *close;
	size_t userinfo_len, len;

	if (!at)
		return;
	userinfo_len = (size_t)(at - uri);
	for (open = strchr(message, '"'); open; open = strchr(open + 1, '"')) {
		close = strchr(open + 1, '"');
		if (!close)
			return;
		len = (size_t)(close - open - 1);
		if (len > 0 && memmem(uri, userinfo_len, open + 1, len)) {
			/* Never longer than before: the message fills its buffer. */
			memset(open + 1, '*', len < 3 ? len : 3);
			if (len > 3) {
				memmove(open + 4, close, strlen(close) + 1);
				close = open + 4;
			}
		}
		open = close;
	}
}

/*
 * Checks that uri parses. libmongoc's message may quote the password
 * ('Password "s3cr3t:Zebra" must not have unescaped chars'), so the one
 * shown is libmongoc's message for the URI with its password replaced by
 * "***"; when that one parses, the password itself is what is wrong.
 */
static bool
check_uri(const char *side, const char *uri, bson_error_t *error)
{
	bson_error_t parse_error;
	mongoc_uri_t *parsed;
	char *masked;
	const char *detail = parse_error.message;

	parsed = mongoc_uri_new_with_error(uri, &parse_error);
	if (parsed) {
		mongoc_uri_destroy(parsed);
		return true;
	}
	masked = redact_uri_text(uri);
	if (masked && strcmp(masked, uri) != 0) {
		parsed = mongoc_uri_new_with_error(masked, &parse_error);
		if (parsed)
			detail = "the user name or password holds a character that must be "
				 "percent-encoded (':', '/', '?', '#', '[', ']', '@' or '%' not "
				 "followed by two hex digits)";
		mongoc_uri_destroy(parsed);
	}
	free(masked);
	blank_quoted_userinfo(parse_error.message, uri);
	csm_error_set(error, CSM_EXIT_USAGE,
		      "invalid %s URI: %s; expected "
		      "mongodb://[user:password@]host[:port][,host...]/[db][?options]",
		      side, detail);
	return false;
}

static bool
resolve_one(const char *role, const char *env, char **slot, const char *flag, bson_error_t *error)
{
	const char *from_env;

	if (!*slot) {
		from_env = getenv(env);
		if (from_env && *from_env)
			*slot = strdup(from_env);
	}
	if (!*slot) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "no %s URI: give --%s-uri-file FILE or --%s-uri URI, or set %s", role,
			      flag, flag, env);
		return false;
	}
	return check_uri(role, *slot, error);
}

bool
conn_opts_resolve(conn_opts_t *opts, bool need_source, bool need_target, bson_error_t *error)
{
	if (need_source && !resolve_one("source", "SOURCE_URI", &opts->source_uri, "source", error))
		return false;
	if (need_target && !resolve_one("target", "TARGET_URI", &opts->target_uri, "target", error))
		return false;
	return true;
}

void
conn_opts_cleanup(conn_opts_t *opts)
{
	if (!opts)
		return;
	set_uri(&opts->source_uri, NULL);
	set_uri(&opts->target_uri, NULL);
	if (source_from_flag == opts)
		source_from_flag = NULL;
	if (target_from_flag == opts)
		target_from_flag = NULL;
}

void
conn_global_init(void)
{
	log_install_driver_handler();
	log_flush_early_driver_messages();
	mongoc_init();
}

void
conn_global_cleanup(void)
{
	mongoc_cleanup();
}

/* "host1:27017,host2:27017" (or the SRV name) for messages; bson_free it. */
static char *
uri_host_list(const mongoc_uri_t *uri)
{
	const mongoc_host_list_t *host;
	const char *srv;
	bson_string_t *list;

	srv = mongoc_uri_get_srv_hostname(uri);
	if (srv)
		return bson_strdup(srv);
	list = bson_string_new(NULL);
	for (host = mongoc_uri_get_hosts(uri); host; host = host->next) {
		if (list->len)
			bson_string_append_c(list, ',');
		bson_string_append(list, host->host_and_port);
	}
	return bson_string_free(list, false);
}

/*
 * Parses uri and applies the project's defaults: appname (from app),
 * bounded timeouts, retryable reads and writes, each unless the URI sets
 * it. timeout_ms > 0 forces the connect and socket timeouts to it, whatever
 * the URI says.
 */
static mongoc_uri_t *
prepare_uri(const char *uri_text, const char *role, const char *app, int32_t timeout_ms,
	    bson_error_t *error)
{
	char appname[MONGOC_HANDSHAKE_APPNAME_MAX + 1];
	mongoc_uri_t *uri;

	if (!check_uri(role_side(role), uri_text, error))
		return NULL;
	uri = mongoc_uri_new_with_error(uri_text, NULL);
	if (!uri) {
		csm_error_set(error, CSM_EXIT_USAGE, "invalid %s URI", role_side(role));
		return NULL;
	}
	if (!mongoc_uri_get_appname(uri)) {
		/* libmongoc rejects an appname over 128 bytes. */
		snprintf(appname, sizeof appname, "%s%s", CONN_APPNAME_PREFIX, app);
		appname[MONGOC_HANDSHAKE_APPNAME_MAX] = '\0';
		mongoc_uri_set_appname(uri, appname);
	}
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
					       CONN_DEFAULT_TIMEOUT_MS);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS,
					       CONN_DEFAULT_TIMEOUT_MS);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
					       CONN_DEFAULT_SOCKET_TIMEOUT_MS);
	if (timeout_ms > 0) {
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout_ms);
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, timeout_ms);
	}
	if (!mongoc_uri_has_option(uri, MONGOC_URI_RETRYWRITES))
		mongoc_uri_set_option_as_bool(uri, MONGOC_URI_RETRYWRITES, true);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_RETRYREADS))
		mongoc_uri_set_option_as_bool(uri, MONGOC_URI_RETRYREADS, true);
	return uri;
}

/*
 * After a failed server selection with replicaSet in uri: asks each host
 * directly (hello needs no login) what it is. A mongos, or a replica set
 * of another name, fills error (exit 64) and returns true; anything else
 * (no answer, TLS, SRV) returns false and leaves error alone.
 */
static bool
explain_replica_set_mismatch(const mongoc_uri_t *uri, const char *role, bson_error_t *error)
{
	const char *want = mongoc_uri_get_replica_set(uri);
	bool explained = false;

	if (!want || mongoc_uri_get_tls(uri) || mongoc_uri_get_srv_hostname(uri))
		return false;
	for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri); h && !explained;
	     h = h->next) {
		char *text =
			bson_strdup_printf("mongodb://%s/?directConnection=true&"
					   "serverSelectionTimeoutMS=2000&connectTimeoutMS=2000",
					   h->host_and_port);
		mongoc_client_t *probe = mongoc_client_new(text);
		bson_t cmd = BSON_INITIALIZER, reply;
		bson_iter_t it;

		BSON_APPEND_INT32(&cmd, "hello", 1);
		if (probe &&
		    mongoc_client_command_simple(probe, "admin", &cmd, NULL, &reply, NULL)) {
			if (bson_iter_init_find(&it, &reply, "msg") && BSON_ITER_HOLDS_UTF8(&it) &&
			    strcmp(bson_iter_utf8(&it, NULL), "isdbgrid") == 0) {
				csm_error_set(
					error, CSM_EXIT_USAGE,
					"the %s URI names replicaSet '%s' but '%s' is a mongos "
					"(a sharded cluster's router): remove replicaSet from "
					"the URI",
					role_side(role), want, h->host_and_port);
				explained = true;
			} else if (bson_iter_init_find(&it, &reply, "setName") &&
				   BSON_ITER_HOLDS_UTF8(&it) &&
				   strcmp(bson_iter_utf8(&it, NULL), want) != 0) {
				csm_error_set(
					error, CSM_EXIT_USAGE,
					"the %s URI names replicaSet '%s' but '%s' belongs to "
					"replica set '%s': fix replicaSet in the URI",
					role_side(role), want, h->host_and_port,
					bson_iter_utf8(&it, NULL));
				explained = true;
			}
		}
		if (probe)
			bson_destroy(&reply);
		bson_destroy(&cmd);
		mongoc_client_destroy(probe);
		bson_free(text);
	}
	return explained;
}

/* Pings through client; on failure fills error (exit 69) naming the hosts. */
static bool
ping(mongoc_client_t *client, const mongoc_uri_t *uri, const char *role, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER;
	bson_error_t ping_error;
	char *hosts, *detail;
	bool ok;

	BSON_APPEND_INT32(&cmd, "ping", 1);
	ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, NULL, &ping_error);
	bson_destroy(&cmd);
	if (ok)
		return true;
	if (ping_error.domain == MONGOC_ERROR_SERVER_SELECTION &&
	    explain_replica_set_mismatch(uri, role, error))
		return false;
	hosts = uri_host_list(uri);
	detail = redact_uri_text(ping_error.message);
	if (ping_error.domain == MONGOC_ERROR_CLIENT &&
	    ping_error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
		csm_error_set(error, CSM_EXIT_UNAVAILABLE,
			      "cannot log in to the %s server '%s': %s; check the user, password "
			      "and authSource in the URI",
			      role_side(role), hosts, detail ? detail : "");
	else
		csm_error_set(error, CSM_EXIT_UNAVAILABLE,
			      "cannot reach the %s server '%s': %s; check the URI and that the "
			      "server is running",
			      role_side(role), hosts, detail ? detail : "");
	free(detail);
	bson_free(hosts);
	return false;
}

mongoc_client_t *
conn_client_new(const char *uri_text, const char *role, bson_error_t *error)
{
	return conn_client_new_for(uri_text, role, role, 0, error);
}

mongoc_client_t *
conn_client_new_for(const char *uri_text, const char *role, const char *app, int32_t timeout_ms,
		    bson_error_t *error)
{
	mongoc_uri_t *uri = NULL;
	mongoc_client_t *client = NULL;
	bson_error_t new_error;
	char *detail;

	uri = prepare_uri(uri_text, role, app, timeout_ms, error);
	if (!uri)
		goto fail;
	client = mongoc_client_new_from_uri_with_error(uri, &new_error);
	if (!client) {
		detail = redact_uri_text(new_error.message);
		csm_error_set(error, CSM_EXIT_USAGE, "cannot use the %s URI: %s", role_side(role),
			      detail ? detail : "");
		free(detail);
		goto fail;
	}
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	if (!ping(client, uri, role, error))
		goto fail;
	mongoc_uri_destroy(uri);
	return client;

fail:
	mongoc_client_destroy(client);
	mongoc_uri_destroy(uri);
	return NULL;
}

mongoc_client_pool_t *
conn_pool_new(const char *uri_text, const char *role, bson_error_t *error)
{
	mongoc_uri_t *uri = NULL;
	mongoc_client_pool_t *pool = NULL;
	mongoc_client_t *client;
	bson_error_t new_error;
	char *detail;
	bool ok;

	uri = prepare_uri(uri_text, role, role, 0, error);
	if (!uri)
		goto fail;
	pool = mongoc_client_pool_new_with_error(uri, &new_error);
	if (!pool) {
		detail = redact_uri_text(new_error.message);
		csm_error_set(error, CSM_EXIT_USAGE, "cannot use the %s URI: %s", role_side(role),
			      detail ? detail : "");
		free(detail);
		goto fail;
	}
	mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
	client = mongoc_client_pool_pop(pool);
	ok = ping(client, uri, role, error);
	mongoc_client_pool_push(pool, client);
	if (!ok)
		goto fail;
	mongoc_uri_destroy(uri);
	return pool;

fail:
	mongoc_client_pool_destroy(pool);
	mongoc_uri_destroy(uri);
	return NULL;
}
