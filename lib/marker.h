/*
 * The restore marker (lib/staging_format.h, SPEC §6): one document
 * _id "restore:<target ns>" in <db>.<staging>_meta on the TARGET, written by
 * dump-wrap restore once the data and the ordinary indexes are in. Its
 * presence means "this collection was restored; never restore it again".
 */
#ifndef CSM_MARKER_H
#define CSM_MARKER_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct restore_marker {
	char *ns;                /* target ns, owned */
	char *source_ns;         /* owned; NULL when unknown */
	int64_t completed_at_ms; /* Unix ms */
	int64_t documents;       /* documents in the dump */
	bool has_dump_end;
	uint32_t dump_end_t;
	uint32_t dump_end_i;
	bson_t deferred_indexes; /* array of index specs; empty without deferral */
} restore_marker_t;

void restore_marker_init(restore_marker_t *marker);
void restore_marker_cleanup(restore_marker_t *marker);

/* "<db>.<staging>_meta"'s collection name; the caller bson_free()s it. */
char *marker_meta_coll_name(const char *staging);

/*
 * Looks up the marker of target_ns in db.<staging>_meta through client.
 * *found tells whether it exists; when it does and marker is not NULL, the
 * marker is read into it (initialized by the call). Errors are the
 * driver's.
 */
bool marker_find(mongoc_client_t *client, const char *db, const char *staging,
		 const char *target_ns, restore_marker_t *marker, bool *found, bson_error_t *error);

/*
 * Writes marker (replacing an older one) with w: majority, j: true, so it is
 * durable before the caller reports success.
 */
bool marker_write(mongoc_client_t *client, const char *db, const char *staging,
		  const restore_marker_t *marker, bson_error_t *error);

#endif
