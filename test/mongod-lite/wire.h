/*
 * The wire protocol: message framing (OP_MSG with kind-1 sequences and the
 * checksum flag, OP_QUERY answered by OP_REPLY), one thread per connection.
 */
#ifndef MLITE_WIRE_H
#define MLITE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest message accepted or sent (hello's maxMessageSizeBytes). */
#define WIRE_MAX_MESSAGE 48000000

typedef struct conn {
	int fd;
	int64_t id;         /* connectionId, 1, 2, 3... */
	char app_name[128]; /* client.application.name from the handshake */
	char peer[64];      /* "ip:port" for log lines */
	bool authenticated; /* a saslStart succeeded (see cmd_auth.c) */
	uint8_t *buf;       /* the message being read */
	size_t cap;
	/* Buffers reused by every command and reply of the connection, so
	 * megabyte batches do not fragment the heap the documents live in. */
	uint8_t *cmd_buf;
	size_t cmd_cap;
	uint8_t *reply_buf;
	size_t reply_cap;
} conn_t;

/*
 * Serves one accepted socket until the peer closes it, a frame is malformed
 * or a fail point closes it; then closes fd and frees conn. The pthread
 * start routine for each connection (arg is a conn_t * from malloc).
 */
void *wire_serve(void *arg);

#endif
