/*
 * Positional update paths as MongoDB's update tree resolves them
 * (update_object_node.cpp, update_array_node.cpp,
 * expression_with_placeholder.cpp, parsed_update_array_filters.cpp):
 * `$` (the array element the query matched), `$[]` (every element) and
 * `$[<identifier>]` (the elements its arrayFilters entry matches).
 *
 * An update's positional paths are expanded, before any modifier runs,
 * into the concrete paths they stand for in the document. An array whose
 * `$[...]` children reach more than one element logs for them (the whole
 * array when more than one changed, else the one changed element); the
 * concrete paths below it then log nothing themselves.
 */
#ifndef MLITE_UPDATE_POS_H
#define MLITE_UPDATE_POS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "update.h"

/* True when path has a `$` or `$[...]` component. */
bool upos_is_dynamic(const char *path);

/*
 * Checks an update's arrayFilters (filters: NULL when the command has
 * none; field names the option in messages, e.g. "update.updates.
 * arrayFilters") and the positional parts of u's paths, before any
 * document is touched: 14 for a non-array option or a non-object filter,
 * 9 FailedToParse (pipeline update, a filter without or with two
 * top-level names, the same name twice, an unused one), 2 BadValue (a bad
 * name, an identifier without a filter, `$` twice or first, a dynamic
 * $rename), 40 ConflictingUpdateOperators (`$[...]` beside another
 * component at one level).
 */
bool upos_check(const bson_value_t *u, update_kind_t kind, const bson_value_t *filters,
		const char *field, bson_error_t *error);

/* One concrete path: entry is the index the caller gave upos_expand. */
typedef struct {
	char *path;
	size_t entry;
	bool no_log; /* an array above it logs for it */
} upos_path_t;

/* An array `$[...]` children reached: the element indexes they matched. */
typedef struct {
	char *path;
	size_t *idx;
	size_t n, cap;
	bool logs; /* more than one element, and no such array above it */
} upos_group_t;

typedef struct {
	const bson_t *doc;   /* the document the paths are resolved in */
	const bson_t *query; /* the update's filter; NULL: `$` cannot resolve */
	bson_t filters;      /* the arrayFilters array (empty when none) */
	upos_path_t *paths;
	size_t npaths, pcap;
	upos_group_t *groups;
	size_t ngroups, gcap;
} upos_t;

/* filters: the command's arrayFilters (NULL when none), already checked. */
void upos_init(upos_t *pos, const bson_t *doc, const bson_t *query, const bson_t *filters);
void upos_destroy(upos_t *pos);

/* Adds the concrete paths path stands for (none when no element
 * matches). false + 2 BadValue: `$` without a match, a missing or
 * non-array element under `$[...]`. */
bool upos_expand(upos_t *pos, const char *path, size_t entry, bson_error_t *error);

/* After every upos_expand: sets no_log and logs. */
void upos_finish(upos_t *pos);

#endif
