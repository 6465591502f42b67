/*
 * One change event -> the write model(s) that replay it on the target
 * (docs/DESIGN.md, "Replay rules"), and the reassembly of an event staged
 * in several parts (docs/DESIGN.md, "Staged events"; lib/staging_format.h:
 * server fragments and chunk parts).
 *
 *   insert, replace               replace one by documentKey, upsert (a
 *   update with fullDocument        document with a top-level '$' field:
 *                                   [{$replaceWith: {$literal: doc}}], upsert)
 *   update without fullDocument   update one by documentKey, no upsert:
 *   (or fullDocument: null)         $push {$each: [], $slice: newSize} per
 *                                   truncated array, $unset removedFields,
 *                                   $set updatedFields; paths that MongoDB
 *                                   refuses in one update (the same path or
 *                                   a path and its prefix) go into a later
 *                                   update, in that order; when operators
 *                                   would not write exactly what the source
 *                                   holds (apply_exact.h), a pipeline update
 *                                   addressing each path component
 *   delete                        delete one by documentKey
 *
 * Every model is idempotent: applying an event twice, or a run of events
 * again from its start, converges to the same document.
 */
#ifndef CSM_APPLY_H
#define CSM_APPLY_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { APPLY_OP_REPLACE, APPLY_OP_UPDATE, APPLY_OP_DELETE } apply_op_kind_t;

/* One write on the target collection. */
typedef struct apply_op {
	apply_op_kind_t kind;
	/* Heap documents (bson_new), owned by the list: a bson_t must not be
	 * moved by value, and the list grows by realloc. */
	bson_t *filter;     /* the event's whole documentKey */
	bson_t *doc;        /* replacement or update document; empty for delete */
	bool upsert;        /* replace, or a pipeline writing a whole document */
	size_t event_index; /* which event of the caller's batch it comes from */
	uint32_t doc_hash;  /* which document: apply_order_doc_hash(filter) */
} apply_op_t;

/* A growable list of ops; owns every op's documents. */
typedef struct apply_op_list {
	apply_op_t *ops;
	size_t len;
	size_t cap;
	/* Set by apply_event_ops for an event whose paths must be read
	 * against the target document first (it added no op for it): see
	 * apply_event_ops_read. The caller clears it. */
	bool needs_target;
} apply_op_list_t;

void apply_op_list_init(apply_op_list_t *list);
/* Destroys the ops' documents; the list may be reused after. */
void apply_op_list_clear(apply_op_list_t *list);
void apply_op_list_destroy(apply_op_list_t *list);

/* What replay does with an operationType. */
typedef enum {
	APPLY_KIND_DATA,    /* insert, replace, update, delete */
	APPLY_KIND_STOP,    /* drop, rename, dropDatabase, invalidate: stop (exit 4) */
	APPLY_KIND_NOOP,    /* expanded events that change no document (create,
			       createIndexes, dropIndexes, modify,
			       shardCollection...): no write model; replay
			       applies the index ones itself (replay_apply.c) */
	APPLY_KIND_UNKNOWN, /* anything else: exit 65 */
} apply_kind_t;

apply_kind_t apply_classify(const char *operation_type);

/*
 * Appends the write model(s) of event (a whole change event, reassembled)
 * to ops, each tagged with event_index. A data event always yields at
 * least one op, except an update whose description changes nothing (no
 * op: an empty update document would be a replacement), and an update
 * whose paths must be read against the target first (no op, and
 * ops->needs_target set: apply_event_ops_read). Returns false with
 * exit code 65 when the event lacks what its rule needs (documentKey,
 * fullDocument of an insert, updateDescription of an update without one).
 */
bool apply_event_ops(const bson_t *event, size_t event_index, apply_op_list_t *ops,
		     bson_error_t *error);

/*
 * apply_event_ops for an event apply_event_needs_target says needs the
 * target document: target is the target's document of its documentKey as
 * the caller read it after applying every event before (NULL: there is
 * none, and the update does nothing); settled: the event is past the dump
 * end of a restore marker, so the target holds what the source held
 * before it (exact_target_t). false + exit 65 when a path cannot be read in one way only against
 * it (docs/DESIGN.md, "Replay rules", "Sources before 6.1").
 */
bool apply_event_ops_read(const bson_t *event, const bson_t *target, bool settled,
			  size_t event_index, apply_op_list_t *ops, bson_error_t *error);

/* Adds op to bulk (client-side key validation off: the source accepted the
 * documents already). false + error when libmongoc refuses it. */
bool apply_op_to_bulk(mongoc_bulk_operation_t *bulk, const apply_op_t *op, bson_error_t *error);

/*
 * Where a staged document sits in its event: *index (0-based) of *of parts.
 * A whole event is 0 of 1; a server fragment event.splitEvent {fragment: i,
 * of: n} is i-1 of n; a chunk part chunk {index, of} is index of of.
 * *is_chunk tells the two part kinds apart. false + exit 65 when the staged
 * document has neither event nor chunk, or their fields are malformed.
 */
bool apply_part_info(const bson_t *staged, int32_t *index, int32_t *of, bool *is_chunk,
		     bson_error_t *error);

/*
 * The fast path of apply_part_info for nearly every staged document: true
 * when staged holds a whole event (an "event" document without splitEvent,
 * and no chunk), *event then a static view of it, borrowed from staged.
 * false: the caller takes the part path (apply_part_info, apply_reassemble).
 */
bool apply_whole_event(const bson_t *staged, bson_t *event);

/*
 * Rebuilds one change event from its n staged parts (in seq order, all of
 * the same kind, complete: apply_part_info gives 0..n-1 of n); the caller
 * frees it with bson_destroy(). Fragments are merged by their top-level
 * fields (splitEvent dropped; the first fragment's value wins); chunks'
 * eventBytes are concatenated and validated as BSON. A chunked event is not
 * itself split in fragments. NULL + exit 65 on a malformed or incomplete set.
 */
bson_t *apply_reassemble(const bson_t *const *parts, size_t n, bson_error_t *error);

#endif
