/* Which collections a database stream covers (collset.h). */
#include "collset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "error.h"
#include "fsutil.h"
#include "names.h"

#define COLLS_FILE_MAX (4 * 1024 * 1024)

void
collset_init(collset_t *set)
{
	memset(set, 0, sizeof *set);
}

void
collset_cleanup(collset_t *set)
{
	bson_strfreev(set->names);
	memset(set, 0, sizeof *set);
}

bool
collset_has(const collset_t *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (!strcmp(set->names[i], name))
			return true;
	return false;
}

static bool add_name(collset_t *set, const char *name, size_t len, const char *from,
		     bson_error_t *error);

bool
collset_add(collset_t *set, const char *name, bson_error_t *error)
{
	return add_name(set, name, strlen(name), "the selection", error);
}

static bool
add_name(collset_t *set, const char *name, size_t len, const char *from, bson_error_t *error)
{
	char *copy = bson_strndup(name, len);

	if (!*copy || strchr(copy, '/')) {
		csm_error_set(error, CSM_EXIT_USAGE,
			      "%s names a collection '%s': a name must be neither empty nor hold "
			      "'/'",
			      from, copy);
		bson_free(copy);
		return false;
	}
	if (collset_has(set, copy)) {
		bson_free(copy);
		return true;
	}
	set->names = bson_realloc(set->names, (set->n + 2) * sizeof *set->names);
	set->names[set->n++] = copy;
	set->names[set->n] = NULL;
	return true;
}

bool
collset_add_list(collset_t *set, const char *list, const char *option, bson_error_t *error)
{
	const char *p = list, *comma;

	for (;;) {
		comma = strchr(p, ',');
		if (!add_name(set, p, comma ? (size_t)(comma - p) : strlen(p), option, error))
			return false;
		if (!comma)
			return true;
		p = comma + 1;
	}
}

bool
collset_add_file(collset_t *set, const char *path, bson_error_t *error)
{
	size_t len, n;
	char *text = fs_read_all(path, COLLS_FILE_MAX, &len, error), *p, *nl;
	bool ok = true;

	if (!text) {
		csm_error_prefix(error, "cannot read --colls-file '%s'", path);
		return false;
	}
	for (p = text; ok && p < text + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(text + len - p));
		if (!nl)
			nl = text + len;
		n = (size_t)(nl - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n && *p != '#')
			ok = add_name(set, p, n, "--colls-file", error);
	}
	free(text);
	if (ok && set->n == 0) {
		csm_error_set(error, CSM_EXIT_USAGE, "--colls-file '%s' names no collection", path);
		ok = false;
	}
	return ok;
}

bool
collset_check_staging(const collset_t *set, const char *db, const char *staging,
		      bson_error_t *error)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		if (names_check_source(db, set->names[i], staging, error))
			continue;
		if (set->all)
			csm_error_prefix(error, "--all-colls would capture the staging collections "
						"themselves");
		return false;
	}
	return true;
}

bool
collset_resolve(collset_t *set, mongoc_client_t *source, const char *db, bson_error_t *error)
{
	size_t i;

	if (set->all) {
		collset_cleanup(set);
		set->all = true;
		return catalog_list_collections(source, db, &set->names, &set->n, error);
	}
	for (i = 0; i < set->n; i++)
		if (!catalog_source_collection(source, db, set->names[i], NULL, error))
			return false;
	return true;
}

bool
collset_match(const collset_t *set, bson_t *match)
{
	bson_t stage, or, alt, in, list, ops;
	const char *paths[] = {"ns.coll", "to.coll"};
	char key[24];
	size_t i, j;

	bson_init(match);
	if (set->all)
		return false;
	BSON_APPEND_DOCUMENT_BEGIN(match, "$match", &stage);
	BSON_APPEND_ARRAY_BEGIN(&stage, "$or", & or);
	for (j = 0; j < 2; j++) {
		snprintf(key, sizeof key, "%zu", j);
		BSON_APPEND_DOCUMENT_BEGIN(& or, key, &alt);
		BSON_APPEND_DOCUMENT_BEGIN(&alt, paths[j], &in);
		BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
		for (i = 0; i < set->n; i++) {
			snprintf(key, sizeof key, "%zu", i);
			BSON_APPEND_UTF8(&list, key, set->names[i]);
		}
		bson_append_array_end(&in, &list);
		bson_append_document_end(&alt, &in);
		bson_append_document_end(& or, &alt);
	}
	BSON_APPEND_DOCUMENT_BEGIN(& or, "2", &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "operationType", &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &ops);
	BSON_APPEND_UTF8(&ops, "0", "dropDatabase");
	BSON_APPEND_UTF8(&ops, "1", "invalidate");
	bson_append_array_end(&in, &ops);
	bson_append_document_end(&alt, &in);
	bson_append_document_end(& or, &alt);
	bson_append_array_end(&stage, & or);
	bson_append_document_end(match, &stage);
	return true;
}
