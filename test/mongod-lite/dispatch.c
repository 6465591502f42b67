/* Command table, fail points, retryable writes, common reply fields. */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_auth.h"
#include "cmds.h"
#include "command.h"
#include "cursor.h"
#include "failpoint.h"
#include "oplog.h"
#include "router.h"
#include "server.h"
#include "txn.h"

mlite_stats_t mlite_stats;

enum {
	F_RETRYABLE = 1, /* de-duplicated by (lsid, txnNumber) */
	F_WRITE = 2,     /* honours j:true / w:"majority" */
	F_CRUD = 4,      /* counted in its own opcounter, not "command" */
	F_NOAUTH = 8,    /* allowed before authentication (--auth-user) */
};

typedef struct {
	const char *name;
	command_fn fn;
	int flags;
} command_entry_t;

static bool end_sessions(command_ctx_t *ctx, bson_t *reply, bson_error_t *error);

/* Names match case-sensitively; aliases are listed explicitly. */
static const command_entry_t commands[] = {
	{"hello", cmd_hello, F_NOAUTH},
	{"isMaster", cmd_hello, F_NOAUTH},
	{"ismaster", cmd_hello, F_NOAUTH},
	{"ping", cmd_ping, F_NOAUTH},
	{"buildInfo", cmd_build_info, F_NOAUTH},
	{"buildinfo", cmd_build_info, F_NOAUTH},
	{"serverStatus", cmd_server_status, 0},
	{"listDatabases", cmd_list_databases, 0},
	{"endSessions", end_sessions, F_NOAUTH},
	{"killSessions", cmd_ping, 0},
	{"killAllSessions", cmd_ping, 0},
	{"refreshSessions", cmd_ping, 0},
	{"startSession", cmd_ping, 0},
	{"getParameter", cmd_get_parameter, 0},
	{"getCmdLineOpts", cmd_get_cmd_line_opts, 0},
	{"whatsmyuri", cmd_whatsmyuri, 0},
	{"connectionStatus", cmd_connection_status, 0},
	{"replSetGetStatus", cmd_repl_set_get_status, 0},
	{"getLastError", cmd_ping, 0},
	{"getlasterror", cmd_ping, 0},
	{"create", cmd_create, F_WRITE},
	{"collMod", cmd_coll_mod, F_WRITE},
	{"drop", cmd_drop, F_WRITE},
	{"dropDatabase", cmd_drop_database, F_WRITE},
	{"renameCollection", cmd_rename_collection, F_WRITE},
	{"listCollections", cmd_list_collections, 0},
	{"listIndexes", cmd_list_indexes, 0},
	{"createIndexes", cmd_create_indexes, F_WRITE},
	{"dropIndexes", cmd_drop_indexes, F_WRITE},
	{"deleteIndexes", cmd_drop_indexes, F_WRITE},
	{"dbStats", cmd_db_stats, 0},
	{"dbstats", cmd_db_stats, 0},
	{"collStats", cmd_coll_stats, 0},
	{"collstats", cmd_coll_stats, 0},
	{"insert", cmd_insert, F_RETRYABLE | F_WRITE | F_CRUD},
	{"update", cmd_update, F_RETRYABLE | F_WRITE | F_CRUD},
	{"delete", cmd_delete, F_RETRYABLE | F_WRITE | F_CRUD},
	{"findAndModify", cmd_find_and_modify, F_RETRYABLE | F_WRITE},
	{"findandmodify", cmd_find_and_modify, F_RETRYABLE | F_WRITE},
	{"find", cmd_find, F_CRUD},
	{"getMore", cmd_get_more, F_CRUD},
	{"killCursors", cmd_kill_cursors, 0},
	{"count", cmd_count, 0},
	{"distinct", cmd_distinct, 0},
	{"aggregate", cmd_aggregate, 0},
	{"configureFailPoint", cmd_configure_fail_point, 0},
	{"saslStart", cmd_sasl_start, F_NOAUTH},
	{"saslContinue", cmd_sasl_continue, F_NOAUTH},
	{"logout", cmd_logout, 0},
	{"commitTransaction", cmd_commit_transaction, F_WRITE},
	{"abortTransaction", cmd_abort_transaction, 0},
	{"setParameter", cmd_set_parameter, 0},
	{"enableSharding", cmd_enable_sharding, F_WRITE},
	{"enablesharding", cmd_enable_sharding, F_WRITE},
	{"shardCollection", cmd_shard_collection, F_WRITE},
	{"shardcollection", cmd_shard_collection, F_WRITE},
	{"listShards", cmd_list_shards, 0},
	{"listshards", cmd_list_shards, 0},
};

void
server_log(int level, const char *fmt, ...)
{
	va_list ap;
	char ts[CLOCK_UTC_SIZE];

	if (level > server_config.log_level)
		return;
	clock_format_utc(clock_wall_ms(), true, ts, sizeof ts);
	flockfile(stderr);
	fprintf(stderr, "%s mongod-lite: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void
cmd_error(bson_error_t *error, int code, const char *fmt, ...)
{
	va_list ap;
	if (!error)
		return;
	error->domain = 1;
	error->code = (uint32_t)(code ? code : 1);
	va_start(ap, fmt);
	vsnprintf(error->message, sizeof error->message, fmt, ap);
	va_end(ap);
}

const char *
cmd_code_name(int code)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{1, "InternalError"},
		{2, "BadValue"},
		{4, "NoSuchKey"},
		{6, "HostUnreachable"},
		{7, "HostNotFound"},
		{8, "UnknownError"},
		{9, "FailedToParse"},
		{11, "UserNotFound"},
		{13, "Unauthorized"},
		{14, "TypeMismatch"},
		{15, "Overflow"},
		{16, "InvalidLength"},
		{17, "ProtocolError"},
		{18, "AuthenticationFailed"},
		{20, "IllegalOperation"},
		{24, "LockTimeout"},
		{26, "NamespaceNotFound"},
		{27, "IndexNotFound"},
		{28, "PathNotViable"},
		{40, "ConflictingUpdateOperators"},
		{43, "CursorNotFound"},
		{48, "NamespaceExists"},
		{50, "MaxTimeMSExpired"},
		{52, "DollarPrefixedFieldName"},
		{59, "CommandNotFound"},
		{66, "ImmutableField"},
		{67, "CannotCreateIndex"},
		{72, "InvalidOptions"},
		{73, "InvalidNamespace"},
		{85, "IndexOptionsConflict"},
		{86, "IndexKeySpecsConflict"},
		{89, "NetworkTimeout"},
		{91, "ShutdownInProgress"},
		{96, "OperationFailed"},
		{112, "WriteConflict"},
		{115, "CommandNotSupported"},
		{117, "ConflictingOperationInProgress"},
		{136, "CappedPositionLost"},
		{166, "CommandNotSupportedOnView"},
		{175, "QueryPlanKilled"},
		{189, "PrimarySteppedDown"},
		{197, "InvalidIndexSpecificationOption"},
		{225, "TransactionTooOld"},
		{237, "CursorKilled"},
		{251, "NoSuchTransaction"},
		{256, "TransactionCommitted"},
		{263, "OperationNotSupportedInTransaction"},
		{260, "InvalidResumeToken"},
		{262, "ExceededTimeLimit"},
		{276, "IndexBuildAborted"},
		{280, "ChangeStreamFatalError"},
		{286, "ChangeStreamHistoryLost"},
		{334, "MechanismUnavailable"},
		{10107, "NotWritablePrimary"},
		{10334, "BSONObjectTooLarge"},
		{11000, "DuplicateKey"},
		{11600, "InterruptedAtShutdown"},
		{11601, "Interrupted"},
		{11602, "InterruptedDueToReplStateChange"},
		{13435, "NotPrimaryNoSecondaryOk"},
		{13436, "NotPrimaryOrSecondary"},
		{31254, "Location31254"},
		{40573, "Location40573"},
	};
	static __thread char buf[32];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].code == code)
			return names[i].name;
	snprintf(buf, sizeof buf, "Location%d", code);
	return buf;
}

/* ---- shared helpers ---- */

bool
cmd_as_int64(const bson_iter_t *it, int64_t *out)
{
	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		*out = bson_iter_int32(it);
		return true;
	case BSON_TYPE_INT64:
		*out = bson_iter_int64(it);
		return true;
	case BSON_TYPE_DOUBLE: {
		double d = bson_iter_double(it);
		if (d != d || d > 9.2e18 || d < -9.2e18)
			return false;
		*out = (int64_t)d;
		return true;
	}
	default:
		return false;
	}
}

bool
cmd_doc_field(const bson_t *cmd, const char *field, bson_t *view, bool *present,
	      bson_error_t *error)
{
	bson_iter_t it;
	*present = false;
	bson_init(view);
	if (!bson_iter_init_find(&it, cmd, field) || BSON_ITER_HOLDS_NULL(&it))
		return true;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
		cmd_error(error, 14,
			  "BSON field '%s' is the wrong type '%s', expected type 'object'", field,
			  BSON_ITER_HOLDS_ARRAY(&it) ? "array" : "scalar");
		return false;
	}
	const uint8_t *d;
	uint32_t l;
	bson_iter_document(&it, &l, &d);
	bson_init_static(view, d, l);
	*present = true;
	return true;
}

bool
cmd_valid_coll_name(const char *db, const char *coll, bson_error_t *error)
{
	if (!coll[0] || strchr(coll, '$') || strlen(db) + strlen(coll) + 1 > 255) {
		cmd_error(error, 73, "Invalid collection name: %s.%s", db, coll);
		return false;
	}
	return true;
}

const char *
cmd_coll_arg(command_ctx_t *ctx, bson_error_t *error)
{
	bson_iter_t it;
	if (!bson_iter_init(&it, ctx->cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it)) {
		cmd_error(error, 2, "collection name has invalid type");
		return NULL;
	}
	const char *coll = bson_iter_utf8(&it, NULL);
	if (!cmd_valid_coll_name(ctx->db, coll, error))
		return NULL;
	return coll;
}

static pthread_key_t entry_key;
static pthread_once_t entry_once = PTHREAD_ONCE_INIT;

static void
entry_free(void *entry)
{
	bson_destroy(entry);
}

static void
entry_key_init(void)
{
	if (pthread_key_create(&entry_key, entry_free) != 0)
		abort();
}

/* The thread's oplog entry buffer, emptied; freed when the thread ends. */
static bson_t *
entry_buffer(void)
{
	pthread_once(&entry_once, entry_key_init);
	bson_t *entry = pthread_getspecific(entry_key);
	if (!entry) {
		entry = bson_new();
		pthread_setspecific(entry_key, entry);
	}
	bson_reinit(entry);
	return entry;
}

/* Writes entry elements at w (counting only, when buf is NULL): an entry
 * is built for every write, and one copy of each part costs less than
 * appending it through libbson. */
typedef struct {
	uint8_t *buf;
	size_t w;
} entry_writer_t;

static void
put(entry_writer_t *e, const void *src, size_t n)
{
	if (e->buf)
		memcpy(e->buf + e->w, src, n);
	e->w += n;
}

static void
put_head(entry_writer_t *e, bson_type_t type, const char *key)
{
	uint8_t t = (uint8_t)type;
	put(e, &t, 1);
	put(e, key, strlen(key) + 1);
}

static void
put_i32(entry_writer_t *e, uint32_t v)
{
	uint32_t le = BSON_UINT32_TO_LE(v);
	put(e, &le, sizeof le);
}

static void
put_utf8(entry_writer_t *e, const char *key, const char *a, size_t al, const char *b, size_t bl)
{
	put_head(e, BSON_TYPE_UTF8, key);
	put_i32(e, (uint32_t)(al + bl + 1));
	put(e, a, al);
	put(e, b, bl);
	put(e, "", 1);
}

static void
put_doc(entry_writer_t *e, const char *key, const bson_t *doc)
{
	if (!doc)
		return;
	put_head(e, BSON_TYPE_DOCUMENT, key);
	put(e, bson_get_data(doc), doc->len);
}

typedef struct {
	const char *op, *db, *coll; /* coll: NULL for "$cmd" */
	const bson_t *o, *o2, *ud, *pre, *lsid;
	const uint8_t *ui;
	int64_t txn_number; /* with lsid */
} entry_parts_t;

/* The entry's fields in their order: op, ns, ui, o, o2, ud, pre, lsid,
 * txnNumber (oplog.h). */
static void
put_entry(entry_writer_t *e, const entry_parts_t *p)
{
	const char *c = p->coll ? p->coll : "$cmd";
	size_t dl = strlen(p->db), cl = strlen(c);

	e->w = 0;
	put_i32(e, 0); /* the length, once known */
	put_utf8(e, "op", p->op, strlen(p->op), "", 0);
	put_head(e, BSON_TYPE_UTF8, "ns");
	put_i32(e, (uint32_t)(dl + 1 + cl + 1));
	put(e, p->db, dl);
	put(e, ".", 1);
	put(e, c, cl + 1);
	if (p->ui) {
		uint8_t subtype = BSON_SUBTYPE_UUID;
		put_head(e, BSON_TYPE_BINARY, "ui");
		put_i32(e, 16);
		put(e, &subtype, 1);
		put(e, p->ui, 16);
	}
	put_doc(e, "o", p->o);
	put_doc(e, "o2", p->o2);
	put_doc(e, "ud", p->ud);
	put_doc(e, "pre", p->pre);
	if (p->lsid) {
		uint64_t le = BSON_UINT64_TO_LE((uint64_t)p->txn_number);
		put_doc(e, "lsid", p->lsid);
		put_head(e, BSON_TYPE_INT64, "txnNumber");
		put(e, &le, sizeof le);
	}
	put(e, "", 1);
	if (e->buf) {
		uint32_t le = BSON_UINT32_TO_LE((uint32_t)e->w);
		memcpy(e->buf, &le, sizeof le);
	}
}

/* Builds and appends an entry; ui (16 bytes): the collection's UUID for a
 * "c" entry, looked up for a write. */
static bool
append_entry(command_ctx_t *ctx, const char *op, const char *coll, const bson_t *o,
	     const bson_t *o2, const bson_t *ud, const bson_t *pre, const uint8_t *ui,
	     bson_error_t *error)
{
	/* one buffer per thread reused for every entry: a fresh
	 * megabyte-class allocation per write fragments the heap */
	bson_t *entry = entry_buffer();
	entry_parts_t parts = {op, ctx->db, coll, o, o2, ud, pre, NULL, ui, ctx->txn_number};
	entry_writer_t w = {NULL, 0};

	/* a write names its collection's UUID, as MongoDB's entries do
	 * (showExpandedEvents reports it as collectionUUID) */
	scoll_t *target =
		!ui && coll && strchr("iudr", op[0]) ? store_get_coll(ctx->db, coll) : NULL;
	if (target)
		parts.ui = target->uuid;
	if (ctx->lsid && ctx->txn_number >= 0)
		parts.lsid = ctx->lsid;
	put_entry(&w, &parts);
	if (w.w > INT32_MAX || !(w.buf = bson_reserve_buffer(entry, (uint32_t)w.w))) {
		cmd_error(error, 10334, "oplog entry too large");
		return false;
	}
	put_entry(&w, &parts);
	/* a statement of a transaction waits in it for the commit */
	bool recorded;
	if (!txn_note_write(entry, &recorded, error))
		return false;
	return recorded || oplog_append(entry, error);
}

bool
cmd_oplog(command_ctx_t *ctx, const char *op, const char *coll, const bson_t *o, const bson_t *o2,
	  const bson_t *ud, const bson_t *pre, bson_error_t *error)
{
	return append_entry(ctx, op, coll, o, o2, ud, pre, NULL, error);
}

bool
cmd_oplog_ddl(command_ctx_t *ctx, const bson_t *o, const bson_t *o2, const uint8_t *ui,
	      bson_error_t *error)
{
	return append_entry(ctx, "c", NULL, o, o2, NULL, NULL, ui, error);
}

bool
cmd_oplog_create(command_ctx_t *ctx, const scoll_t *c, bson_error_t *error)
{
	bson_t o = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&o, "create", c->name);
	bson_concat(&o, &c->options);
	bool ok = append_entry(ctx, "c", NULL, &o, NULL, NULL, NULL, c->uuid, error);
	bson_destroy(&o);
	return ok;
}

bool
cmd_coll_for_write(command_ctx_t *ctx, const char *coll, scoll_t **out, bson_error_t *error)
{
	*out = store_get_coll(ctx->db, coll);
	if (*out)
		return true;
	if (!cmd_valid_coll_name(ctx->db, coll, error))
		return false;
	/* Inside a transaction the collection is created at once, outside it
	 * (MongoDB 7.0 creates it with the transaction); the transaction then
	 * writes to its copy. */
	void *txn = txn_suspend();
	bool ok = store_create_coll(ctx->db, coll, NULL, out, error) &&
		  cmd_oplog_create(ctx, *out, error);
	txn_resume(txn);
	if (ok && txn)
		*out = store_get_coll(ctx->db, coll);
	return ok;
}

/* ---- retryable writes: (lsid.id, txnNumber) -> the reply sent ---- */

typedef struct txn_record {
	uint8_t lsid[16];
	int64_t txn_number;
	bson_t reply;
	struct txn_record *next;
} txn_record_t;

#define TXN_BUCKETS 1024
static txn_record_t *txn_table[TXN_BUCKETS];
/* Guards txn_table and its records: writes on the fast path share
 * server_lock (lock.h). endSessions frees records with it exclusive. */
static pthread_mutex_t txn_table_mutex = PTHREAD_MUTEX_INITIALIZER;

static size_t
txn_bucket(const uint8_t lsid[16])
{
	return txn_lsid_bucket(lsid, TXN_BUCKETS);
}

static txn_record_t *
txn_lookup(const uint8_t lsid[16])
{
	for (txn_record_t *r = txn_table[txn_bucket(lsid)]; r; r = r->next)
		if (memcmp(r->lsid, lsid, 16) == 0)
			return r;
	return NULL;
}

static txn_record_t *
txn_create(const uint8_t lsid[16])
{
	txn_record_t *r = store_calloc(sizeof *r);
	memcpy(r->lsid, lsid, 16);
	r->txn_number = -1;
	bson_init(&r->reply);
	r->next = txn_table[txn_bucket(lsid)];
	txn_table[txn_bucket(lsid)] = r;
	return r;
}

/* endSessions: forgets the sessions' retryable-write records. */
static bool
end_sessions(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it, el;
	(void)reply;
	(void)error;
	if (!bson_iter_init_find(&it, ctx->cmd, "endSessions") || !BSON_ITER_HOLDS_ARRAY(&it))
		return true;
	bson_iter_recurse(&it, &el);
	while (bson_iter_next(&el)) {
		bson_t lsid;
		uint8_t id[16];
		const uint8_t *d;
		uint32_t l;
		if (!BSON_ITER_HOLDS_DOCUMENT(&el))
			continue;
		bson_iter_document(&el, &l, &d);
		bson_init_static(&lsid, d, l);
		if (!txn_lsid_id(&lsid, id))
			continue;
		txn_end_session(id);
		for (txn_record_t **p = &txn_table[txn_bucket(id)]; *p; p = &(*p)->next) {
			if (memcmp((*p)->lsid, id, 16) == 0) {
				txn_record_t *r = *p;
				*p = r->next;
				bson_destroy(&r->reply);
				free(r);
				break;
			}
		}
	}
	return true;
}

/* ---- dispatch ---- */

void
dispatch_append_cluster_time(bson_t *reply)
{
	uint32_t t, i;
	uint8_t zeros[20] = {0};
	bson_t ct, sig;

	/* MongoDB gossips the cluster time on replica sets and sharded
	 * clusters only: a standalone's replies carry neither. */
	if (server_config.standalone)
		return;
	oplog_last_time(&t, &i);
	bson_append_document_begin(reply, "$clusterTime", -1, &ct);
	BSON_APPEND_TIMESTAMP(&ct, "clusterTime", t, i);
	bson_append_document_begin(&ct, "signature", -1, &sig);
	BSON_APPEND_BINARY(&sig, "hash", BSON_SUBTYPE_BINARY, zeros, 20);
	BSON_APPEND_INT64(&sig, "keyId", 0);
	bson_append_document_end(&ct, &sig);
	bson_append_document_end(reply, &ct);
	BSON_APPEND_TIMESTAMP(reply, "operationTime", t, i);
}

static const command_entry_t *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
count_command(const char *name, const command_entry_t *e)
{
	if (!e || !(e->flags & F_CRUD)) {
		mlite_stats.command++;
		return;
	}
	int64_t *n = strcmp(name, "insert") == 0   ? &mlite_stats.insert
		     : strcmp(name, "update") == 0 ? &mlite_stats.update
		     : strcmp(name, "delete") == 0 ? &mlite_stats.delete_
		     : strcmp(name, "find") == 0   ? &mlite_stats.query
						   : &mlite_stats.getmore;
	__atomic_fetch_add(n, 1, __ATOMIC_RELAXED);
}

/*
 * The collection a command may run on with server_lock shared (lock.h), and
 * in which mode it takes that collection's lock; NULL when it must hold
 * server_lock exclusively. The fast path: find, getMore of a find cursor,
 * insert, update and delete of one existing collection, while no
 * transaction is open anywhere (one starting waits for server_lock
 * exclusively), not as a router. Call with server_lock shared.
 */
static scoll_t *
fast_path_coll(const command_ctx_t *ctx, const command_entry_t *entry, const txn_cmd_t *tc,
	       lock_mode_t *mode)
{
	bson_iter_t it;
	const char *coll;
	bool get_more = strcmp(ctx->name, "getMore") == 0;

	if (!entry || !(entry->flags & F_CRUD) || server_config.router || tc->has_autocommit ||
	    !ctx->db || !ctx->db[0] || txn_any_open())
		return NULL;
	if (!bson_iter_init_find(&it, ctx->cmd, get_more ? "collection" : ctx->name) ||
	    !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	coll = bson_iter_utf8(&it, NULL);
	if (get_more) {
		char ns[512];
		int64_t id;
		snprintf(ns, sizeof ns, "%s.%s", ctx->db, coll);
		if (!bson_iter_init_find(&it, ctx->cmd, "getMore") || !cmd_as_int64(&it, &id) ||
		    !cursor_is_local(id, ns))
			return NULL;
	}
	*mode = get_more || strcmp(ctx->name, "find") == 0 ? LOCK_SHARED : LOCK_EXCLUSIVE;
	return store_get_coll(ctx->db, coll);
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && !server_shutting_down)
		;
}

bool
dispatch_command(conn_t *conn, const bson_t *cmd, const char *legacy_db, bson_t *reply)
{
	bson_iter_t it;
	command_ctx_t ctx = {.conn = conn, .cmd = cmd, .txn_number = -1, .connection_id = conn->id};
	bson_t lsid_view, body = BSON_INITIALIZER; /* fields to put after an error's */
	bson_error_t error = {0};
	bool ok = false, keep = true;
	failpoint_action_t fp;
	txn_cmd_t tc = {0};

	if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it)) {
		server_lock_take(LOCK_EXCLUSIVE);
		cmd_error(&error, 9, "empty command document");
		goto reply_error;
	}
	ctx.name = bson_iter_key(&it);
	ctx.db = legacy_db;
	bson_iter_init(&it, cmd);
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (strcmp(k, "$db") == 0 && BSON_ITER_HOLDS_UTF8(&it)) {
			ctx.db = bson_iter_utf8(&it, NULL);
		} else if (strcmp(k, "lsid") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
			const uint8_t *d;
			uint32_t l;
			bson_iter_document(&it, &l, &d);
			bson_init_static(&lsid_view, d, l);
			ctx.lsid = &lsid_view;
		} else if (strcmp(k, "txnNumber") == 0) {
			int64_t n;
			if (cmd_as_int64(&it, &n))
				ctx.txn_number = n;
		} else if (strcmp(k, "writeConcern") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
			bson_iter_t wc;
			bson_iter_recurse(&it, &wc);
			while (bson_iter_next(&wc)) {
				if (strcmp(bson_iter_key(&wc), "j") == 0 && bson_iter_as_bool(&wc))
					ctx.wants_durable = true;
				if (strcmp(bson_iter_key(&wc), "w") == 0 &&
				    BSON_ITER_HOLDS_UTF8(&wc) &&
				    strcmp(bson_iter_utf8(&wc, NULL), "majority") == 0)
					ctx.wants_durable = true;
			}
		}
	}

	const command_entry_t *entry = find_command(ctx.name);
	lock_mode_t coll_mode = LOCK_NONE;
	txn_classify(&ctx, &tc);
	server_lock_take(LOCK_SHARED);
	scoll_t *fast = fast_path_coll(&ctx, entry, &tc, &coll_mode);
	if (!fast) {
		server_unlock();
		server_lock_take(LOCK_EXCLUSIVE);
	}
	if (!ctx.db || !ctx.db[0]) {
		cmd_error(&error, 40571, "OP_MSG requests require a $db argument");
		goto reply_error;
	}
	count_command(ctx.name, entry);
	server_log(2, "conn%" PRId64 " %s.%s", conn->id, ctx.db, ctx.name);

	if (entry && server_config.auth_user && !conn->authenticated &&
	    !(entry->flags & F_NOAUTH)) {
		cmd_error(&error, 13, "command %s requires authentication", ctx.name);
		goto reply_error;
	}

	txn_classify(&ctx, &tc);
	failpoint_check(ctx.name, conn->app_name[0] ? conn->app_name : NULL,
			entry && (entry->flags & F_WRITE), &fp);
	if (fp.fire) {
		if (fp.block_ms > 0) {
			/* the catalog may change meanwhile: go on alone */
			server_unlock();
			sleep_ms(fp.block_ms);
			server_lock_take(LOCK_EXCLUSIVE);
			fast = NULL;
		}
		if (fp.close_connection) {
			server_log(1, "conn%" PRId64 ": fail point closes the connection on '%s'",
				   conn->id, ctx.name);
			failpoint_action_cleanup(&fp);
			keep = false;
			goto done;
		}
		if (fp.error_code != 0) {
			cmd_error(&error, fp.error_code,
				  "Failing command via 'failCommand' failpoint");
			if (!bson_empty(&fp.error_labels))
				bson_append_array(&body, "errorLabels", -1, &fp.error_labels);
			failpoint_action_cleanup(&fp);
			goto reply_error;
		}
	}

	if (!entry) {
		cmd_error(&error, 59, "no such command: '%s'", ctx.name);
		failpoint_action_cleanup(&fp);
		goto reply_error;
	}

	txn_reap_expired();
	if (!txn_begin_command(&ctx, &tc, &error)) {
		failpoint_action_cleanup(&fp);
		goto reply_error;
	}
	uint8_t lsid_id[16];
	txn_record_t *rec = NULL;
	bool retryable = (entry->flags & F_RETRYABLE) && ctx.txn_number >= 0 &&
			 !tc.has_autocommit && txn_lsid_id(ctx.lsid, lsid_id);
	if (retryable) {
		pthread_mutex_lock(&txn_table_mutex);
		rec = txn_lookup(lsid_id);
		if (rec && rec->txn_number == ctx.txn_number) {
			bson_concat(reply, &rec->reply);
			pthread_mutex_unlock(&txn_table_mutex);
			server_log(1,
				   "conn%" PRId64 ": retried %s (txnNumber %" PRId64
				   ") answered from its first reply",
				   conn->id, ctx.name, ctx.txn_number);
			ok = true;
			goto finish;
		}
		if (rec && rec->txn_number > ctx.txn_number) {
			int64_t newer = rec->txn_number;
			pthread_mutex_unlock(&txn_table_mutex);
			cmd_error(&error, 225,
				  "Retryable write with txnNumber %" PRId64
				  " is prohibited on session because a newer "
				  "retryable write with txnNumber %" PRId64
				  " has already started on this session.",
				  ctx.txn_number, newer);
			failpoint_action_cleanup(&fp);
			goto reply_error;
		}
		pthread_mutex_unlock(&txn_table_mutex);
	}

	if (fast)
		coll_lock_take(&fast->lock, coll_mode);
	ok = entry->fn(&ctx, reply, &error);
	if (fast)
		coll_lock_release(&fast->lock);
	if (!txn_end_command(&tc, ok, reply, &error))
		ok = false;
	if (ok && (entry->flags & F_WRITE) && ctx.wants_durable && !oplog_sync(&error))
		ok = false;
	if (ok && retryable) {
		pthread_mutex_lock(&txn_table_mutex);
		if (!(rec = txn_lookup(lsid_id)))
			rec = txn_create(lsid_id);
		rec->txn_number = ctx.txn_number;
		bson_destroy(&rec->reply);
		bson_copy_to(reply, &rec->reply);
		pthread_mutex_unlock(&txn_table_mutex);
	}
finish:
	/* As MongoDB's write concern wait: after the command, whether it
	 * worked or not, with the fail point's errorLabels. */
	if (fp.fire && !bson_empty(&fp.write_concern_error)) {
		BSON_APPEND_DOCUMENT(reply, "writeConcernError", &fp.write_concern_error);
		if (!bson_empty(&fp.error_labels) && !bson_has_field(reply, "errorLabels"))
			bson_append_array(reply, "errorLabels", -1, &fp.error_labels);
		txn_error_labels(&tc, NULL, true, reply);
	}
	failpoint_action_cleanup(&fp);
	if (!ok) {
		/* what the handler wrote (errorLabels, keyValue...) follows the error */
		bson_concat(&body, reply);
		bson_reinit(reply);
		goto reply_error;
	}
	BSON_APPEND_DOUBLE(reply, "ok", 1.0);
	dispatch_append_cluster_time(reply);
	goto done;

reply_error:
	if (error.code == 0)
		error.code = 1;
	BSON_APPEND_DOUBLE(reply, "ok", 0.0);
	BSON_APPEND_UTF8(reply, "errmsg", error.message);
	BSON_APPEND_INT32(reply, "code", (int32_t)error.code);
	BSON_APPEND_UTF8(reply, "codeName", cmd_code_name((int)error.code));
	txn_error_labels(&tc, &error, false, &body);
	bson_concat(reply, &body);
	dispatch_append_cluster_time(reply);
	/* an unknown command is worth a line even when quiet: it marks a gap */
	server_log(error.code == 59 ? 0 : 1, "conn%" PRId64 " %s: error %u: %s", conn->id,
		   ctx.name ? ctx.name : "?", error.code, error.message);
done:
	server_unlock();
	bson_destroy(&body);
	return keep;
}
