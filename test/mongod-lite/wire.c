/* Message framing and the per-connection loop (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bson/bson.h>

#include "dispatch.h"
#include "server.h"

#define OP_REPLY 1
#define OP_QUERY 2004
#define OP_MSG 2013

#define MSG_CHECKSUM_PRESENT 0x1u
#define MSG_MORE_TO_COME 0x2u
#define MSG_EXHAUST_ALLOWED 0x10000u

static int32_t
rd32(const uint8_t *p)
{
	uint32_t v =
		(uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return (int32_t)v;
}

static void
wr32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;
	p[0] = (uint8_t)u;
	p[1] = (uint8_t)(u >> 8);
	p[2] = (uint8_t)(u >> 16);
	p[3] = (uint8_t)(u >> 24);
}

/* Reads exactly n bytes; false on EOF or error. */
static bool
read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static bool
write_iov(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		size_t left = (size_t)w;
		while (n > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return true;
}

static bool
send_reply(conn_t *c, int32_t response_to, int32_t opcode, const bson_t *doc)
{
	static int32_t next_request_id = 1;
	uint8_t head[36];
	size_t head_len = opcode == OP_MSG ? 21 : 36;
	int32_t total = (int32_t)(head_len + doc->len);
	struct iovec iov[2];

	wr32(head, total);
	wr32(head + 4, __atomic_fetch_add(&next_request_id, 1, __ATOMIC_RELAXED));
	wr32(head + 8, response_to);
	wr32(head + 12, opcode);
	if (opcode == OP_MSG) {
		wr32(head + 16, 0); /* flags */
		head[20] = 0;       /* section kind 0 */
	} else {
		wr32(head + 16, 0);      /* responseFlags */
		memset(head + 20, 0, 8); /* cursorID */
		wr32(head + 28, 0);      /* startingFrom */
		wr32(head + 32, 1);      /* numberReturned */
	}
	iov[0].iov_base = head;
	iov[0].iov_len = head_len;
	iov[1].iov_base = (void *)bson_get_data(doc);
	iov[1].iov_len = doc->len;
	return write_iov(c->fd, iov, 2);
}

/* A BSON document at p within [p, end): checks its length and structure. */
static bool
read_doc(const uint8_t *p, const uint8_t *end, bson_t *doc, const char **why)
{
	if (end - p < 5) {
		*why = "truncated document";
		return false;
	}
	int32_t len = rd32(p);
	if (len < 5 || len > end - p) {
		*why = "document length out of bounds";
		return false;
	}
	if (!bson_init_static(doc, p, (size_t)len)) {
		*why = "invalid document";
		return false;
	}
	size_t off;
	if (!bson_validate(doc, BSON_VALIDATE_NONE, &off)) {
		*why = "corrupt BSON";
		return false;
	}
	return true;
}

static bson_t *reuse_buffer(uint8_t **buf, size_t *cap);

/*
 * Parses an OP_MSG body into *cmd_out (built in c->cmd_buf; bson_destroy
 * it), the kind-1 sequences folded in as arrays after the kind-0 document.
 * false + *why on a malformed message.
 */
static bool
parse_msg(conn_t *c, const uint8_t *body, size_t len, bson_t **cmd_out, uint32_t *flags,
	  const char **why)
{
	const uint8_t *p, *end = body + len;
	bson_t main_doc;
	bool have_main = false;

	if (len < 5) {
		*why = "OP_MSG too short";
		return false;
	}
	*flags = (uint32_t)rd32(body);
	if (*flags & MSG_CHECKSUM_PRESENT) {
		if (len < 9) {
			*why = "OP_MSG checksum missing";
			return false;
		}
		end -= 4; /* CRC-32C not verified */
	}
	if (*flags & ~(MSG_CHECKSUM_PRESENT | MSG_MORE_TO_COME | MSG_EXHAUST_ALLOWED) & 0xffffu) {
		*why = "OP_MSG has unknown required flag bits";
		return false;
	}
	/* pass 1: check the framing of every section and find the body */
	for (p = body + 4; p < end;) {
		uint8_t kind = *p++;
		if (kind == 0) {
			if (have_main) {
				*why = "OP_MSG has two kind-0 sections";
				return false;
			}
			if (!read_doc(p, end, &main_doc, why))
				return false;
			have_main = true;
			p += main_doc.len;
		} else if (kind == 1) {
			if (end - p < 4) {
				*why = "truncated document sequence";
				return false;
			}
			int32_t size = rd32(p);
			if (size < 5 || size > end - p) {
				*why = "document sequence length out of bounds";
				return false;
			}
			const uint8_t *sp = p + 4, *send_ = p + size;
			const uint8_t *nul = memchr(sp, 0, (size_t)(send_ - sp));
			if (!nul) {
				*why = "document sequence without identifier";
				return false;
			}
			for (sp = nul + 1; sp < send_;) {
				bson_t d;
				if (!read_doc(sp, send_, &d, why))
					return false;
				sp += d.len;
			}
			p += size;
		} else {
			*why = "unknown OP_MSG section kind";
			return false;
		}
	}
	if (!have_main) {
		*why = "OP_MSG without a kind-0 section";
		return false;
	}
	/* pass 2: build the command */
	bson_t *cmd = reuse_buffer(&c->cmd_buf, &c->cmd_cap);
	*cmd_out = cmd;
	bson_concat(cmd, &main_doc);
	for (p = body + 4; p < end;) {
		uint8_t kind = *p++;
		if (kind == 0) {
			p += rd32(p);
			continue;
		}
		int32_t size = rd32(p);
		const uint8_t *sp = p + 4, *send_ = p + size;
		const char *ident = (const char *)sp;
		bson_t arr;
		uint32_t i = 0;
		sp += strlen(ident) + 1;
		bson_append_array_begin(cmd, ident, -1, &arr);
		while (sp < send_) {
			bson_t d;
			char key[16];
			const char *kp;
			bson_init_static(&d, sp, (size_t)rd32(sp));
			size_t kl = bson_uint32_to_string(i++, &kp, key, sizeof key);
			bson_append_document(&arr, kp, (int)kl, &d);
			sp += d.len;
		}
		bson_append_array_end(cmd, &arr);
		p += size;
	}
	return true;
}

/* An empty document over a reusable buffer (bson_new_from_buffer reads
 * what the buffer holds, so it is reset to {} first). */
static bson_t *
reuse_buffer(uint8_t **buf, size_t *cap)
{
	static const uint8_t empty[5] = {5, 0, 0, 0, 0};
	if (*buf && *cap >= sizeof empty)
		memcpy(*buf, empty, sizeof empty);
	return bson_new_from_buffer(buf, cap, bson_realloc_ctx, NULL);
}

/* Handles one OP_QUERY; false to close the connection. */
static bool
handle_query(conn_t *c, int32_t request_id, const uint8_t *body, size_t len)
{
	const uint8_t *p = body, *end = body + len;
	bson_t query, reply;
	const char *why = NULL;
	char db[128];

	if (len < 4 + 1 + 8) {
		server_log(0, "conn%" PRId64 " %s: closing: truncated OP_QUERY", c->id, c->peer);
		return false;
	}
	p += 4; /* flags */
	const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
	if (!nul || end - nul < 9) {
		server_log(0, "conn%" PRId64 " %s: closing: malformed OP_QUERY namespace", c->id,
			   c->peer);
		return false;
	}
	const char *ns = (const char *)p;
	p = nul + 1 + 8;
	if (!read_doc(p, end, &query, &why)) {
		server_log(0, "conn%" PRId64 " %s: closing: OP_QUERY: %s", c->id, c->peer, why);
		return false;
	}
	const char *dot = strchr(ns, '.');
	size_t dl = dot ? (size_t)(dot - ns) : strlen(ns);
	if (dl >= sizeof db)
		dl = sizeof db - 1;
	memcpy(db, ns, dl);
	db[dl] = '\0';
	bson_init(&reply);
	if (!dot || strcmp(dot, ".$cmd") != 0) {
		BSON_APPEND_UTF8(&reply, "$err", "OP_QUERY is only supported for commands");
		BSON_APPEND_INT32(&reply, "code", 5739101);
		bool ok = send_reply(c, request_id, OP_REPLY, &reply);
		bson_destroy(&reply);
		return ok;
	}
	bson_t inner;
	bson_iter_t it;
	const bson_t *cmd = &query;
	/* drivers wrap a command as {$query: cmd, $readPreference: ...} */
	if (bson_iter_init_find(&it, &query, "$query") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *d;
		uint32_t l;
		bson_iter_document(&it, &l, &d);
		bson_init_static(&inner, d, l);
		cmd = &inner;
	}
	if (!dispatch_command(c, cmd, db, &reply)) {
		bson_destroy(&reply);
		return false;
	}
	bool ok = send_reply(c, request_id, OP_REPLY, &reply);
	bson_destroy(&reply);
	return ok;
}

static bool
handle_msg(conn_t *c, int32_t request_id, const uint8_t *body, size_t len)
{
	bson_t *cmd, *reply;
	uint32_t flags = 0;
	const char *why = NULL;

	if (!parse_msg(c, body, len, &cmd, &flags, &why)) {
		server_log(0, "conn%" PRId64 " %s: closing: malformed OP_MSG: %s", c->id, c->peer,
			   why);
		return false;
	}
	reply = reuse_buffer(&c->reply_buf, &c->reply_cap);
	bool keep = dispatch_command(c, cmd, NULL, reply);
	bson_destroy(cmd);
	if (keep && !(flags & MSG_MORE_TO_COME))
		keep = send_reply(c, request_id, OP_MSG, reply);
	bson_destroy(reply);
	return keep;
}

/* Frees a reusable buffer that grew past 4 MiB: the next big batch may
 * be far away, and connections are many. */
static void
shrink(uint8_t **buf, size_t *cap)
{
	if (*cap > (1u << 22)) {
		free(*buf);
		*buf = NULL;
		*cap = 0;
	}
}

void *
wire_serve(void *arg)
{
	conn_t *c = arg;
	uint8_t head[16];

	while (!server_shutting_down) {
		if (!read_full(c->fd, head, sizeof head))
			break;
		int32_t len = rd32(head), request_id = rd32(head + 4), opcode = rd32(head + 12);
		if (len < 16 || len > WIRE_MAX_MESSAGE) {
			server_log(0,
				   "conn%" PRId64 " %s: closing: message length %d out of bounds",
				   c->id, c->peer, len);
			break;
		}
		size_t body_len = (size_t)len - 16;
		if (body_len > c->cap) {
			size_t cap = c->cap ? c->cap : 4096;
			while (cap < body_len)
				cap *= 2;
			uint8_t *nb = realloc(c->buf, cap);
			if (!nb) {
				server_log(0, "conn%" PRId64 ": closing: out of memory", c->id);
				break;
			}
			c->buf = nb;
			c->cap = cap;
		}
		if (!read_full(c->fd, c->buf, body_len))
			break;
		bool keep;
		if (opcode == OP_MSG) {
			keep = handle_msg(c, request_id, c->buf, body_len);
		} else if (opcode == OP_QUERY) {
			keep = handle_query(c, request_id, c->buf, body_len);
		} else {
			server_log(0, "conn%" PRId64 " %s: closing: unsupported opcode %d", c->id,
				   c->peer, opcode);
			keep = false;
		}
		if (!keep)
			break;
		shrink(&c->buf, &c->cap);
		shrink(&c->cmd_buf, &c->cmd_cap);
		shrink(&c->reply_buf, &c->reply_cap);
	}
	server_log(2, "conn%" PRId64 " %s: end connection", c->id, c->peer);
	close(c->fd);
	__atomic_fetch_sub(&mlite_stats.connections_current, 1, __ATOMIC_RELAXED);
	free(c->buf);
	free(c->cmd_buf);
	free(c->reply_buf);
	free(c);
	return NULL;
}
