/*
 * SHA-256 of a stream of bytes, from OpenSSL's libcrypto (already beneath
 * libmongoc), for the integrity record of a dump (docs/DESIGN.md, "Dump
 * format"): an operator can check it by hand with sha256sum.
 */
#ifndef CSM_DIGEST_H
#define CSM_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 64 hex digits and a NUL. */
#define DIGEST_HEX_LEN 65

typedef struct digest digest_t;

/* A fresh SHA-256 state; NULL only when libcrypto cannot make one. */
digest_t *digest_new(void);
void digest_destroy(digest_t *digest);

/* Adds len bytes. */
void digest_update(digest_t *digest, const void *data, size_t len);

/* Writes the digest of everything added as lower-case hex into hex. The
 * state cannot be updated afterwards. */
void digest_final_hex(digest_t *digest, char hex[DIGEST_HEX_LEN]);

#endif
