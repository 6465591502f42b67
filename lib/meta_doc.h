/*
 * One document of the meta collection (docs/DESIGN.md, "Meta documents")
 * read by its _id with read concern majority, and the write concern every
 * write of one takes: what the checkpoint, the restore marker, a lease and
 * a transaction record are each read and written with.
 */
#ifndef CSM_META_DOC_H
#define CSM_META_DOC_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

/*
 * Reads the document _id = id of meta into *doc (initialized by the call,
 * empty when there is none; the caller destroys it), *found saying which.
 * false + the driver's error (and *found false) when the read failed.
 */
bool meta_doc_read(mongoc_collection_t *meta, const char *id, bson_t *doc, bool *found,
		   bson_error_t *error);

/* Appends to opts the write concern of a meta write: w: majority,
 * journaled (a write that survives an election). */
void meta_doc_durable(bson_t *opts);

#endif
