/* Reading what cdc-status shows (status_view.h). */
#include "status_view.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bsonfield.h"
#include "clock.h"
#include "error.h"
#include "numparse.h"
#include "staging_format.h"
#include "staging_query.h"

#define LEASE_CAPTURE_PREFIX "lease:capture:"
#define TOKEN_SUFFIX ".token"

void
status_view_cleanup(status_view_t *v)
{
	if (v->has_checkpoint)
		checkpoint_cleanup(&v->cp);
	if (v->has_marker)
		restore_marker_cleanup(&v->marker);
	v->has_checkpoint = v->has_marker = false;
}

/* Adds name to the list unless it is there already. */
static void
list_add(char ***list, size_t *n, const char *name)
{
	for (size_t k = 0; k < *n; k++)
		if (strcmp((*list)[k], name) == 0)
			return;
	*list = bson_realloc(*list, (*n + 2) * sizeof **list);
	(*list)[(*n)++] = bson_strdup(name);
	(*list)[*n] = NULL;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ns a meta document is about, "" when none. */
static void
meta_doc_ns(const bson_t *doc, char *ns, size_t size)
{
	char id[512];

	ns[0] = '\0';
	if (bsonfield_utf8(doc, META_F_SOURCE_NS, ns, size))
		return;
	if (!bsonfield_utf8(doc, META_F_ID, id, sizeof id))
		return;
	if (strncmp(id, STAGING_CHECKPOINT_ID_PREFIX, strlen(STAGING_CHECKPOINT_ID_PREFIX)) == 0)
		bson_strncpy(ns, id + strlen(STAGING_CHECKPOINT_ID_PREFIX), size);
	else if (strncmp(id, LEASE_CAPTURE_PREFIX, strlen(LEASE_CAPTURE_PREFIX)) == 0)
		bson_strncpy(ns, id + strlen(LEASE_CAPTURE_PREFIX), size);
}

/* The token files "DB.*.token" of state_dir. */
static void
list_token_files(const char *state_dir, const char *db, char ***list, size_t *n)
{
	DIR *dir = opendir(state_dir);
	struct dirent *entry;
	size_t db_len = strlen(db), len;
	char ns[256];

	if (!dir)
		return;
	while ((entry = readdir(dir))) {
		len = strlen(entry->d_name);
		if (len <= db_len + 1 + strlen(TOKEN_SUFFIX) || len >= sizeof ns ||
		    strncmp(entry->d_name, db, db_len) != 0 || entry->d_name[db_len] != '.' ||
		    strcmp(entry->d_name + len - strlen(TOKEN_SUFFIX), TOKEN_SUFFIX) != 0)
			continue;
		memcpy(ns, entry->d_name, len - strlen(TOKEN_SUFFIX));
		ns[len - strlen(TOKEN_SUFFIX)] = '\0';
		list_add(list, n, ns);
	}
	closedir(dir);
}

/* The distinct ns of the staged documents (the {ns: 1, ...} indexes serve it). */
static bool
list_staged(mongoc_collection_t *staging, const char *prefix, char ***list, size_t *n,
	    bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, reply;
	bson_iter_t it, values;
	bool ok;

	BSON_APPEND_UTF8(&cmd, "distinct", mongoc_collection_get_name(staging));
	BSON_APPEND_UTF8(&cmd, "key", STAGED_F_NS);
	ok = mongoc_collection_read_command_with_opts(staging, &cmd, NULL, NULL, &reply, error);
	if (ok && bson_iter_init_find(&it, &reply, "values") && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &values))
		while (bson_iter_next(&values))
			if (BSON_ITER_HOLDS_UTF8(&values) &&
			    strncmp(bson_iter_utf8(&values, NULL), prefix, strlen(prefix)) == 0)
				list_add(list, n, bson_iter_utf8(&values, NULL));
	if (!ok)
		csm_error_prefix(error, "cannot list the staged namespaces of '%s'",
				 mongoc_collection_get_name(staging));
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return ok;
}

bool
status_view_list(mongoc_collection_t *staging, mongoc_collection_t *meta, const char *db,
		 const char *state_dir, char ***list, size_t *n, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, projection;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	char ns[256], *prefix = bson_strdup_printf("%s.", db);
	bool ok = true;

	*list = bson_malloc0(sizeof **list);
	*n = 0;
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &projection);
	BSON_APPEND_INT32(&projection, META_F_ID, 1);
	BSON_APPEND_INT32(&projection, META_F_SOURCE_NS, 1);
	bson_append_document_end(&opts, &projection);
	cursor = mongoc_collection_find_with_opts(meta, &filter, &opts, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		meta_doc_ns(doc, ns, sizeof ns);
		if (strncmp(ns, prefix, strlen(prefix)) == 0 && ns[strlen(prefix)])
			list_add(list, n, ns);
	}
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read '%s'", mongoc_collection_get_name(meta));
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	ok = ok && list_staged(staging, prefix, list, n, error);
	if (ok && state_dir)
		list_token_files(state_dir, db, list, n);
	qsort(*list, *n, sizeof **list, cmp_names);
	bson_free(prefix);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

/* The target ns of ns's restore marker (the one whose sourceNs is ns). */
static bool
find_target_ns(mongoc_collection_t *meta, const char *ns, char *target_ns, size_t size,
	       bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bool ok = true;

	bson_strncpy(target_ns, ns, size);
	BSON_APPEND_UTF8(&filter, META_F_SOURCE_NS, ns);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cursor = mongoc_collection_find_with_opts(meta, &filter, &opts, NULL);
	if (mongoc_cursor_next(cursor, &doc))
		bsonfield_utf8(doc, META_F_NS, target_ns, size);
	if (mongoc_cursor_error(cursor, error)) {
		csm_error_prefix(error, "cannot read the restore marker of '%s'", ns);
		ok = false;
	}
	mongoc_cursor_destroy(cursor);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

/* The staged counts and the newest applied event's time. */
static bool
read_staged(mongoc_collection_t *staging, status_view_t *v, bson_error_t *error)
{
	bson_t done;
	optime_t t;
	int64_t seq;

	if (!staging_query_edge(staging, v->ns, NULL, true, &v->staged, NULL, error) ||
	    !staging_query_count(staging, v->ns, STAGING_STATUS_PENDING, &v->pending, error) ||
	    !staging_query_count(staging, v->ns, NULL, &v->staging_docs, error) ||
	    !staging_query_edge(staging, v->ns, STAGING_STATUS_DONE, true, &seq, &done, error))
		return false;
	v->applied = seq;
	if (seq > 0) {
		v->applied_wall_ms = bsonfield_date(&done, STAGED_F_WALL_TIME);
		if (v->applied_wall_ms <= 0 && optime_from_doc(&done, STAGED_F_CLUSTER_TIME, &t))
			v->applied_wall_ms = (int64_t)t.t * 1000;
		bson_destroy(&done);
	}
	return true;
}

/* The target side of ns: checkpoint, marker, staged events, leases. */
static bool
read_target(mongoc_collection_t *staging, mongoc_collection_t *meta, status_view_t *v,
	    bson_error_t *error)
{
	char lease_name[300];
	bool found = false;

	checkpoint_init(&v->cp);
	v->has_checkpoint = true;
	if (!checkpoint_read(meta, v->ns, &v->cp, &found, error))
		return false;
	if (!found) {
		checkpoint_cleanup(&v->cp);
		v->has_checkpoint = false;
	}
	restore_marker_init(&v->marker);
	v->has_marker = true;
	if (!find_target_ns(meta, v->ns, v->target_ns, sizeof v->target_ns, error) ||
	    !marker_read(meta, v->target_ns, &v->marker, &found, error))
		return false;
	if (!found) {
		restore_marker_cleanup(&v->marker);
		v->has_marker = false;
	}
	if (!read_staged(staging, v, error))
		return false;
	bson_snprintf(lease_name, sizeof lease_name, "capture:%s", v->ns);
	if (!lease_read(meta, lease_name, &v->capture_lease, error))
		return false;
	bson_snprintf(lease_name, sizeof lease_name, "apply:%s", v->target_ns);
	return lease_read(meta, lease_name, &v->apply_lease, error);
}

/* Whether the pid file path names a live process of program (its comm). */
static bool
pid_file_live(const char *path, const char *program)
{
	char line[64] = "", comm_path[64], comm[64] = "", state_path[64], stat[256] = "";
	FILE *f = fopen(path, "r");
	int64_t pid;
	char *close_paren;

	if (!f)
		return false;
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (!parse_int64(line, 1, INT32_MAX, &pid) || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
		return false;
	snprintf(comm_path, sizeof comm_path, "/proc/%lld/comm", (long long)pid);
	snprintf(state_path, sizeof state_path, "/proc/%lld/stat", (long long)pid);
	if ((f = fopen(comm_path, "r"))) {
		if (!fgets(comm, sizeof comm, f))
			comm[0] = '\0';
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = '\0';
	if ((f = fopen(state_path, "r"))) {
		if (!fgets(stat, sizeof stat, f))
			stat[0] = '\0';
		fclose(f);
	}
	/* A zombie (state Z after the ")" of its name) is not running. */
	close_paren = strrchr(stat, ')');
	return strcmp(comm, program) == 0 &&
	       !(close_paren && close_paren[1] && close_paren[2] == 'Z');
}

#define LOG_TAIL_BYTES 65536

/* From a log line at error level, its time and "program: message" (false
 * when it is not one). */
static bool
error_of_line(const char *line, char *when, size_t when_size, char *out, size_t size)
{
	const char *msg = strstr(line, " error: ");
	json_t *json, *prog, *text;

	if (line[0] == '{' && (json = json_loads(line, 0, NULL))) {
		prog = json_object_get(json, "prog");
		text = json_object_get(json, "msg");
		bool is_error =
			json_is_string(json_object_get(json, "level")) &&
			strcmp(json_string_value(json_object_get(json, "level")), "error") == 0;
		if (is_error && json_is_string(text)) {
			snprintf(out, size, "%s: %s",
				 json_is_string(prog) ? json_string_value(prog) : "?",
				 json_string_value(text));
			snprintf(when, when_size, "%s",
				 json_is_string(json_object_get(json, "ts"))
					 ? json_string_value(json_object_get(json, "ts"))
					 : "");
		}
		json_decref(json);
		return is_error && json_is_string(text);
	}
	if (!msg || strchr(line, ' ') >= msg)
		return false;
	/* "TS PROGRAM error: MSG" */
	snprintf(when, when_size, "%.*s", (int)(strchr(line, ' ') - line), line);
	snprintf(out, size, "%.*s: %s", (int)(msg - strchr(line, ' ') - 1), strchr(line, ' ') + 1,
		 msg + strlen(" error: "));
	return true;
}

/* The newest error of log path's current run (after its last "--- " line)
 * into out when newer than *when (updated). */
static void
last_error_of_log(const char *path, char *when, size_t when_size, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	char *text, *line, *next, line_when[64], line_error[1024];
	long end;
	size_t len;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	end = ftell(f);
	fseek(f, end > LOG_TAIL_BYTES ? end - LOG_TAIL_BYTES : 0, SEEK_SET);
	text = bson_malloc(LOG_TAIL_BYTES + 1);
	len = fread(text, 1, LOG_TAIL_BYTES, f);
	text[len] = '\0';
	fclose(f);
	char run_when[64] = "", run_error[1024] = "";
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "--- ", 4) == 0)
			run_error[0] = run_when[0] = '\0';
		else if (error_of_line(line, line_when, sizeof line_when, line_error,
				       sizeof line_error)) {
			bson_strncpy(run_when, line_when, sizeof run_when);
			bson_strncpy(run_error, line_error, sizeof run_error);
		}
	}
	if (run_error[0] && strcmp(run_when, when) >= 0) {
		bson_strncpy(when, run_when, when_size);
		bson_strncpy(out, run_error, size);
	}
	bson_free(text);
}

/* The replay exit file: "STATUS WORD" (sync_migration.sh writes it). */
static void
read_replay_exit(const char *path, status_files_t *files)
{
	char line[128] = "", word[64] = "";
	FILE *f = fopen(path, "r");
	int status;

	if (!f)
		return;
	if (fgets(line, sizeof line, f) && sscanf(line, "%d %63s", &status, word) >= 1 &&
	    status >= 0 && status < 256) {
		files->replay_exit = status;
		files->replay_drained = status == 0 && strcmp(word, "drained") == 0;
	}
	fclose(f);
}

/* The state directory's files of ns. */
static void
read_files(const char *state_dir, const char *ns, status_files_t *files)
{
	char path[4096], when[64] = "";
	bson_error_t error;
	struct stat st;

	*files = (status_files_t){.replay_exit = -1, .throttle = {-1, -1, -1}};
#define STATE_PATH(suffix) (snprintf(path, sizeof path, "%s/%s%s", state_dir, ns, suffix), path)
	files->token = stat(STATE_PATH(".token"), &st) == 0;
	files->dump_pending = stat(STATE_PATH(".dump-pending"), &st) == 0;
	files->capture_running = pid_file_live(STATE_PATH(".capture.pid"), "cdc-capture");
	files->replay_running = pid_file_live(STATE_PATH(".replay.pid"), "cdc-replay");
	read_replay_exit(STATE_PATH(".replay.exit"), files);
	if (!throttle_file_read(STATE_PATH(".throttle"), &files->throttle, NULL, &error))
		bson_strncpy(files->last_error, error.message, sizeof files->last_error);
	last_error_of_log(STATE_PATH(".capture.log"), when, sizeof when, files->last_error,
			  sizeof files->last_error);
	last_error_of_log(STATE_PATH(".replay.log"), when, sizeof when, files->last_error,
			  sizeof files->last_error);
#undef STATE_PATH
}

bool
status_view_read(mongoc_collection_t *staging, mongoc_collection_t *meta, const char *ns,
		 const char *state_dir, status_view_t *v, bson_error_t *error)
{
	memset(v, 0, sizeof *v);
	bson_strncpy(v->ns, ns, sizeof v->ns);
	v->now_ms = clock_wall_ms();
	if (!read_target(staging, meta, v, error)) {
		status_view_cleanup(v);
		return false;
	}
	v->has_files = state_dir != NULL;
	if (state_dir)
		read_files(state_dir, ns, &v->files);
	return true;
}
