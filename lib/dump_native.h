/*
 * dump-wrap's native engine: libmongoc in place of mongodump/mongorestore,
 * writing and reading mongodump's format (dump_format.h). Also the catalog
 * steps both engines share on restore: collection creation with its options
 * and index builds after the data.
 */
#ifndef CSM_DUMP_NATIVE_H
#define CSM_DUMP_NATIVE_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "dump_format.h"
#include "lease.h"
#include "optime.h"
#include "progress.h"

/* Largest restore batch: mongorestore's and the server's natural units. */
#define DUMP_BATCH_MAX_DOCS 1000
#define DUMP_BATCH_MAX_BYTES (16 * 1024 * 1024)

/*
 * Reads db.coll's create options, uuid and index specs from the source
 * (listCollections, listIndexes) into metadata (initialized by the call).
 * No such collection: exit code 66; a view: 65.
 */
bool dump_native_read_metadata(mongoc_client_t *client, const char *db, const char *coll,
			       dump_metadata_t *metadata, bson_error_t *error);

/* What a native restore did. */
typedef struct dump_restore_stats {
	int64_t documents;  /* read from the dump */
	int64_t inserted;   /* acknowledged by the server */
	int64_t duplicates; /* rejected as duplicate keys: counted, not fatal */
	dump_record_t read; /* what the dump file held, once read to its end */
} dump_restore_stats_t;

/*
 * Loads bson_path into db.coll with unordered bulk inserts of up to
 * DUMP_BATCH_MAX_DOCS documents / DUMP_BATCH_MAX_BYTES, by jobs threads each
 * with a client from pool and its own queue of at most two batches: memory
 * stays at a few batches whatever the dump's size. Duplicate-key errors are
 * counted in stats; any other write error stops the load. Every insert
 * waits for lease_hold(lease) (lease_open's, which threads may share; NULL:
 * none): a lost lease stops the load with exit 73, nothing more sent.
 */
bool dump_native_restore_data(mongoc_client_pool_t *pool, const char *db, const char *coll,
			      const char *bson_path, bool gzip, int jobs, progress_t *progress,
			      lease_t *lease, dump_restore_stats_t *stats, bson_error_t *error);

/*
 * Creates db.coll with options (listCollections' form) unless it exists;
 * *created tells which.
 */
bool dump_native_create_collection(mongoc_client_t *client, const char *db, const char *coll,
				   const bson_t *options, bool *created, bson_error_t *error);

/* Drops db.coll; a missing collection is success. */
bool dump_native_drop_collection(mongoc_client_t *client, const char *db, const char *coll,
				 bson_error_t *error);

/* True for an index spec restore defers under --defer-constraints: unique
 * (other than _id) or TTL (expireAfterSeconds). */
bool dump_index_is_constraint(const bson_t *spec);

/*
 * Builds the indexes of the array index_specs on db.coll in one
 * createIndexes, skipping _id_. With defer, unique and TTL specs are not
 * built but appended to deferred (an array being built by the caller,
 * started with bson_append_array_begin; may be NULL without defer).
 * *built counts the indexes built. A unique index that the data violates
 * fails with exit code 65 naming the index.
 */
bool dump_native_create_indexes(mongoc_client_t *client, const char *db, const char *coll,
				const bson_t *index_specs, bool defer, bson_t *deferred, int *built,
				int *deferred_count, bson_error_t *error);

/*
 * The source's current cluster time: operationTime (or $clusterTime) of a
 * ping. *found is false on a server that keeps no cluster time
 * (standalone).
 */
bool dump_native_cluster_time(mongoc_client_t *client, bool *found, optime_t *cluster_time,
			      bson_error_t *error);

/* The server's version from buildInfo, newly allocated (bson_free), or
 * NULL. */
char *dump_native_server_version(mongoc_client_t *client);

#endif
