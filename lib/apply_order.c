/*
 * Documents by _id, and a batch's ops arranged into the fewest write
 * commands (docs/DESIGN.md, "Replay rules", Applying).
 */
#include "apply_order.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct apply_order_key {
	uint32_t hash;
	uint32_t slot; /* of the document's last op, U-first pattern */
	bool used;
	bool first_delete;
};

#define FNV_OFFSET 2166136261u

static uint32_t
fnv(uint32_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/* A number as the double nearest its value: values MongoDB finds equal
 * give the same double (-0 as 0, every NaN as one). */
static double
number_value(const bson_iter_t *iter)
{
	double d;

	if (BSON_ITER_HOLDS_DECIMAL128(iter)) {
		bson_decimal128_t dec;
		char text[BSON_DECIMAL128_STRING];

		bson_iter_decimal128(iter, &dec);
		bson_decimal128_to_string(&dec, text);
		d = strtod(text, NULL);
	} else {
		d = bson_iter_as_double(iter);
	}
	if (isnan(d))
		return NAN;
	return d == 0 ? 0.0 : d;
}

static uint32_t hash_value(uint32_t h, bson_iter_t *iter);

/* The elements of a document or array, names and values. */
static uint32_t
hash_elements(uint32_t h, bson_iter_t *iter)
{
	bson_iter_t child;

	if (!bson_iter_recurse(iter, &child))
		return h;
	while (bson_iter_next(&child)) {
		const char *key = bson_iter_key(&child);

		h = fnv(h, key, strlen(key) + 1);
		h = hash_value(h, &child);
	}
	return h;
}

static uint32_t
hash_value(uint32_t h, bson_iter_t *iter)
{
	bson_type_t type = bson_iter_type(iter);
	uint8_t tag = (uint8_t)type;

	if (BSON_ITER_HOLDS_NUMBER(iter) || BSON_ITER_HOLDS_DECIMAL128(iter)) {
		double d = number_value(iter);

		tag = 'n';
		h = fnv(h, &tag, 1);
		return fnv(h, &d, sizeof d);
	}
	if (type == BSON_TYPE_UTF8 || type == BSON_TYPE_SYMBOL) {
		uint32_t len;
		const char *s = type == BSON_TYPE_UTF8 ? bson_iter_utf8(iter, &len)
						       : bson_iter_symbol(iter, &len);

		tag = 's';
		h = fnv(h, &tag, 1);
		return fnv(h, s, len);
	}
	if (type == BSON_TYPE_NULL || type == BSON_TYPE_UNDEFINED) {
		tag = 'z';
		return fnv(h, &tag, 1);
	}
	h = fnv(h, &tag, 1);
	if (type == BSON_TYPE_DOCUMENT || type == BSON_TYPE_ARRAY)
		return hash_elements(h, iter);
	{
		/* Any other type: its value's bytes. */
		bson_t one = BSON_INITIALIZER;

		bson_append_iter(&one, "", 0, iter);
		h = fnv(h, bson_get_data(&one), one.len);
		bson_destroy(&one);
	}
	return h;
}

uint32_t
apply_order_doc_hash(const bson_t *document_key)
{
	bson_iter_t iter;
	uint32_t h = FNV_OFFSET;

	if (bson_iter_init_find(&iter, document_key, "_id"))
		return hash_value(h, &iter);
	if (!bson_iter_init(&iter, document_key))
		return h;
	while (bson_iter_next(&iter))
		h = hash_value(h, &iter);
	return h;
}

void
apply_order_init(apply_order_t *o)
{
	memset(o, 0, sizeof *o);
}

void
apply_order_destroy(apply_order_t *o)
{
	bson_free(o->order);
	bson_free(o->slot);
	bson_free(o->first_delete);
	bson_free(o->keys);
	bson_free(o->count);
	apply_order_init(o);
}

/* Room for n ops: every array batch-sized, the key table emptied. */
static void
reserve(apply_order_t *o, size_t n)
{
	size_t keys = 16;

	if (n > o->cap) {
		o->cap = n;
		o->order = bson_realloc(o->order, n * sizeof *o->order);
		o->slot = bson_realloc(o->slot, n * sizeof *o->slot);
		o->first_delete = bson_realloc(o->first_delete, n);
	}
	while (keys < 2 * n)
		keys *= 2;
	if (keys > o->keys_cap) {
		o->keys_cap = keys;
		o->keys = bson_realloc(o->keys, keys * sizeof *o->keys);
	}
	memset(o->keys, 0, o->keys_cap * sizeof *o->keys);
}

/* The table entry of hash (linear probing; never full: twice the ops). */
static apply_order_key_t *
key_entry(apply_order_t *o, uint32_t hash)
{
	size_t mask = o->keys_cap - 1;
	size_t i = hash & mask;

	while (o->keys[i].used && o->keys[i].hash != hash)
		i = (i + 1) & mask;
	return &o->keys[i];
}

static const apply_op_t *
nth(const apply_op_t *ops, const size_t *index, size_t i)
{
	return &ops[index ? index[i] : i];
}

/*
 * The U-first slot of every op (o->slot) and whether its document began
 * with a delete; *runs_u and *runs_d: the runs of the U-first and the
 * D-first pattern.
 */
static void
assign_slots(apply_order_t *o, const apply_op_t *ops, const size_t *index, size_t n, size_t *runs_u,
	     size_t *runs_d)
{
	uint32_t max_u = 0, max_d = 0; /* last slot of U-first, D-first documents */
	bool any_u = false, any_d = false;

	for (size_t i = 0; i < n; i++) {
		const apply_op_t *op = nth(ops, index, i);
		uint32_t kind = op->kind == APPLY_OP_DELETE ? 1 : 0;
		apply_order_key_t *key = key_entry(o, op->doc_hash);

		if (!key->used) {
			key->used = true;
			key->hash = op->doc_hash;
			key->slot = kind;
			key->first_delete = kind == 1;
		} else if ((key->slot & 1) != kind) {
			key->slot++;
		}
		o->slot[i] = key->slot;
		o->first_delete[i] = key->first_delete;
		if (key->first_delete) {
			any_d = true;
			max_d = key->slot > max_d ? key->slot : max_d;
		} else {
			any_u = true;
			max_u = key->slot > max_u ? key->slot : max_u;
		}
	}
	/* U-first: slots from 0 (1 when no document begins with an update)
	 * to the last; D-first: U-first documents one slot later, D-first
	 * ones one earlier. */
	*runs_u = (size_t)(any_d && max_d > max_u ? max_d : max_u) + 1 - (any_u ? 0 : 1);
	max_u = any_u ? max_u + 1 : 0;
	max_d = any_d ? max_d - 1 : 0;
	*runs_d = (size_t)(max_u > max_d ? max_u : max_d) + 1 - (any_d ? 0 : 1);
}

void
apply_order_arrange(apply_order_t *o, const apply_op_t *ops, const size_t *index, size_t n)
{
	size_t runs_u, runs_d, slots = 0;
	bool d_first;

	o->runs = 0;
	if (n == 0)
		return;
	reserve(o, n);
	assign_slots(o, ops, index, n, &runs_u, &runs_d);
	d_first = runs_d < runs_u;
	o->runs = d_first ? runs_d : runs_u;
	for (size_t i = 0; i < n; i++) {
		if (d_first)
			o->slot[i] = o->first_delete[i] ? o->slot[i] - 1 : o->slot[i] + 1;
		if (o->slot[i] + 1 > slots)
			slots = o->slot[i] + 1;
	}
	/* A stable counting sort by slot. */
	if (slots + 1 > o->count_cap) {
		o->count_cap = slots + 1;
		o->count = bson_realloc(o->count, o->count_cap * sizeof *o->count);
	}
	memset(o->count, 0, (slots + 1) * sizeof *o->count);
	for (size_t i = 0; i < n; i++)
		o->count[o->slot[i] + 1]++;
	for (size_t s = 1; s <= slots; s++)
		o->count[s] += o->count[s - 1];
	for (size_t i = 0; i < n; i++)
		o->order[o->count[o->slot[i]]++] = index ? index[i] : i;
}

size_t
apply_order_runs(const apply_op_t *ops, const size_t *index, size_t n)
{
	size_t runs = 0;

	for (size_t i = 0; i < n; i++) {
		bool del = nth(ops, index, i)->kind == APPLY_OP_DELETE;

		if (i == 0 || del != (nth(ops, index, i - 1)->kind == APPLY_OP_DELETE))
			runs++;
	}
	return runs;
}
