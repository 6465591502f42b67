/*
 * Source transactions across collections (docs/DESIGN.md, "Meta
 * documents", "Replay rules"): the key of a transaction's change events
 * (lsid, txnNumber, clusterTime) and the meta document a database capture
 * writes for a transaction whose events it stages in more than one
 * collection, before it stages any of them:
 *
 *   _id "txn:<lsid id hex>:<txnNumber>:<t>:<i>", lsid, txnNumber,
 *   clusterTime, parts [{ns, firstSeq, lastSeq}] (several entries of one ns
 *   are one part: their lowest first and highest last seq)
 *
 * Parts are only ever added ($addToSet), so a capture that restarts in the
 * middle of a transaction completes the record rather than replacing it.
 */
#ifndef CSM_TXN_RECORD_H
#define CSM_TXN_RECORD_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "optime.h"

/* The transaction of an event; the lsid points into the event. */
typedef struct txn_key {
	const uint8_t *lsid;
	uint32_t lsid_len;
	int64_t txn_number;
	optime_t cluster_time;
} txn_key_t;

/* false when event carries no lsid and txnNumber (not in a transaction). */
bool txn_key_of(const bson_t *event, optime_t cluster_time, txn_key_t *key);
bool txn_key_same(const txn_key_t *a, const txn_key_t *b);
/* "txnNumber 7 of session 5f0c...e1 at (t, i)" for messages; bson_free() it. */
char *txn_key_describe(const txn_key_t *key);

/* One collection's staged documents of the transaction. */
typedef struct txn_part {
	char *ns;
	int64_t first_seq, last_seq;
} txn_part_t;

typedef struct txn_record {
	txn_part_t *parts; /* one per ns */
	size_t n, cap;
} txn_record_t;

void txn_record_init(txn_record_t *rec);
void txn_record_cleanup(txn_record_t *rec);
/* Adds seqs first..last of ns, merged into ns's part when it has one. */
void txn_record_add(txn_record_t *rec, const char *ns, int64_t first_seq, int64_t last_seq);
/* ns's part, NULL when the record has none. */
const txn_part_t *txn_record_part(const txn_record_t *rec, const char *ns);

/* Upserts the record of key with rec's parts into meta (w: majority, j). */
bool txn_record_write(mongoc_collection_t *meta, const txn_key_t *key, const txn_record_t *rec,
		      bson_error_t *error);

/* Reads the record of key (read concern majority) into rec (cleared
 * first); *found false when there is none. */
bool txn_record_read(mongoc_collection_t *meta, const txn_key_t *key, txn_record_t *rec,
		     bool *found, bson_error_t *error);

#endif
