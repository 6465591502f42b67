/*
 * Crash-safe files: every state file is written to path.tmp, fsync'd,
 * renamed over path, and the directory fsync'd, mode 0600 (docs/DESIGN.md,
 * "Token file" and "Connections and secrets").
 */
#ifndef CSM_FSUTIL_H
#define CSM_FSUTIL_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Atomically replaces path with len bytes of data, mode 0600. On failure the
 * old file is intact, error names the path (exit code 74).
 */
bool fs_write_atomic(const char *path, const void *data, size_t len, bson_error_t *error);

/*
 * Test hook: when set, called after the temp file is written and fsync'd and
 * before the rename. Unit tests use it to kill a writer mid-write.
 */
extern void (*fs_write_atomic_before_rename_hook)(void);

/*
 * Reads the whole file into a NUL-terminated buffer the caller frees with
 * free(). Missing file: exit code 66; other errors 74. max_len bounds it.
 */
char *fs_read_all(const char *path, size_t max_len, size_t *len_out, bson_error_t *error);

/*
 * fs_read_all's reading on an open descriptor (a file, a pipe) named path
 * in messages, which stays open: to its end, at most max_len bytes, into a
 * NUL-terminated buffer the caller frees with free(). NULL with error
 * (exit code 74) when reading fails or there is more than max_len; then
 * *len_out, when not NULL, is how much was read (above max_len: too large).
 */
char *fs_read_fd(int fd, const char *path, size_t max_len, size_t *len_out, bson_error_t *error);

/*
 * fsyncs the directory dir, so that renames and unlinks in it are durable.
 * A file system that cannot fsync a directory (EINVAL, EROFS) is success.
 * Errors name the directory, exit code 74.
 */
bool fs_fsync_dir(const char *dir, bson_error_t *error);

/* Creates dir and its parents with mode 0700 when missing. */
bool fs_mkdir_p(const char *dir, bson_error_t *error);

#endif
