/*
 * An AVL tree keyed by index keys: raw BSON documents {"": v1, "": v2...}
 * ordered by order_keys. Each node owns a copy of its key and carries an
 * opaque value the caller owns. Node addresses are stable while the node is
 * in the tree. Iterators are invalidated by any insert or remove.
 */
#ifndef MLITE_TREE_H
#define MLITE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tree_node {
	struct tree_node *left, *right;
	int height;
	void *val;
	uint32_t keylen;
	uint8_t key[];
} tree_node_t;

typedef struct tree {
	tree_node_t *root;
	size_t count;
} tree_t;

#define TREE_MAX_DEPTH 96

typedef struct tree_iter {
	tree_node_t *stack[TREE_MAX_DEPTH];
	int depth;
	bool reverse;
} tree_iter_t;

/* The node with an equal key, or NULL. */
tree_node_t *tree_find(const tree_t *t, const uint8_t *key, uint32_t keylen);

/* Inserts key -> val. Returns the new node, or NULL when the key exists
 * (then *existing, when not NULL, is the node holding it). */
tree_node_t *tree_insert(tree_t *t, const uint8_t *key, uint32_t keylen, void *val,
			 tree_node_t **existing);

/* Removes the node with an equal key; returns its value through *val.
 * false when absent. */
bool tree_remove(tree_t *t, const uint8_t *key, uint32_t keylen, void **val);

/* Makes to (empty) a copy of from with the same shape, keys and values,
 * calling ref_val(val) for each value when not NULL. */
void tree_copy(tree_t *to, const tree_t *from, void (*ref_val)(void *));

/* Frees every node, calling free_val(val) first when not NULL. */
void tree_clear(tree_t *t, void (*free_val)(void *));

/*
 * Positions it before the first node of an in-order walk (descending when
 * reverse). With key != NULL the walk starts at the first key >= key
 * (<= key when reverse), or > key (< key) when exclusive.
 */
void tree_iter_seek(tree_iter_t *it, const tree_t *t, const uint8_t *key, uint32_t keylen,
		    bool exclusive, bool reverse);

/* The next node of the walk, or NULL at the end. */
tree_node_t *tree_iter_next(tree_iter_t *it);

#endif
