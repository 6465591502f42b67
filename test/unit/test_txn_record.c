/* lib/txn_record.c (keys, parts) and lib/capture_dbtxn.c (which records a
 * database capture writes before a batch). */
#include <bson/bson.h>

#include "capture_dbtxn.h"
#include "txn_record.h"
#include "unit.h"

/* A change event of a transaction (txn > 0) or not, at clusterTime (t, 1). */
static bson_t *
event(const char *lsid_byte, int64_t txn, uint32_t t)
{
	bson_t *ev = bson_new(), lsid;
	uint8_t id[16] = {0};

	id[0] = (uint8_t)lsid_byte[0];
	BSON_APPEND_TIMESTAMP(ev, "clusterTime", t, 1);
	if (txn > 0) {
		BSON_APPEND_DOCUMENT_BEGIN(ev, "lsid", &lsid);
		BSON_APPEND_BINARY(&lsid, "id", BSON_SUBTYPE_UUID, id, sizeof id);
		bson_append_document_end(ev, &lsid);
		BSON_APPEND_INT64(ev, "txnNumber", txn);
	}
	return ev;
}

static void
case_key_and_parts(void)
{
	bson_t *a = event("x", 7, 100), *b = event("x", 7, 100), *c = event("x", 8, 100);
	bson_t *plain = event("x", 0, 100);
	txn_key_t ka, kb, kc, kp;
	txn_record_t rec;

	CHECK(txn_key_of(a, (optime_t){100, 1}, &ka) && txn_key_of(b, (optime_t){100, 1}, &kb));
	CHECK(txn_key_of(c, (optime_t){100, 1}, &kc));
	CHECK(!txn_key_of(plain, (optime_t){100, 1}, &kp));
	CHECK(txn_key_same(&ka, &kb) && !txn_key_same(&ka, &kc));
	char *what = txn_key_describe(&ka);
	CHECK_CONTAINS(what, "txnNumber 7 of session 78000000");
	CHECK_CONTAINS(what, "at (100, 1)");
	bson_free(what);
	/* two entries of one ns (a capture restarted in the middle) are one part */
	txn_record_init(&rec);
	txn_record_add(&rec, "db.a", 5, 6);
	txn_record_add(&rec, "db.b", 3, 3);
	txn_record_add(&rec, "db.a", 7, 9);
	CHECK_INT((int)rec.n, 2);
	CHECK(txn_record_part(&rec, "db.a")->first_seq == 5 &&
	      txn_record_part(&rec, "db.a")->last_seq == 9);
	CHECK(txn_record_part(&rec, "db.c") == NULL);
	txn_record_cleanup(&rec);
	bson_destroy(a);
	bson_destroy(b);
	bson_destroy(c);
	bson_destroy(plain);
}

static void
case_capture_records_due(void)
{
	capture_dbtxn_t t;
	bson_t *t1 = event("x", 1, 10), *t2 = event("y", 1, 11), *plain = event("x", 0, 12);

	/* the first event read may continue a transaction staged before a
	 * restart: its record is written even with one collection */
	capture_dbtxn_init(&t);
	capture_dbtxn_read(&t, t1);
	capture_dbtxn_part(&t, "db.b", 7, 7);
	capture_dbtxn_read(&t, plain);
	CHECK(capture_dbtxn_due(&t));
	capture_dbtxn_cleanup(&t);
	capture_dbtxn_init(&t);
	capture_dbtxn_read(&t, plain);
	/* a transaction of one collection, then another event: nothing to write */
	capture_dbtxn_read(&t, t1);
	capture_dbtxn_part(&t, "db.a", 1, 1);
	capture_dbtxn_read(&t, plain);
	capture_dbtxn_part(&t, "db.a", 2, 2);
	CHECK(!capture_dbtxn_due(&t));
	/* one still open when the batch is staged: written, it may go on */
	capture_dbtxn_read(&t, t2);
	capture_dbtxn_part(&t, "db.a", 3, 3);
	CHECK(capture_dbtxn_due(&t));
	t.entries[t.n - 1].dirty = false; /* as if written */
	/* its next part, in another collection: due again, with both */
	capture_dbtxn_read(&t, t2);
	capture_dbtxn_part(&t, "db.b", 1, 2);
	CHECK(capture_dbtxn_due(&t));
	CHECK_INT((int)t.entries[t.n - 1].rec.n, 2);
	/* it ends: still due (two collections), no longer open */
	capture_dbtxn_read(&t, plain);
	CHECK(capture_dbtxn_due(&t) && !t.open);
	capture_dbtxn_cleanup(&t);
	bson_destroy(t1);
	bson_destroy(t2);
	bson_destroy(plain);
}

static const unit_case_t cases[] = {
	{"key_and_parts", case_key_and_parts},
	{"capture_records_due", case_capture_records_due},
};

UNIT_MAIN(cases)
