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
