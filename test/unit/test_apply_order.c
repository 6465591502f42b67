/*
 * lib/apply_order.c: documents known by _id, and a batch's ops arranged
 * into the fewest write commands that keep each document's order.
 */
#include "apply_order.h"

#include "unit.h"

#define MAX_OPS 600

/* ops[i] of kind (true: a delete) and document hash; no documents. */
static void
set_op(apply_op_t *op, bool del, uint32_t hash)
{
	memset(op, 0, sizeof *op);
	op->kind = del ? APPLY_OP_DELETE : APPLY_OP_UPDATE;
	op->doc_hash = hash;
}

/* The fewest runs any arrangement keeping each document's order can have:
 * an alternating sequence of runs must hold every document's chain of
 * kind changes, so for a first run of kind t it is the longest chain, one
 * more for a chain that begins with the other kind. */
static size_t
least_runs(const apply_op_t *ops, size_t n)
{
	size_t best = 0;

	for (int t = 0; t < 2; t++) {
		size_t need = 0;

		for (size_t i = 0; i < n; i++) {
			size_t chain = 0;
			int last = -1;
			bool seen_before = false;

			for (size_t k = 0; k < i; k++)
				seen_before |= ops[k].doc_hash == ops[i].doc_hash;
			if (seen_before)
				continue;
			for (size_t k = i; k < n; k++) {
				int kind = ops[k].kind == APPLY_OP_DELETE;

				if (ops[k].doc_hash != ops[i].doc_hash || kind == last)
					continue;
				if (last == -1 && kind != t)
					chain++;
				chain++;
				last = kind;
			}
			need = chain > need ? chain : need;
		}
		if (t == 0 || need < best)
			best = need;
	}
	return best;
}

/* order[0..n) is a permutation of index (0..n when NULL) that keeps the
 * order of ops of one hash. */
static bool
keeps_document_order(const apply_op_t *ops, const size_t *index, const size_t *order, size_t n)
{
	static bool seen[MAX_OPS];

	memset(seen, 0, sizeof seen);
	for (size_t i = 0; i < n; i++) {
		if (seen[order[i]])
			return false;
		seen[order[i]] = true;
		for (size_t k = i + 1; k < n; k++)
			if (ops[order[k]].doc_hash == ops[order[i]].doc_hash && order[k] < order[i])
				return false;
	}
	for (size_t i = 0; i < n; i++)
		if (!seen[index ? index[i] : i])
			return false;
	return true;
}

static void
case_random_batches(void)
{
	static apply_op_t ops[MAX_OPS];
	apply_order_t o;

	apply_order_init(&o);
	srand(20);
	for (int round = 0; round < 300; round++) {
		size_t n = 1 + (size_t)rand() % 200;
		uint32_t docs = 1 + (uint32_t)rand() % 40;
		int deletes = rand() % 100;

		for (size_t i = 0; i < n; i++)
			set_op(&ops[i], rand() % 100 < deletes, (uint32_t)rand() % docs * 7919u);
		apply_order_arrange(&o, ops, NULL, n);
		CHECK(keeps_document_order(ops, NULL, o.order, n));
		CHECK_INT(o.runs, least_runs(ops, n));
		CHECK_INT(apply_order_runs(ops, o.order, n), o.runs);
		CHECK(o.runs <= apply_order_runs(ops, NULL, n));
	}
	apply_order_destroy(&o);
}

static void
case_fewest_runs(void)
{
	/* The bench's mix: many documents, each updated or deleted once or
	 * twice, in a batch where kinds alternate every few ops. */
	static apply_op_t ops[MAX_OPS];
	apply_order_t o;
	size_t n = 0;

	apply_order_init(&o);
	for (uint32_t d = 0; d < 100; d++) {
		set_op(&ops[n++], false, d); /* insert */
		set_op(&ops[n++], d % 3 == 0, d + 1000);
		set_op(&ops[n++], false, d + 2000);
		set_op(&ops[n++], true, d); /* delete of the first */
	}
	apply_order_arrange(&o, ops, NULL, n);
	CHECK(apply_order_runs(ops, NULL, n) > 100);
	CHECK_INT(o.runs, 2);
	CHECK(keeps_document_order(ops, NULL, o.order, n));
	/* A batch that begins with documents deleted, then inserted again:
	 * D, U is two runs (a U-first pattern would need three). */
	set_op(&ops[0], true, 1);
	set_op(&ops[1], false, 1);
	set_op(&ops[2], false, 2);
	set_op(&ops[3], true, 3);
	set_op(&ops[4], false, 3);
	apply_order_arrange(&o, ops, NULL, 5);
	CHECK_INT(o.runs, 2);
	CHECK_INT(apply_order_runs(ops, o.order, 5), 2);
	CHECK(ops[o.order[0]].kind == APPLY_OP_DELETE);
	/* One document: its order is the batch's. */
	for (size_t i = 0; i < 9; i++)
		set_op(&ops[i], i % 3 == 2, 5);
	apply_order_arrange(&o, ops, NULL, 9);
	CHECK_INT(o.runs, 6);
	for (size_t i = 0; i < 9; i++)
		CHECK_INT(o.order[i], i);
	apply_order_arrange(&o, ops, NULL, 0);
	CHECK_INT(o.runs, 0);
	apply_order_destroy(&o);
}

static void
case_colliding_hashes_are_one_document(void)
{
	/* Two documents whose _ids hash alike: delete of one, insert of the
	 * other stay in the batch's order (an order not needed, never a
	 * wrong one). */
	static apply_op_t ops[4];
	apply_order_t o;

	apply_order_init(&o);
	set_op(&ops[0], false, 1);
	set_op(&ops[1], true, 42);  /* document A */
	set_op(&ops[2], false, 42); /* document B, same hash */
	set_op(&ops[3], true, 1);
	apply_order_arrange(&o, ops, NULL, 4);
	CHECK(keeps_document_order(ops, NULL, o.order, 4));
	for (size_t i = 0; i < 4; i++)
		if (o.order[i] == 2)
			for (size_t k = i; k < 4; k++)
				CHECK(o.order[k] != 1);
	apply_order_destroy(&o);
}

static void
case_lane_subset_and_bounded_memory(void)
{
	static apply_op_t ops[MAX_OPS];
	static size_t index[MAX_OPS];
	apply_order_t o;
	size_t n = 0;

	apply_order_init(&o);
	for (size_t i = 0; i < MAX_OPS; i++)
		set_op(&ops[i], i % 5 == 0, (uint32_t)(i % 50));
	for (size_t i = 1; i < MAX_OPS; i += 2)
		index[n++] = i;
	apply_order_arrange(&o, ops, index, n);
	CHECK(keeps_document_order(ops, index, o.order, n));
	CHECK_INT(apply_order_runs(ops, o.order, n), o.runs);
	apply_order_arrange(&o, ops, NULL, MAX_OPS);
	CHECK(keeps_document_order(ops, NULL, o.order, MAX_OPS));
	/* scratch sized by the largest batch, never by the number of calls */
	for (int i = 0; i < 50; i++)
		apply_order_arrange(&o, ops, NULL, MAX_OPS);
	CHECK_INT(o.cap, MAX_OPS);
	CHECK(o.keys_cap >= 2 * MAX_OPS && o.keys_cap < 4 * MAX_OPS);
	CHECK(o.count_cap <= MAX_OPS + 1);
	apply_order_destroy(&o);
}

static uint32_t
hash_json(const char *json)
{
	bson_t *key = bson_new_from_json((const uint8_t *)json, -1, NULL);
	uint32_t h;

	if (!key) {
		fprintf(stderr, "bad json %s\n", json);
		unit_failed_checks++;
		return 0;
	}
	h = apply_order_doc_hash(key);
	bson_destroy(key);
	return h;
}

static void
case_doc_hash_equal_ids(void)
{
	uint32_t one = hash_json("{\"_id\": 1}");
	uint32_t a = hash_json("{\"_id\": \"a\"}");

	/* numbers by value, whatever their type */
	CHECK_INT(hash_json("{\"_id\": 1.0}"), one);
	CHECK_INT(hash_json("{\"_id\": {\"$numberLong\": \"1\"}}"), one);
	CHECK_INT(hash_json("{\"_id\": {\"$numberDecimal\": \"1.00\"}}"), one);
	CHECK_INT(hash_json("{\"_id\": -0.0}"), hash_json("{\"_id\": 0}"));
	CHECK(hash_json("{\"_id\": 2}") != one);
	CHECK(hash_json("{\"_id\": \"1\"}") != one);
	/* the _id alone: a shard key change stays one document */
	CHECK_INT(hash_json("{\"sk\": 1, \"_id\": \"a\"}"), a);
	CHECK_INT(hash_json("{\"sk\": \"x\", \"_id\": \"a\"}"), a);
	CHECK_INT(hash_json("{\"_id\": {\"$symbol\": \"a\"}}"), a);
	CHECK(hash_json("{\"_id\": \"b\"}") != a);
	CHECK_INT(hash_json("{\"_id\": null}"), hash_json("{\"_id\": {\"$undefined\": true}}"));
	/* documents and arrays element by element */
	CHECK_INT(hash_json("{\"_id\": {\"a\": 1, \"b\": [2]}}"),
		  hash_json("{\"_id\": {\"a\": 1.0, \"b\": [{\"$numberLong\": \"2\"}]}}"));
	CHECK(hash_json("{\"_id\": {\"a\": 1, \"b\": 2}}") !=
	      hash_json("{\"_id\": {\"b\": 2, \"a\": 1}}"));
	CHECK(hash_json("{\"_id\": [1]}") != hash_json("{\"_id\": {\"0\": 1}}"));
	CHECK_INT(hash_json("{\"_id\": {\"$oid\": \"5f1d7f3e9b1e8a3c4d5e6f70\"}}"),
		  hash_json("{\"x\": 0, \"_id\": {\"$oid\": \"5f1d7f3e9b1e8a3c4d5e6f70\"}}"));
	CHECK(hash_json("{\"_id\": {\"$oid\": \"5f1d7f3e9b1e8a3c4d5e6f70\"}}") !=
	      hash_json("{\"_id\": {\"$oid\": \"5f1d7f3e9b1e8a3c4d5e6f71\"}}"));
}

static const unit_case_t cases[] = {
	{"random_batches", case_random_batches},
	{"fewest_runs", case_fewest_runs},
	{"colliding_hashes_are_one_document", case_colliding_hashes_are_one_document},
	{"lane_subset_and_bounded_memory", case_lane_subset_and_bounded_memory},
	{"doc_hash_equal_ids", case_doc_hash_equal_ids},
};

UNIT_MAIN(cases)
