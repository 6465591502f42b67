/* Unit tests of the SHA-256 stream (digest.h). */
#include "digest.h"
#include "unit.h"

static void
hex_of(const char *text, size_t piece, char hex[DIGEST_HEX_LEN])
{
	digest_t *d = digest_new();
	size_t len = strlen(text);

	CHECK(d != NULL);
	for (size_t at = 0; at < len; at += piece)
		digest_update(d, text + at, len - at < piece ? len - at : piece);
	digest_final_hex(d, hex);
	digest_destroy(d);
}

static void
case_known_values(void)
{
	char hex[DIGEST_HEX_LEN];

	/* FIPS 180-2 test vectors, as sha256sum prints them. */
	hex_of("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_of("", 1, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* Fed in pieces of any size, the digest is the same. */
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 7, hex);
	CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static const unit_case_t cases[] = {
	{"known_values", case_known_values},
};

UNIT_MAIN(cases)
