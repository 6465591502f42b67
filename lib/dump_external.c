#include "dump_external.h"

#include <errno.h>
#include <fcntl.h>
#include <mongoc/mongoc.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "stop.h"

extern char **environ;

char *
dump_external_find(const char *program)
{
	const char *path = getenv("PATH");
	const char *start;

	if (path == NULL || *path == '\0')
		return NULL;
	start = path;
	for (;;) {
		const char *end = strchr(start, ':');
		size_t len = end ? (size_t)(end - start) : strlen(start);
		char *candidate =
			bson_strdup_printf("%.*s/%s", (int)len, len ? start : ".", program);
		struct stat st;

		if (len == 0) {
			bson_free(candidate);
			candidate = bson_strdup_printf("./%s", program);
		}
		if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(candidate, X_OK) == 0)
			return candidate;
		bson_free(candidate);
		if (end == NULL)
			return NULL;
		start = end + 1;
	}
}

/* A YAML double-quoted scalar holding text. */
static char *
yaml_quote(const char *text)
{
	bson_string_t *quoted = bson_string_new("\"");

	for (const char *p = text; *p; p++) {
		if (*p == '"' || *p == '\\')
			bson_string_append_c(quoted, '\\');
		bson_string_append_c(quoted, *p);
	}
	bson_string_append_c(quoted, '"');
	return bson_string_free(quoted, false);
}

/*
 * Creates <tmpdir>/dump-wrap.XXXXXX (0700) holding config.yaml (0600) with
 * `uri: "..."`. *dir and *file are bson_free()d by the caller after
 * remove_config().
 */
static bool
write_config(const char *uri, char **dir, char **file, bson_error_t *error)
{
	const char *tmp = getenv("TMPDIR");
	char *quoted = NULL;
	FILE *fp = NULL;
	int fd = -1;
	bool ok = false;

	*file = NULL;
	*dir = bson_strdup_printf("%s/dump-wrap.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(*dir) == NULL) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot create a private directory '%s': %s",
			      *dir, strerror(errno));
		bson_free(*dir);
		*dir = NULL;
		return false;
	}
	*file = bson_strdup_printf("%s/config.yaml", *dir);
	/* Even a stop whose deadline cuts dump-wrap short leaves no URI behind. */
	stop_remove_at_deadline(*dir);
	stop_remove_at_deadline(*file);
	fd = open(*file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot create '%s': %s", *file,
			      strerror(errno));
		goto cleanup;
	}
	fd = -1;
	quoted = yaml_quote(uri);
	fprintf(fp, "uri: %s\n", quoted);
	if (fflush(fp) != 0 || ferror(fp)) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot write '%s': %s", *file,
			      strerror(errno));
		goto cleanup;
	}
	ok = true;

cleanup:
	if (quoted != NULL) {
		/* The quoted copy holds the password too. */
		memset(quoted, 0, strlen(quoted));
		bson_free(quoted);
	}
	if (fp != NULL)
		fclose(fp);
	if (fd >= 0)
		close(fd);
	return ok;
}

static void
remove_config(char *dir, char *file)
{
	if (file != NULL) {
		unlink(file);
		stop_forget_path(file);
	}
	if (dir != NULL) {
		rmdir(dir);
		stop_forget_path(dir);
	}
	bson_free(file);
	bson_free(dir);
}

/* How long a tool has to exit after our SIGTERM before it gets SIGKILL. */
/* Well inside the stop deadline (STOP_GRACE_S), so the config file is
 * removed by dump-wrap itself. */
#define TOOL_TERM_GRACE_MS 2000
/* A longer output line is logged cut: never split, so no URI is either. */
#define TOOL_LINE_MAX 4096

/*
 * What the tool prints, a line at a time: each line is logged (at info, at
 * warn when it tells of a failure or an error, prefixed with the tool's
 * name), so it goes through the redactor like
 * every message (mongodump prints the URI it failed to connect to), and a
 * password of 4 characters or more is also hidden wherever it appears
 * outside a URI.
 */
typedef struct tool_output {
	const char *name;     /* "mongodump"; borrowed */
	const char *password; /* decoded, or NULL; borrowed */
	char line[TOOL_LINE_MAX + 1];
	size_t len;
	bool cut; /* the line in hand was too long: drop the rest of it */
} tool_output_t;

/* Replaces every occurrence of secret in line by "***" (secret is longer). */
static void
hide_literal(char *line, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	char *hit;

	if (n < 4)
		return;
	while ((hit = strstr(line, secret)) != NULL) {
		memcpy(hit, "***", 3);
		memmove(hit + 3, hit + n, strlen(hit + n) + 1);
	}
}

static void
tool_output_line(tool_output_t *out)
{
	bool failure;

	out->line[out->len] = '\0';
	hide_literal(out->line, out->password);
	/* "Failed: ..." is how the tools say why they stop: shown at warn,
	 * so --log-level warn keeps it. */
	failure = strcasestr(out->line, "failed") != NULL || strcasestr(out->line, "error") != NULL;
	log_msg(failure ? LOG_WARN : LOG_INFO, "%s: %s%s", out->name, out->line,
		out->cut ? " (line cut)" : "");
	out->len = 0;
	out->cut = false;
}

static void
tool_output_feed(tool_output_t *out, const char *data, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (data[k] == '\n') {
			tool_output_line(out);
			continue;
		}
		if (out->len == TOOL_LINE_MAX)
			out->cut = true;
		else if (!out->cut)
			out->line[out->len++] = data[k];
	}
}

/* Reads what is there on fd into out; false at end of file. */
static bool
tool_output_read(tool_output_t *out, int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	tool_output_feed(out, buf, (size_t)n);
	return true;
}

/* Starts argv[0] with its stdout and stderr on out_fd and the signals a
 * tool expects at their defaults (ours ignores SIGPIPE). */
static bool
tool_spawn(char *const argv[], int out_fd, pid_t *pid, bson_error_t *error)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t defaults;
	int rc;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
	posix_spawnattr_init(&attr);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, argv[0], &actions, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0)
		csm_error_set(error, CSM_EXIT_UNAVAILABLE, "cannot run '%s': %s", argv[0],
			      strerror(rc));
	return rc == 0;
}

/*
 * Relays the tool's output from fd until it has exited and its output
 * ended. A stop request (SIGINT/SIGTERM) is passed on as SIGTERM, and
 * SIGKILL follows after TOOL_TERM_GRACE_MS. Sets *status.
 */
static void
tool_wait(pid_t pid, int fd, tool_output_t *out, int *status)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int64_t termed_at = -1;
	bool reaped = false, open = true;

	while (!reaped || open) {
		if (!reaped && waitpid(pid, status, WNOHANG) == pid)
			reaped = true;
		if (!reaped && stop_requested() && termed_at < 0) {
			kill(pid, SIGTERM);
			termed_at = clock_mono_ms();
		}
		if (!reaped && termed_at >= 0 && clock_mono_ms() - termed_at > TOOL_TERM_GRACE_MS)
			kill(pid, SIGKILL);
		/* After the exit, what is left in the pipe; a child of the tool
		 * holding it open does not keep us. */
		if (poll(&pfd, 1, reaped ? 0 : 100) > 0)
			open = tool_output_read(out, fd);
		else if (reaped)
			open = false;
	}
	if (out->len > 0 || out->cut)
		tool_output_line(out);
}

/* Runs argv[0] with argv, its output relayed line by line (tool_output_t);
 * waits. A stop request stops it: csm_error_stopped(). */
static bool
run_tool(char *const argv[], const char *password, bson_error_t *error)
{
	tool_output_t out = {.password = password};
	const char *slash = strrchr(argv[0], '/');
	int fds[2];
	pid_t pid;
	int status = 0;
	bool ok;

	out.name = slash ? slash + 1 : argv[0];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot make a pipe for '%s': %s", argv[0],
			      strerror(errno));
		return false;
	}
	ok = tool_spawn(argv, fds[1], &pid, error);
	close(fds[1]);
	if (ok)
		tool_wait(pid, fds[0], &out, &status);
	close(fds[0]);
	if (!ok)
		return false;
	if (stop_requested()) {
		csm_error_stopped(error, "stopped by a signal while '%s' ran", argv[0]);
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFEXITED(status))
		csm_error_set(error, CSM_EXIT_UNAVAILABLE,
			      "'%s' failed with exit status %d; see its messages above", argv[0],
			      WEXITSTATUS(status));
	else
		csm_error_set(error, CSM_EXIT_UNAVAILABLE, "'%s' was killed by signal %d", argv[0],
			      WTERMSIG(status));
	return false;
}

/* The decoded password of uri, for tool_output_t; NULL when none. The
 * caller scrub_free()s it. */
static char *
uri_password(const char *uri)
{
	mongoc_uri_t *parsed = mongoc_uri_new_with_error(uri, NULL);
	const char *password = parsed ? mongoc_uri_get_password(parsed) : NULL;
	char *copy = password && *password ? bson_strdup(password) : NULL;

	mongoc_uri_destroy(parsed);
	return copy;
}

static void
scrub_free(char *secret)
{
	if (secret == NULL)
		return;
	for (volatile char *p = secret; *p; p++)
		*p = '\0';
	bson_free(secret);
}

static void
log_argv(char *const argv[])
{
	bson_string_t *line = bson_string_new(NULL);

	for (int k = 0; argv[k] != NULL; k++)
		bson_string_append_printf(line, "%s%s", k ? " " : "", argv[k]);
	log_info("running %s", line->str);
	bson_string_free(line, true);
}

/*
 * Runs `tool --config=F ARGS... [--gzip]`, uri in F (write_config), which
 * is removed once tool exits. Frees the n strings of args.
 */
static bool
run_with_config(const char *tool, const char *uri, char **args, int n, bool gzip,
		bson_error_t *error)
{
	char *dir = NULL, *file = NULL, *config = NULL, *password = uri_password(uri);
	char *argv[16] = {NULL};
	int argc = 0;
	bool ok = false;

	BSON_ASSERT(n + 4 <= (int)(sizeof argv / sizeof argv[0]));
	if (write_config(uri, &dir, &file, error)) {
		config = bson_strdup_printf("--config=%s", file);
		argv[argc++] = (char *)tool;
		argv[argc++] = config;
		for (int k = 0; k < n; k++)
			argv[argc++] = args[k];
		if (gzip)
			argv[argc++] = (char *)"--gzip";
		log_argv(argv);
		ok = run_tool(argv, password, error);
	}
	remove_config(dir, file);
	scrub_free(password);
	bson_free(config);
	for (int k = 0; k < n; k++)
		bson_free(args[k]);
	return ok;
}

bool
dump_external_dump(const char *mongodump, const char *uri, const char *db, const char *coll,
		   const char *out_root, bool gzip, bson_error_t *error)
{
	char *args[] = {
		bson_strdup_printf("--db=%s", db),
		bson_strdup_printf("--collection=%s", coll),
		bson_strdup_printf("--out=%s", out_root),
	};

	return run_with_config(mongodump, uri, args, (int)(sizeof args / sizeof args[0]), gzip,
			       error);
}

bool
dump_external_restore(const char *mongorestore, const char *uri, const char *db, const char *coll,
		      const char *to_db, const char *to_coll, const char *root, bool gzip, int jobs,
		      bson_error_t *error)
{
	char *args[6];
	int n = 0;

	args[n++] = bson_strdup_printf("--dir=%s", root);
	args[n++] = bson_strdup_printf("--nsInclude=%s.%s", db, coll);
	if (strcmp(db, to_db) != 0 || strcmp(coll, to_coll) != 0) {
		args[n++] = bson_strdup_printf("--nsFrom=%s.%s", db, coll);
		args[n++] = bson_strdup_printf("--nsTo=%s.%s", to_db, to_coll);
	}
	args[n++] = bson_strdup("--noIndexRestore");
	args[n++] = bson_strdup_printf("--numInsertionWorkersPerCollection=%d", jobs);
	return run_with_config(mongorestore, uri, args, n, gzip, error);
}
