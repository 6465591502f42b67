/* Unit tests of the token file (tokenfile.h; docs/DESIGN.md, "Token file"). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "tokenfile.h"
#include "unit.h"

/* A fresh directory for one case (unit_scratch_dir). */
static const char *
scratch_dir(const char *name)
{
	return unit_scratch_dir("token", name);
}

/* A token file for shop.orders whose token _data is data. */
static void
make_token(token_file_t *tf, const char *data, uint32_t t)
{
	token_file_init(tf);
	tf->ns = bson_strdup("shop.orders");
	BSON_APPEND_UTF8(&tf->resume_token, "_data", data);
	tf->cluster_time = (optime_t){t, 7};
	tf->writer = bson_strdup("token-probe/dummy");
	tf->written_at_ms = 1764096353123; /* 2025-11-25T18:45:53.123Z */
}

static void
case_path(void)
{
	char *p;

	p = token_file_path("/var/state", "shop", "orders");
	CHECK_STR(p, "/var/state/shop.orders.token");
	bson_free(p);
	p = token_file_path("/var/state/", "shop", "orders");
	CHECK_STR(p, "/var/state/shop.orders.token");
	bson_free(p);
	p = token_file_path(NULL, "shop", "orders");
	CHECK_STR(p, "shop.orders.token");
	bson_free(p);
}

static void
case_round_trip(void)
{
	token_file_t in, out;
	bson_error_t error;
	char *path;

	path = token_file_path(scratch_dir("trip"), "shop", "orders");
	make_token(&in, "8263A1B2C3000000012B022C0100296E5A1004", 1700000000);
	/* A token need not be a plain string: keep every BSON type intact. */
	BSON_APPEND_INT64(&in.resume_token, "n", INT64_C(9007199254740993));
	CHECK(token_file_write(path, &in, &error));
	CHECK(token_file_read(path, &out, &error));
	CHECK_STR(out.ns, "shop.orders");
	CHECK(bson_equal(&in.resume_token, &out.resume_token));
	CHECK_INT(out.cluster_time.t, 1700000000);
	CHECK_INT(out.cluster_time.i, 7);
	CHECK_STR(out.writer, "token-probe/dummy");
	CHECK_INT(out.written_at_ms, 1764096353123);
	token_file_cleanup(&in);
	token_file_cleanup(&out);
	bson_free(path);
}

static void
case_plain_json_0600(void)
{
	token_file_t tf;
	bson_error_t error;
	json_error_t json_error;
	json_t *root;
	struct stat st;
	char *path;

	path = token_file_path(scratch_dir("json"), "shop", "orders");
	make_token(&tf, "82AB", 42);
	umask(0);
	CHECK(token_file_write(path, &tf, &error));
	umask(022);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	root = json_load_file(path, 0, &json_error);
	CHECK(root != NULL);
	CHECK_INT(json_integer_value(json_object_get(root, "version")), 1);
	CHECK_STR(json_string_value(json_object_get(root, "ns")), "shop.orders");
	CHECK_STR(json_string_value(json_object_get(json_object_get(root, "resumeToken"), "_data")),
		  "82AB");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(root, "clusterTime"), "t")),
		  42);
	CHECK_STR(json_string_value(json_object_get(root, "writtenAt")),
		  "2025-11-25T18:45:53.123Z");
	CHECK_STR(json_string_value(json_object_get(root, "writer")), "token-probe/dummy");
	json_decref(root);
	token_file_cleanup(&tf);
	bson_free(path);
}

static void
kill_myself(void)
{
	raise(SIGKILL);
}

/* A writer killed mid-write leaves the previous token readable
 * (docs/DESIGN.md, "Token file"). */
static void
case_crash_mid_write_keeps_old(void)
{
	token_file_t old_tf, new_tf, got;
	bson_error_t error;
	char *path;
	pid_t pid;
	int status = 0;

	path = token_file_path(scratch_dir("crash"), "shop", "orders");
	make_token(&old_tf, "82OLD", 100);
	make_token(&new_tf, "82NEW", 200);
	CHECK(token_file_write(path, &old_tf, &error));
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		fs_write_atomic_before_rename_hook = kill_myself;
		token_file_write(path, &new_tf, &error);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(token_file_read(path, &got, &error));
	CHECK(bson_equal(&got.resume_token, &old_tf.resume_token));
	CHECK_INT(got.cluster_time.t, 100);
	token_file_cleanup(&got);
	/* The new token was fully written to the temp file: only the rename
	 * was missing, and the next write succeeds. */
	CHECK(token_file_write(path, &new_tf, &error));
	CHECK(token_file_read(path, &got, &error));
	CHECK(bson_equal(&got.resume_token, &new_tf.resume_token));
	token_file_cleanup(&got);
	token_file_cleanup(&old_tf);
	token_file_cleanup(&new_tf);
	bson_free(path);
}

static void
case_missing_is_66(void)
{
	token_file_t tf;
	bson_error_t error;
	char *path;

	path = token_file_path(scratch_dir("missing"), "shop", "orders");
	CHECK(!token_file_read(path, &tf, &error));
	CHECK_INT(csm_exit_code(&error), 66);
	CHECK_CONTAINS(error.message, path);
	CHECK_CONTAINS(error.message, "does not exist: run token-probe first");
	token_file_cleanup(&tf);
	bson_free(path);
}

/* Every corrupt form: exit 65, the message names the file and the problem,
 * and the file is left as it was. */
static void
case_corrupt_is_65(void)
{
	static const struct {
		const char *text;
		const char *says;
	} forms[] = {
		{"", "empty"},
		{"\x89PNG\r\n\x1a\n\x00garbage", "not valid JSON"},
		{"{\"version\": 1, \"ns\": \"shop.orders\", \"resumeTok", "not valid JSON"},
		{"[1, 2]", "not a JSON object"},
		{"{\"ns\": \"a.b\"}", "field 'version' missing"},
		{"{\"version\": \"1\"}", "field 'version' is not an integer"},
		{"{\"version\": 2}", "version 2 is not supported"},
		{"{\"version\": 1, \"ns\": 5}", "field 'ns'"},
		{"{\"version\": 1, \"ns\": \"a.b\", \"clusterTime\": {\"t\": 1, \"i\": 1}}",
		 "field 'resumeToken' missing"},
		{"{\"version\": 1, \"ns\": \"a.b\", \"resumeToken\": \"82AB\"}",
		 "field 'resumeToken'"},
		{"{\"version\": 1, \"ns\": \"a.b\", \"resumeToken\": {\"_data\": {\"$numberLong\": "
		 "\"x\"}}}",
		 "field 'resumeToken' is not extended JSON"},
		{"{\"version\": 1, \"ns\": \"a.b\", \"resumeToken\": {\"_data\": \"82\"}, "
		 "\"clusterTime\": {\"t\": \"1\", \"i\": 0}}",
		 "field 'clusterTime'"},
		{"{\"version\": 1, \"ns\": \"a.b\", \"resumeToken\": {\"_data\": \"82\"}, "
		 "\"clusterTime\": {\"t\": -1, \"i\": 0}}",
		 "field 'clusterTime'"},
		{"{\"version\": 1, \"ns\": \"a.b\", \"resumeToken\": {\"_data\": \"82\"}, "
		 "\"clusterTime\": {\"t\": 1, \"i\": 0}, \"writtenAt\": \"yesterday\", \"writer\": "
		 "\"x\"}",
		 "field 'writtenAt'"},
		{"{\"version\": 1, \"ns\": \"a.b\", \"resumeToken\": {\"_data\": \"82\"}, "
		 "\"clusterTime\": {\"t\": 1, \"i\": 0}, \"writtenAt\": "
		 "\"2026-01-01T00:00:00.000Z\"}",
		 "field 'writer' missing"},
		{"{\"version\": 1, \"version\": 1}", "not valid JSON"},
	};
	token_file_t tf;
	bson_error_t error;
	char *path, *after;
	size_t i, len;

	path = token_file_path(scratch_dir("corrupt"), "shop", "orders");
	for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		/* The PNG form holds a NUL: write its bytes up to there and past. */
		len = i == 1 ? 15 : strlen(forms[i].text);
		CHECK(fs_write_atomic(path, forms[i].text, len, &error));
		memset(&error, 0, sizeof error);
		CHECK(!token_file_read(path, &tf, &error));
		if (csm_exit_code(&error) != 65)
			fprintf(stderr, "form %zu: exit %d: %s\n", i, csm_exit_code(&error),
				error.message);
		CHECK_INT(csm_exit_code(&error), 65);
		CHECK_CONTAINS(error.message, path);
		CHECK_CONTAINS(error.message, forms[i].says);
		CHECK_CONTAINS(error.message, "init_migration.sh");
		token_file_cleanup(&tf);
		after = fs_read_all(path, 1 << 20, &len, &error);
		CHECK(after && len == (i == 1 ? 15 : strlen(forms[i].text)) &&
		      memcmp(after, forms[i].text, len) == 0);
		free(after);
	}
	bson_free(path);
}

static const unit_case_t cases[] = {
	{"path", case_path},
	{"round_trip", case_round_trip},
	{"plain_json_0600", case_plain_json_0600},
	{"crash_mid_write_keeps_old", case_crash_mid_write_keeps_old},
	{"missing_is_66", case_missing_is_66},
	{"corrupt_is_65", case_corrupt_is_65},
};

UNIT_MAIN(cases)
