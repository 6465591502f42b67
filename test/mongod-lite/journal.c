/*
 * The --dbpath journal (format in journal.h).
 *
 * Group commit (SYNC_BATCH): a flusher thread fsyncs whatever has been
 * written every JOURNAL_GROUP_COMMIT_MS while nobody waits, and at once when
 * a durable write waits; writers that arrive during an fsync share the next
 * one (a sequential j:true writer is not throttled to 100 writes/s, as
 * MongoDB's j:true forces a journal flush). It never takes server_lock: the
 * journal has its own mutex, taken inside server_lock by appends and alone
 * by the flusher and by waiters (who release server_lock first).
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "command.h"

#define JOURNAL_MAGIC 0x314a4c4dU /* "MLJ1" read little endian */
#define JOURNAL_HEADER 12
#define JOURNAL_MAX_RECORD (256u * 1024 * 1024)

struct journal {
	int fd;
	char *path;
	sync_policy_t policy;
	pthread_mutex_t mutex;
	pthread_cond_t flusher_cond; /* work for the flusher, or stop */
	pthread_cond_t synced_cond;  /* synced moved */
	pthread_t flusher;
	bool flusher_running;
	bool stop;
	bool sync_requested;
	bool io_failed;
	int waiters;      /* in journal_sync; close waits for them to leave */
	uint64_t written; /* bytes appended (file size) */
	uint64_t synced;  /* bytes known durable */
	int64_t last_sync_ms;
};

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0x82f63b78U ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

/* CRC-32C (Castagnoli), the checksum OP_MSG uses too. */
static uint32_t
crc32c(const uint8_t *data, size_t len)
{
	uint32_t c = 0xffffffffU;

	pthread_once(&crc_once, crc_init);
	for (size_t k = 0; k < len; k++)
		c = crc_table[(c ^ data[k]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffU;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads exactly len bytes; returns the count read (< len at end of file),
 * -1 on error. */
static ssize_t
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Replays the records; sets *good_end to the offset after the last intact
 * one. false only on a read error. */
static bool
replay_records(journal_t *j, journal_replay_fn replay, void *ctx, uint64_t *good_end,
	       bson_error_t *error)
{
	uint8_t header[JOURNAL_HEADER];
	uint8_t *buf = NULL;
	size_t buf_cap = 0;
	uint64_t offset = 0;
	uint64_t records = 0;
	bool ok = false;

	if (lseek(j->fd, 0, SEEK_SET) < 0) {
		cmd_error(error, 74, "cannot read journal '%s': %s", j->path, strerror(errno));
		return false;
	}
	for (;;) {
		ssize_t r = read_full(j->fd, header, sizeof header);
		if (r < 0)
			goto io_error;
		if (r < (ssize_t)sizeof header)
			break;
		uint32_t magic = get_u32(header), len = get_u32(header + 4),
			 crc = get_u32(header + 8);
		if (magic != JOURNAL_MAGIC || len < 5 || len > JOURNAL_MAX_RECORD)
			break;
		if (len > buf_cap) {
			uint8_t *nbuf = realloc(buf, len);
			if (!nbuf)
				break;
			buf = nbuf;
			buf_cap = len;
		}
		r = read_full(j->fd, buf, len);
		if (r < 0)
			goto io_error;
		if ((uint32_t)r < len || crc32c(buf, len) != crc || get_u32(buf) != len)
			break;
		bson_t entry;
		if (!bson_init_static(&entry, buf, len) || !replay(&entry, ctx))
			break;
		offset += JOURNAL_HEADER + len;
		records++;
	}
	server_log(1, "journal '%s': replayed %llu records", j->path, (unsigned long long)records);
	*good_end = offset;
	ok = true;
	goto done;
io_error:
	cmd_error(error, 74, "cannot read journal '%s': %s", j->path, strerror(errno));
done:
	free(buf);
	return ok;
}

static void *
flusher_main(void *arg)
{
	journal_t *j = arg;

	pthread_mutex_lock(&j->mutex);
	while (!j->stop) {
		if (j->written == j->synced) {
			pthread_cond_wait(&j->flusher_cond, &j->mutex);
			continue;
		}
		int64_t due = j->last_sync_ms + JOURNAL_GROUP_COMMIT_MS;
		int64_t now = clock_mono_ms();
		if (!j->sync_requested && now < due) {
			/* Dirty, nobody waiting: background fsync at most every
			 * JOURNAL_GROUP_COMMIT_MS. */
			struct timespec ts = {.tv_sec = due / 1000,
					      .tv_nsec = (due % 1000) * 1000000};
			pthread_cond_timedwait(&j->flusher_cond, &j->mutex, &ts);
			continue;
		}
		uint64_t target = j->written;
		pthread_mutex_unlock(&j->mutex);
		int rc = fdatasync(j->fd);
		pthread_mutex_lock(&j->mutex);
		if (rc != 0) {
			server_log(0, "journal '%s': fsync failed: %s", j->path, strerror(errno));
			j->io_failed = true;
		} else if (target > j->synced) {
			j->synced = target;
		}
		j->last_sync_ms = clock_mono_ms();
		j->sync_requested = false;
		pthread_cond_broadcast(&j->synced_cond);
	}
	pthread_mutex_unlock(&j->mutex);
	return NULL;
}

static bool
init_conds(journal_t *j)
{
	pthread_condattr_t attr;
	bool ok;

	if (pthread_condattr_init(&attr) != 0)
		return false;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	ok = pthread_cond_init(&j->flusher_cond, &attr) == 0 &&
	     pthread_cond_init(&j->synced_cond, &attr) == 0;
	pthread_condattr_destroy(&attr);
	return ok;
}

static void
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

journal_t *
journal_open(const char *dbpath, sync_policy_t policy, journal_replay_fn replay, void *ctx,
	     bson_error_t *error)
{
	journal_t *j = NULL;
	struct stat st;
	uint64_t good_end = 0;
	bool created = false;

	if (mkdir(dbpath, 0700) != 0 && errno != EEXIST) {
		cmd_error(error, 74, "cannot create dbpath '%s': %s", dbpath, strerror(errno));
		return NULL;
	}
	j = calloc(1, sizeof *j);
	if (!j || !init_conds(j)) {
		free(j);
		cmd_error(error, 74, "out of memory opening the journal");
		return NULL;
	}
	pthread_mutex_init(&j->mutex, NULL);
	j->fd = -1;
	j->policy = policy;
	j->path = bson_strdup_printf("%s/oplog.journal", dbpath);
	if (stat(j->path, &st) != 0)
		created = true;
	j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		cmd_error(error, 74, "cannot open journal '%s': %s", j->path, strerror(errno));
		goto fail;
	}
	if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
		cmd_error(error, 74, "dbpath '%s' is in use by another mongod-lite: %s", dbpath,
			  strerror(errno));
		goto fail;
	}
	if (created)
		fsync_dir(dbpath);
	if (!replay_records(j, replay, ctx, &good_end, error))
		goto fail;
	if (fstat(j->fd, &st) != 0) {
		cmd_error(error, 74, "cannot stat journal '%s': %s", j->path, strerror(errno));
		goto fail;
	}
	if ((uint64_t)st.st_size != good_end) {
		server_log(0, "journal '%s': dropping %llu bytes of a torn or damaged tail",
			   j->path, (unsigned long long)((uint64_t)st.st_size - good_end));
		if (ftruncate(j->fd, (off_t)good_end) != 0 || fdatasync(j->fd) != 0) {
			cmd_error(error, 74, "cannot truncate journal '%s': %s", j->path,
				  strerror(errno));
			goto fail;
		}
	}
	if (lseek(j->fd, (off_t)good_end, SEEK_SET) < 0) {
		cmd_error(error, 74, "cannot seek journal '%s': %s", j->path, strerror(errno));
		goto fail;
	}
	j->written = j->synced = good_end;
	j->last_sync_ms = clock_mono_ms();
	if (policy == SYNC_BATCH) {
		if (pthread_create(&j->flusher, NULL, flusher_main, j) != 0) {
			cmd_error(error, 74, "cannot start the journal flusher thread");
			goto fail;
		}
		j->flusher_running = true;
	}
	return j;
fail:
	journal_close(j);
	return NULL;
}

bool
journal_append(journal_t *j, const bson_t *entry, bson_error_t *error)
{
	uint8_t header[JOURNAL_HEADER];
	const uint8_t *data = bson_get_data(entry);
	size_t total = JOURNAL_HEADER + entry->len, done = 0;

	if (entry->len > JOURNAL_MAX_RECORD) {
		cmd_error(error, 10334, "oplog entry of %u bytes is too large for the journal",
			  entry->len);
		return false;
	}
	put_u32(header, JOURNAL_MAGIC);
	put_u32(header + 4, entry->len);
	put_u32(header + 8, crc32c(data, entry->len));
	while (done < total) {
		struct iovec iov[2];
		int n = 0;
		if (done < JOURNAL_HEADER) {
			iov[n].iov_base = header + done;
			iov[n++].iov_len = JOURNAL_HEADER - done;
			iov[n].iov_base = (void *)data;
			iov[n++].iov_len = entry->len;
		} else {
			iov[n].iov_base = (void *)(data + (done - JOURNAL_HEADER));
			iov[n++].iov_len = total - done;
		}
		ssize_t w = writev(j->fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			cmd_error(error, 74, "cannot write journal '%s': %s", j->path,
				  strerror(errno));
			/* Cut the partial record so the next append follows a
			 * good one. */
			if (ftruncate(j->fd, (off_t)j->written) == 0)
				(void)lseek(j->fd, (off_t)j->written, SEEK_SET);
			return false;
		}
		done += (size_t)w;
	}
	pthread_mutex_lock(&j->mutex);
	if (j->written == j->synced)
		pthread_cond_signal(&j->flusher_cond);
	j->written += total;
	pthread_mutex_unlock(&j->mutex);
	return true;
}

bool
journal_sync(journal_t *j, bson_error_t *error)
{
	bool ok = true;

	if (!j || j->policy == SYNC_NONE)
		return true;
	if (j->policy == SYNC_ALWAYS || !j->flusher_running) {
		if (fdatasync(j->fd) != 0) {
			cmd_error(error, 74, "cannot fsync journal '%s': %s", j->path,
				  strerror(errno));
			return false;
		}
		pthread_mutex_lock(&j->mutex);
		j->synced = j->written;
		pthread_mutex_unlock(&j->mutex);
		return true;
	}
	/* Group commit: wait for the flusher with server_lock released, so
	 * other writers can join this fsync. */
	lock_mode_t mode = server_lock_release();
	pthread_mutex_lock(&j->mutex);
	uint64_t target = j->written;
	j->waiters++;
	while (j->synced < target && !j->io_failed && !j->stop) {
		if (!j->sync_requested) {
			j->sync_requested = true;
			pthread_cond_signal(&j->flusher_cond);
		}
		pthread_cond_wait(&j->synced_cond, &j->mutex);
	}
	if (j->synced < target) {
		ok = false;
		cmd_error(error, 74, "cannot fsync journal '%s'", j->path);
	}
	if (--j->waiters == 0 && j->stop)
		pthread_cond_broadcast(&j->synced_cond);
	pthread_mutex_unlock(&j->mutex);
	server_lock_retake(mode);
	return ok;
}

void
journal_close(journal_t *j)
{
	if (!j)
		return;
	if (j->flusher_running) {
		pthread_mutex_lock(&j->mutex);
		j->stop = true;
		pthread_cond_broadcast(&j->flusher_cond);
		pthread_cond_broadcast(&j->synced_cond);
		while (j->waiters > 0)
			pthread_cond_wait(&j->synced_cond, &j->mutex);
		pthread_mutex_unlock(&j->mutex);
		pthread_join(j->flusher, NULL);
	}
	if (j->fd >= 0) {
		(void)fdatasync(j->fd);
		close(j->fd);
	}
	pthread_cond_destroy(&j->flusher_cond);
	pthread_cond_destroy(&j->synced_cond);
	pthread_mutex_destroy(&j->mutex);
	bson_free(j->path);
	free(j);
}
