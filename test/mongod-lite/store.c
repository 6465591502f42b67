/* Databases, collections, documents and secondary indexes (see store.h). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "query.h"
#include "server.h"
#include "txn.h"

static sdb_t *databases;

void *
store_calloc(size_t size)
{
	size_t rounded = (size + 127) & ~(size_t)127;
	void *p = aligned_alloc(128, rounded ? rounded : 128);
	if (!p)
		abort();
	memset(p, 0, rounded ? rounded : 128);
	return p;
}

sdb_t *
store_dbs(void)
{
	return databases;
}

sdb_t *
store_get_db(const char *db)
{
	for (sdb_t *d = databases; d; d = d->next)
		if (strcmp(d->name, db) == 0)
			return d;
	return NULL;
}

scoll_t *
store_get_coll(const char *db, const char *coll)
{
	sdb_t *d = store_get_db(db);
	if (!d)
		return NULL;
	for (scoll_t *c = d->colls; c; c = c->next)
		if (strcmp(c->name, coll) == 0)
			return txn_view(c);
	return NULL;
}

bool
store_collection_exists(const char *db, const char *coll)
{
	return store_get_coll(db, coll) != NULL;
}

bool
store_pre_post_images_enabled(const char *db, const char *coll)
{
	scoll_t *c = store_get_coll(db, coll);
	return c && c->pre_post_images;
}

void
store_new_uuid(uint8_t uuid[16])
{
	static uint64_t state;
	if (state == 0)
		state = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 16; i += 8) {
		/* splitmix64 */
		uint64_t z = (state += 0x9E3779B97F4A7C15ull);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		z ^= z >> 31;
		memcpy(uuid + i, &z, 8);
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

static bool
images_enabled(const bson_t *options)
{
	bson_iter_t it;
	return options && bson_iter_init(&it, options) &&
	       bson_iter_find_descendant(&it, "changeStreamPreAndPostImages.enabled", &it) &&
	       bson_iter_as_bool(&it);
}

bool
store_create_coll(const char *db, const char *coll, const bson_t *options, scoll_t **out,
		  bson_error_t *error)
{
	scoll_t *c = store_get_coll(db, coll);
	if (c) {
		if (out)
			*out = c;
		cmd_error(error, 48, "Collection %s.%s already exists.", db, coll);
		return false;
	}
	sdb_t *d = store_get_db(db);
	if (!d) {
		d = calloc(1, sizeof *d);
		d->name = strdup(db);
		/* new databases go last so listDatabases keeps creation order */
		sdb_t **p = &databases;
		while (*p)
			p = &(*p)->next;
		*p = d;
	}
	c = store_calloc(sizeof *c);
	coll_lock_init(&c->lock);
	c->name = strdup(coll);
	c->db = d;
	if (options)
		bson_copy_to(options, &c->options);
	else
		bson_init(&c->options);
	c->pre_post_images = images_enabled(options);
	store_new_uuid(c->uuid);
	scoll_t **p = &d->colls;
	while (*p)
		p = &(*p)->next;
	*p = c;
	if (out)
		*out = c;
	return true;
}

/*
 * Stored documents live in one allocation each, sized exactly (bson_new*
 * rounds the buffer up to a power of two: twice the memory for 1 KiB
 * documents), with a reference count after the data: a transaction's
 * private copy of a collection (store_clone_coll) shares them. Read-only;
 * released with free_doc().
 */
static bson_t *
doc_new(const bson_t *src)
{
	uint32_t refs = 1;
	size_t size = (sizeof(bson_t) + src->len + sizeof refs + 127) & ~(size_t)127;
	bson_t *d = aligned_alloc(128, size);
	if (!d)
		abort();
	memcpy(d + 1, bson_get_data(src), src->len);
	memcpy((uint8_t *)(d + 1) + src->len, &refs, sizeof refs);
	bson_init_static(d, (const uint8_t *)(d + 1), src->len);
	return d;
}

static uint8_t *
doc_refs(const bson_t *d)
{
	return (uint8_t *)(d + 1) + d->len;
}

static void
doc_ref(void *d)
{
	uint32_t refs;
	memcpy(&refs, doc_refs(d), sizeof refs);
	refs++;
	memcpy(doc_refs(d), &refs, sizeof refs);
}

static void
free_doc(void *p)
{
	uint32_t refs;
	memcpy(&refs, doc_refs(p), sizeof refs);
	if (--refs == 0) {
		free(p);
		return;
	}
	memcpy(doc_refs(p), &refs, sizeof refs);
}

static void
index_free(sindex_t *ix)
{
	free(ix->name);
	bson_destroy(&ix->spec);
	bson_destroy(&ix->key);
	if (ix->partial)
		bson_destroy(ix->partial);
	tree_clear(&ix->tree, NULL);
	free(ix);
}

static void
coll_free(scoll_t *c)
{
	tree_clear(&c->docs, free_doc);
	while (c->indexes) {
		sindex_t *n = c->indexes->next;
		index_free(c->indexes);
		c->indexes = n;
	}
	bson_destroy(&c->options);
	pthread_rwlock_destroy(&c->lock);
	free(c->name);
	free(c);
}

/* Unlinks db.coll from its database without freeing it. */
static scoll_t *
unlink_coll(const char *db, const char *coll)
{
	sdb_t *d = store_get_db(db);
	if (!d)
		return NULL;
	for (scoll_t **p = &d->colls; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, coll) == 0) {
			scoll_t *c = *p;
			*p = c->next;
			c->next = NULL;
			return c;
		}
	}
	return NULL;
}

static void
drop_empty_db(const char *db)
{
	for (sdb_t **p = &databases; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, db) == 0) {
			sdb_t *d = *p;
			if (d->colls)
				return;
			*p = d->next;
			free(d->name);
			free(d);
			return;
		}
	}
}

bool
store_drop_coll(const char *db, const char *coll)
{
	scoll_t *c = unlink_coll(db, coll);
	if (!c)
		return false;
	coll_free(c);
	drop_empty_db(db);
	return true;
}

bool
store_drop_db(const char *db)
{
	sdb_t *d = store_get_db(db);
	if (!d || !d->colls)
		return false;
	while (d->colls) {
		scoll_t *c = d->colls;
		d->colls = c->next;
		coll_free(c);
	}
	drop_empty_db(db);
	return true;
}

bool
store_rename_coll(const char *from_db, const char *from_coll, const char *to_db,
		  const char *to_coll, bool drop_target, bson_error_t *error)
{
	if (!store_get_coll(from_db, from_coll)) {
		cmd_error(error, 26, "Source collection %s.%s does not exist", from_db, from_coll);
		return false;
	}
	if (strcmp(from_db, to_db) == 0 && strcmp(from_coll, to_coll) == 0) {
		cmd_error(error, 20, "Can't rename a collection to itself");
		return false;
	}
	if (store_get_coll(to_db, to_coll)) {
		if (!drop_target) {
			cmd_error(error, 48, "target namespace exists");
			return false;
		}
		store_drop_coll(to_db, to_coll);
	}
	scoll_t *c = unlink_coll(from_db, from_coll);
	scoll_t *made = NULL;
	/* create an empty shell at the target, then move the contents in */
	store_create_coll(to_db, to_coll, NULL, &made, NULL);
	bson_destroy(&made->options);
	made->options = c->options;
	bson_init(&c->options);
	made->docs = c->docs;
	c->docs.root = NULL;
	c->docs.count = 0;
	made->indexes = c->indexes;
	c->indexes = NULL;
	made->data_size = c->data_size;
	made->pre_post_images = c->pre_post_images;
	memcpy(made->uuid, c->uuid, 16);
	coll_free(c);
	drop_empty_db(from_db);
	return true;
}

/* Rebuilds doc with key set to v (appended when new), or removed when v
 * is NULL. */
static void
doc_set_field(bson_t *doc, const char *key, const bson_value_t *v)
{
	bson_t fresh = BSON_INITIALIZER;
	bson_iter_t it;
	bool done = false;

	if (bson_iter_init(&it, doc)) {
		while (bson_iter_next(&it)) {
			if (strcmp(bson_iter_key(&it), key) == 0) {
				if (v && !done)
					bson_append_value(&fresh, key, -1, v);
				done = true;
				continue;
			}
			bson_append_iter(&fresh, NULL, 0, &it);
		}
	}
	if (v && !done)
		bson_append_value(&fresh, key, -1, v);
	bson_destroy(doc);
	bson_steal(doc, &fresh);
}

bool
store_coll_mod(scoll_t *c, const bson_t *cmd, bson_error_t *error)
{
	bson_iter_t it;

	if (!bson_iter_init(&it, cmd))
		return true;
	bson_iter_next(&it); /* collMod: name */
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "changeStreamPreAndPostImages") == 0 || strcmp(k, "validator") == 0 ||
		    strcmp(k, "validationLevel") == 0 || strcmp(k, "validationAction") == 0 ||
		    strcmp(k, "expireAfterSeconds") == 0) {
			doc_set_field(&c->options, k, bson_iter_value(&it));
		} else if (strcmp(k, "index") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
			bson_iter_t sub;
			const char *name = NULL;
			bson_t key_pattern;
			bool have_key = false;
			bson_iter_recurse(&it, &sub);
			while (bson_iter_next(&sub)) {
				if (strcmp(bson_iter_key(&sub), "name") == 0 &&
				    BSON_ITER_HOLDS_UTF8(&sub))
					name = bson_iter_utf8(&sub, NULL);
				if (strcmp(bson_iter_key(&sub), "keyPattern") == 0 &&
				    BSON_ITER_HOLDS_DOCUMENT(&sub)) {
					const uint8_t *d;
					uint32_t l;
					bson_iter_document(&sub, &l, &d);
					bson_init_static(&key_pattern, d, l);
					have_key = true;
				}
			}
			sindex_t *ix = c->indexes;
			for (; ix; ix = ix->next) {
				if (name && strcmp(ix->name, name) == 0)
					break;
				if (!name && have_key && bson_equal(&ix->key, &key_pattern))
					break;
			}
			if (!ix) {
				cmd_error(error, 27, "cannot find index for collMod");
				return false;
			}
			bson_iter_recurse(&it, &sub);
			while (bson_iter_next(&sub)) {
				const char *sk = bson_iter_key(&sub);
				if (strcmp(sk, "name") && strcmp(sk, "keyPattern"))
					doc_set_field(&ix->spec, sk, bson_iter_value(&sub));
			}
		}
	}
	c->pre_post_images = images_enabled(&c->options);
	return true;
}

bool
store_id_key(const bson_t *doc, bson_t *key)
{
	bson_iter_t it;

	bson_init(key);
	if (!bson_iter_init_find(&it, doc, "_id"))
		return false;
	bson_append_iter(key, "", 0, &it);
	return true;
}

const bson_t *
store_find_doc(scoll_t *c, const bson_t *id_key)
{
	tree_node_t *n = tree_find(&c->docs, bson_get_data(id_key), id_key->len);
	return n ? n->val : NULL;
}

/* Finds the value at a dotted path for an index; notes arrays on the way
 * or at the end in *multikey. */
static bool
index_value(const bson_t *doc, const char *path, bson_iter_t *out, bool *multikey)
{
	const uint8_t *data = bson_get_data(doc);
	uint32_t len = doc->len;

	for (;;) {
		const char *dot = strchr(path, '.');
		size_t hl = dot ? (size_t)(dot - path) : strlen(path);
		bool found = false;
		if (!bson_iter_init_from_data(out, data, len))
			return false;
		while (bson_iter_next(out)) {
			if (bson_iter_key_len(out) == hl &&
			    memcmp(bson_iter_key(out), path, hl) == 0) {
				found = true;
				break;
			}
		}
		if (!found)
			return false;
		if (BSON_ITER_HOLDS_ARRAY(out))
			*multikey = true;
		if (!dot)
			return true;
		if (!BSON_ITER_HOLDS_DOCUMENT(out))
			return false;
		bson_iter_document(out, &len, &data);
		path = dot + 1;
	}
}

/* One value of an index key: its type and value bytes (none for null). */
typedef struct {
	uint8_t type;
	const uint8_t *val;
	uint32_t len;
} key_part_t;

static void
key_part(const bson_iter_t *it, key_part_t *part)
{
	uint32_t skip = 2 + bson_iter_key_len(it); /* type byte, name, NUL */
	part->type = (uint8_t)bson_iter_type(it);
	part->val = it->raw + it->off + skip;
	part->len = it->next_off - it->off - skip;
}

/* The top-level fields of a document, found in one walk: a write builds
 * the keys of every index (twice for a replace) from them instead of
 * walking the document again for each key field. all is false when the
 * document has more fields than fit (the keys then walk it). */
#define DOC_FIELDS 32

typedef struct {
	bool all;
	uint32_t n;
	struct {
		const char *key;
		uint32_t klen;
		key_part_t part;
	} f[DOC_FIELDS];
} doc_fields_t;

static void
doc_fields(const bson_t *doc, doc_fields_t *df)
{
	bson_iter_t it;

	df->n = 0;
	df->all = false;
	if (!bson_iter_init(&it, doc))
		return;
	while (bson_iter_next(&it)) {
		if (df->n == DOC_FIELDS)
			return;
		df->f[df->n].key = bson_iter_key(&it);
		df->f[df->n].klen = bson_iter_key_len(&it);
		key_part(&it, &df->f[df->n].part);
		df->n++;
	}
	df->all = true;
}

/* The value at path for an index, as index_value finds it (a top-level
 * name through df when df has every field; df may be NULL). */
static bool
index_part(const bson_t *doc, const doc_fields_t *df, const char *path, key_part_t *part,
	   bool *multikey)
{
	bson_iter_t it;

	if (df && df->all && !strchr(path, '.')) {
		size_t len = strlen(path);
		for (uint32_t k = 0; k < df->n; k++) {
			if (df->f[k].klen != len || memcmp(df->f[k].key, path, len) != 0)
				continue;
			*part = df->f[k].part;
			if (part->type == BSON_TYPE_ARRAY)
				*multikey = true;
			return true;
		}
		return false;
	}
	if (!index_value(doc, path, &it, multikey))
		return false;
	key_part(&it, part);
	return true;
}

/* parts[*n] (growing *parts, which starts as local, when full). */
static key_part_t *
key_slot(key_part_t **parts, size_t *n, size_t *cap, key_part_t *local)
{
	if (*n == *cap) {
		key_part_t *grown = malloc(*cap * 2 * sizeof *grown);
		if (!grown)
			abort();
		memcpy(grown, *parts, *n * sizeof *grown);
		if (*parts != local)
			free(*parts);
		*parts = grown;
		*cap *= 2;
	}
	return &(*parts)[(*n)++];
}

/* Writes {"": v1, "": v2...} of parts into key (initialized) in one go:
 * index keys are built for every write, appending value by value through
 * libbson costs more than finding the values. */
static void
key_write(const key_part_t *parts, size_t n, bson_t *key)
{
	uint32_t size = 5, w = 4;
	for (size_t k = 0; k < n; k++)
		size += 2 + parts[k].len;
	uint8_t *buf = bson_reserve_buffer(key, size);
	if (!buf)
		abort();
	for (size_t k = 0; k < n; k++) {
		buf[w++] = parts[k].type;
		buf[w++] = 0;
		if (parts[k].len)
			memcpy(buf + w, parts[k].val, parts[k].len);
		w += parts[k].len;
	}
	buf[w] = 0;
	uint32_t le = BSON_UINT32_TO_LE(size);
	memcpy(buf, &le, sizeof le);
}

#define KEY_PARTS 16

/* Builds ix's key for doc (df: its fields, or NULL); false when the index
 * skips doc (sparse with every field missing, or outside the partial
 * filter). */
static bool
index_key(sindex_t *ix, const bson_t *doc, const doc_fields_t *df, bson_t *key)
{
	key_part_t local[KEY_PARTS], *parts = local;
	size_t n = 0, cap = KEY_PARTS;
	bson_iter_t kit;
	bool any = false;

	bson_init(key);
	if (ix->partial && !query_match(ix->partial, bson_get_data(doc), doc->len))
		return false;
	bson_iter_init(&kit, &ix->key);
	while (bson_iter_next(&kit)) {
		key_part_t *part = key_slot(&parts, &n, &cap, local);
		if (index_part(doc, df, bson_iter_key(&kit), part, &ix->multikey)) {
			any = true;
		} else {
			*part = (key_part_t){BSON_TYPE_NULL, NULL, 0};
		}
	}
	bool indexed = !ix->sparse || any;
	bool no_array = false; /* _id is never one */
	key_part_t id;
	if (indexed && !ix->unique && index_part(doc, df, "_id", &id, &no_array))
		*key_slot(&parts, &n, &cap, local) = id;
	if (indexed)
		key_write(parts, n, key);
	if (parts != local)
		free(parts);
	return indexed;
}

/* Appends " field: value" text of a key value, mongod's dup-key style. */
static void
format_key_value(bson_string_t *s, const bson_t *key_value)
{
	bson_iter_t it;
	bool first = true;

	bson_string_append(s, "{ ");
	bson_iter_init(&it, key_value);
	while (bson_iter_next(&it)) {
		bson_t one = BSON_INITIALIZER;
		bson_append_iter(&one, "", 0, &it);
		char *json = bson_as_relaxed_extended_json(&one, NULL);
		/* json is '{ "" : VALUE }' */
		const char *vstart = json ? strstr(json, ": ") : NULL;
		bson_string_append_printf(s, "%s%s: ", first ? "" : ", ", bson_iter_key(&it));
		if (vstart) {
			size_t len = strlen(vstart + 2);
			bson_string_append(s, "");
			char *val = bson_strndup(vstart + 2, len >= 2 ? len - 2 : len);
			bson_string_append(s, val);
			bson_free(val);
		}
		bson_free(json);
		bson_destroy(&one);
		first = false;
	}
	bson_string_append(s, " }");
}

static void
dup_error(scoll_t *c, const char *index_name, const bson_t *pattern, const bson_t *key,
	  bson_t *dup_info, bson_error_t *error)
{
	bson_t key_value = BSON_INITIALIZER;
	bson_iter_t pit, kit;
	bson_string_t *s = bson_string_new(NULL);

	bson_iter_init(&pit, pattern);
	bson_iter_init(&kit, key);
	while (bson_iter_next(&pit) && bson_iter_next(&kit))
		bson_append_iter(&key_value, bson_iter_key(&pit), -1, &kit);
	format_key_value(s, &key_value);
	cmd_error(error, 11000,
		  "E11000 duplicate key error collection: %s.%s index: %s dup key: %s", c->db->name,
		  c->name, index_name, s->str);
	if (dup_info) {
		BSON_APPEND_DOCUMENT(dup_info, "keyPattern", pattern);
		BSON_APPEND_DOCUMENT(dup_info, "keyValue", &key_value);
	}
	bson_string_free(s, true);
	bson_destroy(&key_value);
}

static void
id_pattern(bson_t *p)
{
	bson_init(p);
	BSON_APPEND_INT32(p, "_id", 1);
}

/*
 * Adds doc's keys to every index; on a unique clash removes what it added
 * and reports the clash.
 */
static bool
index_add_all(scoll_t *c, const bson_t *doc, bson_t *dup_info, bson_error_t *error)
{
	doc_fields_t df;

	doc_fields(doc, &df);
	for (sindex_t *ix = c->indexes; ix; ix = ix->next) {
		bson_t key;
		if (!index_key(ix, doc, &df, &key)) {
			bson_destroy(&key);
			continue;
		}
		if (!tree_insert(&ix->tree, bson_get_data(&key), key.len, (void *)doc, NULL)) {
			dup_error(c, ix->name, &ix->key, &key, dup_info, error);
			bson_destroy(&key);
			/* undo the indexes before this one */
			for (sindex_t *u = c->indexes; u != ix; u = u->next) {
				bson_t k2;
				if (index_key(u, doc, &df, &k2))
					tree_remove(&u->tree, bson_get_data(&k2), k2.len, NULL);
				bson_destroy(&k2);
			}
			return false;
		}
		bson_destroy(&key);
	}
	return true;
}

static void
index_remove_all(scoll_t *c, const bson_t *doc)
{
	doc_fields_t df;

	doc_fields(doc, &df);
	for (sindex_t *ix = c->indexes; ix; ix = ix->next) {
		bson_t key;
		if (index_key(ix, doc, &df, &key))
			tree_remove(&ix->tree, bson_get_data(&key), key.len, NULL);
		bson_destroy(&key);
	}
}

static bool
same_key(const bson_t *a, const bson_t *b)
{
	return a->len == b->len && memcmp(bson_get_data(a), bson_get_data(b), a->len) == 0;
}

/*
 * Moves index ix's entry of doc `from` to doc `to`: an unchanged key only
 * has its value pointer redirected, a changed one is removed and inserted.
 * Returns false (nothing changed in ix) when the new key clashes.
 */
static bool
index_move(scoll_t *c, sindex_t *ix, const bson_t *from, const doc_fields_t *df_from,
	   const bson_t *to, const doc_fields_t *df_to, bson_t *dup_info, bson_error_t *error)
{
	bson_t kf, kt;
	bool has_f = index_key(ix, from, df_from, &kf), has_t = index_key(ix, to, df_to, &kt);
	bool ok = true;

	if (has_f && has_t && same_key(&kf, &kt)) {
		tree_node_t *n = tree_find_own(&ix->tree, bson_get_data(&kf), kf.len);
		if (n)
			n->val = (void *)to;
	} else {
		if (has_f)
			tree_remove(&ix->tree, bson_get_data(&kf), kf.len, NULL);
		if (has_t &&
		    !tree_insert(&ix->tree, bson_get_data(&kt), kt.len, (void *)to, NULL)) {
			if (error)
				dup_error(c, ix->name, &ix->key, &kt, dup_info, error);
			if (has_f)
				tree_insert(&ix->tree, bson_get_data(&kf), kf.len, (void *)from,
					    NULL);
			ok = false;
		}
	}
	bson_destroy(&kf);
	bson_destroy(&kt);
	return ok;
}

/*
 * Re-keys every index from old to stored. Most replaces leave most keys
 * unchanged (marking a staged event done changes one index of three), so
 * only changed keys are removed and inserted. On a unique clash the indexes
 * already moved are moved back and the clash is reported.
 */
static bool
index_rekey(scoll_t *c, const bson_t *old, const bson_t *stored, bson_t *dup_info,
	    bson_error_t *error)
{
	doc_fields_t df_old, df_new;

	doc_fields(old, &df_old);
	doc_fields(stored, &df_new);
	for (sindex_t *ix = c->indexes; ix; ix = ix->next) {
		if (!index_move(c, ix, old, &df_old, stored, &df_new, dup_info, error)) {
			for (sindex_t *u = c->indexes; u != ix; u = u->next)
				index_move(c, u, stored, &df_new, old, &df_old, NULL, NULL);
			return false;
		}
	}
	return true;
}

const bson_t *
store_insert(scoll_t *c, const bson_t *doc, bson_t *dup_info, bson_error_t *error)
{
	bson_t key;

	if (!store_id_key(doc, &key)) {
		cmd_error(error, 2, "document has no _id");
		bson_destroy(&key);
		return NULL;
	}
	if (tree_find(&c->docs, bson_get_data(&key), key.len)) {
		bson_t pattern;
		id_pattern(&pattern);
		dup_error(c, "_id_", &pattern, &key, dup_info, error);
		bson_destroy(&pattern);
		bson_destroy(&key);
		return NULL;
	}
	bson_t *stored = doc_new(doc);
	if (c->indexes && !index_add_all(c, stored, dup_info, error)) {
		free_doc(stored);
		bson_destroy(&key);
		return NULL;
	}
	tree_insert(&c->docs, bson_get_data(&key), key.len, stored, NULL);
	c->data_size += stored->len;
	bson_destroy(&key);
	return stored;
}

const bson_t *
store_replace(scoll_t *c, const bson_t *old, const bson_t *doc, bson_t *dup_info,
	      bson_error_t *error)
{
	bson_t key;

	store_id_key(old, &key);
	/* made this tree's own at once (one lookup, not two): harmless when
	 * the replace then fails, the node holds what it held */
	tree_node_t *n = tree_find_own(&c->docs, bson_get_data(&key), key.len);
	bson_destroy(&key);
	if (!n || n->val != old) {
		cmd_error(error, 1, "replace of a document that is not stored");
		return NULL;
	}
	bson_t *stored = doc_new(doc);
	if (c->indexes && !index_rekey(c, old, stored, dup_info, error)) {
		free_doc(stored);
		return NULL;
	}
	c->data_size += (int64_t)stored->len - (int64_t)old->len;
	n->val = stored;
	free_doc((bson_t *)old);
	return stored;
}

void
store_delete(scoll_t *c, const bson_t *old)
{
	bson_t key;
	void *val = NULL;

	store_id_key(old, &key);
	if (c->indexes)
		index_remove_all(c, old);
	if (tree_remove(&c->docs, bson_get_data(&key), key.len, &val)) {
		c->data_size -= ((bson_t *)val)->len;
		free_doc(val);
	}
	bson_destroy(&key);
}

int32_t
store_index_count(const scoll_t *c)
{
	int32_t n = 1; /* _id_ */

	for (const sindex_t *ix = c->indexes; ix; ix = ix->next)
		n++;
	return n;
}

sindex_t *
store_find_index(scoll_t *c, const char *name)
{
	for (sindex_t *ix = c->indexes; ix; ix = ix->next)
		if (strcmp(ix->name, name) == 0)
			return ix;
	return NULL;
}

static bool
spec_bool(const bson_t *spec, const char *field)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, spec, field) && bson_iter_as_bool(&it);
}

bool
store_create_index(scoll_t *c, const bson_t *spec, bool *created, bson_error_t *error)
{
	bson_iter_t it;
	const char *name = NULL;
	bson_t key;

	*created = false;
	if (!bson_iter_init_find(&it, spec, "key") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		cmd_error(error, 9,
			  "The 'key' field is a required property of an index specification");
		return false;
	}
	{
		const uint8_t *d;
		uint32_t l;
		bson_iter_document(&it, &l, &d);
		bson_init_static(&key, d, l);
	}
	if (bson_count_keys(&key) == 0) {
		cmd_error(error, 67, "Index keys cannot be empty.");
		return false;
	}
	if (!bson_iter_init_find(&it, spec, "name") || !BSON_ITER_HOLDS_UTF8(&it)) {
		cmd_error(error, 9,
			  "The 'name' field is a required property of an index specification");
		return false;
	}
	name = bson_iter_utf8(&it, NULL);
	bool unique = spec_bool(spec, "unique");
	bson_iter_t kit;
	bson_iter_init(&kit, &key);
	bool id_only = false;
	if (bson_iter_next(&kit) && strcmp(bson_iter_key(&kit), "_id") == 0 &&
	    !bson_iter_next(&kit))
		id_only = true;
	if (strcmp(name, "_id_") == 0 || id_only) {
		if (strcmp(name, "_id_") == 0 && id_only)
			return true; /* the _id index always exists */
		if (id_only && !unique) {
			/* an extra non-unique {_id: 1} under another name: keep as an ordinary
			 * index */
		} else {
			cmd_error(error, 197, "The _id index cannot be redefined");
			return false;
		}
	}
	for (sindex_t *ix = c->indexes; ix; ix = ix->next) {
		bool same_name = strcmp(ix->name, name) == 0;
		bool same_key = bson_equal(&ix->key, &key);
		if (same_name && same_key) {
			if (ix->unique != unique) {
				cmd_error(error, 86,
					  "An existing index has the same name as the requested "
					  "index but different options. Requested index: %s",
					  name);
				return false;
			}
			return true;
		}
		if (same_name) {
			cmd_error(error, 86,
				  "An existing index has the same name as the requested index: %s",
				  name);
			return false;
		}
		if (same_key && ix->unique == unique) {
			cmd_error(error, 85, "Index already exists with a different name: %s",
				  ix->name);
			return false;
		}
	}
	sindex_t *ix = store_calloc(sizeof *ix);
	ix->name = strdup(name);
	bson_init(&ix->spec);
	/* listIndexes shape: v, key, name first, then the other options */
	BSON_APPEND_INT32(&ix->spec, "v", 2);
	BSON_APPEND_DOCUMENT(&ix->spec, "key", &key);
	BSON_APPEND_UTF8(&ix->spec, "name", name);
	bson_iter_init(&it, spec);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "v") && strcmp(k, "key") && strcmp(k, "name") && strcmp(k, "ns"))
			bson_append_iter(&ix->spec, k, -1, &it);
	}
	bson_copy_to(&key, &ix->key);
	ix->unique = unique;
	ix->sparse = spec_bool(spec, "sparse");
	if (bson_iter_init_find(&it, spec, "partialFilterExpression") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *d;
		uint32_t l;
		bson_iter_document(&it, &l, &d);
		ix->partial = bson_new_from_data(d, l);
		if (!query_validate(ix->partial, error)) {
			index_free(ix);
			return false;
		}
	}
	{
		tree_iter_t ti;
		tree_node_t *n;
		tree_iter_seek(&ti, &c->docs, NULL, 0, false, false);
		while ((n = tree_iter_next(&ti))) {
			bson_t k;
			if (index_key(ix, n->val, NULL, &k) &&
			    !tree_insert(&ix->tree, bson_get_data(&k), k.len, n->val, NULL)) {
				dup_error(c, ix->name, &ix->key, &k, NULL, error);
				bson_destroy(&k);
				index_free(ix);
				return false;
			}
			bson_destroy(&k);
		}
	}
	sindex_t **p = &c->indexes;
	while (*p)
		p = &(*p)->next;
	*p = ix;
	*created = true;
	return true;
}

bool
store_drop_index(scoll_t *c, const char *name, bson_error_t *error)
{
	if (strcmp(name, "*") == 0) {
		while (c->indexes) {
			sindex_t *n = c->indexes->next;
			index_free(c->indexes);
			c->indexes = n;
		}
		return true;
	}
	if (strcmp(name, "_id_") == 0) {
		cmd_error(error, 72, "cannot drop _id index");
		return false;
	}
	for (sindex_t **p = &c->indexes; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			sindex_t *ix = *p;
			*p = ix->next;
			index_free(ix);
			return true;
		}
	}
	cmd_error(error, 27, "index not found with name [%s]", name);
	return false;
}

bool
store_lookup_by_id(const char *db, const char *coll, const bson_t *document_key, bson_t *out)
{
	scoll_t *c = store_get_coll(db, coll);
	bson_t key;
	bson_iter_t it;

	/* a sharded collection's documentKey holds its shard key first */
	if (!c || !bson_iter_init_find(&it, document_key, "_id")) {
		bson_init(out);
		return false;
	}
	bson_init(&key);
	bson_append_iter(&key, "", 0, &it);
	const bson_t *doc = store_find_doc(c, &key);
	bson_destroy(&key);
	if (!doc) {
		bson_init(out);
		return false;
	}
	bson_copy_to(doc, out);
	return true;
}

/* Splits "db.coll" at the first dot into db (buffer) and returns coll. */
static const char *
split_ns(const char *ns, char *db, size_t dbsize)
{
	const char *dot = strchr(ns, '.');
	size_t n = dot ? (size_t)(dot - ns) : strlen(ns);
	if (n >= dbsize)
		n = dbsize - 1;
	memcpy(db, ns, n);
	db[n] = '\0';
	return dot ? dot + 1 : "";
}

static bool
apply_command(const char *db, const bson_t *o, const uint8_t *ui, bson_error_t *error)
{
	bson_iter_t it;
	if (!bson_iter_init(&it, o) || !bson_iter_next(&it)) {
		cmd_error(error, 9, "empty command oplog entry");
		return false;
	}
	const char *op = bson_iter_key(&it);
	const char *coll = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";

	if (strcmp(op, "create") == 0) {
		bson_t options = BSON_INITIALIZER;
		while (bson_iter_next(&it))
			bson_append_iter(&options, NULL, 0, &it);
		scoll_t *made = NULL;
		if (!store_get_coll(db, coll) &&
		    store_create_coll(db, coll, &options, &made, NULL) && ui)
			memcpy(made->uuid, ui, 16); /* the UUID it had before the restart */
		bson_destroy(&options);
		return true;
	}
	if (strcmp(op, "drop") == 0) {
		store_drop_coll(db, coll);
		return true;
	}
	if (strcmp(op, "dropDatabase") == 0) {
		store_drop_db(db);
		return true;
	}
	if (strcmp(op, "renameCollection") == 0) {
		char fdb[256], tdb[256];
		bson_iter_t to;
		const char *fcoll = split_ns(coll, fdb, sizeof fdb);
		if (!bson_iter_init_find(&to, o, "to") || !BSON_ITER_HOLDS_UTF8(&to))
			return true;
		const char *tcoll = split_ns(bson_iter_utf8(&to, NULL), tdb, sizeof tdb);
		bson_iter_t dt;
		bool drop_target =
			bson_iter_init_find(&dt, o, "dropTarget") && bson_iter_as_bool(&dt);
		bson_error_t ignored;
		store_rename_coll(fdb, fcoll, tdb, tcoll, drop_target, &ignored);
		return true;
	}
	scoll_t *c = store_get_coll(db, coll);
	if (!c) {
		if (store_create_coll(db, coll, NULL, &c, error) == false)
			return false;
	}
	if (strcmp(op, "createIndexes") == 0) {
		bson_iter_t spec;
		bool created;
		if (bson_iter_init_find(&spec, o, "spec") && BSON_ITER_HOLDS_DOCUMENT(&spec)) {
			const uint8_t *d;
			uint32_t l;
			bson_t s;
			bson_iter_document(&spec, &l, &d);
			bson_init_static(&s, d, l);
			return store_create_index(c, &s, &created, error);
		}
		return true;
	}
	if (strcmp(op, "dropIndexes") == 0) {
		bson_iter_t ix;
		if (bson_iter_init_find(&ix, o, "index") && BSON_ITER_HOLDS_UTF8(&ix)) {
			bson_error_t ignored;
			store_drop_index(c, bson_iter_utf8(&ix, NULL), &ignored);
		}
		return true;
	}
	if (strcmp(op, "collMod") == 0)
		return store_coll_mod(c, o, error);
	return true;
}

bool
store_apply_oplog_entry(const bson_t *entry, bson_error_t *error)
{
	bson_iter_t it;
	const char *op = NULL, *ns = NULL;
	const uint8_t *o = NULL, *o2 = NULL, *ui = NULL;
	uint32_t olen = 0, o2len = 0;
	char db[256];

	if (!bson_iter_init(&it, entry)) {
		cmd_error(error, 9, "corrupt oplog entry");
		return false;
	}
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "op") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			op = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "ns") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			ns = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "o") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_iter_document(&it, &olen, &o);
		else if (strcmp(k, "o2") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_iter_document(&it, &o2len, &o2);
		else if (strcmp(k, "ui") == 0 && BSON_ITER_HOLDS_BINARY(&it)) {
			bson_subtype_t st;
			uint32_t ulen;
			const uint8_t *u;
			bson_iter_binary(&it, &st, &ulen, &u);
			if (ulen == 16)
				ui = u;
		}
	}
	if (!op || !ns) {
		cmd_error(error, 9, "oplog entry without op or ns");
		return false;
	}
	const char *coll = split_ns(ns, db, sizeof db);
	if (strcmp(op, "n") == 0)
		return true;
	if (!o) {
		cmd_error(error, 9, "oplog entry without o");
		return false;
	}
	bson_t odoc;
	bson_init_static(&odoc, o, olen);
	if (strcmp(op, "c") == 0)
		return apply_command(db, &odoc, ui, error);

	scoll_t *c = store_get_coll(db, coll);
	if (strcmp(op, "d") == 0) {
		bson_t keydoc, key;
		if (!c)
			return true;
		if (o2)
			bson_init_static(&keydoc, o2, o2len);
		else
			bson_init_static(&keydoc, o, olen);
		store_id_key(&keydoc, &key);
		const bson_t *old = store_find_doc(c, &key);
		if (old)
			store_delete(c, old);
		bson_destroy(&key);
		return true;
	}
	if (strcmp(op, "i") && strcmp(op, "u") && strcmp(op, "r")) {
		cmd_error(error, 9, "unknown oplog op '%s'", op);
		return false;
	}
	if (!c && !store_create_coll(db, coll, NULL, &c, error))
		return false;
	bson_t key;
	if (!store_id_key(&odoc, &key)) {
		bson_destroy(&key);
		cmd_error(error, 9, "oplog document without _id");
		return false;
	}
	const bson_t *old = store_find_doc(c, &key);
	bson_destroy(&key);
	if (old)
		return store_replace(c, old, &odoc, NULL, error) != NULL;
	return store_insert(c, &odoc, NULL, error) != NULL;
}

scoll_t *
store_clone_coll(scoll_t *src)
{
	scoll_t *c = store_calloc(sizeof *c);
	sindex_t **tail = &c->indexes;

	coll_lock_init(&c->lock);
	c->name = strdup(src->name);
	c->db = src->db;
	bson_copy_to(&src->options, &c->options);
	memcpy(c->uuid, src->uuid, sizeof c->uuid);
	c->pre_post_images = src->pre_post_images;
	c->data_size = src->data_size;
	tree_copy(&c->docs, &src->docs, doc_ref);
	for (sindex_t *ix = src->indexes; ix; ix = ix->next) {
		sindex_t *nix = store_calloc(sizeof *nix);
		nix->name = strdup(ix->name);
		bson_copy_to(&ix->spec, &nix->spec);
		bson_copy_to(&ix->key, &nix->key);
		nix->unique = ix->unique;
		nix->sparse = ix->sparse;
		nix->multikey = ix->multikey;
		nix->partial = ix->partial ? bson_copy(ix->partial) : NULL;
		tree_copy(&nix->tree, &ix->tree, NULL);
		*tail = nix;
		tail = &nix->next;
	}
	return c;
}

void
store_free_clone(scoll_t *c)
{
	if (c)
		coll_free(c);
}
