/*
 * mongodump's on-disk format (docs/DESIGN.md, "Dump format"), read and
 * written by dump-wrap's native engine and laid out the same way for the
 * external one:
 *   <root>/<db>/<coll>.bson           concatenated BSON documents
 *   <root>/<db>/<coll>.metadata.json  {options?, indexes, uuid, collectionName, type}
 *   <root>/prelude.json               {ServerVersion, ToolVersion}
 *   <root>/<db>/<coll>.dump-end.json  ours: the source's cluster time when
 *                                     the copy ended (docs/DESIGN.md,
 *                                     "The catch-up window")
 *   <root>/<db>/<coll>.integrity.json ours: the data file's document count,
 *                                     byte size and SHA-256, so a restore
 *                                     can tell a complete data file
 * <coll> is URL-query-escaped. With gzip the .bson and .metadata.json files
 * end in .gz and are compressed by /usr/bin/gzip through a pipe.
 *
 * A dump is written under <root>/.<db>.<coll>.partial and published by
 * dump_publish(), which moves the metadata file in last: a dump whose
 * metadata file exists is complete.
 */
#ifndef CSM_DUMP_FORMAT_H
#define CSM_DUMP_FORMAT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "optime.h"

/* The integrity record's file name ends so: <coll>.integrity.json. Never
 * compressed; mongorestore skips it as a file it does not know. */
#define DUMP_RECORD_SUFFIX ".integrity.json"

/* Query-escapes name as mongodump does for file names ("a/b$" ->
 * "a%2Fb%24"). The caller bson_free()s the result. */
char *dump_escape_name(const char *name);

/* The reverse of dump_escape_name; NULL on a malformed %-escape. The caller
 * bson_free()s the result. */
char *dump_unescape_name(const char *name);

/* "<root>/<db>/<escaped coll><suffix>[.gz]"; suffix is ".bson",
 * ".metadata.json", ".dump-end.json" or DUMP_RECORD_SUFFIX. The caller
 * bson_free()s it. */
char *dump_file_path(const char *root, const char *db, const char *coll, const char *suffix,
		     bool gzip);

/* "<root>/.<db>.<escaped coll>.partial": where a dump is written before it
 * is published. The caller bson_free()s it. */
char *dump_partial_root(const char *root, const char *db, const char *coll);

/* The metadata of one collection. Initialize with dump_metadata_init. */
typedef struct dump_metadata {
	bson_t options;        /* create options from listCollections; may be empty */
	bson_t indexes;        /* array of index specs as listIndexes returns them */
	char uuid[33];         /* 32 lowercase hex digits, "" when unknown */
	char *collection_name; /* owned; NULL when the file has none */
	char *type;            /* owned; "collection" normally */
} dump_metadata_t;

void dump_metadata_init(dump_metadata_t *metadata);
void dump_metadata_cleanup(dump_metadata_t *metadata);

/* Writes metadata as one line of canonical extended JSON to path (gzip'd
 * when gzip), mode 0600. Errors name the path, exit code 74. */
bool dump_metadata_write(const char *path, bool gzip, const dump_metadata_t *metadata,
			 bson_error_t *error);

/* Reads path (canonical, relaxed or legacy extended JSON) into metadata
 * (initialized by the call). Missing: exit code 65 (the dump is incomplete);
 * unparsable or wrongly typed: 65. */
bool dump_metadata_read(const char *path, bool gzip, dump_metadata_t *metadata,
			bson_error_t *error);

/* Writes <root>/prelude.json as mongodump does. */
bool dump_prelude_write(const char *root, const char *server_version, bson_error_t *error);

/*
 * What the integrity record of a dump says of its data file, or what was
 * read from one: the documents, and the byte count and SHA-256 of the BSON
 * stream they make. Under --gzip both are of the uncompressed stream (what
 * a restore reads, whatever gzip's output looks like), which `gzip -dc
 * FILE | sha256sum` prints.
 */
typedef struct dump_record {
	int64_t documents;
	int64_t bytes;
	char sha256[DIGEST_HEX_LEN]; /* lowercase hex */
} dump_record_t;

/* Writes the record of ns's data file data_name (its base name) to path
 * atomically, mode 0600, with writtenAt and engine. */
bool dump_record_write(const char *path, const char *ns, const char *data_name,
		       const dump_record_t *record, const char *engine, bson_error_t *error);

/* Reads the record at path. A missing file sets *found false and succeeds
 * (mongodump writes none); one that is unreadable, lacks a field or is
 * another ns's is exit 65. */
bool dump_record_read(const char *path, const char *ns, bool *found, dump_record_t *record,
		      bson_error_t *error);

/* Reads the data file at bson_path (through gzip when gzip) to the end and
 * fills record with what it holds. A truncated or corrupt file is exit 65. */
bool dump_record_scan(const char *bson_path, bool gzip, dump_record_t *record, bson_error_t *error);

/* Fails (exit 65, naming the data file, the record and both counts) unless
 * actual, read from bson_path, is what expected, from record_path, says.
 * With only_bytes, only the byte counts are compared (a file size). */
bool dump_record_check(const char *bson_path, const char *record_path,
		       const dump_record_t *expected, const dump_record_t *actual, bool only_bytes,
		       bson_error_t *error);

/* Writes doc to path as canonical extended JSON, atomically, mode 0600:
 * how dump-wrap writes its own files. */
bool dump_json_write(const char *path, const bson_t *doc, bson_error_t *error);

/*
 * Reads the JSON file at path into *doc (the caller bson_destroy()s it;
 * NULL when it is not JSON). A missing file sets *found false and succeeds;
 * one that cannot be read fails.
 */
bool dump_json_read(const char *path, bool *found, bson_t **doc, bson_error_t *error);

/* Writes the dump-end file (ns, dumpEndTime as a Timestamp, writtenAt,
 * engine) atomically, mode 0600. */
bool dump_end_write(const char *path, const char *ns, optime_t dump_end, const char *engine,
		    bson_error_t *error);

/* Reads a dump-end file into *dump_end. A missing file sets *found false and
 * *dump_end to OPTIME_ZERO and succeeds (a dump made by mongodump alone has
 * none); an unreadable one is exit 65. */
bool dump_end_read(const char *path, bool *found, optime_t *dump_end, bson_error_t *error);

/* A file of BSON documents being written (optionally through gzip). */
typedef struct dump_out dump_out_t;

/* Creates path (truncating it), mode 0600. NULL with error (74) on failure. */
dump_out_t *dump_out_open(const char *path, bool gzip, bson_error_t *error);

/* Appends len bytes. */
bool dump_out_write(dump_out_t *out, const void *data, size_t len, bson_error_t *error);

/* The SHA-256 of every byte appended (before compression); once, before
 * dump_out_close. */
void dump_out_sha256(dump_out_t *out, char hex[DIGEST_HEX_LEN]);

/* Flushes, waits for gzip, fsyncs, closes and frees out (also on failure). */
bool dump_out_close(dump_out_t *out, bson_error_t *error);

/* A file of BSON documents being read (optionally through gzip). */
typedef struct dump_in dump_in_t;

/* Opens path. Missing: exit code 66. */
dump_in_t *dump_in_open(const char *path, bool gzip, bson_error_t *error);

/*
 * The next document, borrowed until the next call; NULL at the end (*eof
 * true) or on a truncated or corrupt file (*eof false, error filled, 65).
 */
const bson_t *dump_in_next(dump_in_t *in, bool *eof, bson_error_t *error);

/* Bytes of BSON read so far (uncompressed). */
int64_t dump_in_offset(const dump_in_t *in);

/* The SHA-256 of the documents read so far, as one byte stream; once, at
 * the end. */
void dump_in_sha256(dump_in_t *in, char hex[DIGEST_HEX_LEN]);

/* Closes and frees in. With check, fails when gzip reported an error. */
bool dump_in_close(dump_in_t *in, bool check, bson_error_t *error);

/*
 * Moves the files of a finished dump of db.coll from partial_root to root:
 * the old metadata, data, dump-end and integrity files first out, then the data,
 * dump-end, integrity and prelude files, then the new metadata file, so
 * that at every moment a metadata file means a complete dump. Removes
 * partial_root afterwards.
 */
bool dump_publish(const char *partial_root, const char *root, const char *db, const char *coll,
		  bool gzip, bson_error_t *error);

/* Removes the tree at path (a partial dump); a missing path is success. */
bool dump_remove_tree(const char *path, bson_error_t *error);

/* The files of a dump to restore, as found by dump_locate. */
typedef struct dump_files {
	char *bson;     /* owned */
	char *metadata; /* owned */
	char *dump_end; /* owned */
	char *record;   /* owned: the integrity record, present or not */
	bool gzip;
} dump_files_t;

/*
 * Finds the dump of db.coll under root. gzip_flag forces the .gz names;
 * otherwise plain files are looked for first, then .gz ones. No data file:
 * exit code 66; data without its metadata file: 65 (incomplete dump).
 */
bool dump_locate(const char *root, const char *db, const char *coll, bool gzip_flag,
		 dump_files_t *files, bson_error_t *error);

void dump_files_cleanup(dump_files_t *files);

#endif
