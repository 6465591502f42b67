/*
 * The oplog (format in oplog.h): a ring of entries, each one malloc'd BSON
 * buffer, seq first..last contiguous. --oplog-max-entries caps the ring:
 * the oldest entries fall off. With --dbpath every entry is journaled, and
 * oplog_init replays the journal into the store and the ring.
 */
#include "oplog.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "journal.h"
#include "server.h"
#include "store.h"

#define OPLOG_DEFAULT_MAX_ENTRIES 10000000

typedef struct oplog_slot {
	uint8_t *data;
	uint32_t len;
	uint32_t t, i;
} oplog_slot_t;

static oplog_slot_t *ring;
static size_t ring_cap, ring_head, ring_count;
static int64_t first_seq = 1; /* seq of ring[ring_head] */
static uint32_t last_t, last_i;
static journal_t *journal;

static int64_t
max_entries(void)
{
	return server_config.oplog_max_entries > 0 ? server_config.oplog_max_entries
						   : OPLOG_DEFAULT_MAX_ENTRIES;
}

static oplog_slot_t *
slot_at(size_t k)
{
	return &ring[(ring_head + k) % ring_cap];
}

static void
drop_oldest(void)
{
	oplog_slot_t *s = slot_at(0);

	bson_free(s->data);
	s->data = NULL;
	ring_head = (ring_head + 1) % ring_cap;
	ring_count--;
	first_seq++;
}

/* Takes ownership of data (malloc'd). false when out of memory. */
static bool
push(uint8_t *data, uint32_t len, uint32_t t, uint32_t i)
{
	while ((int64_t)ring_count >= max_entries() && ring_count > 0)
		drop_oldest();
	if (ring_count == ring_cap) {
		size_t ncap = ring_cap ? ring_cap * 2 : 1024;
		oplog_slot_t *nring = malloc(ncap * sizeof *nring);
		if (!nring)
			return false;
		for (size_t k = 0; k < ring_count; k++)
			nring[k] = *slot_at(k);
		free(ring);
		ring = nring;
		ring_cap = ncap;
		ring_head = 0;
	}
	oplog_slot_t *s = &ring[(ring_head + ring_count) % ring_cap];
	s->data = data;
	s->len = len;
	s->t = t;
	s->i = i;
	ring_count++;
	return true;
}

static bool
time_after(uint32_t t1, uint32_t i1, uint32_t t2, uint32_t i2)
{
	return t1 > t2 || (t1 == t2 && i1 > i2);
}

/* Journal replay: apply to the store and rebuild the ring. */
static bool
replay_entry(const bson_t *entry, void *ctx)
{
	bson_iter_t it;
	uint32_t t = 0, i = 0;
	int64_t seq = -1;
	const char *op = "";
	bson_error_t error;

	(void)ctx;
	if (bson_iter_init_find(&it, entry, "ts") && BSON_ITER_HOLDS_TIMESTAMP(&it))
		bson_iter_timestamp(&it, &t, &i);
	if (bson_iter_init_find(&it, entry, "seq") && BSON_ITER_HOLDS_INT64(&it))
		seq = bson_iter_int64(&it);
	if (bson_iter_init_find(&it, entry, "op") && BSON_ITER_HOLDS_UTF8(&it))
		op = bson_iter_utf8(&it, NULL);
	/* Entries are contiguous and strictly increasing in time (but for
	 * the later statements of a transaction); anything
	 * else is damage: stop the replay there. */
	if (seq != first_seq + (int64_t)ring_count ||
	    (ring_count > 0 && !time_after(t, i, last_t, last_i) &&
	     !(t == last_t && i == last_i && bson_iter_init_find(&it, entry, "txnOpIndex") &&
	       bson_iter_as_int64(&it) > 0))) {
		if (ring_count == 0 && first_seq == 1 && seq > 0 && t > 0) {
			first_seq = seq; /* the journal may start after seq 1 */
		} else {
			server_log(0, "journal: entry seq %lld out of order; replay stops there",
				   (long long)seq);
			return false;
		}
	}
	if (strcmp(op, "n") != 0 && !store_apply_oplog_entry(entry, &error))
		server_log(0, "journal: cannot apply entry seq %lld: %s", (long long)seq,
			   error.message);
	uint8_t *copy = bson_malloc(entry->len);
	if (!copy)
		return false;
	memcpy(copy, bson_get_data(entry), entry->len);
	if (!push(copy, entry->len, t, i)) {
		bson_free(copy);
		return false;
	}
	last_t = t;
	last_i = i;
	return true;
}

bool
oplog_init(bson_error_t *error)
{
	if (!server_config.dbpath)
		return true;
	journal = journal_open(server_config.dbpath, server_config.sync_policy, replay_entry, NULL,
			       error);
	if (!journal)
		return false;
	server_log(1, "oplog: %zu entries after replay, last seq %lld", ring_count,
		   (long long)(first_seq + (int64_t)ring_count - 1));
	return true;
}

void
oplog_shutdown(void)
{
	journal_close(journal);
	journal = NULL;
	while (ring_count > 0)
		drop_oldest();
	free(ring);
	ring = NULL;
	ring_cap = ring_head = 0;
}

static void
next_time(uint32_t *t, uint32_t *i)
{
	uint32_t now = (uint32_t)time(NULL);

	if (now > last_t) {
		*t = now;
		*i = 1;
	} else {
		*t = last_t;
		*i = last_i + 1;
	}
}

/* Writes element key (of type, 8 bytes of value v) at p; its length. */
static size_t
put_fixed(uint8_t *p, bson_type_t type, const char *key, uint64_t v)
{
	size_t kl = strlen(key) + 1;
	uint64_t le = BSON_UINT64_TO_LE(v);
	p[0] = (uint8_t)type;
	memcpy(p + 1, key, kl);
	memcpy(p + 1 + kl, &le, sizeof le);
	return 1 + kl + sizeof le;
}

/* ts, seq and wall: three elements of 8-byte values */
#define HEAD_BYTES (3 * 9 + sizeof "ts" + sizeof "seq" + sizeof "wall")

/* Appends entry at time {t, i}; wakes nobody. The entry's fields (none
 * of them ts, seq or wall: the writer never supplies those) follow the
 * three as one copy. */
static bool
append_at(const bson_t *entry, uint32_t t, uint32_t i, bson_error_t *error)
{
	int64_t seq = first_seq + (int64_t)ring_count;
	uint32_t len = entry->len + (uint32_t)HEAD_BYTES;
	uint8_t *data = bson_malloc(len);
	size_t w = 4;
	bson_t full;

	w += put_fixed(data + w, BSON_TYPE_TIMESTAMP, "ts", (uint64_t)t << 32 | i);
	w += put_fixed(data + w, BSON_TYPE_INT64, "seq", (uint64_t)seq);
	w += put_fixed(data + w, BSON_TYPE_DATE_TIME, "wall", (uint64_t)clock_wall_ms());
	memcpy(data + w, bson_get_data(entry) + 4, entry->len - 4);
	uint32_t le = BSON_UINT32_TO_LE(len);
	memcpy(data, &le, sizeof le);
	bson_init_static(&full, data, len);
	if (journal && !journal_append(journal, &full, error)) {
		bson_free(data);
		return false;
	}
	if (!push(data, len, t, i)) {
		bson_free(data);
		cmd_error(error, 146, "out of memory appending to the oplog");
		return false;
	}
	last_t = t;
	last_i = i;
	return true;
}

bool
oplog_append(const bson_t *entry, bson_error_t *error)
{
	uint32_t t, i;

	server_oplog_lock();
	next_time(&t, &i);
	bool ok = append_at(entry, t, i, error);
	if (ok)
		server_oplog_broadcast();
	server_oplog_unlock();
	return ok;
}

bool
oplog_append_group(bson_t *const *entries, size_t n, bson_error_t *error)
{
	uint32_t t, i;
	bool ok = true;

	server_oplog_lock();
	next_time(&t, &i);
	for (size_t k = 0; k < n && ok; k++)
		ok = append_at(entries[k], t, i, error);
	server_oplog_broadcast();
	server_oplog_unlock();
	return ok;
}

bool
oplog_sync(bson_error_t *error)
{
	return journal_sync(journal, error);
}

void
oplog_last_time(uint32_t *t, uint32_t *i)
{
	server_oplog_lock();
	if (last_t == 0)
		next_time(&last_t, &last_i);
	*t = last_t;
	*i = last_i;
	server_oplog_unlock();
}

void
oplog_current_time(uint32_t *t, uint32_t *i)
{
	uint32_t now = (uint32_t)time(NULL);

	server_oplog_lock();
	if (now > last_t) {
		last_t = now;
		last_i = 1;
	}
	*t = last_t;
	*i = last_i;
	server_oplog_unlock();
}

void
oplog_bounds(int64_t *first, int64_t *last)
{
	*first = first_seq;
	*last = first_seq + (int64_t)ring_count - 1;
}

bool
oplog_get(int64_t seq, bson_t *entry, uint32_t *t, uint32_t *i)
{
	if (seq < first_seq || seq >= first_seq + (int64_t)ring_count)
		return false;
	oplog_slot_t *s = slot_at((size_t)(seq - first_seq));
	if (!bson_init_static(entry, s->data, s->len))
		return false;
	*t = s->t;
	*i = s->i;
	return true;
}

int64_t
oplog_seek_time(uint32_t t, uint32_t i)
{
	size_t lo = 0, hi = ring_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		oplog_slot_t *s = slot_at(mid);
		if (time_after(t, i, s->t, s->i))
			lo = mid + 1;
		else
			hi = mid;
	}
	return first_seq + (int64_t)lo;
}
