/*
 * $changeStream: a tailable cursor over the oplog.
 *
 * Position. A stream scans the oplog entry by entry (next_seq). Each entry
 * expands into 0..3 outputs (an event, its fragments, an invalidate) that
 * wait in `pending` until a batch takes them, so a batch can end anywhere.
 * After a resume, outputs whose token sorts at or before the resume token
 * (`floor`) are dropped: this one rule serves resumeAfter/startAfter on an
 * event, on a fragment of a split event and on a drop before its
 * invalidate.
 *
 * Tokens. {_data: "82" %08X(t) %08X(i) %016X(seq) %02X(kind) %04X(frag)}:
 * fixed width, uppercase, so string order is event order. kind 00 = event,
 * 01 = invalidate, 02 = high-water mark (PBRT of a stream that has scanned
 * up to seq); frag = fragment number (1-based) of a split event, else 0.
 *
 * Waiting. getMore scans what is there; when that yields nothing it waits on
 * server_oplog_wait (server_lock released) until an append, the deadline or
 * shutdown, then scans again.
 */
#include "changestream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cursor.h"
#include "oplog.h"
#include "query.h"
#include "server.h"
#include "store.h"

#define CS_TOKEN_LEN 40
#define CS_KIND_EVENT 0
#define CS_KIND_INVALIDATE 1
#define CS_KIND_HWM 2
/* BSONObjMaxInternalSize: a bigger event fails with 10334. */
#define CS_MAX_EVENT (16 * 1024 * 1024 + 16 * 1024)
/* kBSONObjMaxChangeEventSize: $changeStreamSplitLargeEvent splits above. */
#define CS_MAX_UNSPLIT (CS_MAX_EVENT - 8 * 1024)
#define CS_BATCH_BYTES (16 * 1024 * 1024)
#define CS_DEFAULT_AWAIT_MS 1000
#define CS_NAME 256

typedef enum { CS_COLL, CS_DB, CS_CLUSTER } cs_scope_t;
typedef enum { FD_DEFAULT, FD_UPDATE_LOOKUP, FD_WHEN_AVAILABLE, FD_REQUIRED } cs_full_doc_t;
typedef enum { FDB_OFF, FDB_WHEN_AVAILABLE, FDB_REQUIRED } cs_before_t;

typedef struct cs_token {
	uint32_t t, i;
	int64_t seq;
	int kind;
	int frag;
} cs_token_t;

typedef struct cs_output {
	bson_t *doc; /* NULL: an error the stream raises when it gets here */
	char token[CS_TOKEN_LEN + 1];
	int64_t seq;
	bson_error_t error;
} cs_output_t;

typedef struct cs_state {
	cs_scope_t scope;
	char db[CS_NAME];
	char coll[CS_NAME];
	cs_full_doc_t full_document;
	cs_before_t before_change;
	bson_t stages; /* the user's $match/$project stages, in order */
	bool split;    /* ends with $changeStreamSplitLargeEvent */
	bool expanded; /* showExpandedEvents */
	bool opened;   /* the aggregate has answered: later losses are a getMore's */
	int64_t next_seq;
	uint32_t min_t, min_i; /* startAtOperationTime: skip older entries */
	char floor[CS_TOKEN_LEN + 1];
	cs_token_t floor_token;
	cs_output_t *pending;
	size_t pending_head, pending_count, pending_cap;
	bool closing; /* an invalidate was produced: scan no further */
	char pbrt[CS_TOKEN_LEN + 1];
} cs_state_t;

/* One oplog entry, parsed (views into the oplog's buffer). */
typedef struct cs_entry {
	int64_t seq;
	uint32_t t, i;
	int64_t wall;
	const char *op;
	char db[CS_NAME];
	const char *coll;
	bson_t o, o2, ud, pre;
	bool has_o, has_o2, has_ud, has_pre;
	const uint8_t *ui; /* the collection's UUID, NULL when not logged */
	/* a statement of a committed transaction: its lsid and txnNumber */
	bson_t lsid;
	int64_t txn_number;
	bool in_txn;
} cs_entry_t;

/* What an entry means to one stream. */
typedef struct cs_class {
	const char *optype; /* NULL: nothing */
	bool invalidate;    /* an invalidate follows the event */
	char ns_db[CS_NAME];
	char ns_coll[CS_NAME]; /* "" for dropDatabase */
	char to_db[CS_NAME];
	char to_coll[CS_NAME];
} cs_class_t;

/* ---------------------------------------------------------------- tokens */

static void
token_format(char *out, uint32_t t, uint32_t i, int64_t seq, int kind, int frag)
{
	snprintf(out, CS_TOKEN_LEN + 1, "82%08X%08X%016llX%02X%04X", t, i, (unsigned long long)seq,
		 (unsigned)kind & 0xff, (unsigned)frag & 0xffff);
}

static uint64_t
hex_field(const char *s, size_t len)
{
	char buf[17];

	memcpy(buf, s, len);
	buf[len] = '\0';
	return strtoull(buf, NULL, 16);
}

/* Parses a resume token document into tok and its canonical string. */
static bool
token_parse(const bson_iter_t *doc_it, const char *option, cs_token_t *tok, char *str,
	    bson_error_t *error)
{
	bson_iter_t it;
	const char *data;
	uint32_t len;

	if (!BSON_ITER_HOLDS_DOCUMENT(doc_it)) {
		cmd_error(error, 14, "'%s' must be a resume token document", option);
		return false;
	}
	if (!bson_iter_recurse(doc_it, &it) || !bson_iter_find(&it, "_data") ||
	    !BSON_ITER_HOLDS_UTF8(&it)) {
		cmd_error(error, 40647,
			  "Bad resume token: _data of missing or of wrong type. Expected string");
		return false;
	}
	data = bson_iter_utf8(&it, &len);
	for (uint32_t k = 0; k < len; k++) {
		if (!strchr("0123456789abcdefABCDEF", data[k]) || data[k] == '\0') {
			cmd_error(error, 9, "resume token string was not a valid hex string");
			return false;
		}
	}
	if (len != CS_TOKEN_LEN || (data[0] != '8' || data[1] != '2')) {
		cmd_error(error, 9, "resume token '%.*s' was not issued by this server",
			  (int)(len > 64 ? 64 : len), data);
		return false;
	}
	for (uint32_t k = 0; k < len; k++)
		str[k] = (char)(data[k] >= 'a' && data[k] <= 'f' ? data[k] - 'a' + 'A' : data[k]);
	str[len] = '\0';
	tok->t = (uint32_t)hex_field(str + 2, 8);
	tok->i = (uint32_t)hex_field(str + 10, 8);
	tok->seq = (int64_t)hex_field(str + 18, 16);
	tok->kind = (int)hex_field(str + 34, 2);
	tok->frag = (int)hex_field(str + 36, 4);
	if (tok->kind > CS_KIND_HWM || tok->seq < 0 ||
	    (tok->kind == CS_KIND_HWM && tok->frag != 0)) {
		cmd_error(error, 9, "resume token '%s' is malformed", str);
		return false;
	}
	return true;
}

static void
append_token(bson_t *doc, const char *key, const char *token)
{
	bson_t child;

	bson_append_document_begin(doc, key, -1, &child);
	BSON_APPEND_UTF8(&child, "_data", token);
	bson_append_document_end(doc, &child);
}

/* --------------------------------------------------------------- entries */

static void
copy_name(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (len > n)
		len = n;
	if (len >= CS_NAME)
		len = CS_NAME - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* "db.coll" -> db, coll (coll "" when there is no dot). */
static void
split_ns(const char *ns, char *db, char *coll)
{
	const char *dot = strchr(ns, '.');

	copy_name(db, ns, dot ? (size_t)(dot - ns) : strlen(ns));
	copy_name(coll, dot ? dot + 1 : "", dot ? strlen(dot + 1) : 0);
}

static bool
iter_doc(bson_iter_t *it, bson_t *out)
{
	const uint8_t *data;
	uint32_t len;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		return false;
	bson_iter_document(it, &len, &data);
	return bson_init_static(out, data, len);
}

static bool
entry_load(int64_t seq, cs_entry_t *e)
{
	bson_t raw;
	bson_iter_t it;
	const char *ns = "";
	char coll_unused[CS_NAME];

	memset(e, 0, sizeof *e);
	if (!oplog_get(seq, &raw, &e->t, &e->i))
		return false;
	e->seq = seq;
	e->op = "";
	if (!bson_iter_init(&it, &raw))
		return false;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "op") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			e->op = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "ns") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			ns = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "wall") == 0 && BSON_ITER_HOLDS_DATE_TIME(&it))
			e->wall = bson_iter_date_time(&it);
		else if (strcmp(k, "o") == 0)
			e->has_o = iter_doc(&it, &e->o);
		else if (strcmp(k, "o2") == 0)
			e->has_o2 = iter_doc(&it, &e->o2);
		else if (strcmp(k, "ud") == 0)
			e->has_ud = iter_doc(&it, &e->ud);
		else if (strcmp(k, "pre") == 0)
			e->has_pre = iter_doc(&it, &e->pre);
		else if (strcmp(k, "ui") == 0 && BSON_ITER_HOLDS_BINARY(&it)) {
			bson_subtype_t sub;
			uint32_t len;
			const uint8_t *u;
			bson_iter_binary(&it, &sub, &len, &u);
			e->ui = len == 16 ? u : NULL;
		} else if (strcmp(k, "lsid") == 0)
			iter_doc(&it, &e->lsid);
		else if (strcmp(k, "txnNumber") == 0 && BSON_ITER_HOLDS_INT64(&it))
			e->txn_number = bson_iter_int64(&it);
		else if (strcmp(k, "txnOpIndex") == 0)
			e->in_txn = true;
	}
	split_ns(ns, e->db, coll_unused);
	const char *dot = strchr(ns, '.');
	e->coll = dot ? dot + 1 : "";
	return true;
}

static bool
internal_db(const char *db)
{
	return strcmp(db, "admin") == 0 || strcmp(db, "config") == 0 || strcmp(db, "local") == 0;
}

static bool
system_coll(const char *coll)
{
	return strncmp(coll, "system.", 7) == 0;
}

/* True when a data change to db.coll belongs to the stream. */
static bool
in_scope(const cs_state_t *st, const char *db, const char *coll)
{
	switch (st->scope) {
	case CS_COLL:
		return strcmp(db, st->db) == 0 && strcmp(coll, st->coll) == 0;
	case CS_DB:
		return strcmp(db, st->db) == 0 && !system_coll(coll);
	case CS_CLUSTER:
		return !internal_db(db) && !system_coll(coll);
	}
	return false;
}

static const char *
first_key_utf8(const bson_t *o, const char **key)
{
	bson_iter_t it;

	if (!bson_iter_init(&it, o) || !bson_iter_next(&it))
		return NULL;
	*key = bson_iter_key(&it);
	return BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
}

/* The DDL events showExpandedEvents adds (MongoDB 6.0+): create,
 * createIndexes, dropIndexes and modify (collMod). shardCollection and
 * the others need a sharded cluster: mongod-lite emits none. */
static void
classify_expanded(const cs_state_t *st, const cs_entry_t *e, const char *key, const char *coll,
		  cs_class_t *c)
{
	static const char *const commands[][2] = {{"create", "create"},
						  {"createIndexes", "createIndexes"},
						  {"dropIndexes", "dropIndexes"},
						  {"collMod", "modify"}};
	for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
		if (strcmp(key, commands[k][0]) != 0)
			continue;
		if (!in_scope(st, e->db, coll))
			return;
		c->optype = commands[k][1];
		copy_name(c->ns_db, e->db, strlen(e->db));
		copy_name(c->ns_coll, coll, strlen(coll));
		return;
	}
}

/* Decides what entry e shows to the stream. */
static void
classify(const cs_state_t *st, const cs_entry_t *e, cs_class_t *c)
{
	memset(c, 0, sizeof *c);
	if (strlen(e->op) != 1)
		return;
	switch (e->op[0]) {
	case 'i':
	case 'u':
	case 'r':
	case 'd':
		if (!in_scope(st, e->db, e->coll))
			return;
		c->optype = e->op[0] == 'i'   ? "insert"
			    : e->op[0] == 'u' ? "update"
			    : e->op[0] == 'r' ? "replace"
					      : "delete";
		copy_name(c->ns_db, e->db, strlen(e->db));
		copy_name(c->ns_coll, e->coll, strlen(e->coll));
		return;
	case 'c':
		break;
	default:
		return;
	}
	const char *key = NULL;
	const char *arg = e->has_o ? first_key_utf8(&e->o, &key) : NULL;
	if (!arg)
		return;
	if (strcmp(key, "drop") == 0) {
		if (!in_scope(st, e->db, arg))
			return;
		c->optype = "drop";
		c->invalidate = st->scope == CS_COLL;
		copy_name(c->ns_db, e->db, strlen(e->db));
		copy_name(c->ns_coll, arg, strlen(arg));
	} else if (strcmp(key, "renameCollection") == 0) {
		bson_iter_t to;
		if (!bson_iter_init_find(&to, &e->o, "to") || !BSON_ITER_HOLDS_UTF8(&to))
			return;
		split_ns(arg, c->ns_db, c->ns_coll);
		split_ns(bson_iter_utf8(&to, NULL), c->to_db, c->to_coll);
		if (!in_scope(st, c->ns_db, c->ns_coll) && !in_scope(st, c->to_db, c->to_coll))
			return;
		c->optype = "rename";
		c->invalidate = st->scope == CS_COLL;
	} else if (strcmp(key, "dropDatabase") == 0) {
		/* A collection stream saw the drop logged before this. */
		if (st->scope == CS_COLL)
			return;
		copy_name(c->ns_db, e->db, strlen(e->db));
		if (st->scope == CS_DB ? strcmp(e->db, st->db) != 0 : internal_db(e->db))
			return;
		c->optype = "dropDatabase";
		c->invalidate = st->scope == CS_DB;
	} else if (st->expanded) {
		classify_expanded(st, e, key, arg, c);
	}
}

/* ---------------------------------------------------------------- events */

static void
append_ns(bson_t *doc, const char *key, const char *db, const char *coll)
{
	bson_t child;

	bson_append_document_begin(doc, key, -1, &child);
	BSON_APPEND_UTF8(&child, "db", db);
	if (coll)
		BSON_APPEND_UTF8(&child, "coll", coll);
	bson_append_document_end(doc, &child);
}

/* disambiguatedPaths only with showExpandedEvents, as MongoDB 6.1+. */
static void
append_update_description(bson_t *doc, const cs_entry_t *e, bool expanded)
{
	bson_t ud, empty = BSON_INITIALIZER;
	bson_iter_t it;
	static const char *const keys[] = {"updatedFields", "removedFields", "truncatedArrays",
					   "disambiguatedPaths"};

	bson_append_document_begin(doc, "updateDescription", -1, &ud);
	for (size_t k = 0; k < (expanded ? 4 : 3); k++) {
		if (e->has_ud && bson_iter_init_find(&it, &e->ud, keys[k]))
			bson_append_iter(&ud, keys[k], -1, &it);
		else if (k == 0 || k == 3)
			bson_append_document(&ud, keys[k], -1, &empty);
		else
			bson_append_array(&ud, keys[k], -1, &empty);
	}
	bson_append_document_end(doc, &ud);
}

static void
document_key(const cs_entry_t *e, bson_t *out)
{
	bson_iter_t it;

	bson_init(out);
	if (e->has_o2) {
		bson_concat(out, &e->o2);
		return;
	}
	if (e->has_o && bson_iter_init_find(&it, &e->o, "_id"))
		bson_append_iter(out, "_id", 3, &it);
}

/*
 * Appends an event's image (image NULL: there is none) under field: null
 * when there is none, unless the stream requires it: then false + 47
 * NoMatchingDocument, naming the image (what: "post-image", "pre-image").
 */
static bool
append_image(bson_t *doc, const char *field, const bson_t *image, bool required, const char *what,
	     const cs_entry_t *e, bson_error_t *error)
{
	if (!image && required) {
		cmd_error(error, 47,
			  "Change stream was configured to require a %s for all update, delete "
			  "and replace events, but the %s was not found for event on '%s.%s'",
			  what, what, e->db, e->coll);
		return false;
	}
	if (image)
		BSON_APPEND_DOCUMENT(doc, field, image);
	else
		BSON_APPEND_NULL(doc, field);
	return true;
}

/* Copies o without its first field (the command name) into out. */
static void
command_options(const bson_t *o, const char *skip, bson_t *out)
{
	bson_iter_t it;
	bson_iter_init(&it, o);
	bson_iter_next(&it);
	while (bson_iter_next(&it))
		if (!skip || strcmp(bson_iter_key(&it), skip) != 0)
			bson_append_iter(out, NULL, 0, &it);
}

/* operationDescription (and nsType, stateBeforeChange) of an expanded
 * DDL event, shaped as jstests/change_streams/ddl_*.js expect. */
static void
append_ddl_description(bson_t *doc, const cs_entry_t *e, const cs_class_t *c)
{
	bson_t desc, sub, arr;
	bson_iter_t it;

	if (strcmp(c->optype, "drop") == 0 || strcmp(c->optype, "dropDatabase") == 0)
		return;
	bson_append_document_begin(doc, "operationDescription", -1, &desc);
	if (strcmp(c->optype, "rename") == 0) {
		append_ns(&desc, "to", c->to_db, c->to_coll);
	} else if (strcmp(c->optype, "create") == 0) {
		bson_append_document_begin(&desc, "idIndex", -1, &sub);
		BSON_APPEND_INT32(&sub, "v", 2);
		bson_t key = BSON_INITIALIZER;
		BSON_APPEND_INT32(&key, "_id", 1);
		BSON_APPEND_DOCUMENT(&sub, "key", &key);
		bson_destroy(&key);
		BSON_APPEND_UTF8(&sub, "name", "_id_");
		bson_append_document_end(&desc, &sub);
		command_options(&e->o, "idIndex", &desc);
	} else if (strcmp(c->optype, "modify") == 0) {
		command_options(&e->o, NULL, &desc);
	} else if (bson_iter_init_find(&it, &e->o, "spec") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_append_array_begin(&desc, "indexes", -1, &arr);
		bson_append_iter(&arr, "0", 1, &it);
		bson_append_array_end(&desc, &arr);
	}
	bson_append_document_end(doc, &desc);
	if (strcmp(c->optype, "create") == 0)
		BSON_APPEND_UTF8(doc, "nsType", "collection");
	if (strcmp(c->optype, "modify") == 0 && e->has_o2 &&
	    bson_iter_init_find(&it, &e->o2, "collectionOptions_old") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_append_document_begin(doc, "stateBeforeChange", -1, &sub);
		bson_append_iter(&sub, "collectionOptions", -1, &it);
		if (bson_iter_init_find(&it, &e->o2, "indexOptions_old") &&
		    BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_append_iter(&sub, "indexOptions", -1, &it);
		bson_append_document_end(doc, &sub);
	}
}

/*
 * Builds the event for entry e (or its invalidate), before the user's
 * stages. NULL + error when an image the options require is missing.
 */
static bson_t *
build_event(const cs_state_t *st, const cs_entry_t *e, const cs_class_t *c, bool invalidate,
	    const char *token, bson_error_t *error)
{
	bson_t *doc = bson_new();
	bson_t key;
	char op = e->op[0];
	bool crud = op != 'c';

	append_token(doc, "_id", token);
	BSON_APPEND_UTF8(doc, "operationType", invalidate ? "invalidate" : c->optype);
	bson_append_timestamp(doc, "clusterTime", -1, e->t, e->i);
	/* between clusterTime and wallTime, as MongoDB's event transform
	 * adds it (dropDatabase has none: its entry names no collection) */
	if (st->expanded && e->ui)
		BSON_APPEND_BINARY(doc, "collectionUUID", BSON_SUBTYPE_UUID, e->ui, 16);
	bson_append_date_time(doc, "wallTime", -1, e->wall);
	if (invalidate)
		return doc;
	if (!crud) {
		append_ns(doc, "ns", c->ns_db,
			  c->ns_coll[0] || strcmp(c->optype, "dropDatabase") ? c->ns_coll : NULL);
		if (strcmp(c->optype, "rename") == 0)
			append_ns(doc, "to", c->to_db, c->to_coll);
		if (st->expanded)
			append_ddl_description(doc, e, c);
		return doc;
	}
	/* MongoDB's order: fullDocument, ns, documentKey, updateDescription,
	 * then fullDocumentBeforeChange (change_stream_event_transform.cpp;
	 * the post-image stages fill fullDocument in its place) */
	document_key(e, &key);
	if (op == 'i' || op == 'r') {
		if (e->has_o)
			BSON_APPEND_DOCUMENT(doc, "fullDocument", &e->o);
	} else if (op == 'u' && st->full_document == FD_UPDATE_LOOKUP) {
		bson_t current;
		if (store_lookup_by_id(e->db, e->coll, &key, &current))
			BSON_APPEND_DOCUMENT(doc, "fullDocument", &current);
		else
			BSON_APPEND_NULL(doc, "fullDocument");
		bson_destroy(&current);
	} else if (op == 'u' && st->full_document != FD_DEFAULT) {
		/* Point in time: MongoDB builds it from the pre-image the write
		 * recorded, so only writes made while the collection had
		 * changeStreamPreAndPostImages have one (enabling it later
		 * does not give older events one). */
		bool available = e->has_o && e->has_pre;
		if (!append_image(doc, "fullDocument", available ? &e->o : NULL,
				  st->full_document == FD_REQUIRED, "post-image", e, error))
			goto fail;
	}
	append_ns(doc, "ns", c->ns_db, c->ns_coll);
	BSON_APPEND_DOCUMENT(doc, "documentKey", &key);
	if (op == 'u')
		append_update_description(doc, e, st->expanded);
	if (op != 'i' && st->before_change != FDB_OFF &&
	    !append_image(doc, "fullDocumentBeforeChange", e->has_pre ? &e->pre : NULL,
			  st->before_change == FDB_REQUIRED, "pre-image", e, error))
		goto fail;
	if (e->in_txn) {
		/* as MongoDB: only the statements of a transaction carry them */
		BSON_APPEND_DOCUMENT(doc, "lsid", &e->lsid);
		BSON_APPEND_INT64(doc, "txnNumber", e->txn_number);
	}
	bson_destroy(&key);
	return doc;
fail:
	bson_destroy(&key);
	bson_destroy(doc);
	return NULL;
}

/* Runs the user's $match/$project stages: false when the event is
 * filtered out; *doc may be replaced. */
static bool
run_stages(const cs_state_t *st, bson_t **doc)
{
	bson_iter_t stages, stage;

	if (!bson_iter_init(&stages, &st->stages))
		return true;
	while (bson_iter_next(&stages)) {
		bson_t spec;
		if (!bson_iter_recurse(&stages, &stage) || !bson_iter_next(&stage) ||
		    !iter_doc(&stage, &spec))
			continue;
		if (strcmp(bson_iter_key(&stage), "$match") == 0) {
			if (!query_match(&spec, bson_get_data(*doc), (*doc)->len))
				return false;
		} else {
			bson_t *out = bson_new();
			query_project(&spec, bson_get_data(*doc), (*doc)->len, out);
			bson_destroy(*doc);
			*doc = out;
		}
	}
	return true;
}

static bool
id_is_token(const bson_t *doc, const char *token)
{
	bson_iter_t it, sub;

	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
	    !bson_iter_recurse(&it, &sub) || !bson_iter_next(&sub) ||
	    strcmp(bson_iter_key(&sub), "_data") != 0 || !BSON_ITER_HOLDS_UTF8(&sub))
		return false;
	return strcmp(bson_iter_utf8(&sub, NULL), token) == 0 && !bson_iter_next(&sub);
}

/* ---------------------------------------------------------------- queue */

static cs_output_t *
pending_push(cs_state_t *st)
{
	if (st->pending_head + st->pending_count == st->pending_cap) {
		if (st->pending_head > 0) {
			memmove(st->pending, st->pending + st->pending_head,
				st->pending_count * sizeof *st->pending);
			st->pending_head = 0;
		} else {
			st->pending_cap = st->pending_cap ? st->pending_cap * 2 : 8;
			st->pending =
				bson_realloc(st->pending, st->pending_cap * sizeof *st->pending);
		}
	}
	cs_output_t *out = &st->pending[st->pending_head + st->pending_count++];
	memset(out, 0, sizeof *out);
	return out;
}

static void
push_error(cs_state_t *st, int64_t seq, const bson_error_t *error)
{
	cs_output_t *out = pending_push(st);

	out->seq = seq;
	out->error = *error;
}

/* Queues doc (owned) unless the resume floor says it was delivered. */
static void
push_doc(cs_state_t *st, int64_t seq, const char *token, bson_t *doc)
{
	if (st->floor[0] && strcmp(token, st->floor) <= 0) {
		bson_destroy(doc);
		return;
	}
	cs_output_t *out = pending_push(st);
	out->doc = doc;
	out->seq = seq;
	memcpy(out->token, token, CS_TOKEN_LEN + 1);
}

typedef struct cs_field {
	const char *key;
	uint32_t size; /* whole element */
	uint32_t off;
} cs_field_t;

static int
field_cmp(const void *a, const void *b)
{
	const cs_field_t *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return strcmp(x->key, y->key);
}

/*
 * $changeStreamSplitLargeEvent: fields but _id sorted by (size, name) and
 * packed greedily, so the first fragment holds as many as fit (MongoDB's
 * splitChangeEvent). Queues the fragments; false + error when one field is
 * too big for any fragment.
 */
static bool
split_event(cs_state_t *st, const cs_entry_t *e, int kind, const bson_t *doc, bson_error_t *error)
{
	bson_iter_t it;
	cs_field_t *fields = NULL;
	size_t nfields = 0, cap = 0;
	char token[CS_TOKEN_LEN + 1];
	size_t max_size, header_size;
	bson_t probe = BSON_INITIALIZER, split_ev;
	bool ok = true;

	if (!bson_iter_init(&it, doc))
		return false;
	while (bson_iter_next(&it)) {
		if (strcmp(bson_iter_key(&it), "_id") == 0)
			continue;
		if (nfields == cap) {
			cap = cap ? cap * 2 : 16;
			fields = bson_realloc(fields, cap * sizeof *fields);
		}
		fields[nfields].key = bson_iter_key(&it);
		fields[nfields].size = it.next_off - it.off;
		fields[nfields].off = it.off;
		nfields++;
	}
	if (nfields == 0) {
		bson_free(fields);
		cmd_error(error, 7182502,
			  "Cannot split an empty event or an event containing solely '_id' field");
		return false;
	}
	qsort(fields, nfields, sizeof *fields, field_cmp);

	/* Room for the PBRT beside the fragment, as MongoDB leaves. */
	token_format(token, e->t, e->i, e->seq, kind, 1);
	append_token(&probe, "_data", token);
	max_size = CS_MAX_UNSPLIT - probe.len;
	bson_reinit(&probe);
	append_token(&probe, "_id", token);
	bson_append_document_begin(&probe, "splitEvent", -1, &split_ev);
	BSON_APPEND_INT32(&split_ev, "fragment", 1);
	BSON_APPEND_INT32(&split_ev, "of", 0);
	bson_append_document_end(&probe, &split_ev);
	header_size = probe.len;
	bson_destroy(&probe);

	/* First pass: where each fragment starts. */
	size_t *starts = bson_malloc((nfields + 1) * sizeof *starts);
	size_t nfrag = 0;
	for (size_t k = 0; k < nfields;) {
		size_t size = header_size;
		starts[nfrag++] = k;
		do {
			size += fields[k].size;
		} while (++k < nfields && size + fields[k].size <= max_size);
		if (size > max_size) {
			cmd_error(error, 7182500,
				  "Splitting change event failed: fragment size %zu is greater "
				  "than maximum allowed fragment size %zu",
				  size, max_size);
			ok = false;
			goto done;
		}
	}
	starts[nfrag] = nfields;
	for (size_t f = 0; f < nfrag; f++) {
		bson_t *frag = bson_new();
		token_format(token, e->t, e->i, e->seq, kind, (int)f + 1);
		append_token(frag, "_id", token);
		bson_append_document_begin(frag, "splitEvent", -1, &split_ev);
		BSON_APPEND_INT32(&split_ev, "fragment", (int32_t)f + 1);
		BSON_APPEND_INT32(&split_ev, "of", (int32_t)nfrag);
		bson_append_document_end(frag, &split_ev);
		for (size_t k = starts[f]; k < starts[f + 1]; k++) {
			bson_iter_t fit;
			if (bson_iter_init_from_data_at_offset(&fit, bson_get_data(doc), doc->len,
							       fields[k].off,
							       (uint32_t)strlen(fields[k].key)))
				bson_append_iter(frag, fields[k].key, -1, &fit);
		}
		push_doc(st, e->seq, token, frag);
	}
done:
	bson_free(starts);
	bson_free(fields);
	return ok;
}

/* True when what it walks (a $match, or a part of one) names fullDocument
 * or fullDocumentBeforeChange, as a path or as an expression's "$path". */
static bool
names_images(bson_iter_t *it)
{
	while (bson_iter_next(it)) {
		bson_iter_t sub;

		if (strncmp(bson_iter_key(it), "fullDocument", 12) == 0 ||
		    (BSON_ITER_HOLDS_UTF8(it) &&
		     strncmp(bson_iter_utf8(it, NULL), "$fullDocument", 13) == 0) ||
		    ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) &&
		     bson_iter_recurse(it, &sub) && names_images(&sub)))
			return true;
	}
	return false;
}

/*
 * A required image e lacks: MongoDB moves the user's leading $match stages
 * that need no image ahead of the image lookup, so an event they filter out
 * never asks for one (MongoDB's tests of whole-db streams that require
 * pre-images). True when they filter e out.
 */
static bool
filtered_before_images(cs_state_t *st, const cs_entry_t *e, const cs_class_t *c, bool invalidate,
		       const char *token)
{
	cs_full_doc_t full_document = st->full_document;
	cs_before_t before_change = st->before_change;
	bson_iter_t stages, stage;
	bson_error_t ignored;
	bool filtered = false;
	bson_t *doc;

	if (full_document == FD_REQUIRED)
		st->full_document = FD_WHEN_AVAILABLE;
	if (before_change == FDB_REQUIRED)
		st->before_change = FDB_WHEN_AVAILABLE;
	doc = build_event(st, e, c, invalidate, token, &ignored);
	st->full_document = full_document;
	st->before_change = before_change;
	if (!doc || !bson_iter_init(&stages, &st->stages))
		goto done;
	while (!filtered && bson_iter_next(&stages)) {
		bson_iter_t walk;
		bson_t spec;

		if (!bson_iter_recurse(&stages, &stage) || !bson_iter_next(&stage) ||
		    strcmp(bson_iter_key(&stage), "$match") != 0 || !iter_doc(&stage, &spec) ||
		    !bson_iter_init(&walk, &spec) || names_images(&walk))
			break;
		filtered = !query_match(&spec, bson_get_data(doc), doc->len);
	}
done:
	if (doc)
		bson_destroy(doc);
	return filtered;
}

/* Turns one output (event or invalidate) of e into queued documents. */
static void
emit(cs_state_t *st, const cs_entry_t *e, const cs_class_t *c, bool invalidate)
{
	char token[CS_TOKEN_LEN + 1];
	int kind = invalidate ? CS_KIND_INVALIDATE : CS_KIND_EVENT;
	bson_error_t error;
	bson_t *doc;

	token_format(token, e->t, e->i, e->seq, kind, 0);
	/* Skip the work for outputs a resume already delivered (a split
	 * event's fragments sort after its unsplit token: keep those). */
	if (st->floor[0] && strcmp(token, st->floor) <= 0 &&
	    !(st->floor_token.seq == e->seq && st->floor_token.kind == kind &&
	      st->floor_token.frag > 0))
		return;
	doc = build_event(st, e, c, invalidate, token, &error);
	if (!doc) {
		if (error.code != 47 || !filtered_before_images(st, e, c, invalidate, token))
			push_error(st, e->seq, &error);
		return;
	}
	if (!run_stages(st, &doc)) {
		bson_destroy(doc);
		return;
	}
	if (!id_is_token(doc, token)) {
		bson_destroy(doc);
		cmd_error(&error, 280,
			  "Encountered an event whose _id field, which contains the resume token, "
			  "was modified by the pipeline. Modifying the _id field of an event makes "
			  "it impossible to resume the stream from that point. Only "
			  "transformations that retain the unmodified _id field are allowed.");
		push_error(st, e->seq, &error);
		return;
	}
	if (st->split && doc->len > CS_MAX_UNSPLIT) {
		if (!split_event(st, e, kind, doc, &error))
			push_error(st, e->seq, &error);
		bson_destroy(doc);
		return;
	}
	if (st->floor_token.frag > 0 && st->floor_token.seq == e->seq &&
	    st->floor_token.kind == kind) {
		bson_destroy(doc);
		cmd_error(&error, 280,
			  "Attempted to resume from a split event fragment, but the event in the "
			  "resumed stream was not large enough to be split");
		push_error(st, e->seq, &error);
		return;
	}
	if (doc->len > CS_MAX_EVENT) {
		cmd_error(&error, 10334,
			  "Executor error during getMore :: caused by :: BSONObj size: %u (0x%X) "
			  "is invalid. Size must be between 0 and 16793600(16MB) First element: "
			  "_id: { _data: \"%s\" }",
			  doc->len, doc->len, token);
		bson_destroy(doc);
		push_error(st, e->seq, &error);
		return;
	}
	push_doc(st, e->seq, token, doc);
}

/* Queues what oplog entry seq shows to the stream. */
static void
expand_entry(cs_state_t *st, int64_t seq)
{
	cs_entry_t e;
	cs_class_t c;

	if (!entry_load(seq, &e))
		return;
	if (st->min_t && (e.t < st->min_t || (e.t == st->min_t && e.i < st->min_i)))
		return;
	classify(st, &e, &c);
	if (!c.optype)
		return;
	emit(st, &e, &c, false);
	if (c.invalidate) {
		emit(st, &e, &c, true);
		st->closing = true;
	}
}

/* ----------------------------------------------------------------- batch */

static void
pending_pop(cs_state_t *st)
{
	st->pending_head++;
	st->pending_count--;
	if (st->pending_count == 0)
		st->pending_head = 0;
}

static void
set_pbrt(cs_state_t *st, const char *candidate)
{
	if (candidate[0] && strcmp(candidate, st->pbrt) > 0)
		memcpy(st->pbrt, candidate, CS_TOKEN_LEN + 1);
}

static void
high_water_mark(cs_state_t *st, char *out)
{
	uint32_t t, i;

	oplog_current_time(&t, &i);
	token_format(out, t, i, st->next_seq - 1, CS_KIND_HWM, 0);
}

/*
 * Appends to the array `batch` up to limit (-1: no limit) outputs, staying
 * under 16 MiB, without waiting. *count receives how many; *exhausted is
 * set once an invalidate has been delivered. Updates the PBRT.
 */
static bool
fill_batch(cs_state_t *st, int64_t limit, bson_t *batch, int32_t *count, bool *exhausted,
	   bson_error_t *error)
{
	size_t bytes = 0;
	int32_t n = 0;
	int64_t first, last, last_out_seq = -1;
	char last_token[CS_TOKEN_LEN + 1] = "";
	char key_buf[16];
	const char *key;

	*exhausted = false;
	for (;;) {
		if (limit >= 0 && n >= limit)
			break;
		if (st->pending_count > 0) {
			cs_output_t *out = &st->pending[st->pending_head];
			if (!out->doc) {
				if (n > 0)
					break;
				/* Stays queued: the stream cannot pass it. */
				*error = out->error;
				return false;
			}
			if (n > 0 && bytes + out->doc->len > CS_BATCH_BYTES)
				break;
			bson_uint32_to_string((uint32_t)n, &key, key_buf, sizeof key_buf);
			bson_append_document(batch, key, -1, out->doc);
			bytes += out->doc->len;
			n++;
			memcpy(last_token, out->token, sizeof last_token);
			last_out_seq = out->seq;
			bson_destroy(out->doc);
			pending_pop(st);
			continue;
		}
		if (st->closing) {
			*exhausted = true;
			break;
		}
		oplog_bounds(&first, &last);
		if (st->next_seq > last)
			break;
		if (st->next_seq < first) {
			if (n > 0)
				break;
			/* A live stream the oplog overtook fails as MongoDB's
			 * oplog scan does (change_streams_oplog_rollover.js);
			 * only opening or resuming there is history lost. */
			if (st->opened)
				cmd_error(error, 136,
					  "Executor error during getMore :: caused by :: "
					  "CollectionScan died due to position in capped "
					  "collection being deleted. Last seen record id: "
					  "RecordId(%lld)",
					  (long long)(st->next_seq - 1));
			else
				cmd_error(error, 286,
					  "Resume of change stream was not possible, as the "
					  "resume point may no longer be in the oplog.");
			return false;
		}
		expand_entry(st, st->next_seq);
		st->next_seq++;
	}
	oplog_bounds(&first, &last);
	bool caught_up = st->pending_count == 0 && !st->closing && st->next_seq > last;
	if (caught_up && !(n > 0 && last_out_seq == st->next_seq - 1)) {
		char hwm[CS_TOKEN_LEN + 1];
		high_water_mark(st, hwm);
		set_pbrt(st, hwm);
	} else if (n > 0) {
		set_pbrt(st, last_token);
	}
	if (!st->pbrt[0])
		high_water_mark(st, st->pbrt);
	*count = n;
	return true;
}

static void
state_free(cs_state_t *st)
{
	for (size_t k = 0; k < st->pending_count; k++)
		bson_destroy(st->pending[st->pending_head + k].doc);
	bson_free(st->pending);
	bson_destroy(&st->stages);
	bson_free(st);
}

static void
deadline_after(int64_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static bool
deadline_passed(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static bool
cs_next_batch(void *state, int32_t batch_size, int64_t max_time_ms, bson_t *batch, bson_t *extra,
	      bool *exhausted, bson_error_t *error)
{
	cs_state_t *st = state;
	struct timespec deadline;
	int32_t n = 0;
	bool ok;

	/* The registry runs one getMore at a time per cursor and defers a
	 * kill until it returns, so st stays valid across the wait. */
	deadline_after(max_time_ms > 0 ? max_time_ms : CS_DEFAULT_AWAIT_MS, &deadline);
	for (;;) {
		ok = fill_batch(st, batch_size > 0 ? batch_size : -1, batch, &n, exhausted, error);
		if (!ok || n > 0 || *exhausted || server_shutting_down ||
		    deadline_passed(&deadline))
			break;
		server_oplog_wait(&deadline);
	}
	if (ok)
		append_token(extra, "postBatchResumeToken", st->pbrt);
	return ok;
}

static void
cs_destroy(void *state)
{
	state_free(state);
}

static const cursor_ops_t cs_ops = {cs_next_batch, cs_destroy, false};

/* ------------------------------------------------------------------ open */

static bool
parse_enum(bson_iter_t *it, const char *field, const char *const *names, int count, int *out,
	   bson_error_t *error)
{
	if (!BSON_ITER_HOLDS_UTF8(it)) {
		cmd_error(error, 14,
			  "BSON field '$changeStream.%s' is the wrong type '%s', expected type "
			  "'string'",
			  field, "non-string");
		return false;
	}
	const char *value = bson_iter_utf8(it, NULL);
	for (int k = 0; k < count; k++) {
		if (strcmp(value, names[k]) == 0) {
			*out = k;
			return true;
		}
	}
	cmd_error(error, 2,
		  "Enumeration value '%s' for field '$changeStream.%s' is not a valid value.",
		  value, field);
	return false;
}

typedef struct cs_spec {
	bool has_resume_after, has_start_after, has_start_at;
	bson_iter_t resume_after, start_after;
	uint32_t start_t, start_i;
	bool all_changes_for_cluster;
} cs_spec_t;

static bool
parse_spec(cs_state_t *st, const bson_t *spec, cs_spec_t *out, bson_error_t *error)
{
	static const char *const fd_names[] = {"default", "updateLookup", "whenAvailable",
					       "required"};
	static const char *const fdb_names[] = {"off", "whenAvailable", "required"};
	bson_iter_t it;
	int v;

	memset(out, 0, sizeof *out);
	if (!bson_iter_init(&it, spec))
		return false;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "fullDocument") == 0) {
			if (!parse_enum(&it, k, fd_names, 4, &v, error))
				return false;
			st->full_document = (cs_full_doc_t)v;
		} else if (strcmp(k, "fullDocumentBeforeChange") == 0) {
			if (!parse_enum(&it, k, fdb_names, 3, &v, error))
				return false;
			st->before_change = (cs_before_t)v;
		} else if (strcmp(k, "resumeAfter") == 0) {
			out->has_resume_after = true;
			out->resume_after = it;
		} else if (strcmp(k, "startAfter") == 0) {
			out->has_start_after = true;
			out->start_after = it;
		} else if (strcmp(k, "startAtOperationTime") == 0) {
			if (!BSON_ITER_HOLDS_TIMESTAMP(&it)) {
				cmd_error(error, 14, "'startAtOperationTime' must be a Timestamp");
				return false;
			}
			out->has_start_at = true;
			bson_iter_timestamp(&it, &out->start_t, &out->start_i);
		} else if (strcmp(k, "allChangesForCluster") == 0) {
			out->all_changes_for_cluster = bson_iter_as_bool(&it);
		} else if (strcmp(k, "showExpandedEvents") == 0 &&
			   server_config.version_array[0] >= 6) {
			/* 6.0 added it: an unknown field to 5.0 (below) */
			st->expanded = bson_iter_as_bool(&it);
		} else if (strcmp(k, "allowToRunOnConfigDB") == 0 ||
			   strcmp(k, "allowToRunOnSystemNS") == 0 ||
			   strcmp(k, "showSystemEvents") == 0 ||
			   strcmp(k, "showRawUpdateDescription") == 0 ||
			   strcmp(k, "showMigrationEvents") == 0) {
			/* accepted; mongod-lite shows the classic events only */
		} else {
			cmd_error(error, 40415,
				  "BSON field '$changeStream.%s' is an unknown field.", k);
			return false;
		}
	}
	if (out->has_resume_after && out->has_start_after) {
		cmd_error(error, 50865,
			  "Do not specify both 'resumeAfter' and 'startAfter' in a $changeStream "
			  "stage");
		return false;
	}
	if (out->has_start_at && (out->has_resume_after || out->has_start_after)) {
		cmd_error(error, 40674,
			  "Only one type of resume option is allowed, but multiple were found.");
		return false;
	}
	return true;
}

/* Validates the stages after $changeStream into st->stages / st->split. */
static bool
parse_stages(cs_state_t *st, bson_iter_t *pipeline, bson_error_t *error)
{
	uint32_t n = 0;
	char key_buf[16];
	const char *key;

	while (bson_iter_next(pipeline)) {
		bson_iter_t stage;
		bson_t spec;
		if (!BSON_ITER_HOLDS_DOCUMENT(pipeline) || !bson_iter_recurse(pipeline, &stage) ||
		    !bson_iter_next(&stage)) {
			cmd_error(error, 40323,
				  "A pipeline stage specification object must contain exactly one "
				  "field.");
			return false;
		}
		const char *name = bson_iter_key(&stage);
		if (st->split) {
			cmd_error(error, 7182802,
				  "$changeStreamSplitLargeEvent must be the last stage in the "
				  "pipeline");
			return false;
		}
		if (strcmp(name, "$changeStreamSplitLargeEvent") == 0) {
			if (!iter_doc(&stage, &spec) || !bson_empty(&spec)) {
				cmd_error(error, 7182800,
					  "$changeStreamSplitLargeEvent spec should be an empty "
					  "object");
				return false;
			}
			st->split = true;
			continue;
		}
		if (strcmp(name, "$changeStream") == 0) {
			cmd_error(error, 40602,
				  "$changeStream is only valid as the first stage in a pipeline.");
			return false;
		}
		if (strcmp(name, "$match") == 0 || strcmp(name, "$project") == 0) {
			if (!iter_doc(&stage, &spec)) {
				cmd_error(error, 15959,
					  "the %s stage specification must be an object", name);
				return false;
			}
			if (name[1] == 'm' ? !query_validate(&spec, error)
					   : !query_projection_validate(&spec, error))
				return false;
			bson_t one = BSON_INITIALIZER;
			BSON_APPEND_DOCUMENT(&one, name, &spec);
			bson_uint32_to_string(n++, &key, key_buf, sizeof key_buf);
			bson_append_document(&st->stages, key, -1, &one);
			bson_destroy(&one);
			continue;
		}
		if (strcmp(name, "$addFields") == 0 || strcmp(name, "$set") == 0 ||
		    strcmp(name, "$unset") == 0 || strcmp(name, "$replaceRoot") == 0 ||
		    strcmp(name, "$replaceWith") == 0 || strcmp(name, "$redact") == 0) {
			cmd_error(error, 115,
				  "%s after $changeStream is not implemented by mongod-lite", name);
			return false;
		}
		cmd_error(error, 20, "%s is not permitted in a $changeStream pipeline", name);
		return false;
	}
	return true;
}

/* Positions st per the resume options; false + 260/280/286... */
static bool
position(cs_state_t *st, const cs_spec_t *spec, bson_error_t *error)
{
	int64_t first, last;
	cs_token_t tok;
	char str[CS_TOKEN_LEN + 1];
	const char *option = spec->has_resume_after ? "resumeAfter" : "startAfter";

	oplog_bounds(&first, &last);
	if (spec->has_start_at) {
		cs_entry_t e;
		if (first > 1 && entry_load(first, &e) &&
		    (spec->start_t < e.t || (spec->start_t == e.t && spec->start_i < e.i))) {
			cmd_error(error, 286,
				  "Resume of change stream was not possible, as the resume point "
				  "may no longer be in the oplog.");
			return false;
		}
		st->next_seq = oplog_seek_time(spec->start_t, spec->start_i);
		st->min_t = spec->start_t;
		st->min_i = spec->start_i;
		uint32_t pt = spec->start_t, pi = spec->start_i;
		if (pi > 0)
			pi--;
		token_format(st->pbrt, pt, pi, st->next_seq - 1, CS_KIND_HWM, 0);
		return true;
	}
	if (!spec->has_resume_after && !spec->has_start_after) {
		st->next_seq = last + 1;
		return true;
	}
	if (!token_parse(spec->has_resume_after ? &spec->resume_after : &spec->start_after, option,
			 &tok, str, error))
		return false;
	if (tok.kind == CS_KIND_INVALIDATE && spec->has_resume_after) {
		cmd_error(error, 260,
			  "Attempting to resume a change stream using 'resumeAfter' is not allowed "
			  "from an invalidate notification.");
		return false;
	}
	if (tok.kind == CS_KIND_HWM) {
		if (tok.seq + 1 < first) {
			cmd_error(error, 286,
				  "Resume of change stream was not possible, as the resume point "
				  "may no longer be in the oplog.");
			return false;
		}
		if (tok.seq > last) {
			cmd_error(error, 280,
				  "cannot resume stream; the resume token was not found. {_data: "
				  "\"%s\"}",
				  str);
			return false;
		}
		st->next_seq = tok.seq + 1;
	} else {
		cs_entry_t e;
		cs_class_t c;
		if (tok.seq < first) {
			cmd_error(error, 286,
				  "Resume of change stream was not possible, as the resume point "
				  "may no longer be in the oplog.");
			return false;
		}
		if (tok.seq > last || !entry_load(tok.seq, &e) || e.t != tok.t || e.i != tok.i) {
			cmd_error(error, 280,
				  "cannot resume stream; the resume token was not found. {_data: "
				  "\"%s\"}",
				  str);
			return false;
		}
		classify(st, &e, &c);
		if (!c.optype || (tok.kind == CS_KIND_INVALIDATE && !c.invalidate)) {
			cmd_error(error, 280,
				  "cannot resume stream; the resume token was not found. {_data: "
				  "\"%s\"}",
				  str);
			return false;
		}
		if (tok.frag > 0 && !st->split) {
			cmd_error(error, 280,
				  "To resume from a split event, the $changeStream pipeline must "
				  "include a $changeStreamSplitLargeEvent stage");
			return false;
		}
		if (tok.kind == CS_KIND_INVALIDATE)
			st->next_seq = tok.seq + 1; /* startAfter: a new stream */
		else
			st->next_seq = tok.seq;
	}
	memcpy(st->floor, str, sizeof st->floor);
	st->floor_token = tok;
	memcpy(st->pbrt, str, sizeof st->pbrt);
	return true;
}

bool
changestream_open(command_ctx_t *ctx, const bson_t *pipeline, bson_t *reply, bson_error_t *error)
{
	cs_state_t *st = NULL;
	cs_spec_t spec;
	bson_iter_t it, stages, stage;
	bson_t spec_doc, first_batch = BSON_INITIALIZER, cursor, extra = BSON_INITIALIZER;
	int64_t limit = 101, id = 0; /* aggregate's default first batch */
	int32_t n = 0;
	bool exhausted = false, ok = false;
	char ns[2 * CS_NAME + 32];

	if (server_config.standalone) {
		cmd_error(error, 40573,
			  "The $changeStream stage is only supported on replica sets");
		goto done;
	}
	st = bson_malloc0(sizeof *st);
	bson_init(&st->stages);
	if (!bson_iter_init(&stages, pipeline) || !bson_iter_next(&stages) ||
	    !BSON_ITER_HOLDS_DOCUMENT(&stages) || !bson_iter_recurse(&stages, &stage) ||
	    !bson_iter_next(&stage) || strcmp(bson_iter_key(&stage), "$changeStream") != 0) {
		cmd_error(error, 40602,
			  "$changeStream is only valid as the first stage in a pipeline.");
		goto done;
	}
	if (!iter_doc(&stage, &spec_doc)) {
		cmd_error(error, 50808, "$changeStream stage expects a document as argument.");
		goto done;
	}
	if (!parse_spec(st, &spec_doc, &spec, error) || !parse_stages(st, &stages, error))
		goto done;

	copy_name(st->db, ctx->db, strlen(ctx->db));
	if (bson_iter_init(&it, ctx->cmd) && bson_iter_next(&it) && BSON_ITER_HOLDS_UTF8(&it)) {
		const char *coll = bson_iter_utf8(&it, NULL);
		copy_name(st->coll, coll, strlen(coll));
		st->scope = CS_COLL;
		if (spec.all_changes_for_cluster) {
			cmd_error(error, 73,
				  "A $changeStream with 'allChangesForCluster:true' may only be "
				  "opened on the 'admin' database, and with no collection name");
			goto done;
		}
		if (internal_db(st->db) || system_coll(st->coll)) {
			cmd_error(error, 73,
				  "$changeStream may not be opened on the internal %s.%s namespace",
				  st->db, st->coll);
			goto done;
		}
		snprintf(ns, sizeof ns, "%s.%s", st->db, st->coll);
	} else {
		if (spec.all_changes_for_cluster) {
			if (strcmp(st->db, "admin") != 0) {
				cmd_error(error, 73,
					  "A $changeStream with 'allChangesForCluster:true' may "
					  "only be opened on the 'admin' database, and with no "
					  "collection name");
				goto done;
			}
			st->scope = CS_CLUSTER;
		} else {
			if (internal_db(st->db)) {
				cmd_error(error, 73,
					  "$changeStream may not be opened on the internal %s "
					  "database",
					  st->db);
				goto done;
			}
			st->scope = CS_DB;
		}
		snprintf(ns, sizeof ns, "%s.$cmd.aggregate", st->db);
	}
	if (!position(st, &spec, error))
		goto done;

	if (bson_iter_init_find(&it, ctx->cmd, "cursor") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_iter_t bs;
		if (bson_iter_recurse(&it, &bs) && bson_iter_find(&bs, "batchSize") &&
		    BSON_ITER_HOLDS_NUMBER(&bs)) {
			limit = bson_iter_as_int64(&bs);
			if (limit < 0) {
				cmd_error(error, 51024,
					  "BSON field 'batchSize' value must be >= 0, actual value "
					  "'%lld'",
					  (long long)limit);
				goto done;
			}
		}
	}
	if (!fill_batch(st, limit, &first_batch, &n, &exhausted, error))
		goto done;
	append_token(&extra, "postBatchResumeToken", st->pbrt);
	st->opened = true;
	if (!exhausted) {
		id = cursor_register(ns, &cs_ops, st);
		st = NULL; /* the registry owns it */
	}
	bson_append_document_begin(reply, "cursor", -1, &cursor);
	BSON_APPEND_INT64(&cursor, "id", id);
	BSON_APPEND_UTF8(&cursor, "ns", ns);
	bson_append_array(&cursor, "firstBatch", -1, &first_batch);
	bson_concat(&cursor, &extra);
	bson_append_document_end(reply, &cursor);
	ok = true;
done:
	if (st)
		state_free(st);
	bson_destroy(&first_batch);
	bson_destroy(&extra);
	return ok;
}
