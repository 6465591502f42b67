/*
 * Comparing a source and a target collection (cdc-verify; docs/DESIGN.md,
 * "Programs"): counts, then every document by _id, byte-equal BSON, in one
 * merge walk over both collections read in _id order, so memory stays bounded
 * whatever their size. With a sample size, only that many random _ids are
 * compared.
 */
#ifndef CSM_VERIFY_H
#define CSM_VERIFY_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The largest --sample: the sampled _ids are held in memory. */
#define VERIFY_MAX_SAMPLE 1000000

typedef struct verify_opts {
	const char *db;      /* source database */
	const char *coll;    /* source collection */
	const char *to_db;   /* target database (NULL: db) */
	const char *to_coll; /* target collection (NULL: coll) */
	int64_t sample;      /* 0: every document; N: N random _ids */
	int64_t max_report;  /* differences printed at most */
	int32_t batch_size;  /* find batch size (0: the server's default) */
	/* Documents equal up to field order are counted as reordered, apart
	 * from real differences. */
	bool ignore_field_order;
	FILE *out; /* differences go here, one a line */
} verify_opts_t;

typedef struct verify_result {
	int64_t source_count; /* documents in the source collection */
	int64_t target_count; /* documents in the target collection */
	int64_t compared;     /* distinct _ids looked at, both sides */
	int64_t missing;      /* on the source, not on the target */
	int64_t extra;        /* on the target, not on the source */
	int64_t different;    /* on both, not byte-equal (nor reordered) */
	int64_t reordered;    /* ignore_field_order: equal up to field order */
	bool sampled;         /* only a sample was compared */
	bool sample_fallback; /* $sample was refused: _ids read and sampled here */
} verify_result_t;

/* Sets the defaults: max_report 20, out stdout. */
void verify_opts_init(verify_opts_t *opts);

/*
 * Compares the collections, printing the first max_report differences to
 * opts->out as they are found ("missing on target: _id 5", "extra on
 * target: _id ...", "different: _id ... (first difference at field 'f')",
 * with ignore_field_order "field order: _id ..."; reordered documents are
 * no difference).
 * Fills result (zeroed first). Returns false with error on failure: a
 * missing source or target collection is exit code 66, a server error is
 * mapped by csm_exit_code, a server whose _id order disagrees with MongoDB's
 * is 70. Differences are not an error: see verify_result_equal.
 */
bool verify_run(mongoc_client_t *source, mongoc_client_t *target, const verify_opts_t *opts,
		verify_result_t *result, bson_error_t *error);

/* True when the counts match and no difference was found. */
bool verify_result_equal(const verify_result_t *result);

/*
 * The relaxed extended JSON of value ("5", "{ \"$oid\" : \"...\" }"); the
 * caller bson_free()s it.
 */
char *verify_value_to_json(const bson_value_t *value);

#endif
