/* Unit tests of connection options and clients (conn.h). No server is
 * needed: the failures are what is tested; a URI given as argument to the
 * "reachable" case checks a real connection. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "error.h"
#include "log.h"
#include "unit.h"

#define UNREACHABLE                                                                                \
	"mongodb://app:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"

static char scratch[512];

static const char *
scratch_file(const char *name, const char *text, mode_t mode)
{
	const char *base = getenv("BATS_TEST_TMPDIR");
	int fd;

	snprintf(scratch, sizeof scratch, "%s/conn-%s-%d", base ? base : "/tmp", name,
		 (int)getpid());
	unlink(scratch);
	fd = open(scratch, O_CREAT | O_WRONLY | O_TRUNC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fprintf(stderr, "cannot write %s: %s\n", scratch, strerror(errno));
	if (fd >= 0)
		close(fd);
	chmod(scratch, mode);
	return scratch;
}

static void
case_malformed_uri_is_64(void)
{
	static const char *const bad[] = {
		"http://app:hunter2@h/db",
		"mongodb://app:hunter2@h:notaport/db",
		"mongodb://app:hunter2@/db",
		"mongodb://app:hunter2@h/db?replicaSet=",
		"",
	};
	conn_opts_t opts = {0};
	bson_error_t error;
	size_t i;

	unsetenv("SOURCE_URI");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(conn_opts_take(&opts, CONN_OPT_SOURCE_URI, bad[i], &error), 1);
		memset(&error, 0, sizeof error);
		CHECK(!conn_opts_resolve(&opts, true, false, &error));
		CHECK_INT(csm_exit_code(&error), 64);
		CHECK_CONTAINS(error.message, "source URI");
		CHECK_LACKS(error.message, "hunter2");
		conn_opts_cleanup(&opts);
	}
	/* conn_client_new parses too. */
	memset(&error, 0, sizeof error);
	CHECK(conn_client_new("mongodb://app:hunter2@h:notaport/", "target", &error) == NULL);
	CHECK_INT(csm_exit_code(&error), 64);
	CHECK_LACKS(error.message, "hunter2");
}

/* libmongoc's parse errors quote the password ('Password "s3cr3t:Zebra"
 * must not have unescaped chars'): none of it may reach the message. */
static void
case_parse_error_hides_password(void)
{
	static const char *const bad[] = {
		"mongodb://migrator:s3cr3t:Zebra@h/db",
		"mongodb://migrator:s3cr3t Zebra:x@h/db",
		"mongodb://migrator:s3cr3t%zzZebra@h/db",
		"mongodb://migrator:s3cr3tZebra@h:99999/db",
		"mongodb://migrator:s3cr3tZebra@h/db?wtimeoutMS=abc",
	};
	conn_opts_t opts = {0};
	bson_error_t error;
	size_t i;

	unsetenv("TARGET_URI");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(conn_opts_take(&opts, CONN_OPT_TARGET_URI, bad[i], &error), 1);
		memset(&error, 0, sizeof error);
		CHECK(!conn_opts_resolve(&opts, false, true, &error));
		CHECK_INT(csm_exit_code(&error), 64);
		CHECK_CONTAINS(error.message, "invalid target URI: ");
		CHECK_LACKS(error.message, "s3cr3t");
		CHECK_LACKS(error.message, "Zebra");
		conn_opts_cleanup(&opts);
	}
	/* The password is what is wrong: said so, and how to write it. */
	CHECK_INT(conn_opts_take(&opts, CONN_OPT_TARGET_URI, bad[0], &error), 1);
	CHECK(!conn_opts_resolve(&opts, false, true, &error));
	CHECK_CONTAINS(error.message, "the user name or password holds a character that must be "
				      "percent-encoded");
	conn_opts_cleanup(&opts);
	/* A message about something else keeps its words. */
	CHECK_INT(conn_opts_take(&opts, CONN_OPT_TARGET_URI, bad[4], &error), 1);
	CHECK(!conn_opts_resolve(&opts, false, true, &error));
	CHECK_CONTAINS(error.message, "\"wtimeoutms\"");
	conn_opts_cleanup(&opts);
	/* A client's role is not the user's word: the side is. */
	memset(&error, 0, sizeof error);
	CHECK(conn_client_new(bad[0], "cdc-capture-target", &error) == NULL);
	CHECK_CONTAINS(error.message, "invalid target URI: ");
	CHECK_LACKS(error.message, "Zebra");
}

static void
case_missing_uri_is_64(void)
{
	conn_opts_t opts = {0};
	bson_error_t error;

	unsetenv("SOURCE_URI");
	unsetenv("TARGET_URI");
	CHECK(!conn_opts_resolve(&opts, false, true, &error));
	CHECK_INT(csm_exit_code(&error), 64);
	CHECK_CONTAINS(error.message, "no target URI");
	CHECK_CONTAINS(error.message, "TARGET_URI");
	/* Not needed: not asked for. */
	CHECK(conn_opts_resolve(&opts, false, false, &error));
	conn_opts_cleanup(&opts);
}

static void
case_env_fallback(void)
{
	conn_opts_t opts = {0};
	bson_error_t error;

	setenv("SOURCE_URI", "mongodb://env-host:27017/", 1);
	setenv("TARGET_URI", "mongodb://env-target:27017/", 1);
	CHECK_INT(conn_opts_take(&opts, CONN_OPT_TARGET_URI, "mongodb://flag-target/", &error), 1);
	CHECK(conn_opts_resolve(&opts, true, true, &error));
	CHECK_STR(opts.source_uri, "mongodb://env-host:27017/");
	CHECK_STR(opts.target_uri, "mongodb://flag-target/");
	conn_opts_cleanup(&opts);
	CHECK(opts.source_uri == NULL && opts.target_uri == NULL);
	unsetenv("SOURCE_URI");
	unsetenv("TARGET_URI");
}

static void
case_uri_file(void)
{
	conn_opts_t opts = {0};
	bson_error_t error;
	const char *path;

	path = scratch_file("file", "mongodb://app:hunter2@file-host/\n\n", 0600);
	CHECK_INT(conn_opts_take(&opts, CONN_OPT_SOURCE_URI_FILE, path, &error), 1);
	CHECK_STR(opts.source_uri, "mongodb://app:hunter2@file-host/");
	/* --source-uri wins over the file, given before or after it. */
	CHECK_INT(conn_opts_take(&opts, CONN_OPT_SOURCE_URI, "mongodb://flag-host/", &error), 1);
	CHECK_INT(conn_opts_take(&opts, CONN_OPT_SOURCE_URI_FILE, path, &error), 1);
	CHECK_STR(opts.source_uri, "mongodb://flag-host/");
	CHECK_INT(conn_opts_take(&opts, 'v', NULL, &error), 0);
	conn_opts_cleanup(&opts);

	CHECK_INT(conn_opts_take(&opts, CONN_OPT_TARGET_URI_FILE, "/nonexistent/uri", &error), -1);
	CHECK_INT(csm_exit_code(&error), 66);
	CHECK_CONTAINS(error.message, "/nonexistent/uri");
	CHECK_CONTAINS(error.message, "target URI file");

	path = scratch_file("empty", " \n", 0600);
	CHECK_INT(conn_opts_take(&opts, CONN_OPT_TARGET_URI_FILE, path, &error), -1);
	CHECK_INT(csm_exit_code(&error), 64);
	CHECK_CONTAINS(error.message, "is empty");
	conn_opts_cleanup(&opts);
}

static void
case_readable_uri_file_warns(void)
{
	conn_opts_t opts = {0};
	bson_error_t error;
	const char *path;
	int saved, fd;
	FILE *capture;
	char out[2048] = "";
	ssize_t n;

	log_init("test_conn", LOG_INFO, LOG_FORMAT_HUMAN);
	path = scratch_file("open", "mongodb://app:hunter2@h/\n", 0644);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	capture = tmpfile();
	fd = fileno(capture);
	dup2(fd, STDERR_FILENO);
	CHECK_INT(conn_opts_take(&opts, CONN_OPT_SOURCE_URI_FILE, path, &error), 1);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, sizeof out - 1);
	out[n > 0 ? n : 0] = '\0';
	fclose(capture);
	CHECK_CONTAINS(out, "test_conn warn: source URI file");
	CHECK_CONTAINS(out, "readable by group or others; chmod 600 it");
	CHECK_LACKS(out, "hunter2");
	CHECK_STR(opts.source_uri, "mongodb://app:hunter2@h/");
	conn_opts_cleanup(&opts);
}

static void
case_unreachable_is_69(void)
{
	bson_error_t error;
	mongoc_client_t *client;
	mongoc_client_pool_t *pool;

	memset(&error, 0, sizeof error);
	client = conn_client_new(UNREACHABLE, "source", &error);
	CHECK(client == NULL);
	CHECK_INT(csm_exit_code(&error), 69);
	CHECK_CONTAINS(error.message, "cannot reach the source server '127.0.0.1:1': ");
	CHECK_CONTAINS(error.message, "; check the URI and that the server is running");
	CHECK_LACKS(error.message, "hunter2");
	mongoc_client_destroy(client);

	memset(&error, 0, sizeof error);
	pool = conn_pool_new(UNREACHABLE, "target", &error);
	CHECK(pool == NULL);
	CHECK_INT(csm_exit_code(&error), 69);
	CHECK_CONTAINS(error.message, "cannot reach the target server '127.0.0.1:1': ");
	CHECK_LACKS(error.message, "hunter2");
	mongoc_client_pool_destroy(pool);
}

/* With CSM_TEST_URI set: a client and a pool on a live server ping, with
 * the error API at 2 (server errors in MONGOC_ERROR_SERVER). */
static void
case_reachable(void)
{
	const char *uri = getenv("CSM_TEST_URI");
	bson_error_t error;
	mongoc_client_t *client;
	mongoc_client_pool_t *pool;
	bson_t cmd = BSON_INITIALIZER;

	if (!uri) {
		fprintf(stderr, "CSM_TEST_URI not set\n");
		CHECK(uri != NULL);
		return;
	}
	client = conn_client_new(uri, "source", &error);
	CHECK(client != NULL);
	if (!client)
		fprintf(stderr, "%s\n", error.message);
	BSON_APPEND_INT32(&cmd, "noSuchCommandAtAll", 1);
	if (client) {
		CHECK(!mongoc_client_command_simple(client, "admin", &cmd, NULL, NULL, &error));
		CHECK_INT(error.domain, MONGOC_ERROR_SERVER);
		CHECK_INT(error.code, 59); /* CommandNotFound */
	}
	mongoc_client_destroy(client);
	pool = conn_pool_new(uri, "target", &error);
	CHECK(pool != NULL);
	mongoc_client_pool_destroy(pool);
	bson_destroy(&cmd);
}

static const unit_case_t cases[] = {
	{"malformed_uri_is_64", case_malformed_uri_is_64},
	{"parse_error_hides_password", case_parse_error_hides_password},
	{"missing_uri_is_64", case_missing_uri_is_64},
	{"env_fallback", case_env_fallback},
	{"uri_file", case_uri_file},
	{"readable_uri_file_warns", case_readable_uri_file_warns},
	{"unreachable_is_69", case_unreachable_is_69},
	{"reachable", case_reachable},
};

int
main(int argc, char **argv)
{
	static const char *const defaults[] = {
		"",
		"malformed_uri_is_64",
		"parse_error_hides_password",
		"missing_uri_is_64",
		"env_fallback",
		"uri_file",
		"readable_uri_file_warns",
		"unreachable_is_69",
	};
	int rc;

	conn_global_init();
	if (argc < 2)
		rc = unit_main(cases, sizeof cases / sizeof cases[0],
			       (int)(sizeof defaults / sizeof defaults[0]), (char **)defaults);
	else
		rc = unit_main(cases, sizeof cases / sizeof cases[0], argc, argv);
	conn_global_cleanup();
	return rc;
}
