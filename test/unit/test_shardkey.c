/* Unit tests of the target shard key checks (shardkey.h). */
#include "error.h"
#include "shardkey.h"
#include "unit.h"

static void
case_covered(void)
{
	bson_t *key = BCON_NEW("tag", BCON_UTF8("hashed"), "n", BCON_INT32(1));
	bson_t *full = BCON_NEW("tag", BCON_UTF8("t1"), "n", BCON_INT32(3), "_id", BCON_INT32(7));
	bson_t *id_only = BCON_NEW("_id", BCON_INT32(7));
	bson_t *part = BCON_NEW("tag", BCON_UTF8("t1"), "_id", BCON_INT32(7));
	bson_t *id_key = BCON_NEW("_id", BCON_UTF8("hashed"));
	bson_error_t e;

	CHECK(shardkey_covered(key, full, "shop.orders", "seq 1 (insert)", &e));
	/* a null shard key value is there: only a missing field is refused */
	bson_t *with_null = BCON_NEW("tag", BCON_NULL, "n", BCON_NULL, "_id", BCON_INT32(7));
	CHECK(shardkey_covered(key, with_null, "shop.orders", "seq 1 (insert)", &e));
	CHECK(!shardkey_covered(key, part, "shop.orders", "seq 2 (update of 7)", &e));
	CHECK_INT(csm_exit_code(&e), CSM_EXIT_DATAERR);
	CHECK_CONTAINS(e.message, "cannot replay seq 2 (update of 7)");
	CHECK_CONTAINS(e.message, "'shop.orders' is sharded on");
	CHECK_CONTAINS(e.message, "has no 'n'");
	CHECK_CONTAINS(e.message, "Sharded clusters");
	CHECK(!shardkey_covered(key, id_only, "shop.orders", "seq 3 (delete)", &e));
	CHECK_CONTAINS(e.message, "has no 'tag'");
	/* a target sharded on _id takes any source's documentKey */
	CHECK(shardkey_covered(id_key, id_only, "shop.orders", "seq 4 (delete)", &e));
	bson_destroy(with_null);
	bson_destroy(id_key);
	bson_destroy(part);
	bson_destroy(id_only);
	bson_destroy(full);
	bson_destroy(key);
}

static void
case_upsert_met_id(void)
{
	bson_t *sharded = BCON_NEW("tag", BCON_UTF8("t1"), "_id", BCON_INT32(7));
	bson_t *id_only = BCON_NEW("_id", BCON_INT32(7));
	bson_t *on_id = BCON_NEW("index", BCON_INT32(0), "code", BCON_INT32(11000), "keyPattern",
				 "{", "_id", BCON_INT32(1), "}");
	bson_t *on_unique = BCON_NEW("index", BCON_INT32(0), "code", BCON_INT32(11000),
				     "keyPattern", "{", "u", BCON_INT32(1), "}");
	bson_t *on_compound = BCON_NEW("code", BCON_INT32(11000), "keyPattern", "{", "_id",
				       BCON_INT32(1), "u", BCON_INT32(1), "}");
	bson_t *other =
		BCON_NEW("code", BCON_INT32(2), "keyPattern", "{", "_id", BCON_INT32(1), "}");

	CHECK(shardkey_upsert_met_id(true, sharded, on_id));
	/* not an upsert, a filter of _id alone, another index or code: no */
	CHECK(!shardkey_upsert_met_id(false, sharded, on_id));
	CHECK(!shardkey_upsert_met_id(true, id_only, on_id));
	CHECK(!shardkey_upsert_met_id(true, sharded, on_unique));
	CHECK(!shardkey_upsert_met_id(true, sharded, on_compound));
	CHECK(!shardkey_upsert_met_id(true, sharded, other));
	bson_destroy(other);
	bson_destroy(on_compound);
	bson_destroy(on_unique);
	bson_destroy(on_id);
	bson_destroy(id_only);
	bson_destroy(sharded);
}

static const unit_case_t cases[] = {
	{"covered", case_covered},
	{"upsert_met_id", case_upsert_met_id},
};

UNIT_MAIN(cases)
