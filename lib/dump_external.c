#include "dump_external.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

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
	if (file != NULL)
		unlink(file);
	if (dir != NULL)
		rmdir(dir);
	bson_free(file);
	bson_free(dir);
}

/* Runs argv[0] with argv, its stdout sent to our stderr; waits. */
static bool
run_tool(char *const argv[], bson_error_t *error)
{
	posix_spawn_file_actions_t actions;
	pid_t pid;
	int status;
	int rc;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
	rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0) {
		csm_error_set(error, CSM_EXIT_UNAVAILABLE, "cannot run '%s': %s", argv[0],
			      strerror(rc));
		return false;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			csm_error_set(error, CSM_EXIT_SOFTWARE, "cannot wait for '%s': %s", argv[0],
				      strerror(errno));
			return false;
		}
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
	char *dir = NULL, *file = NULL, *config = NULL;
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
		ok = run_tool(argv, error);
	}
	remove_config(dir, file);
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
