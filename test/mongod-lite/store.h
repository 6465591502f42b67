/*
 * Storage: databases -> collections -> documents ordered by _id under BSON
 * comparison order, with unique secondary indexes. Calls with server_lock
 * held exclusively, or shared with the collection's lock (lock.h): then
 * only that collection is read or written. (mongod-lite part 1 owns this file and may add to it;
 * the functions below are what part 2 — oplog, journal, change streams — relies on.)
 */
#ifndef MLITE_STORE_H
#define MLITE_STORE_H

#include <bson/bson.h>
#include <stdbool.h>

/*
 * Applies one oplog entry (format in oplog.h) to the store without writing
 * to the oplog: used to replay the journal at start. Idempotent: i/u/r put
 * the post-image, d deletes by o2, c runs the catalog command.
 */
bool store_apply_oplog_entry(const bson_t *entry, bson_error_t *error);

/*
 * Copies the current document with _id equal to id_value (the document
 * {_id: v}'s first element) of db.coll into out (initialized by the call).
 * Returns false when the collection or the document does not exist (out is
 * then an empty document).
 */
bool store_lookup_by_id(const char *db, const char *coll, const bson_t *document_key, bson_t *out);

/* True when db.coll exists. */
bool store_collection_exists(const char *db, const char *coll);

/* True when db.coll was created or collMod'ed with
 * changeStreamPreAndPostImages: {enabled: true}. */
bool store_pre_post_images_enabled(const char *db, const char *coll);

/* ---- The storage API used by the command handlers (part 1). ---- */

#include <pthread.h>
#include <stdint.h>

#include "tree.h"

/*
 * A secondary index: a tree of keys {"": v1, "": v2...} (missing fields as
 * null; non-unique indexes end the key with the document's _id) -> the
 * stored document. Arrays are indexed as whole values, so an index that
 * ever saw one (multikey) is kept for uniqueness but not used by queries.
 */
typedef struct sindex {
	char *name;
	bson_t spec; /* the full spec as listIndexes shows it */
	bson_t key;  /* the key pattern */
	bool unique;
	bool sparse;
	bool multikey;
	bson_t *partial; /* partialFilterExpression, NULL when none */
	tree_t tree;
	struct sindex *next;
} sindex_t;

typedef struct sdb sdb_t;

typedef struct scoll {
	char *name;
	sdb_t *db;
	bson_t options; /* as create got them (listCollections options) */
	uint8_t uuid[16];
	tree_t docs;          /* {"": _id} -> bson_t * (owned) */
	sindex_t *indexes;    /* besides _id_, in creation order */
	int64_t data_size;    /* sum of document sizes */
	bool pre_post_images; /* changeStreamPreAndPostImages.enabled */
	/* Held (lock.h) by the commands that run with server_lock shared:
	 * shared to read, exclusive to write. */
	pthread_rwlock_t lock;
	struct scoll *next;
} scoll_t;

struct sdb {
	char *name;
	scoll_t *colls;
	struct sdb *next;
};

/* The first database (walk with ->next); NULL when none. */
sdb_t *store_dbs(void);
sdb_t *store_get_db(const char *db);
/* The collection, or NULL. */
scoll_t *store_get_coll(const char *db, const char *coll);

/* Creates db.coll with options (may be NULL). false + 48 NamespaceExists
 * when it exists (*out then points at it). */
bool store_create_coll(const char *db, const char *coll, const bson_t *options, scoll_t **out,
		       bson_error_t *error);
/* Drops db.coll; false when it did not exist. */
bool store_drop_coll(const char *db, const char *coll);
/* Drops every collection of db; false when it had none. */
bool store_drop_db(const char *db);
/* Renames; codes 26 (no source), 48 (target exists, no drop_target). */
bool store_rename_coll(const char *from_db, const char *from_coll, const char *to_db,
		       const char *to_coll, bool drop_target, bson_error_t *error);
/* Applies collMod's option fields (changeStreamPreAndPostImages, validator,
 * validationLevel, validationAction, index: {name|keyPattern, expireAfterSeconds}). */
bool store_coll_mod(scoll_t *c, const bson_t *cmd, bson_error_t *error);

/* Builds index spec; *created false when an identical one exists. Unique
 * indexes over duplicates fail with 11000; name/key clashes 85/86. */
bool store_create_index(scoll_t *c, const bson_t *spec, bool *created, bson_error_t *error);
/* Drops an index by name ("*" = all but _id_); 27 IndexNotFound. */
bool store_drop_index(scoll_t *c, const char *name, bson_error_t *error);
/* How many indexes c has, _id_ included. */
int32_t store_index_count(const scoll_t *c);
/* Finds an index by name, NULL when none. */
sindex_t *store_find_index(scoll_t *c, const char *name);

/* Builds the primary key {"": _id} of a document into key (initialized by
 * the call); false when doc has no _id. */
bool store_id_key(const bson_t *doc, bson_t *key);
/* The stored document with this primary key, or NULL. Borrowed until the
 * next write to the collection. */
const bson_t *store_find_doc(scoll_t *c, const bson_t *id_key);

/*
 * Inserts a copy of doc (its _id first) and returns the stored copy
 * (borrowed until the next write to the collection). On a duplicate key
 * returns NULL with error 11000 and appends keyPattern/keyValue to
 * dup_info (when not NULL).
 */
const bson_t *store_insert(scoll_t *c, const bson_t *doc, bson_t *dup_info, bson_error_t *error);
/* Replaces the stored document old (from store_find_doc; freed by the
 * call) by a copy of doc (same _id), returned as for store_insert; on a
 * duplicate key old stays and NULL + 11000 as above. */
const bson_t *store_replace(scoll_t *c, const bson_t *old, const bson_t *doc, bson_t *dup_info,
			    bson_error_t *error);
/* Deletes the stored document old. */
void store_delete(scoll_t *c, const bson_t *old);

/* A detached copy of c (documents, options, indexes), in time independent
 * of its size (the trees are shared, tree.h): a transaction's
 * private view (txn.h). Not in any database; free with store_free_clone. */
scoll_t *store_clone_coll(scoll_t *c);
void store_free_clone(scoll_t *c);

/* Zeroed memory aligned for structs that hold a bson_t (which demands 128
 * bytes); never NULL (aborts when out of memory). Free with free(). */
void *store_calloc(size_t size);

/* A random version-4 UUID. */
void store_new_uuid(uint8_t uuid[16]);

#endif
