/* What the state directory says of one namespace (status_files.h). */
#include "status_files.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bson/bson.h>
#include <jansson.h>

#include "numparse.h"

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

void
status_files_read(const char *state_dir, const char *ns, status_files_t *files)
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
