/*
 * What a server's catalog says about one collection: the one place that
 * asks listCollections whether db.coll exists and with which options.
 */
#ifndef CSM_CATALOG_H
#define CSM_CATALOG_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>

/*
 * Looks db.coll up with listCollections filtered by its name. *exists tells
 * whether it is there. info, when not NULL, is initialized by the call and
 * receives a copy of the collection's listCollections entry ({name, type,
 * options, info: {uuid}, ...}) when it exists, empty otherwise; the caller
 * bson_destroy()s it either way. A failed listing fills error ("cannot list
 * the collections of 'db': ...", the driver's code) and returns false.
 */
bool catalog_collection_info(mongoc_client_t *client, const char *db, const char *coll,
			     bool *exists, bson_t *info, bson_error_t *error);

/*
 * The same for a collection the source must hold: a missing one fails with
 * exit code 66, "no collection 'db.coll' on the source: check the database
 * and collection names". info as above (may be NULL).
 */
bool catalog_source_collection(mongoc_client_t *client, const char *db, const char *coll,
			       bson_t *info, bson_error_t *error);

/*
 * The names of db's collections a change stream reports (type
 * "collection", not system.*), appended to *names (a NULL-terminated
 * array of *n strings that the caller bson_strfreev()s; may start NULL).
 * false + error as above on a failed listing.
 */
bool catalog_list_collections(mongoc_client_t *client, const char *db, char ***names, size_t *n,
			      bson_error_t *error);

/*
 * Whether db.coll keeps change stream post-images: its
 * changeStreamPreAndPostImages option (MongoDB 6.0+) is enabled. *exists as
 * above; a missing collection keeps none. false + error as above.
 */
bool catalog_post_images(mongoc_client_t *client, const char *db, const char *coll, bool *exists,
			 bool *enabled, bson_error_t *error);

#endif
