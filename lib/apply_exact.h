/*
 * Exact replay of an update description (docs/DESIGN.md, "Replay rules",
 * "Exact writes"): deciding whether operator updates ($set/$unset/$push)
 * reproduce an event byte for byte (the fast path), and otherwise building
 * a pipeline update that addresses every path component exactly
 * ($setField/$getField for fields, $concatArrays/$slice/$arrayElemAt for
 * array indexes, values under $literal).
 *
 * A path's components come from the event's disambiguatedPaths (MongoDB
 * 6.1+ with showExpandedEvents: an entry for every path with a dotted or a
 * numeric field name, integers for array indexes), else from splitting the
 * path at its dots (numeric components are array indexes). An event
 * without disambiguatedPaths (an older source) whose paths hold a dot is
 * resolved against the target document (apply_exact_resolve_path).
 */
#ifndef CSM_APPLY_EXACT_H
#define CSM_APPLY_EXACT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A pipeline update holds at most this many stages (MongoDB's limit is
 * 1000); a longer description continues in the next update. */
#define EXACT_MAX_STAGES 200

/* One component of a path: a field name (borrowed) or an array index. */
typedef struct path_comp {
	const char *name; /* NUL-terminated; NULL for an index */
	int64_t index;
} path_comp_t;

/* A path split in components; owns comps and the copy the names point into. */
typedef struct exact_path {
	path_comp_t *comps;
	size_t n;
	char *buf;
} exact_path_t;

void exact_path_destroy(exact_path_t *p);

/* What an older source's paths are read against. */
typedef struct exact_target {
	const bson_t *doc; /* the target's document before the event */
	/* The target holds what the source held before the event (the event
	 * is past the dump end of a restore marker). Otherwise it may hold a
	 * newer version, and a missing parent says nothing. */
	bool settled;
} exact_target_t;

/* How an update description is replayed. */
typedef enum {
	EXACT_FAST,         /* operator updates are exact */
	EXACT_PIPELINE,     /* a pipeline update addressing each component */
	EXACT_NEEDS_TARGET, /* an old source's dotted paths: read the target first */
} exact_mode_t;

/*
 * Decides how desc (an updateDescription) is replayed; target is the
 * target's current document when the caller read it (NULL otherwise).
 * Fast when every component is a plain field name (no dot, not starting
 * with '$', not empty) or an index, no value holds a dotted or '$' field
 * name, and the updatedFields that share a parent come in the order
 * operator updates add new fields (lexicographic; numeric names by value).
 * false + exit 65 (error) when a path of an older source cannot be read in
 * one way only against target, naming the path.
 */
bool apply_exact_mode(const bson_t *desc, const exact_target_t *target, exact_mode_t *mode,
		      bson_error_t *error);

/*
 * Appends to *pipeline (an array document, *n_stages stages so far) the
 * $replaceWith stages that apply desc exactly: truncations, removals, sets,
 * one stage each. target as for apply_exact_mode. false + exit 65 on a
 * malformed description or a path that cannot be addressed.
 */
bool apply_exact_stages(const bson_t *desc, const exact_target_t *target, bson_t *pipeline,
			uint32_t *n_stages, bson_error_t *error);

/*
 * Resolves path (as the event writes it) against doc, the target document
 * holding the state before the event: each component is an array index
 * where its parent is an array, the one field of its parent that the rest
 * of the path starts with where its parent is an object, and, where no
 * field matches, the whole rest as one new field name (only when
 * must_exist is false: a set; and, when the rest holds a dot, only when
 * literal_new: the target is settled, see exact_target_t). false with *why (static text) when the
 * reading is not unique (two fields of an object match, e.g. "a" and
 * "a.b" for "a.b.c"), the path runs through a scalar or a missing array
 * element, or a removed or truncated path does not exist. In an event's
 * description only the first stops replay (65): a path that is not there
 * is nothing to remove or truncate, and a set the operators' reading (the
 * server's own errors then apply, as in the catch-up window).
 */
bool apply_exact_resolve_path(const bson_t *doc, const char *path, bool must_exist,
			      bool literal_new, exact_path_t *out, const char **why);

/* True when a path of desc holds a dot and desc has no disambiguatedPaths. */
bool apply_exact_needs_target(const bson_t *desc);

/* True when doc has a top-level field whose name starts with '$'. */
bool apply_exact_has_dollar_field(const bson_t *doc);

#endif
