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

/*
 * Nodes may be shared by the trees tree_copy made (refs counts the parents
 * and roots pointing at a node): a node is copied before it changes when
 * another tree holds it too, and the copy takes over this tree's reference.
 */
static tree_node_t *
own(tree_t *t, tree_node_t *n)
{
	if (!n || n->refs == 1)
		return n;
	tree_node_t *c = malloc(sizeof *c + n->keylen);
	if (!c)
		abort();
	memcpy(c, n, sizeof *c + n->keylen);
	c->refs = 1;
	if (c->left)
		c->left->refs++;
	if (c->right)
		c->right->refs++;
	if (t->ref_val)
		t->ref_val(c->val);
	n->refs--;
	return c;
}

/* Drops one reference to n; frees what nobody holds any more. */
static void
release(tree_node_t *n, void (*free_val)(void *))
{
	while (n && --n->refs == 0) {
		tree_node_t *right = n->right;
		release(n->left, free_val);
		if (free_val)
			free_val(n->val);
		free(n);
		n = right;
	}
}

static tree_node_t *
rotate_right(tree_t *t, tree_node_t *n)
{
	tree_node_t *l = n->left = own(t, n->left);
	n->left = l->right;
	l->right = n;
	fix_height(n);
	fix_height(l);
	return l;
}

static tree_node_t *
rotate_left(tree_t *t, tree_node_t *n)
{
	tree_node_t *r = n->right = own(t, n->right);
	n->right = r->left;
	r->left = n;
	fix_height(n);
	fix_height(r);
	return r;
}

/* n: owned by t. */
static tree_node_t *
balance(tree_t *t, tree_node_t *n)
{
	fix_height(n);
	int bf = height(n->left) - height(n->right);
	if (bf > 1) {
		if (height(n->left->left) < height(n->left->right)) {
			n->left = own(t, n->left);
			n->left = rotate_left(t, n->left);
		}
		return rotate_right(t, n);
	}
	if (bf < -1) {
		if (height(n->right->right) < height(n->right->left)) {
			n->right = own(t, n->right);
			n->right = rotate_right(t, n->right);
		}
		return rotate_left(t, n);
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
insert_rec(tree_t *t, tree_node_t *n, tree_node_t *fresh, tree_node_t **existing, bool *inserted)
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
	n = own(t, n);
	if (c < 0)
		n->left = insert_rec(t, n->left, fresh, existing, inserted);
	else
		n->right = insert_rec(t, n->right, fresh, existing, inserted);
	return *inserted ? balance(t, n) : n;
}

tree_node_t *
tree_insert(tree_t *t, const uint8_t *key, uint32_t keylen, void *val, tree_node_t **existing)
{
	tree_node_t *fresh = malloc(sizeof *fresh + keylen);
	bool inserted = false;

	if (!fresh)
		abort();
	fresh->left = fresh->right = NULL;
	fresh->refs = 1;
	fresh->height = 1;
	fresh->val = val;
	fresh->keylen = keylen;
	memcpy(fresh->key, key, keylen);
	t->root = insert_rec(t, t->root, fresh, existing, &inserted);
	if (!inserted) {
		free(fresh);
		return NULL;
	}
	t->count++;
	return fresh;
}

/* Detaches the minimum of subtree n (owned) into *min (owned); returns
 * the new subtree. */
static tree_node_t *
detach_min(tree_t *t, tree_node_t *n, tree_node_t **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = detach_min(t, own(t, n->left), min);
	return balance(t, n);
}

static tree_node_t *
remove_rec(tree_t *t, tree_node_t *n, const uint8_t *key, uint32_t keylen, tree_node_t **removed)
{
	if (!n)
		return NULL;
	int c = cmp_key(key, keylen, n);
	if (c != 0 && !(c < 0 ? n->left : n->right))
		return n; /* absent: nothing changes */
	n = own(t, n);
	if (c < 0) {
		n->left = remove_rec(t, n->left, key, keylen, removed);
	} else if (c > 0) {
		n->right = remove_rec(t, n->right, key, keylen, removed);
	} else {
		*removed = n;
		if (!n->left || !n->right)
			return n->left ? n->left : n->right;
		tree_node_t *min;
		tree_node_t *right = detach_min(t, own(t, n->right), &min);
		min->left = n->left;
		min->right = right;
		return balance(t, min);
	}
	return *removed ? balance(t, n) : n;
}

bool
tree_remove(tree_t *t, const uint8_t *key, uint32_t keylen, void **val)
{
	tree_node_t *removed = NULL;

	t->root = remove_rec(t, t->root, key, keylen, &removed);
	if (!removed)
		return false;
	if (val)
		*val = removed->val;
	free(removed);
	t->count--;
	return true;
}

tree_node_t *
tree_find_own(tree_t *t, const uint8_t *key, uint32_t keylen)
{
	tree_node_t **link = &t->root;
	while (*link) {
		int c = cmp_key(key, keylen, *link);
		*link = own(t, *link);
		if (c == 0)
			return *link;
		link = c < 0 ? &(*link)->left : &(*link)->right;
	}
	return NULL;
}

void
tree_copy(tree_t *to, tree_t *from, void (*ref_val)(void *))
{
	to->root = from->root;
	if (to->root)
		to->root->refs++;
	to->count = from->count;
	to->ref_val = from->ref_val = ref_val;
}

void
tree_clear(tree_t *t, void (*free_val)(void *))
{
	release(t->root, free_val);
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
