/*
 * mongodump's on-disk format (dump_format.h). Compression goes through
 * /usr/bin/gzip on a pipe so the library needs no zlib; gzip's exit status is
 * checked, so a truncated .gz file is an error, not a short dump.
 */
#include "dump_format.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "fsutil.h"

extern char **environ;

/* Metadata files are small; anything larger is not one. */
#define DUMP_METADATA_MAX (64 * 1024 * 1024)
#define DUMP_OUT_BUFFER (256 * 1024)

static const char gzip_path[] = "/usr/bin/gzip";

/* ---- names and paths ---- */

char *
dump_escape_name(const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(name);
	char *escaped = bson_malloc(len * 3 + 1);
	char *p = escaped;

	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.' || *s == '~') {
			*p++ = (char)*s;
		} else if (*s == ' ') {
			*p++ = '+';
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 15];
		}
	}
	*p = '\0';
	return escaped;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
dump_unescape_name(const char *name)
{
	char *plain = bson_malloc(strlen(name) + 1);
	char *p = plain;

	for (const char *s = name; *s; s++) {
		if (*s == '%') {
			int hi = hex_value(s[1]);
			int lo = hi < 0 ? -1 : hex_value(s[2]);

			if (lo < 0) {
				bson_free(plain);
				return NULL;
			}
			*p++ = (char)(hi * 16 + lo);
			s += 2;
		} else if (*s == '+') {
			*p++ = ' ';
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	return plain;
}

char *
dump_file_path(const char *root, const char *db, const char *coll, const char *suffix, bool gzip)
{
	char *escaped = dump_escape_name(coll);
	char *path =
		bson_strdup_printf("%s/%s/%s%s%s", root, db, escaped, suffix, gzip ? ".gz" : "");

	bson_free(escaped);
	return path;
}

char *
dump_partial_root(const char *root, const char *db, const char *coll)
{
	char *escaped = dump_escape_name(coll);
	char *path = bson_strdup_printf("%s/.%s.%s.partial", root, db, escaped);

	bson_free(escaped);
	return path;
}

/* ---- gzip through a pipe ---- */

/*
 * Starts gzip with stdin_fd/stdout_fd as its standard input/output. The
 * descriptors stay open in the caller, which closes them.
 */
static bool
gzip_spawn(bool decompress, int stdin_fd, int stdout_fd, pid_t *pid, const char *path,
	   bson_error_t *error)
{
	posix_spawn_file_actions_t actions;
	char *argv[] = {(char *)"gzip", decompress ? (char *)"-dc" : (char *)"-c", NULL};
	int rc;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
	rc = posix_spawn(pid, gzip_path, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot run '%s' for '%s': %s", gzip_path,
			      path, strerror(rc));
		return false;
	}
	return true;
}

/* Waits for gzip; false with error when it did not exit 0. */
static bool
gzip_wait(pid_t pid, const char *path, bson_error_t *error)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			csm_error_set(error, CSM_EXIT_IOERR, "cannot wait for gzip of '%s': %s",
				      path, strerror(errno));
			return false;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	csm_error_set(error, CSM_EXIT_DATAERR,
		      "gzip failed on '%s' (%s %d): the file is truncated or not gzip data", path,
		      WIFEXITED(status) ? "exit status" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return false;
}

/* ---- writing ---- */

struct dump_out {
	FILE *fp;
	int file_fd; /* for the final fsync */
	pid_t gzip_pid;
	char *path;
	char *buffer;
	digest_t *digest; /* of the bytes written, before gzip */
};

/* A SHA-256 state for the data of path, or NULL with error (70). */
static digest_t *
digest_for(const char *path, bson_error_t *error)
{
	digest_t *digest = digest_new();

	if (!digest)
		csm_error_set(error, CSM_EXIT_SOFTWARE, "cannot start a SHA-256 digest of '%s'",
			      path);
	return digest;
}

dump_out_t *
dump_out_open(const char *path, bool gzip, bson_error_t *error)
{
	dump_out_t *out = bson_malloc0(sizeof *out);
	int pipe_fds[2] = {-1, -1};

	out->file_fd = -1;
	out->gzip_pid = -1;
	out->path = bson_strdup(path);
	if (!(out->digest = digest_for(path, error)))
		goto fail;
	out->file_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out->file_fd < 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot create '%s': %s", path,
			      strerror(errno));
		goto fail;
	}
	if (gzip) {
		if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
			csm_error_set(error, CSM_EXIT_IOERR, "cannot create a pipe for '%s': %s",
				      path, strerror(errno));
			goto fail;
		}
		if (!gzip_spawn(false, pipe_fds[0], out->file_fd, &out->gzip_pid, path, error))
			goto fail;
		close(pipe_fds[0]);
		pipe_fds[0] = -1;
		out->fp = fdopen(pipe_fds[1], "w");
	} else {
		out->fp = fdopen(dup(out->file_fd), "w");
	}
	if (out->fp == NULL) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot open '%s': %s", path, strerror(errno));
		goto fail;
	}
	pipe_fds[1] = -1;
	out->buffer = bson_malloc(DUMP_OUT_BUFFER);
	setvbuf(out->fp, out->buffer, _IOFBF, DUMP_OUT_BUFFER);
	return out;

fail:
	if (pipe_fds[0] >= 0)
		close(pipe_fds[0]);
	if (pipe_fds[1] >= 0)
		close(pipe_fds[1]);
	if (out->gzip_pid > 0)
		waitpid(out->gzip_pid, NULL, 0);
	if (out->file_fd >= 0)
		close(out->file_fd);
	digest_destroy(out->digest);
	bson_free(out->path);
	bson_free(out);
	return NULL;
}

bool
dump_out_write(dump_out_t *out, const void *data, size_t len, bson_error_t *error)
{
	digest_update(out->digest, data, len);
	if (fwrite(data, 1, len, out->fp) != len) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot write '%s': %s", out->path,
			      strerror(errno));
		return false;
	}
	return true;
}

void
dump_out_sha256(dump_out_t *out, char hex[DIGEST_HEX_LEN])
{
	digest_final_hex(out->digest, hex);
}

bool
dump_out_close(dump_out_t *out, bson_error_t *error)
{
	bool ok = true;

	if (out == NULL)
		return true;
	if (fclose(out->fp) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot write '%s': %s", out->path,
			      strerror(errno));
		ok = false;
	}
	if (out->gzip_pid > 0 && !gzip_wait(out->gzip_pid, out->path, ok ? error : NULL))
		ok = false;
	if (ok && fsync(out->file_fd) != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot fsync '%s': %s", out->path,
			      strerror(errno));
		ok = false;
	}
	close(out->file_fd);
	digest_destroy(out->digest);
	bson_free(out->buffer);
	bson_free(out->path);
	bson_free(out);
	return ok;
}

/* Writes len bytes of data to path (through gzip when asked), durably. */
static bool
write_small_file(const char *path, bool gzip, const char *data, size_t len, bson_error_t *error)
{
	dump_out_t *out;

	if (!gzip)
		return fs_write_atomic(path, data, len, error);
	out = dump_out_open(path, true, error);
	if (out == NULL)
		return false;
	if (!dump_out_write(out, data, len, error)) {
		dump_out_close(out, NULL);
		return false;
	}
	return dump_out_close(out, error);
}

/* ---- reading ---- */

/* Larger than any document a server stores (16 MiB plus its overhead): a
 * longer length is corruption, not a document. */
#define DUMP_DOC_MAX (48 * 1024 * 1024)

struct dump_in {
	int fd; /* the file, or the pipe from gzip */
	FILE *fp;
	pid_t gzip_pid;
	uint8_t *doc_buf;
	size_t doc_cap;
	bson_t doc;
	int64_t offset;
	char *path;
	digest_t *digest; /* of the documents read */
};

/* bson_t demands 128-byte alignment, more than malloc gives. Freed with
 * free(). */
static dump_in_t *
dump_in_alloc(void)
{
	size_t size = (sizeof(dump_in_t) + 127) / 128 * 128;
	dump_in_t *in = aligned_alloc(128, size);

	if (in == NULL)
		abort();
	memset(in, 0, size);
	return in;
}

dump_in_t *
dump_in_open(const char *path, bool gzip, bson_error_t *error)
{
	dump_in_t *in = dump_in_alloc();
	int file_fd;
	int pipe_fds[2];

	in->fd = -1;
	in->gzip_pid = -1;
	in->path = bson_strdup(path);
	if (!(in->digest = digest_for(path, error)))
		goto fail;
	file_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (file_fd < 0) {
		csm_error_set(error, errno == ENOENT ? CSM_EXIT_NOINPUT : CSM_EXIT_IOERR,
			      "cannot open '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (!gzip) {
		in->fd = file_fd;
	} else {
		if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
			csm_error_set(error, CSM_EXIT_IOERR, "cannot create a pipe for '%s': %s",
				      path, strerror(errno));
			close(file_fd);
			goto fail;
		}
		if (!gzip_spawn(true, file_fd, pipe_fds[1], &in->gzip_pid, path, error)) {
			close(pipe_fds[0]);
			close(pipe_fds[1]);
			close(file_fd);
			goto fail;
		}
		close(pipe_fds[1]);
		close(file_fd);
		in->fd = pipe_fds[0];
	}
	in->fp = fdopen(in->fd, "r");
	if (in->fp == NULL) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot read '%s': %s", path, strerror(errno));
		close(in->fd);
		if (in->gzip_pid > 0)
			waitpid(in->gzip_pid, NULL, 0);
		goto fail;
	}
	setvbuf(in->fp, NULL, _IOFBF, DUMP_OUT_BUFFER);
	return in;

fail:
	digest_destroy(in->digest);
	bson_free(in->path);
	free(in);
	return NULL;
}

/*
 * Reads len bytes; *got tells how many arrived before the end of the file.
 */
static bool
read_exact(dump_in_t *in, uint8_t *buf, size_t len, size_t *got, bson_error_t *error)
{
	*got = fread(buf, 1, len, in->fp);
	if (*got < len && ferror(in->fp)) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot read '%s': %s", in->path,
			      strerror(errno));
		return false;
	}
	return true;
}

const bson_t *
dump_in_next(dump_in_t *in, bool *eof, bson_error_t *error)
{
	uint8_t header[4];
	uint32_t doc_len;
	size_t got;

	*eof = false;
	if (!read_exact(in, header, sizeof header, &got, error))
		return NULL;
	if (got == 0) {
		*eof = true;
		return NULL;
	}
	memcpy(&doc_len, header, sizeof doc_len);
	doc_len = BSON_UINT32_FROM_LE(doc_len);
	if (got < sizeof header || doc_len < 5 || doc_len > DUMP_DOC_MAX) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "corrupt or truncated BSON in '%s' at byte %lld (document length "
			      "%u): the dump is damaged; dump the collection again",
			      in->path, (long long)in->offset, got < sizeof header ? 0 : doc_len);
		return NULL;
	}
	if (doc_len > in->doc_cap) {
		in->doc_cap = doc_len;
		in->doc_buf = bson_realloc(in->doc_buf, in->doc_cap);
	}
	memcpy(in->doc_buf, header, sizeof header);
	if (!read_exact(in, in->doc_buf + sizeof header, doc_len - sizeof header, &got, error))
		return NULL;
	if (got < doc_len - sizeof header || in->doc_buf[doc_len - 1] != 0 ||
	    !bson_init_static(&in->doc, in->doc_buf, doc_len)) {
		csm_error_set(
			error, CSM_EXIT_DATAERR,
			"corrupt or truncated BSON in '%s' at byte %lld: the dump is damaged; "
			"dump the collection again",
			in->path, (long long)in->offset);
		return NULL;
	}
	digest_update(in->digest, in->doc_buf, doc_len);
	in->offset += doc_len;
	return &in->doc;
}

int64_t
dump_in_offset(const dump_in_t *in)
{
	return in->offset;
}

void
dump_in_sha256(dump_in_t *in, char hex[DIGEST_HEX_LEN])
{
	digest_final_hex(in->digest, hex);
}

bool
dump_in_close(dump_in_t *in, bool check, bson_error_t *error)
{
	bool ok = true;

	if (in == NULL)
		return true;
	fclose(in->fp);
	if (in->gzip_pid > 0 && !gzip_wait(in->gzip_pid, in->path, check ? error : NULL))
		ok = !check;
	digest_destroy(in->digest);
	bson_free(in->doc_buf);
	bson_free(in->path);
	free(in);
	return ok;
}

/*
 * Reads a whole (possibly gzip'd) small file. The caller free()s it. More
 * than DUMP_METADATA_MAX bytes is a bad dump (exit code 65).
 */
static char *
read_small_file(const char *path, bool gzip, size_t *len_out, bson_error_t *error)
{
	dump_in_t *in;
	char *buf;

	in = dump_in_open(path, gzip, error);
	if (in == NULL)
		return NULL;
	/* Nothing has been read through in->fp yet: its descriptor is whole. */
	buf = fs_read_fd(in->fd, path, DUMP_METADATA_MAX, len_out, error);
	if (buf == NULL && *len_out > DUMP_METADATA_MAX)
		csm_error_set(error, CSM_EXIT_DATAERR, "'%s' is too large to be metadata", path);
	if (!dump_in_close(in, buf != NULL, error)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- metadata ---- */

void
dump_metadata_init(dump_metadata_t *metadata)
{
	memset(metadata, 0, sizeof *metadata);
	bson_init(&metadata->options);
	bson_init(&metadata->indexes);
}

void
dump_metadata_cleanup(dump_metadata_t *metadata)
{
	bson_destroy(&metadata->options);
	bson_destroy(&metadata->indexes);
	bson_free(metadata->collection_name);
	bson_free(metadata->type);
	memset(metadata, 0, sizeof *metadata);
}

bool
dump_metadata_write(const char *path, bool gzip, const dump_metadata_t *metadata,
		    bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;
	char *json = NULL;
	size_t json_len = 0;
	bool ok;

	if (!bson_empty(&metadata->options))
		BSON_APPEND_DOCUMENT(&doc, "options", &metadata->options);
	BSON_APPEND_ARRAY(&doc, "indexes", &metadata->indexes);
	if (metadata->uuid[0] != '\0')
		BSON_APPEND_UTF8(&doc, "uuid", metadata->uuid);
	if (metadata->collection_name != NULL)
		BSON_APPEND_UTF8(&doc, "collectionName", metadata->collection_name);
	BSON_APPEND_UTF8(&doc, "type", metadata->type ? metadata->type : "collection");
	json = bson_as_canonical_extended_json(&doc, &json_len);
	ok = write_small_file(path, gzip, json, json_len, error);
	bson_free(json);
	bson_destroy(&doc);
	return ok;
}

bool
dump_metadata_read(const char *path, bool gzip, dump_metadata_t *metadata, bson_error_t *error)
{
	char *json = NULL;
	size_t len = 0;
	bson_t *doc = NULL;
	bson_error_t json_error;
	bson_iter_t iter;
	bool ok = false;

	dump_metadata_init(metadata);
	json = read_small_file(path, gzip, &len, error);
	if (json == NULL) {
		if (error->domain == CSM_ERROR_DOMAIN && error->code == CSM_EXIT_NOINPUT)
			csm_error_set(error, CSM_EXIT_DATAERR,
				      "dump metadata '%s' is missing: the dump is incomplete; "
				      "dump the collection again",
				      path);
		return false;
	}
	doc = bson_new_from_json((const uint8_t *)json, (ssize_t)len, &json_error);
	if (doc == NULL) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "dump metadata '%s' is not extended JSON: %s", path,
			      json_error.message);
		goto cleanup;
	}
	if (bson_iter_init_find(&iter, doc, "options")) {
		uint32_t sub_len;
		const uint8_t *sub;
		bson_t view;

		if (!BSON_ITER_HOLDS_DOCUMENT(&iter)) {
			csm_error_set(error, CSM_EXIT_DATAERR,
				      "dump metadata '%s': 'options' is not a document", path);
			goto cleanup;
		}
		bson_iter_document(&iter, &sub_len, &sub);
		bson_init_static(&view, sub, sub_len);
		bson_destroy(&metadata->options);
		bson_copy_to(&view, &metadata->options);
	}
	if (bson_iter_init_find(&iter, doc, "indexes")) {
		uint32_t sub_len;
		const uint8_t *sub;
		bson_t view;

		if (!BSON_ITER_HOLDS_ARRAY(&iter)) {
			csm_error_set(error, CSM_EXIT_DATAERR,
				      "dump metadata '%s': 'indexes' is not an array", path);
			goto cleanup;
		}
		bson_iter_array(&iter, &sub_len, &sub);
		bson_init_static(&view, sub, sub_len);
		bson_destroy(&metadata->indexes);
		bson_copy_to(&view, &metadata->indexes);
	}
	if (bson_iter_init_find(&iter, doc, "uuid") && BSON_ITER_HOLDS_UTF8(&iter))
		bson_strncpy(metadata->uuid, bson_iter_utf8(&iter, NULL), sizeof metadata->uuid);
	if (bson_iter_init_find(&iter, doc, "collectionName") && BSON_ITER_HOLDS_UTF8(&iter))
		metadata->collection_name = bson_strdup(bson_iter_utf8(&iter, NULL));
	if (bson_iter_init_find(&iter, doc, "type") && BSON_ITER_HOLDS_UTF8(&iter))
		metadata->type = bson_strdup(bson_iter_utf8(&iter, NULL));
	ok = true;

cleanup:
	bson_destroy(doc);
	free(json);
	return ok;
}

bool
dump_prelude_write(const char *root, const char *server_version, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;
	char *path = bson_strdup_printf("%s/prelude.json", root);
	char *json;
	size_t len;
	bool ok;

	BSON_APPEND_UTF8(&doc, "ServerVersion", server_version ? server_version : "unknown");
	BSON_APPEND_UTF8(&doc, "ToolVersion", "changestream-migration dump-wrap 1");
	json = bson_as_relaxed_extended_json(&doc, &len);
	ok = fs_write_atomic(path, json, len, error);
	bson_free(json);
	bson_free(path);
	bson_destroy(&doc);
	return ok;
}

/* ---- our own files: the dump-end time and the integrity record ---- */

bool
dump_json_write(const char *path, const bson_t *doc, bson_error_t *error)
{
	size_t len;
	char *json = bson_as_canonical_extended_json(doc, &len);
	bool ok = fs_write_atomic(path, json, len, error);

	bson_free(json);
	return ok;
}

bool
dump_json_read(const char *path, bool *found, bson_t **doc, bson_error_t *error)
{
	char *json;
	size_t len = 0;
	bson_error_t json_error;

	*found = false;
	*doc = NULL;
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return true;
	json = read_small_file(path, false, &len, error);
	if (json == NULL)
		return false;
	*found = true;
	*doc = bson_new_from_json((const uint8_t *)json, (ssize_t)len, &json_error);
	bson_free(json);
	return true;
}

bool
dump_end_write(const char *path, const char *ns, optime_t dump_end, const char *engine,
	       bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&doc, "ns", ns);
	optime_append(&doc, "dumpEndTime", dump_end);
	BSON_APPEND_DATE_TIME(&doc, "writtenAt", clock_wall_ms());
	BSON_APPEND_UTF8(&doc, "engine", engine);
	ok = dump_json_write(path, &doc, error);
	bson_destroy(&doc);
	return ok;
}

bool
dump_end_read(const char *path, bool *found, optime_t *dump_end, bson_error_t *error)
{
	bson_t *doc;

	*dump_end = OPTIME_ZERO;
	if (!dump_json_read(path, found, &doc, error))
		return false;
	if (*found && (doc == NULL || !optime_from_doc(doc, "dumpEndTime", dump_end))) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "dump-end file '%s' is unreadable (no Timestamp 'dumpEndTime'); "
			      "dump the collection again",
			      path);
		*found = false;
		bson_destroy(doc);
		return false;
	}
	bson_destroy(doc);
	return true;
}

bool
dump_record_write(const char *path, const char *ns, const char *data_name,
		  const dump_record_t *record, const char *engine, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&doc, "ns", ns);
	BSON_APPEND_UTF8(&doc, "file", data_name);
	BSON_APPEND_INT64(&doc, "documents", record->documents);
	BSON_APPEND_INT64(&doc, "bytes", record->bytes);
	BSON_APPEND_UTF8(&doc, "sha256", record->sha256);
	BSON_APPEND_DATE_TIME(&doc, "writtenAt", clock_wall_ms());
	BSON_APPEND_UTF8(&doc, "engine", engine);
	ok = dump_json_write(path, &doc, error);
	bson_destroy(&doc);
	return ok;
}

/* The record's fields from doc; false when one is missing or wrongly typed. */
static bool
record_from_doc(const bson_t *doc, const char *ns, dump_record_t *record)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, "ns") || !BSON_ITER_HOLDS_UTF8(&it) ||
	    strcmp(bson_iter_utf8(&it, NULL), ns) != 0)
		return false;
	if (!bson_iter_init_find(&it, doc, "documents") || !BSON_ITER_HOLDS_INT64(&it) ||
	    (record->documents = bson_iter_int64(&it)) < 0)
		return false;
	if (!bson_iter_init_find(&it, doc, "bytes") || !BSON_ITER_HOLDS_INT64(&it) ||
	    (record->bytes = bson_iter_int64(&it)) < 0)
		return false;
	if (!bson_iter_init_find(&it, doc, "sha256") || !BSON_ITER_HOLDS_UTF8(&it) ||
	    strlen(bson_iter_utf8(&it, NULL)) != DIGEST_HEX_LEN - 1)
		return false;
	bson_strncpy(record->sha256, bson_iter_utf8(&it, NULL), sizeof record->sha256);
	return true;
}

bool
dump_record_read(const char *path, const char *ns, bool *found, dump_record_t *record,
		 bson_error_t *error)
{
	bson_t *doc;
	bool ok = true;

	memset(record, 0, sizeof *record);
	if (!dump_json_read(path, found, &doc, error))
		return false;
	if (*found && (doc == NULL || !record_from_doc(doc, ns, record))) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "integrity record '%s' is unreadable (it needs ns '%s', Int64 "
			      "documents and bytes, and a sha256); dump the collection again",
			      path, ns);
		ok = false;
	}
	bson_destroy(doc);
	return ok;
}

bool
dump_record_scan(const char *bson_path, bool gzip, dump_record_t *record, bson_error_t *error)
{
	dump_in_t *in = dump_in_open(bson_path, gzip, error);
	bool eof = false;

	memset(record, 0, sizeof *record);
	if (in == NULL)
		return false;
	while (dump_in_next(in, &eof, error))
		record->documents++;
	if (!eof) {
		dump_in_close(in, false, NULL);
		return false;
	}
	record->bytes = dump_in_offset(in);
	dump_in_sha256(in, record->sha256);
	return dump_in_close(in, true, error);
}

bool
dump_record_check(const char *bson_path, const char *record_path, const dump_record_t *expected,
		  const dump_record_t *actual, bool only_bytes, bson_error_t *error)
{
	if (only_bytes && actual->bytes == expected->bytes)
		return true;
	if (only_bytes) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "dump data '%s' is incomplete or damaged: it holds %" PRId64
			      " bytes, its integrity record '%s' says %" PRId64 " bytes (%" PRId64
			      " documents); dump the collection again",
			      bson_path, actual->bytes, record_path, expected->bytes,
			      expected->documents);
		return false;
	}
	if (actual->documents == expected->documents && actual->bytes == expected->bytes &&
	    strcmp(actual->sha256, expected->sha256) == 0)
		return true;
	/* Digest prefixes: the whole of both would crowd the counts out. */
	csm_error_set(error, CSM_EXIT_DATAERR,
		      "dump data '%s' is incomplete or damaged: it holds %" PRId64
		      " documents (%" PRId64 " bytes, sha256 %.12s...), its integrity record '%s' "
		      "says %" PRId64 " documents (%" PRId64 " bytes, sha256 %.12s...); dump the "
		      "collection again",
		      bson_path, actual->documents, actual->bytes, actual->sha256, record_path,
		      expected->documents, expected->bytes, expected->sha256);
	return false;
}

/* ---- publishing and locating ---- */

static bool
unlink_if_present(const char *path, bson_error_t *error)
{
	if (unlink(path) != 0 && errno != ENOENT) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot remove '%s': %s", path,
			      strerror(errno));
		return false;
	}
	return true;
}

static bool
rename_checked(const char *from, const char *to, bool optional, bson_error_t *error)
{
	if (rename(from, to) != 0) {
		if (optional && errno == ENOENT)
			return true;
		csm_error_set(error, CSM_EXIT_IOERR, "cannot rename '%s' to '%s': %s", from, to,
			      strerror(errno));
		return false;
	}
	return true;
}

bool
dump_publish(const char *partial_root, const char *root, const char *db, const char *coll,
	     bool gzip, bson_error_t *error)
{
	static const char *const suffixes[] = {".bson", ".dump-end.json", DUMP_RECORD_SUFFIX};
	char *from = NULL, *to = NULL, *dir = NULL;
	bool ok = false;

	dir = bson_strdup_printf("%s/%s", root, db);
	if (!fs_mkdir_p(dir, error))
		goto cleanup;
	/* The old dump stops being complete before any of its files changes. */
	for (int z = 0; z < 2; z++) {
		to = dump_file_path(root, db, coll, ".metadata.json", z == 1);
		if (!unlink_if_present(to, error))
			goto cleanup;
		bson_free(to);
		to = dump_file_path(root, db, coll, ".bson", z == 1);
		if (!unlink_if_present(to, error))
			goto cleanup;
		bson_free(to);
		to = NULL;
	}
	/* An old record must never vouch for a new data file, nor an old
	 * dump-end time stand for a new dump that recorded none. */
	for (size_t k = 1; k < sizeof suffixes / sizeof suffixes[0]; k++) {
		to = dump_file_path(root, db, coll, suffixes[k], false);
		if (!unlink_if_present(to, error))
			goto cleanup;
		bson_free(to);
		to = NULL;
	}
	if (!fs_fsync_dir(dir, error))
		goto cleanup;
	for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
		bool compressed = gzip && k == 0;

		from = dump_file_path(partial_root, db, coll, suffixes[k], compressed);
		to = dump_file_path(root, db, coll, suffixes[k], compressed);
		if (!rename_checked(from, to, k != 0, error))
			goto cleanup;
		bson_free(from);
		bson_free(to);
		from = to = NULL;
	}
	from = bson_strdup_printf("%s/prelude.json", partial_root);
	to = bson_strdup_printf("%s/prelude.json", root);
	if (!rename_checked(from, to, true, error))
		goto cleanup;
	bson_free(from);
	bson_free(to);
	if (!fs_fsync_dir(dir, error) || !fs_fsync_dir(root, error)) {
		from = to = NULL;
		goto cleanup;
	}
	from = dump_file_path(partial_root, db, coll, ".metadata.json", gzip);
	to = dump_file_path(root, db, coll, ".metadata.json", gzip);
	if (!rename_checked(from, to, false, error) || !fs_fsync_dir(dir, error))
		goto cleanup;
	ok = dump_remove_tree(partial_root, error);

cleanup:
	bson_free(from);
	bson_free(to);
	bson_free(dir);
	return ok;
}

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : errno;
}

bool
dump_remove_tree(const char *path, bson_error_t *error)
{
	int rc;

	if (access(path, F_OK) != 0 && errno == ENOENT)
		return true;
	rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (rc != 0) {
		csm_error_set(error, CSM_EXIT_IOERR, "cannot remove '%s': %s", path,
			      rc > 0 ? strerror(rc) : strerror(errno));
		return false;
	}
	return true;
}

bool
dump_locate(const char *root, const char *db, const char *coll, bool gzip_flag, dump_files_t *files,
	    bson_error_t *error)
{
	char *partial = NULL;
	bool gzip = gzip_flag;

	memset(files, 0, sizeof *files);
	files->bson = dump_file_path(root, db, coll, ".bson", gzip);
	if (!gzip && access(files->bson, F_OK) != 0) {
		char *compressed = dump_file_path(root, db, coll, ".bson", true);

		if (access(compressed, F_OK) == 0) {
			gzip = true;
			bson_free(files->bson);
			files->bson = compressed;
		} else {
			bson_free(compressed);
		}
	}
	files->gzip = gzip;
	files->metadata = dump_file_path(root, db, coll, ".metadata.json", gzip);
	files->dump_end = dump_file_path(root, db, coll, ".dump-end.json", false);
	files->record = dump_file_path(root, db, coll, DUMP_RECORD_SUFFIX, false);
	if (access(files->bson, F_OK) != 0) {
		partial = dump_partial_root(root, db, coll);
		csm_error_set(
			error, CSM_EXIT_NOINPUT,
			"no dump of '%s.%s' in '%s': '%s' does not exist%s; run dump-wrap dump "
			"first",
			db, coll, root, files->bson,
			access(partial, F_OK) == 0 ? " (an unfinished dump was left in a "
						     ".partial directory)"
						   : "");
		bson_free(partial);
		dump_files_cleanup(files);
		return false;
	}
	if (access(files->metadata, F_OK) != 0) {
		csm_error_set(error, CSM_EXIT_DATAERR,
			      "dump of '%s.%s' in '%s' has no metadata file '%s': the dump is "
			      "incomplete; dump the collection again",
			      db, coll, root, files->metadata);
		dump_files_cleanup(files);
		return false;
	}
	return true;
}

void
dump_files_cleanup(dump_files_t *files)
{
	bson_free(files->bson);
	bson_free(files->metadata);
	bson_free(files->dump_end);
	bson_free(files->record);
	memset(files, 0, sizeof *files);
}
