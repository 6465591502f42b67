/* SHA-256 through libcrypto's EVP interface (digest.h). */
#include "digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

struct digest {
	EVP_MD_CTX *ctx;
};

digest_t *
digest_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	digest_t *digest;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	digest = malloc(sizeof *digest);
	if (!digest) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	digest->ctx = ctx;
	return digest;
}

void
digest_destroy(digest_t *digest)
{
	if (!digest)
		return;
	EVP_MD_CTX_free(digest->ctx);
	free(digest);
}

void
digest_update(digest_t *digest, const void *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(digest->ctx, data, len);
}

void
digest_final_hex(digest_t *digest, char hex[DIGEST_HEX_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_DigestFinal_ex(digest->ctx, md, &len);
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = '\0';
}
