/* The capture checkpoint codec (checkpoint.h). */
#include "checkpoint.h"

#include <string.h>

#include "bsonfield.h"
#include "clock.h"
#include "error.h"
#include "meta_doc.h"
#include "staging_format.h"

void
checkpoint_init(checkpoint_t *cp)
{
	memset(cp, 0, sizeof *cp);
	bson_init(&cp->token);
}

void
checkpoint_cleanup(checkpoint_t *cp)
{
	bson_destroy(&cp->token);
	checkpoint_init(cp);
}

static void
checkpoint_from_bson(const bson_t *doc, checkpoint_t *cp)
{
	bsonfield_document(doc, META_F_TOKEN, &cp->token);
	optime_from_doc(doc, META_F_CLUSTER_TIME, &cp->cluster_time);
	cp->last_seq = bsonfield_int64(doc, META_F_LAST_SEQ, 0);
	cp->heartbeat_ms = bsonfield_date(doc, META_F_HEARTBEAT_AT);
	cp->caught_up_ms = bsonfield_date(doc, META_F_CAUGHT_UP_AT);
	bsonfield_utf8(doc, META_F_STATE, cp->state, sizeof cp->state);
	bsonfield_utf8(doc, META_F_STATE_DETAIL, cp->detail, sizeof cp->detail);
}

bool
checkpoint_read(mongoc_collection_t *meta, const char *ns, checkpoint_t *cp, bool *found,
		bson_error_t *error)
{
	char *id = bson_strdup_printf("%s%s", STAGING_CHECKPOINT_ID_PREFIX, ns);
	bson_t doc;
	bool ok;

	checkpoint_cleanup(cp);
	ok = meta_doc_read(meta, id, &doc, found, error);
	if (!ok)
		csm_error_prefix(error, "cannot read the checkpoint of '%s'", ns);
	else if (*found)
		checkpoint_from_bson(&doc, cp);
	bson_destroy(&doc);
	bson_free(id);
	return ok;
}

bool
checkpoint_write(mongoc_collection_t *meta, const char *ns, checkpoint_t *cp, bson_error_t *error)
{
	char *id = bson_strdup_printf("%s%s", STAGING_CHECKPOINT_ID_PREFIX, ns);
	bson_t selector = BSON_INITIALIZER, update = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_t set, unset;
	int64_t now = clock_wall_ms();
	bool ok;

	BSON_APPEND_UTF8(&selector, META_F_ID, id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, META_F_NS, ns);
	if (!bson_empty(&cp->token))
		BSON_APPEND_DOCUMENT(&set, META_F_TOKEN, &cp->token);
	if (!optime_is_zero(cp->cluster_time))
		optime_append(&set, META_F_CLUSTER_TIME, cp->cluster_time);
	BSON_APPEND_DATE_TIME(&set, META_F_HEARTBEAT_AT, now);
	if (cp->caught_up_ms > 0)
		BSON_APPEND_DATE_TIME(&set, META_F_CAUGHT_UP_AT, cp->caught_up_ms);
	BSON_APPEND_INT64(&set, META_F_LAST_SEQ, cp->last_seq);
	BSON_APPEND_UTF8(&set, META_F_STATE, cp->state[0] ? cp->state : CHECKPOINT_STATE_RUNNING);
	if (cp->detail[0])
		BSON_APPEND_UTF8(&set, META_F_STATE_DETAIL, cp->detail);
	bson_append_document_end(&update, &set);
	if (!cp->detail[0]) {
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
		BSON_APPEND_UTF8(&unset, META_F_STATE_DETAIL, "");
		bson_append_document_end(&update, &unset);
	}
	BSON_APPEND_BOOL(&opts, "upsert", true);
	meta_doc_durable(&opts);
	ok = mongoc_collection_update_one(meta, &selector, &update, &opts, NULL, error);
	if (ok)
		cp->heartbeat_ms = now;
	else
		csm_error_prefix(error, "cannot write the checkpoint of '%s'", ns);
	bson_destroy(&opts);
	bson_destroy(&update);
	bson_destroy(&selector);
	bson_free(id);
	return ok;
}
