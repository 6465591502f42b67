/* AVL tree of index keys (see tree.h). */
#include "tree.h"

#include <stdlib.h>
#include <string.h>

#include "order.h"

static int
height(const tree_node_t *n)
{
	return n ? n->height : 0;
}

static void
fix_height(tree_node_t *n)
{
	int hl = height(n->left), hr = height(n->right);
	n->height = (hl > hr ? hl : hr) + 1;
}

static tree_node_t *
rotate_right(tree_node_t *n)
{
	tree_node_t *l = n->left;
	n->left = l->right;
	l->right = n;
	fix_height(n);
	fix_height(l);
	return l;
}

static tree_node_t *
rotate_left(tree_node_t *n)
{
	tree_node_t *r = n->right;
	n->right = r->left;
	r->left = n;
	fix_height(n);
	fix_height(r);
	return r;
}

static tree_node_t *
balance(tree_node_t *n)
{
	fix_height(n);
	int bf = height(n->left) - height(n->right);
	if (bf > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rotate_left(n->left);
		return rotate_right(n);
	}
	if (bf < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rotate_right(n->right);
		return rotate_left(n);
	}
	return n;
}

static int
cmp_key(const uint8_t *key, uint32_t keylen, const tree_node_t *n)
{
	return order_keys(key, keylen, n->key, n->keylen);
}

tree_node_t *
tree_find(const tree_t *t, const uint8_t *key, uint32_t keylen)
{
	tree_node_t *n = t->root;
	while (n) {
		int c = cmp_key(key, keylen, n);
		if (c == 0)
			return n;
		n = c < 0 ? n->left : n->right;
	}
	return NULL;
}

static tree_node_t *
insert_rec(tree_node_t *n, tree_node_t *fresh, tree_node_t **existing, bool *inserted)
{
	if (!n) {
		*inserted = true;
		return fresh;
	}
	int c = cmp_key(fresh->key, fresh->keylen, n);
	if (c == 0) {
		if (existing)
			*existing = n;
		return n;
	}
	if (c < 0)
		n->left = insert_rec(n->left, fresh, existing, inserted);
	else
		n->right = insert_rec(n->right, fresh, existing, inserted);
	return *inserted ? balance(n) : n;
}

tree_node_t *
tree_insert(tree_t *t, const uint8_t *key, uint32_t keylen, void *val, tree_node_t **existing)
{
	tree_node_t *fresh = malloc(sizeof *fresh + keylen);
	bool inserted = false;

	if (!fresh)
		abort();
	fresh->left = fresh->right = NULL;
	fresh->height = 1;
	fresh->val = val;
	fresh->keylen = keylen;
	memcpy(fresh->key, key, keylen);
	t->root = insert_rec(t->root, fresh, existing, &inserted);
	if (!inserted) {
		free(fresh);
		return NULL;
	}
	t->count++;
	return fresh;
}

/* Detaches the minimum of subtree n into *min; returns the new subtree. */
static tree_node_t *
detach_min(tree_node_t *n, tree_node_t **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = detach_min(n->left, min);
	return balance(n);
}

static tree_node_t *
remove_rec(tree_node_t *n, const uint8_t *key, uint32_t keylen, tree_node_t **removed)
{
	if (!n)
		return NULL;
	int c = cmp_key(key, keylen, n);
	if (c < 0) {
		n->left = remove_rec(n->left, key, keylen, removed);
	} else if (c > 0) {
		n->right = remove_rec(n->right, key, keylen, removed);
	} else {
		*removed = n;
		if (!n->left || !n->right)
			return n->left ? n->left : n->right;
		tree_node_t *min;
		tree_node_t *right = detach_min(n->right, &min);
		min->left = n->left;
		min->right = right;
		return balance(min);
	}
	return *removed ? balance(n) : n;
}

bool
tree_remove(tree_t *t, const uint8_t *key, uint32_t keylen, void **val)
{
	tree_node_t *removed = NULL;

	t->root = remove_rec(t->root, key, keylen, &removed);
	if (!removed)
		return false;
	if (val)
		*val = removed->val;
	free(removed);
	t->count--;
	return true;
}

static void
clear_rec(tree_node_t *n, void (*free_val)(void *))
{
	while (n) {
		tree_node_t *right = n->right;
		clear_rec(n->left, free_val);
		if (free_val)
			free_val(n->val);
		free(n);
		n = right;
	}
}

static tree_node_t *
copy_rec(const tree_node_t *n, void (*ref_val)(void *))
{
	if (!n)
		return NULL;
	tree_node_t *c = malloc(sizeof *c + n->keylen);
	if (!c)
		abort();
	memcpy(c, n, sizeof *c + n->keylen);
	if (ref_val)
		ref_val(c->val);
	c->left = copy_rec(n->left, ref_val);
	c->right = copy_rec(n->right, ref_val);
	return c;
}

void
tree_copy(tree_t *to, const tree_t *from, void (*ref_val)(void *))
{
	to->root = copy_rec(from->root, ref_val);
	to->count = from->count;
}

void
tree_clear(tree_t *t, void (*free_val)(void *))
{
	clear_rec(t->root, free_val);
	t->root = NULL;
	t->count = 0;
}

void
tree_iter_seek(tree_iter_t *it, const tree_t *t, const uint8_t *key, uint32_t keylen,
	       bool exclusive, bool reverse)
{
	tree_node_t *n = t->root;

	it->depth = 0;
	it->reverse = reverse;
	while (n && it->depth < TREE_MAX_DEPTH) {
		bool take; /* n belongs to the walk: push it and go towards the start */
		if (!key) {
			take = true;
		} else {
			int c = cmp_key(key, keylen, n); /* key vs node */
			if (!reverse)
				take = exclusive ? c < 0 : c <= 0;
			else
				take = exclusive ? c > 0 : c >= 0;
		}
		if (take) {
			it->stack[it->depth++] = n;
			n = reverse ? n->right : n->left;
		} else {
			n = reverse ? n->left : n->right;
		}
	}
}

tree_node_t *
tree_iter_next(tree_iter_t *it)
{
	if (it->depth == 0)
		return NULL;
	tree_node_t *n = it->stack[--it->depth];
	tree_node_t *c = it->reverse ? n->left : n->right;
	while (c && it->depth < TREE_MAX_DEPTH) {
		it->stack[it->depth++] = c;
		c = it->reverse ? c->right : c->left;
	}
	return n;
}
