/*
 * Query planning over one collection: picks the _id tree or a secondary
 * index whose leading fields the filter pins by equality (then one range),
 * preferring one whose order gives the requested sort, and walks it between
 * the resulting bounds. Every document a walk yields still goes through the
 * full filter. Calls with server_lock held; a walk is invalidated by writes.
 */
#ifndef MLITE_PLAN_H
#define MLITE_PLAN_H

#include <bson/bson.h>
#include <stdbool.h>

#include "store.h"
#include "tree.h"

typedef struct plan {
	scoll_t *coll;
	sindex_t *ix;         /* NULL: the _id tree */
	const bson_t *filter; /* borrowed for the walk's lifetime */
	bool reverse;
	bool sorted; /* the walk yields the requested sort order */
	/* bounds */
	bson_t eq; /* {"": v...} for the leading equality fields */
	uint32_t neq;
	bool has_lo, has_hi, lo_incl, hi_incl;
	bson_value_t lo, hi; /* borrowed from filter */
	int range_rank;      /* type bracket of the range; -1 when none */
	/* {$in: [...]} on the field after the equality ones: the walk visits
	 * each value (sorted, distinct) as one more equality in turn */
	bson_value_t *points; /* borrowed from filter; NULL when none */
	size_t npoints, point;
	/* the bounds say all the filter says: what the walk yields matches */
	bool exact;
	tree_iter_t it;
} plan_t;

/*
 * Plans a walk of c for filter (may be NULL) and sort (may be NULL or
 * empty). With index_name (from an earlier plan: "" for the _id tree) the
 * same access path is reused; false when that index no longer exists.
 */
bool plan_init(plan_t *p, scoll_t *c, const bson_t *filter, const bson_t *sort,
	       const char *index_name);

/* The name of the access path ("" for the _id tree); borrowed. */
const char *plan_index_name(const plan_t *p);

/* Positions the walk at its start, or just after key (from plan_next). */
void plan_start(plan_t *p, const uint8_t *after_key, uint32_t after_len);

/* Positions the walk at key itself (inclusive), for find's min. */
void plan_start_at(plan_t *p, const uint8_t *key, uint32_t keylen);

/* The next document matching the filter, or NULL at the end; *key (when
 * not NULL) receives its position for plan_start. */
const bson_t *plan_next(plan_t *p, const uint8_t **key, uint32_t *keylen);

void plan_cleanup(plan_t *p);

#endif
