/* Reading one field of a document (bsonfield.h). */
#include "bsonfield.h"

int64_t
bsonfield_int64(const bson_t *doc, const char *key, int64_t dflt)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it))
		return bson_iter_as_int64(&it);
	return dflt;
}

int64_t
bsonfield_date(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it))
		return bson_iter_date_time(&it);
	return 0;
}

bool
bsonfield_utf8(const bson_t *doc, const char *key, char *out, size_t size)
{
	bson_iter_t it;

	out[0] = '\0';
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
		return false;
	bson_strncpy(out, bson_iter_utf8(&it, NULL), size);
	return true;
}

char *
bsonfield_utf8_dup(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_strdup(bson_iter_utf8(&it, NULL));
	return NULL;
}

bool
bsonfield_document(const bson_t *doc, const char *key, bson_t *out)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;
	bson_t view;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(&view, data, len))
		return false;
	bson_destroy(out);
	bson_copy_to(&view, out);
	return true;
}
