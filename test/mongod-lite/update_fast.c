/* The $set/$unset fast path of update_apply (see update_fast.h). */
#include "update_fast.h"

#include <stdlib.h>
#include <string.h>

#include "update.h"

#define FAST_MAX_OPS 32

/* One modifier: the field it names, its value ($set), and the element of
 * the old document holding that field (old_len 0 when none). */
typedef struct {
	const char *key;
	uint32_t klen;
	bool set;
	bson_value_t val;
	const uint8_t *raw; /* the $set element's type byte, then key and value */
	uint32_t raw_len;
	uint32_t old_off, old_len;
	bson_value_t old_val;
} fast_op_t;

typedef struct {
	fast_op_t op[FAST_MAX_OPS];
	size_t n;
	size_t in_doc[FAST_MAX_OPS]; /* indexes of the matched ops, in document order */
	size_t nmatched;
} fast_plan_t;

static bool
plain_field(const char *key, uint32_t klen)
{
	return klen > 0 && key[0] != '$' && !memchr(key, '.', klen) &&
	       !(klen == 3 && memcmp(key, "_id", 3) == 0);
}

static bool
same_key(const char *a, uint32_t al, const char *b, uint32_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

/* Reads one modifier document's fields into the plan; false when one is
 * not a plain field, names a field already named, or there are too many. */
static bool
plan_fields(fast_plan_t *p, bson_iter_t *fields, bool set)
{
	while (bson_iter_next(fields)) {
		const char *key = bson_iter_key(fields);
		uint32_t klen = bson_iter_key_len(fields);
		if (p->n == FAST_MAX_OPS || !plain_field(key, klen))
			return false;
		for (size_t k = 0; k < p->n; k++)
			if (same_key(p->op[k].key, p->op[k].klen, key, klen))
				return false; /* 40 ConflictingUpdateOperators there */
		fast_op_t *op = &p->op[p->n++];
		memset(op, 0, sizeof *op);
		op->key = key;
		op->klen = klen;
		op->set = set;
		if (set) {
			op->val = *bson_iter_value(fields);
			op->raw = fields->raw + fields->off;
			op->raw_len = fields->next_off - fields->off;
		}
	}
	return true;
}

/* MongoDB applies (and appends new fields) in path order, whatever order
 * the update lists them in; the names are distinct. */
static void
sort_ops(fast_plan_t *p)
{
	for (size_t i = 1; i < p->n; i++) {
		fast_op_t t = p->op[i];
		size_t j = i;
		while (j > 0 && update_component_cmp(p->op[j - 1].key, p->op[j - 1].klen, t.key,
						     t.klen) > 0) {
			p->op[j] = p->op[j - 1];
			j--;
		}
		p->op[j] = t;
	}
}

static bool
plan_update(fast_plan_t *p, const bson_value_t *u)
{
	bson_iter_t it, fields;

	if (u->value_type != BSON_TYPE_DOCUMENT ||
	    !bson_iter_init_from_data(&it, u->value.v_doc.data, u->value.v_doc.data_len))
		return false;
	bool any = false; /* {} is a replacement */
	p->n = p->nmatched = 0;
	while (bson_iter_next(&it)) {
		any = true;
		const char *op = bson_iter_key(&it);
		bool set = strcmp(op, "$set") == 0;
		if ((!set && strcmp(op, "$unset") != 0) || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
		    !bson_iter_recurse(&it, &fields) || !plan_fields(p, &fields, set))
			return false;
	}
	sort_ops(p);
	return any;
}

/* Finds the old element of each op; false when old does not start with _id
 * or holds a named field twice (the general path decides those). */
static bool
match_old(fast_plan_t *p, const bson_t *old)
{
	bson_iter_t it;

	if (!bson_iter_init(&it, old) || !bson_iter_next(&it) || strcmp(bson_iter_key(&it), "_id"))
		return false;
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		uint32_t klen = bson_iter_key_len(&it);
		for (size_t k = 0; k < p->n; k++) {
			fast_op_t *op = &p->op[k];
			if (!same_key(op->key, op->klen, key, klen))
				continue;
			if (op->old_len)
				return false;
			op->old_off = it.off;
			op->old_len = it.next_off - it.off;
			op->old_val = *bson_iter_value(&it);
			p->in_doc[p->nmatched++] = k;
			break;
		}
	}
	return true;
}

/* The new document: old's elements with each matched field replaced in
 * place or removed, then the new fields in path order. */
static bool
write_doc(const fast_plan_t *p, const bson_t *old, bson_t *new_doc)
{
	const uint8_t *src = bson_get_data(old);
	int64_t size = old->len;

	for (size_t k = 0; k < p->n; k++)
		size += (int64_t)(p->op[k].set ? p->op[k].raw_len : 0) - p->op[k].old_len;
	if (size > INT32_MAX)
		return false;
	bson_init(new_doc);
	uint8_t *buf = bson_reserve_buffer(new_doc, (uint32_t)size);
	if (!buf) {
		bson_destroy(new_doc);
		return false;
	}
	size_t w = 4, from = 4;
	for (size_t m = 0; m < p->nmatched; m++) {
		const fast_op_t *op = &p->op[p->in_doc[m]];
		memcpy(buf + w, src + from, op->old_off - from);
		w += op->old_off - from;
		if (op->set) {
			memcpy(buf + w, op->raw, op->raw_len);
			w += op->raw_len;
		}
		from = op->old_off + op->old_len;
	}
	memcpy(buf + w, src + from, old->len - 1 - from);
	w += old->len - 1 - from;
	for (size_t k = 0; k < p->n; k++) {
		if (p->op[k].set && !p->op[k].old_len) {
			memcpy(buf + w, p->op[k].raw, p->op[k].raw_len);
			w += p->op[k].raw_len;
		}
	}
	buf[w++] = 0;
	uint32_t le = BSON_UINT32_TO_LE((uint32_t)w);
	memcpy(buf, &le, sizeof le);
	return true;
}

/* What an op puts in the updateDescription: its $set element itself in
 * updatedFields (changed or created), or its name in removedFields. */
typedef enum { UD_CHANGED, UD_CREATED, UD_REMOVED } ud_pick_t;

static bool
picked(const fast_op_t *op, ud_pick_t pick)
{
	switch (pick) {
	case UD_CHANGED:
		return op->set && op->old_len && !update_identical(&op->old_val, &op->val);
	case UD_CREATED:
		return op->set && !op->old_len;
	case UD_REMOVED:
		return !op->set && op->old_len;
	}
	return false;
}

/* One removedFields element: {"<n>": "<key>"}; its size when p is NULL. */
static uint32_t
put_removed(uint8_t *p, uint32_t n, const fast_op_t *op)
{
	char buf[16];
	const char *kp;
	uint32_t kl = (uint32_t)bson_uint32_to_string(n, &kp, buf, sizeof buf);
	uint32_t size = 1 + kl + 1 + 4 + op->klen + 1;
	if (p) {
		uint32_t le = BSON_UINT32_TO_LE(op->klen + 1);
		p[0] = BSON_TYPE_UTF8;
		memcpy(p + 1, kp, kl + 1);
		memcpy(p + 2 + kl, &le, sizeof le);
		memcpy(p + 6 + kl, op->key, op->klen);
		p[6 + kl + op->klen] = 0;
	}
	return size;
}

static void
put_len(uint8_t *p, uint32_t len)
{
	uint32_t le = BSON_UINT32_TO_LE(len);
	memcpy(p, &le, sizeof le);
}

/* The updateDescription as MongoDB's log builder records top-level
 * modifiers: changed fields, then created ones, then removed ones, each
 * in path order; no path is ambiguous and no array is truncated. Written
 * in one go: its four parts cost more through libbson than the document. */
static void
write_ud(const fast_plan_t *p, bson_t *ud)
{
	static const uint8_t tail[] = {BSON_TYPE_ARRAY,
				       't',
				       'r',
				       'u',
				       'n',
				       'c',
				       'a',
				       't',
				       'e',
				       'd',
				       'A',
				       'r',
				       'r',
				       'a',
				       'y',
				       's',
				       0,
				       5,
				       0,
				       0,
				       0,
				       0,
				       BSON_TYPE_DOCUMENT,
				       'd',
				       'i',
				       's',
				       'a',
				       'm',
				       'b',
				       'i',
				       'g',
				       'u',
				       'a',
				       't',
				       'e',
				       'd',
				       'P',
				       'a',
				       't',
				       'h',
				       's',
				       0,
				       5,
				       0,
				       0,
				       0,
				       0};
	uint32_t upd = 5, rem = 5, nrem = 0;

	for (size_t k = 0; k < p->n; k++) {
		if (picked(&p->op[k], UD_CHANGED) || picked(&p->op[k], UD_CREATED))
			upd += p->op[k].raw_len;
		else if (picked(&p->op[k], UD_REMOVED))
			rem += put_removed(NULL, nrem++, &p->op[k]);
	}
	/* {updatedFields: {...}, removedFields: [...], <tail>} */
	uint32_t size = 4 + (1 + 14 + upd) + (1 + 14 + rem) + (uint32_t)sizeof tail + 1;
	bson_init(ud);
	uint8_t *buf = bson_reserve_buffer(ud, size);
	if (!buf)
		abort();
	uint32_t w = 4;
	put_len(buf, size);
	buf[w++] = BSON_TYPE_DOCUMENT;
	memcpy(buf + w, "updatedFields", 14);
	w += 14;
	put_len(buf + w, upd);
	w += 4;
	for (ud_pick_t pick = UD_CHANGED; pick <= UD_CREATED; pick++) {
		for (size_t k = 0; k < p->n; k++) {
			if (!picked(&p->op[k], pick))
				continue;
			memcpy(buf + w, p->op[k].raw, p->op[k].raw_len);
			w += p->op[k].raw_len;
		}
	}
	buf[w++] = 0;
	buf[w++] = BSON_TYPE_ARRAY;
	memcpy(buf + w, "removedFields", 14);
	w += 14;
	put_len(buf + w, rem);
	w += 4;
	nrem = 0;
	for (size_t k = 0; k < p->n; k++)
		if (picked(&p->op[k], UD_REMOVED))
			w += put_removed(buf + w, nrem++, &p->op[k]);
	buf[w++] = 0;
	memcpy(buf + w, tail, sizeof tail);
	w += (uint32_t)sizeof tail;
	buf[w] = 0;
}

bool
update_fast_apply(const bson_t *old, const bson_value_t *u, bson_t *new_doc, bson_t *ud)
{
	fast_plan_t p;

	if (!old || !plan_update(&p, u) || !match_old(&p, old) || !write_doc(&p, old, new_doc))
		return false;
	if (ud)
		write_ud(&p, ud);
	return true;
}
