/*
 * Crash-safe state files (fsutil.h). The temp file is written next to its
 * target so rename(2) stays within one file system and is atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"

void (*fs_write_atomic_before_rename_hook)(void) = NULL;

/* Writes all len bytes; false with errno set on failure. */
static bool
write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

bool
fs_fsync_dir(const char *dir, bson_error_t *error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot open directory '%s': %s", dir,
			      strerror(errno));
		return false;
	}
	/* Some file systems cannot fsync a directory; that is not ours to fix. */
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot fsync directory '%s': %s", dir,
			      strerror(errno));
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* fsyncs the directory holding path so the rename itself is durable. */
static bool
fsync_parent_dir(const char *path, bson_error_t *error)
{
	char *dir;
	char *slash;
	bool ok;

	dir = bson_strdup(path);
	slash = strrchr(dir, '/');
	if (!slash) {
		bson_free(dir);
		dir = bson_strdup(".");
	} else if (slash == dir) {
		dir[1] = '\0';
	} else {
		*slash = '\0';
	}
	ok = fs_fsync_dir(dir, error);
	bson_free(dir);
	return ok;
}

bool
fs_write_atomic(const char *path, const void *data, size_t len, bson_error_t *error)
{
	char *tmp = NULL;
	int fd = -1;
	bool ok = false;

	tmp = bson_strdup_printf("%s.tmp", path);
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot create '%s': %s", tmp,
			      strerror(errno));
		goto cleanup;
	}
	/* An existing temp file keeps its old mode through O_CREAT. */
	if (fchmod(fd, 0600) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot chmod '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (!write_all(fd, data, len)) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot write '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (fsync(fd) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot fsync '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (close(fd) != 0) {
		fd = -1;
		csm_error_set(error, CSM_EXIT_IOERR, "cannot close '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (fs_write_atomic_before_rename_hook)
		fs_write_atomic_before_rename_hook();
	if (rename(tmp, path) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot rename '%s' to '%s': %s", tmp, path,
			      strerror(errno));
		goto cleanup;
	}
	if (!fsync_parent_dir(path, error))
		goto cleanup;
	ok = true;

cleanup:
	if (fd >= 0)
		close(fd);
	if (!ok && tmp)
		unlink(tmp);
	bson_free(tmp);
	return ok;
}

char *
fs_read_all(const char *path, size_t max_len, size_t *len_out, bson_error_t *error)
{
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		csm_error_set(error, errno == ENOENT ? CSM_EXIT_NOINPUT : CSM_EXIT_IOERR,
			      "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	buf = fs_read_fd(fd, path, max_len, len_out, error);
	close(fd);
	return buf;
}

char *
fs_read_fd(int fd, const char *path, size_t max_len, size_t *len_out, bson_error_t *error)
{
	char *buf = NULL, *grown;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if (cap > max_len + 1)
				cap = max_len + 1;
			grown = realloc(buf, cap + 1);
			if (!grown) {
				csm_error_set(error, CSM_EXIT_IOERR,
					      "cannot read '%s': out of memory", path);
				goto fail;
			}
			buf = grown;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			csm_error_set(error, CSM_EXIT_IOERR, "cannot read '%s': %s", path,
				      strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max_len) {
			csm_error_set(error, CSM_EXIT_IOERR,
				      "cannot read '%s': larger than %zu bytes", path, max_len);
			goto fail;
		}
	}
	buf[len] = '\0';
	if (len_out)
		*len_out = len;
	return buf;

fail:
	if (len_out)
		*len_out = len;
	free(buf);
	return NULL;
}

bool
fs_mkdir_p(const char *dir, bson_error_t *error)
{
	char *copy, *p;
	struct stat st;
	bool ok = false;

	if (!dir || !*dir) {
		csm_error_set(error, CSM_EXIT_IOERR,
			      "cannot create a directory with an empty name");
		return false;
	}
	copy = bson_strdup(dir);
	for (p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
			csm_error_set(error, CSM_EXIT_IOERR, "cannot create directory '%s': %s",
				      copy, strerror(errno));
			goto cleanup;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (stat(dir, &st) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot create directory '%s': %s", dir,
			      strerror(errno));
		goto cleanup;
	}
	if (!S_ISDIR(st.st_mode)) {
		csm_error_set(error, CSM_EXIT_IOERR,
			      "cannot create directory '%s': a file of that name exists", dir);
		goto cleanup;
	}
	ok = true;
cleanup:
	bson_free(copy);
	return ok;
}
