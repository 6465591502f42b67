/*
 * The token file (tokenfile.h). The resume token is kept as canonical
 * extended JSON embedded as a JSON object, so the file is plain JSON that
 * jq and operators can read, and converts back to the exact BSON token.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "fsutil.h"
#include "tokenfile.h"

#define TOKEN_FILE_MAX (1024 * 1024)
#define TOKEN_FILE_ADVICE                                                                          \
	"restore it from a backup or start this collection over with init_migration.sh"

char *
token_file_path(const char *state_dir, const char *db, const char *coll)
{
	const char *sep = "/";
	char *name = coll ? bson_strdup_printf("%s.%s", db, coll) : bson_strdup(db);
	char *path;

	if (!state_dir || !*state_dir)
		state_dir = sep = "";
	else if (state_dir[strlen(state_dir) - 1] == '/')
		sep = "";
	path = bson_strdup_printf("%s%s%s.token", state_dir, sep, name);
	bson_free(name);
	return path;
}

void
token_file_init(token_file_t *tf)
{
	memset(tf, 0, sizeof *tf);
	bson_init(&tf->resume_token);
	bson_init(&tf->namespaces);
}

void
token_file_cleanup(token_file_t *tf)
{
	if (!tf)
		return;
	bson_free(tf->ns);
	bson_free(tf->writer);
	bson_destroy(&tf->resume_token);
	bson_destroy(&tf->namespaces);
	memset(tf, 0, sizeof *tf);
}

/* Parses "YYYY-MM-DDTHH:MM:SS[.mmm]Z" into Unix ms. */
static bool
parse_iso_ms(const char *text, int64_t *out)
{
	struct tm tm;
	int ms = 0, consumed = 0, ms_digits = 0;
	const char *p;

	memset(&tm, 0, sizeof tm);
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
	    consumed != 19)
		return false;
	p = text + consumed;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, ms_digits++)
			if (ms_digits < 3)
				ms = ms * 10 + (*p - '0');
		if (ms_digits == 0)
			return false;
		for (; ms_digits < 3; ms_digits++)
			ms *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return false;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) * 1000 + ms;
	return true;
}

/* A position file's "namespaces" (relaxed extended JSON: plain numbers). */
static bool
add_namespaces(json_t *root, const token_file_t *tf)
{
	json_error_t json_error;
	char *text;
	json_t *obj;

	if (bson_empty(&tf->namespaces))
		return true;
	text = bson_as_relaxed_extended_json(&tf->namespaces, NULL);
	obj = text ? json_loads(text, 0, &json_error) : NULL;
	bson_free(text);
	return obj && json_object_set_new(root, "namespaces", obj) == 0;
}

bool
token_file_write(const char *path, const token_file_t *tf, bson_error_t *error)
{
	char written_at[40];
	char *token_json = NULL, *text = NULL;
	json_t *root = NULL, *token = NULL;
	json_error_t json_error;
	size_t len;
	bool ok = false;

	token_json = bson_as_canonical_extended_json(&tf->resume_token, NULL);
	if (token_json)
		token = json_loads(token_json, 0, &json_error);
	if (!token) {
		csm_error_set(
			error, CSM_EXIT_SOFTWARE,
			"cannot write token file '%s': the resume token does not convert to JSON",
			path);
		goto cleanup;
	}
	clock_format_utc(tf->written_at_ms ? tf->written_at_ms : clock_wall_ms(), true, written_at,
			 sizeof written_at);
	root = json_pack("{s:i, s:s, s:o, s:{s:I, s:I}, s:s, s:s}", "version", TOKEN_FILE_VERSION,
			 "ns", tf->ns ? tf->ns : "", "resumeToken", token, "clusterTime", "t",
			 (json_int_t)tf->cluster_time.t, "i", (json_int_t)tf->cluster_time.i,
			 "writtenAt", written_at, "writer", tf->writer ? tf->writer : "");
	token = NULL; /* stolen by "o", even on failure */
	if (!root || !add_namespaces(root, tf)) {
		csm_error_set(error, CSM_EXIT_SOFTWARE,
			      "cannot write token file '%s': cannot build its JSON", path);
		goto cleanup;
	}
	text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_INDENT(2));
	if (!text) {
		csm_error_set(error, CSM_EXIT_SOFTWARE,
			      "cannot write token file '%s': cannot encode its JSON", path);
		goto cleanup;
	}
	len = strlen(text);
	text = realloc(text, len + 2);
	if (!text) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot write token file '%s': out of memory",
			      path);
		goto cleanup;
	}
	text[len++] = '\n';
	text[len] = '\0';
	if (!fs_write_atomic(path, text, len, error)) {
		if (error)
			error->code = CSM_EXIT_IOERR;
		goto cleanup;
	}
	ok = true;

cleanup:
	free(text);
	json_decref(root);
	json_decref(token);
	bson_free(token_json);
	return ok;
}

static bool
corrupt(bson_error_t *error, const char *path, const char *what)
{
	csm_error_set(error, CSM_EXIT_DATAERR, "token file '%s' is corrupt: %s; " TOKEN_FILE_ADVICE,
		      path, what);
	return false;
}

/* Reads a uint32 field of obj into out; false when absent or out of range. */
static bool
get_u32(json_t *obj, const char *key, uint32_t *out)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!json_is_integer(v))
		return false;
	n = json_integer_value(v);
	if (n < 0 || n > (json_int_t)UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

/*
 * Reads path and parses it as one JSON object; NULL with error filled (66
 * missing, 74 unreadable, 65 empty or not a JSON object). json_decref() it.
 */
static json_t *
load_json_object(const char *path, bson_error_t *error)
{
	char what[sizeof(bson_error_t) + 100];
	json_error_t json_error;
	json_t *root = NULL;
	char *text;
	size_t len;

	text = fs_read_all(path, TOKEN_FILE_MAX, &len, error);
	if (!text) {
		if (error && error->domain == CSM_ERROR_DOMAIN && error->code == CSM_EXIT_NOINPUT)
			csm_error_set(error, CSM_EXIT_NOINPUT,
				      "token file '%s' does not exist: run token-probe first",
				      path);
		else
			csm_error_prefix(error, "cannot read token file '%s'", path);
		return NULL;
	}
	if (len == 0) {
		corrupt(error, path, "the file is empty");
		goto done;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &json_error);
	if (!root) {
		snprintf(what, sizeof what, "not valid JSON (line %d: %s)", json_error.line,
			 json_error.text);
		corrupt(error, path, what);
	} else if (!json_is_object(root)) {
		corrupt(error, path, "not a JSON object");
		json_decref(root);
		root = NULL;
	}
done:
	free(text);
	return root;
}

/* root's field key (borrowed), or NULL with "field 'key' missing". */
static json_t *
field(json_t *root, const char *key, const char *path, bson_error_t *error)
{
	json_t *v = json_object_get(root, key);
	char what[100];

	if (!v) {
		snprintf(what, sizeof what, "field '%s' missing", key);
		corrupt(error, path, what);
	}
	return v;
}

static bool
read_version(json_t *root, const char *path, bson_error_t *error)
{
	char what[100];
	json_t *v = field(root, "version", path, error);

	if (!v)
		return false;
	if (!json_is_integer(v))
		return corrupt(error, path, "field 'version' is not an integer");
	if (json_integer_value(v) == TOKEN_FILE_VERSION)
		return true;
	snprintf(what, sizeof what,
		 "version %" JSON_INTEGER_FORMAT " is not supported (expected %d)",
		 json_integer_value(v), TOKEN_FILE_VERSION);
	return corrupt(error, path, what);
}

/* resumeToken: a non-empty object holding extended JSON, into tf. */
static bool
read_resume_token(json_t *root, token_file_t *tf, const char *path, bson_error_t *error)
{
	char what[sizeof(bson_error_t) + 100];
	bson_error_t bson_error;
	char *token_json;
	json_t *v = field(root, "resumeToken", path, error);
	bool ok = true;

	if (!v)
		return false;
	if (!json_is_object(v) || json_object_size(v) == 0)
		return corrupt(error, path, "field 'resumeToken' is not a non-empty object");
	token_json = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	bson_destroy(&tf->resume_token);
	if (!token_json || !bson_init_from_json(&tf->resume_token, token_json, -1, &bson_error)) {
		bson_init(&tf->resume_token);
		snprintf(what, sizeof what, "field 'resumeToken' is not extended JSON (%s)",
			 token_json ? bson_error.message : "out of memory");
		ok = corrupt(error, path, what);
	}
	free(token_json);
	return ok;
}

/* namespaces, when there: an object of objects, into tf. */
static bool
read_namespaces(json_t *root, token_file_t *tf, const char *path, bson_error_t *error)
{
	json_t *v = json_object_get(root, "namespaces");
	bson_error_t bson_error;
	char *text;
	bool ok;

	if (!v)
		return true;
	if (!json_is_object(v))
		return corrupt(error, path, "field 'namespaces' is not an object");
	text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	bson_destroy(&tf->namespaces);
	ok = text && bson_init_from_json(&tf->namespaces, text, -1, &bson_error);
	free(text);
	if (!ok) {
		bson_init(&tf->namespaces);
		return corrupt(error, path, "field 'namespaces' is not extended JSON");
	}
	return true;
}

bool
token_file_read(const char *path, token_file_t *tf, bson_error_t *error)
{
	json_t *root, *v;
	bool ok = false;

	token_file_init(tf);
	root = load_json_object(path, error);
	if (!root || !read_version(root, path, error))
		goto cleanup;
	if (!(v = field(root, "ns", path, error)))
		goto cleanup;
	if (!json_is_string(v) || !strchr(json_string_value(v), '.')) {
		corrupt(error, path, "field 'ns' is not a \"db.collection\" string");
		goto cleanup;
	}
	tf->ns = bson_strdup(json_string_value(v));
	if (!read_resume_token(root, tf, path, error))
		goto cleanup;
	if (!(v = field(root, "clusterTime", path, error)))
		goto cleanup;
	if (!json_is_object(v) || !get_u32(v, "t", &tf->cluster_time.t) ||
	    !get_u32(v, "i", &tf->cluster_time.i)) {
		corrupt(error, path, "field 'clusterTime' is not {\"t\": uint32, \"i\": uint32}");
		goto cleanup;
	}
	if (!(v = field(root, "writtenAt", path, error)))
		goto cleanup;
	if (!json_is_string(v) || !parse_iso_ms(json_string_value(v), &tf->written_at_ms)) {
		corrupt(error, path, "field 'writtenAt' is not an ISO-8601 UTC time");
		goto cleanup;
	}
	if (!(v = field(root, "writer", path, error)))
		goto cleanup;
	if (!json_is_string(v)) {
		corrupt(error, path, "field 'writer' is not a string");
		goto cleanup;
	}
	tf->writer = bson_strdup(json_string_value(v));
	ok = read_namespaces(root, tf, path, error);

cleanup:
	if (!ok) {
		token_file_cleanup(tf);
		token_file_init(tf);
	}
	json_decref(root);
	return ok;
}
