/*
 * An AVL tree keyed by index keys: raw BSON documents {"": v1, "": v2...}
 * ordered by order_keys. Each node owns a copy of its key and carries an
 * opaque value the caller owns. tree_copy shares every node between the two
 * trees (constant time); a change to either copies the nodes on its path
 * first (path copying), so the other does not see it. A node address stays
 * valid until the next change to a tree holding it; iterators are
 * invalidated by any change.
 */
#ifndef MLITE_TREE_H
#define MLITE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tree_node {
	struct tree_node *left, *right;
	int height;
	int refs; /* parents and roots pointing here (trees sharing it) */
	void *val;
	uint32_t keylen;
	uint8_t key[];
} tree_node_t;

typedef struct tree {
	tree_node_t *root;
	size_t count;
	void (*ref_val)(void *); /* tree_copy's: called for a copied node's value */
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

/* The node with an equal key, or NULL, made this tree's own (copied when
 * shared) so that its val may be changed. */
tree_node_t *tree_find_own(tree_t *t, const uint8_t *key, uint32_t keylen);

/* Makes to (empty) a copy of from with the same keys and values, sharing
 * from's nodes; ref_val (may be NULL) is called for the value of each node
 * either tree copies from now on (the copy holds one more reference). */
void tree_copy(tree_t *to, tree_t *from, void (*ref_val)(void *));

/* Empties t, freeing the nodes no other tree holds, calling free_val(val)
 * first when not NULL (tree_remove on a shared node: its value is given a
 * reference by ref_val, which the caller then holds). */
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
