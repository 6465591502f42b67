/* Cross-collection transaction records (txn_record.h). */
#include "txn_record.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bsonfield.h"
#include "error.h"
#include "meta_doc.h"
#include "staging_format.h"

/* Fields of a change event of a transaction (the server's names). */
#define EVENT_F_LSID "lsid"
#define EVENT_F_TXN_NUMBER "txnNumber"

bool
txn_key_of(const bson_t *event, optime_t cluster_time, txn_key_t *key)
{
	bson_iter_t it;

	memset(key, 0, sizeof *key);
	key->cluster_time = cluster_time;
	if (!event || !bson_iter_init_find(&it, event, EVENT_F_TXN_NUMBER) ||
	    !BSON_ITER_HOLDS_INT64(&it))
		return false;
	key->txn_number = bson_iter_int64(&it);
	if (!bson_iter_init_find(&it, event, EVENT_F_LSID) || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	bson_iter_document(&it, &key->lsid_len, &key->lsid);
	return true;
}

bool
txn_key_same(const txn_key_t *a, const txn_key_t *b)
{
	return a->txn_number == b->txn_number && a->lsid_len == b->lsid_len &&
	       memcmp(a->lsid, b->lsid, a->lsid_len) == 0 &&
	       optime_cmp(a->cluster_time, b->cluster_time) == 0;
}

/* The lsid's id in hex ("?" when it has none) into hex[33]. */
static void
lsid_hex(const txn_key_t *key, char hex[33])
{
	bson_t lsid;
	bson_iter_t it;

	snprintf(hex, 33, "?");
	if (bson_init_static(&lsid, key->lsid, key->lsid_len) &&
	    bson_iter_init_find(&it, &lsid, "id") && BSON_ITER_HOLDS_BINARY(&it)) {
		bson_subtype_t st;
		uint32_t len;
		const uint8_t *id;
		bson_iter_binary(&it, &st, &len, &id);
		for (uint32_t k = 0; k < len && k < 16; k++)
			snprintf(hex + 2 * k, 3, "%02x", id[k]);
	}
}

char *
txn_key_describe(const txn_key_t *key)
{
	char hex[33];

	lsid_hex(key, hex);
	return bson_strdup_printf("txnNumber %" PRId64 " of session %s at (%u, %u)",
				  key->txn_number, hex, key->cluster_time.t, key->cluster_time.i);
}

static char *
record_id(const txn_key_t *key)
{
	char hex[33];

	lsid_hex(key, hex);
	return bson_strdup_printf("%s%s:%" PRId64 ":%u:%u", STAGING_TXN_ID_PREFIX, hex,
				  key->txn_number, key->cluster_time.t, key->cluster_time.i);
}

void
txn_record_init(txn_record_t *rec)
{
	memset(rec, 0, sizeof *rec);
}

void
txn_record_cleanup(txn_record_t *rec)
{
	for (size_t k = 0; k < rec->n; k++)
		bson_free(rec->parts[k].ns);
	bson_free(rec->parts);
	txn_record_init(rec);
}

const txn_part_t *
txn_record_part(const txn_record_t *rec, const char *ns)
{
	for (size_t k = 0; k < rec->n; k++)
		if (strcmp(rec->parts[k].ns, ns) == 0)
			return &rec->parts[k];
	return NULL;
}

void
txn_record_add(txn_record_t *rec, const char *ns, int64_t first_seq, int64_t last_seq)
{
	txn_part_t *p = (txn_part_t *)txn_record_part(rec, ns);

	if (p) {
		p->first_seq = first_seq < p->first_seq ? first_seq : p->first_seq;
		p->last_seq = last_seq > p->last_seq ? last_seq : p->last_seq;
		return;
	}
	if (rec->n == rec->cap) {
		rec->cap = rec->cap ? rec->cap * 2 : 4;
		rec->parts = bson_realloc(rec->parts, rec->cap * sizeof *rec->parts);
	}
	rec->parts[rec->n++] =
		(txn_part_t){.ns = bson_strdup(ns), .first_seq = first_seq, .last_seq = last_seq};
}

bool
txn_record_write(mongoc_collection_t *meta, const txn_key_t *key, const txn_record_t *rec,
		 bson_error_t *error)
{
	char *id = record_id(key);
	bson_t selector = BSON_INITIALIZER, update = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_t on_insert, add, parts, each, part, lsid;
	char idx[16];
	const char *k;
	bool ok;

	BSON_APPEND_UTF8(&selector, META_F_ID, id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &on_insert);
	if (bson_init_static(&lsid, key->lsid, key->lsid_len))
		BSON_APPEND_DOCUMENT(&on_insert, META_F_LSID, &lsid);
	BSON_APPEND_INT64(&on_insert, META_F_TXN_NUMBER, key->txn_number);
	optime_append(&on_insert, META_F_CLUSTER_TIME, key->cluster_time);
	bson_append_document_end(&update, &on_insert);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$addToSet", &add);
	BSON_APPEND_DOCUMENT_BEGIN(&add, META_F_PARTS, &parts);
	BSON_APPEND_ARRAY_BEGIN(&parts, "$each", &each);
	for (uint32_t n = 0; n < rec->n; n++) {
		bson_uint32_to_string(n, &k, idx, sizeof idx);
		BSON_APPEND_DOCUMENT_BEGIN(&each, k, &part);
		BSON_APPEND_UTF8(&part, META_F_NS, rec->parts[n].ns);
		BSON_APPEND_INT64(&part, META_F_FIRST_SEQ, rec->parts[n].first_seq);
		BSON_APPEND_INT64(&part, META_F_LAST_SEQ, rec->parts[n].last_seq);
		bson_append_document_end(&each, &part);
	}
	bson_append_array_end(&parts, &each);
	bson_append_document_end(&add, &parts);
	bson_append_document_end(&update, &add);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	meta_doc_durable(&opts);
	ok = mongoc_collection_update_one(meta, &selector, &update, &opts, NULL, error);
	if (!ok)
		csm_error_prefix(error, "cannot write the transaction record '%s'", id);
	bson_destroy(&opts);
	bson_destroy(&update);
	bson_destroy(&selector);
	bson_free(id);
	return ok;
}

/* Adds the parts of doc's array to rec. */
static void
parts_from(const bson_t *doc, txn_record_t *rec)
{
	bson_iter_t it, child;

	if (!bson_iter_init_find(&it, doc, META_F_PARTS) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &child))
		return;
	while (bson_iter_next(&child)) {
		bson_t part;
		uint32_t len;
		const uint8_t *data;
		char ns[512];

		if (!BSON_ITER_HOLDS_DOCUMENT(&child))
			continue;
		bson_iter_document(&child, &len, &data);
		if (!bson_init_static(&part, data, len) ||
		    !bsonfield_utf8(&part, META_F_NS, ns, sizeof ns))
			continue;
		txn_record_add(rec, ns, bsonfield_int64(&part, META_F_FIRST_SEQ, 0),
			       bsonfield_int64(&part, META_F_LAST_SEQ, 0));
	}
}

bool
txn_record_read(mongoc_collection_t *meta, const txn_key_t *key, txn_record_t *rec, bool *found,
		bson_error_t *error)
{
	char *id = record_id(key);
	bson_t doc;
	bool ok;

	txn_record_cleanup(rec);
	ok = meta_doc_read(meta, id, &doc, found, error);
	if (!ok) {
		csm_error_keep_transient(error, NULL);
		csm_error_prefix(error, "cannot read the transaction record '%s'", id);
	} else if (*found) {
		parts_from(&doc, rec);
	}
	bson_destroy(&doc);
	bson_free(id);
	return ok;
}
