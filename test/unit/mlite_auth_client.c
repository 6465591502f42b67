/*
 * mlite_auth_client: authenticates to mongod-lite through libmongoc (the
 * driver the tools use) for test/mongod-lite-core.bats.
 *
 *   MLITE_AUTH_URI=URI mlite_auth_client DB
 *
 * The URI comes from the environment so that its password stays out of argv.
 * Through a pooled client (as the tools connect), inserts one document into
 * DB.auth and counts it back. Prints "ok" and exits 0, or prints
 * "error DOMAIN.CODE: MESSAGE" to stderr and exits 1.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>

static int
fail(const bson_error_t *error)
{
	fprintf(stderr, "error %u.%u: %s\n", error->domain, error->code, error->message);
	return 1;
}

static int
run(mongoc_client_t *client, const char *db)
{
	bson_error_t error;
	mongoc_collection_t *coll = mongoc_client_get_collection(client, db, "auth");
	bson_t *doc = BCON_NEW("by", "libmongoc");
	bson_t filter = BSON_INITIALIZER;
	int rc = 0;

	if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &error)) {
		rc = fail(&error);
		goto out;
	}
	int64_t n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, &error);
	if (n < 0) {
		rc = fail(&error);
		goto out;
	}
	if (n < 1) {
		fprintf(stderr, "error: the inserted document was not counted\n");
		rc = 1;
		goto out;
	}
	printf("ok\n");
out:
	bson_destroy(&filter);
	bson_destroy(doc);
	mongoc_collection_destroy(coll);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *uri_string = getenv("MLITE_AUTH_URI");
	bson_error_t error;
	int rc;

	if (argc != 2 || !uri_string) {
		fprintf(stderr, "usage: MLITE_AUTH_URI=URI mlite_auth_client DB\n");
		return 64;
	}
	mongoc_init();
	mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_string, &error);
	if (!uri) {
		rc = fail(&error);
		mongoc_cleanup();
		return rc;
	}
	mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
	mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
	mongoc_client_t *client = mongoc_client_pool_pop(pool);
	rc = run(client, argv[1]);
	mongoc_client_pool_push(pool, client);
	mongoc_client_pool_destroy(pool);
	mongoc_uri_destroy(uri);
	mongoc_cleanup();
	return rc;
}
