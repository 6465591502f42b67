/* Unit tests of the crash-safe file helpers (fsutil.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "unit.h"

/* A fresh directory for one case (unit_scratch_dir). */
static const char *
scratch_dir(const char *name)
{
	return unit_scratch_dir("fsutil", name);
}

static char *
slurp(const char *path)
{
	bson_error_t error;

	return fs_read_all(path, 1 << 20, NULL, &error);
}

static int
mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static void
case_write_creates_0600(void)
{
	bson_error_t error;
	char path[600], tmp[700];
	char *text;
	mode_t old_umask = umask(0);

	snprintf(path, sizeof path, "%s/state.json", scratch_dir("create"));
	CHECK(fs_write_atomic(path, "hello\n", 6, &error));
	text = slurp(path);
	CHECK_STR(text, "hello\n");
	free(text);
	CHECK_INT(mode_of(path), 0600);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	CHECK(access(tmp, F_OK) != 0);
	umask(old_umask);
}

static void
case_overwrite_fixes_mode(void)
{
	bson_error_t error;
	char path[600], tmp[700];
	char *text;
	int fd;

	snprintf(path, sizeof path, "%s/state.json", scratch_dir("overwrite"));
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "old old old", 11) == 11);
	close(fd);
	chmod(path, 0644);
	/* A stale temp file from an earlier crash, readable by all. */
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_CREAT | O_WRONLY, 0644);
	close(fd);
	chmod(tmp, 0644);
	CHECK(fs_write_atomic(path, "new", 3, &error));
	text = slurp(path);
	CHECK_STR(text, "new");
	free(text);
	CHECK_INT(mode_of(path), 0600);
	CHECK(access(tmp, F_OK) != 0);
}

static void
kill_myself(void)
{
	raise(SIGKILL);
}

static void
case_crash_before_rename_keeps_old(void)
{
	bson_error_t error;
	char path[600];
	char *text;
	pid_t pid;
	int status = 0;

	snprintf(path, sizeof path, "%s/state.json", scratch_dir("crash"));
	CHECK(fs_write_atomic(path, "old", 3, &error));
	pid = fork();
	if (pid == 0) {
		fs_write_atomic_before_rename_hook = kill_myself;
		fs_write_atomic(path, "new", 3, &error);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	text = slurp(path);
	CHECK_STR(text, "old");
	free(text);
	/* The next write goes through despite the stale temp file. */
	CHECK(fs_write_atomic(path, "newer", 5, &error));
	text = slurp(path);
	CHECK_STR(text, "newer");
	free(text);
}

static void
case_write_error_names_path(void)
{
	bson_error_t error;
	char path[600];

	snprintf(path, sizeof path, "%s/no/such/dir/state.json", scratch_dir("werr"));
	memset(&error, 0, sizeof error);
	CHECK(!fs_write_atomic(path, "x", 1, &error));
	CHECK_INT(csm_exit_code(&error), 74);
	CHECK_CONTAINS(error.message, "no/such/dir/state.json");
	CHECK_CONTAINS(error.message, strerror(ENOENT));
}

static void
case_read_all(void)
{
	bson_error_t error;
	const char *dir = scratch_dir("read");
	char path[600];
	char *text;
	size_t len = 0;

	snprintf(path, sizeof path, "%s/data", dir);
	CHECK(fs_write_atomic(path, "a\0b", 3, &error));
	text = fs_read_all(path, 100, &len, &error);
	CHECK(text && len == 3 && memcmp(text, "a\0b", 4) == 0);
	free(text);
	/* Bigger than allowed: 74, naming the file. */
	text = fs_read_all(path, 2, &len, &error);
	CHECK(text == NULL);
	CHECK_INT(csm_exit_code(&error), 74);
	CHECK_CONTAINS(error.message, path);
	/* Missing: 66. */
	snprintf(path, sizeof path, "%s/missing", dir);
	text = fs_read_all(path, 100, &len, &error);
	CHECK(text == NULL);
	CHECK_INT(csm_exit_code(&error), 66);
	CHECK_CONTAINS(error.message, path);
}

static void
case_mkdir_p(void)
{
	bson_error_t error;
	char dir[700], file[800], sub[900];

	snprintf(dir, sizeof dir, "%s/a/b/c", scratch_dir("mkdir"));
	CHECK(fs_mkdir_p(dir, &error));
	CHECK_INT(mode_of(dir), 0700);
	CHECK(fs_mkdir_p(dir, &error)); /* existing: fine */
	snprintf(file, sizeof file, "%s/file", dir);
	CHECK(fs_write_atomic(file, "x", 1, &error));
	snprintf(sub, sizeof sub, "%s/sub", file);
	CHECK(!fs_mkdir_p(sub, &error));
	CHECK_INT(csm_exit_code(&error), 74);
	CHECK_CONTAINS(error.message, "file");
}

static void
case_fsync_dir(void)
{
	bson_error_t error;
	char missing[700];

	CHECK(fs_fsync_dir(scratch_dir("fsyncdir"), &error));
	snprintf(missing, sizeof missing, "%s/nosuch", scratch_dir("fsyncdir"));
	CHECK(!fs_fsync_dir(missing, &error));
	CHECK_INT(csm_exit_code(&error), 74);
	CHECK_CONTAINS(error.message, "cannot open directory");
	CHECK_CONTAINS(error.message, missing);
}

/* A pipe holding n bytes of 'x', its write end closed: the read end. */
static int
pipe_of(size_t n)
{
	char buf[4096];
	int fds[2];

	if (pipe(fds) != 0)
		return -1;
	memset(buf, 'x', sizeof buf);
	while (n > 0) {
		size_t chunk = n < sizeof buf ? n : sizeof buf;

		if (write(fds[1], buf, chunk) != (ssize_t)chunk)
			break;
		n -= chunk;
	}
	close(fds[1]);
	return fds[0];
}

static void
case_read_fd(void)
{
	bson_error_t error;
	char *text;
	size_t len = 0;
	int fd;

	/* A pipe is read to its end, past several reads; the fd stays open. */
	fd = pipe_of(10000);
	text = fs_read_fd(fd, "the pipe", 20000, &len, &error);
	CHECK(text && len == 10000 && text[9999] == 'x' && text[10000] == '\0');
	free(text);
	CHECK(close(fd) == 0);
	/* Too large: 74 naming it, and len says how much came (over max_len). */
	fd = pipe_of(10000);
	text = fs_read_fd(fd, "the pipe", 100, &len, &error);
	CHECK(text == NULL);
	CHECK_INT(csm_exit_code(&error), 74);
	CHECK_CONTAINS(error.message, "'the pipe'");
	CHECK(len > 100);
	close(fd);
}

static const unit_case_t cases[] = {
	{"write_creates_0600", case_write_creates_0600},
	{"overwrite_fixes_mode", case_overwrite_fixes_mode},
	{"crash_before_rename_keeps_old", case_crash_before_rename_keeps_old},
	{"write_error_names_path", case_write_error_names_path},
	{"read_all", case_read_all},
	{"read_fd", case_read_fd},
	{"mkdir_p", case_mkdir_p},
	{"fsync_dir", case_fsync_dir},
};

UNIT_MAIN(cases)
