/*
 * Which document a write model writes, and the order a batch's write
 * models go out in (docs/DESIGN.md, "Replay rules", Applying).
 *
 * An ordered bulk write starts a new write command wherever the kind of
 * write changes (an update-type command: replacements and updates; a
 * delete command). Order matters only per document, so the ops of a batch
 * are arranged into the fewest runs of one command type that keep every
 * document's ops in their order: each op takes a slot of the pattern
 * U, D, U, D... (or D, U, D...: whichever gives fewer runs), the first
 * slot of its kind at or after the slot of its document's previous op,
 * and the ops go out slot by slot, in their order inside a slot.
 *
 * A document is known by a hash of its _id (apply_order_doc_hash): two
 * documents whose hashes collide are arranged as one, which only keeps
 * an order that was not needed.
 */
#ifndef CSM_APPLY_ORDER_H
#define CSM_APPLY_ORDER_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"

/*
 * A hash of the _id of document_key (the whole key when it has none), the
 * same for every value MongoDB finds equal: numbers by value whatever
 * their type (1, 1.0, NumberLong(1), NumberDecimal("1")), a string and a
 * symbol alike, null and undefined alike, documents and arrays element by
 * element. A shard key change (a delete and an insert with other
 * documentKeys and the same _id) thus stays one document.
 */
uint32_t apply_order_doc_hash(const bson_t *document_key);

typedef struct apply_order_key apply_order_key_t;

/* Reusable scratch of apply_order_arrange, batch-sized. */
typedef struct apply_order {
	size_t *order; /* the arranged op indexes, after apply_order_arrange */
	size_t runs;   /* write commands they make: runs of one command type */
	size_t cap;    /* entries of order and slot */
	uint32_t *slot;
	uint8_t *first_delete; /* per op: its document's first op is a delete */
	apply_order_key_t *keys;
	size_t keys_cap; /* a power of two, >= 2 * ops */
	size_t *count;
	size_t count_cap;
} apply_order_t;

void apply_order_init(apply_order_t *order);
void apply_order_destroy(apply_order_t *order);

/*
 * Arranges the n ops ops[index[0..n)] (ops[0..n) when index is NULL) as
 * the header comment says; order->order[0..n) then holds their indexes
 * into ops in send order and order->runs how many write commands that
 * order makes (the fewest that keep each document's order). Uses only
 * each op's kind and doc_hash.
 */
void apply_order_arrange(apply_order_t *order, const apply_op_t *ops, const size_t *index,
			 size_t n);

/* How many write commands ops[index[0..n)] make in the order given. */
size_t apply_order_runs(const apply_op_t *ops, const size_t *index, size_t n);

#endif
