/* Cluster times (optime.h). */
#include "optime.h"

int
optime_cmp(optime_t a, optime_t b)
{
	if (a.t != b.t)
		return a.t < b.t ? -1 : 1;
	if (a.i != b.i)
		return a.i < b.i ? -1 : 1;
	return 0;
}

bool
optime_is_zero(optime_t a)
{
	return a.t == 0 && a.i == 0;
}

bool
optime_from_doc(const bson_t *doc, const char *key, optime_t *out)
{
	bson_iter_t it;

	if (!doc || !bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_TIMESTAMP(&it))
		return false;
	bson_iter_timestamp(&it, &out->t, &out->i);
	return true;
}

bool
optime_append(bson_t *doc, const char *key, optime_t a)
{
	return bson_append_timestamp(doc, key, -1, a.t, a.i);
}

/* The 8 hex digits at hex as a number, into *out; false on a non-hex digit. */
static bool
hex_u32(const char *hex, uint32_t *out)
{
	uint32_t v = 0;

	for (int k = 0; k < 8; k++) {
		char c = hex[k];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : -1;

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

bool
optime_from_token(const bson_t *token, optime_t *out)
{
	bson_iter_t it;
	const char *data;
	uint32_t len;

	if (!token || !bson_iter_init_find(&it, token, "_data") || !BSON_ITER_HOLDS_UTF8(&it))
		return false;
	data = bson_iter_utf8(&it, &len);
	if (len < 18 || data[0] != '8' || data[1] != '2')
		return false;
	return hex_u32(data + 2, &out->t) && hex_u32(data + 10, &out->i);
}
