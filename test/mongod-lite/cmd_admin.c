/* Handshake and server-level commands. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "cursor.h"
#include "dispatch.h"
#include "oplog.h"
#include "query.h"
#include "router.h"
#include "server.h"
#include "txn.h"
#include "wire.h"

static time_t started_at;

/* A counter updated atomically (dispatch.h). */
static int64_t
counter_value(const int64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void
note_start(void)
{
	started_at = time(NULL);
}

bool
cmd_hello(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	bool standalone = server_config.standalone;
	(void)error;

	mlite_stats.hellos++;
	/* remember the client's appName for fail points (appName filter) */
	if (bson_iter_init(&it, ctx->cmd) &&
	    bson_iter_find_descendant(&it, "client.application.name", &it) &&
	    BSON_ITER_HOLDS_UTF8(&it))
		snprintf(ctx->conn->app_name, sizeof ctx->conn->app_name, "%s",
			 bson_iter_utf8(&it, NULL));

	if (bson_iter_init_find(&it, ctx->cmd, "helloOk") || strcmp(ctx->name, "hello") == 0)
		BSON_APPEND_BOOL(reply, "helloOk", true);
	BSON_APPEND_BOOL(reply, "ismaster", true);
	BSON_APPEND_BOOL(reply, "isWritablePrimary", true);
	if (server_config.router)
		router_hello(reply);
	else if (!standalone) {
		bson_t hosts;
		uint32_t t, i;
		uint8_t election[12] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1};
		bson_oid_t eid;
		bson_oid_init_from_data(&eid, election);
		BSON_APPEND_ARRAY_BEGIN(reply, "hosts", &hosts);
		BSON_APPEND_UTF8(&hosts, "0", server_me);
		bson_append_array_end(reply, &hosts);
		BSON_APPEND_UTF8(reply, "setName", server_config.replset);
		BSON_APPEND_INT32(reply, "setVersion", 1);
		BSON_APPEND_BOOL(reply, "secondary", false);
		BSON_APPEND_UTF8(reply, "primary", server_me);
		BSON_APPEND_UTF8(reply, "me", server_me);
		BSON_APPEND_OID(reply, "electionId", &eid);
		oplog_last_time(&t, &i);
		bson_t lw, op;
		BSON_APPEND_DOCUMENT_BEGIN(reply, "lastWrite", &lw);
		BSON_APPEND_DOCUMENT_BEGIN(&lw, "opTime", &op);
		BSON_APPEND_TIMESTAMP(&op, "ts", t, i);
		BSON_APPEND_INT64(&op, "t", 1);
		bson_append_document_end(&lw, &op);
		BSON_APPEND_DATE_TIME(&lw, "lastWriteDate", (int64_t)t * 1000);
		BSON_APPEND_DOCUMENT_BEGIN(&lw, "majorityOpTime", &op);
		BSON_APPEND_TIMESTAMP(&op, "ts", t, i);
		BSON_APPEND_INT64(&op, "t", 1);
		bson_append_document_end(&lw, &op);
		BSON_APPEND_DATE_TIME(&lw, "majorityWriteDate", (int64_t)t * 1000);
		bson_append_document_end(reply, &lw);
	}
	BSON_APPEND_INT32(reply, "maxBsonObjectSize", 16 * 1024 * 1024);
	BSON_APPEND_INT32(reply, "maxMessageSizeBytes", WIRE_MAX_MESSAGE);
	BSON_APPEND_INT32(reply, "maxWriteBatchSize", 100000);
	BSON_APPEND_DATE_TIME(reply, "localTime", clock_wall_ms());
	BSON_APPEND_INT32(reply, "logicalSessionTimeoutMinutes", 30);
	BSON_APPEND_INT32(reply, "connectionId", (int32_t)ctx->connection_id);
	BSON_APPEND_INT32(reply, "minWireVersion", 0);
	BSON_APPEND_INT32(reply, "maxWireVersion", 21);
	BSON_APPEND_BOOL(reply, "readOnly", false);
	return true;
}

bool
cmd_ping(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	(void)ctx;
	(void)reply;
	(void)error;
	return true;
}

bool
cmd_build_info(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_t arr;
	(void)ctx;
	(void)error;
	BSON_APPEND_UTF8(reply, "version", server_config.version);
	BSON_APPEND_UTF8(reply, "gitVersion", "mongod-lite");
	BSON_APPEND_ARRAY_BEGIN(reply, "versionArray", &arr);
	BSON_APPEND_INT32(&arr, "0", server_config.version_array[0]);
	BSON_APPEND_INT32(&arr, "1", server_config.version_array[1]);
	BSON_APPEND_INT32(&arr, "2", server_config.version_array[2]);
	BSON_APPEND_INT32(&arr, "3", 0);
	bson_append_array_end(reply, &arr);
	BSON_APPEND_INT32(reply, "bits", 64);
	BSON_APPEND_BOOL(reply, "debug", false);
	BSON_APPEND_INT32(reply, "maxBsonObjectSize", 16 * 1024 * 1024);
	BSON_APPEND_ARRAY_BEGIN(reply, "storageEngines", &arr);
	BSON_APPEND_UTF8(&arr, "0", "wiredTiger");
	bson_append_array_end(reply, &arr);
	return true;
}

bool
cmd_server_status(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_t sub, sub2, sub3;
	char host[256];
	(void)ctx;
	(void)error;

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	BSON_APPEND_UTF8(reply, "host", host);
	BSON_APPEND_UTF8(reply, "version", server_config.version);
	BSON_APPEND_UTF8(reply, "process", server_config.router ? "mongos" : "mongod");
	BSON_APPEND_INT64(reply, "pid", (int64_t)getpid());
	time_t up = time(NULL) - started_at;
	BSON_APPEND_DOUBLE(reply, "uptime", (double)up);
	BSON_APPEND_INT64(reply, "uptimeMillis", (int64_t)up * 1000);
	BSON_APPEND_INT64(reply, "uptimeEstimate", (int64_t)up);
	BSON_APPEND_DATE_TIME(reply, "localTime", clock_wall_ms());
	BSON_APPEND_DOCUMENT_BEGIN(reply, "connections", &sub);
	BSON_APPEND_INT32(&sub, "current",
			  (int32_t)counter_value(&mlite_stats.connections_current));
	BSON_APPEND_INT32(&sub, "available", 100000);
	BSON_APPEND_INT32(&sub, "totalCreated",
			  (int32_t)counter_value(&mlite_stats.connections_total));
	BSON_APPEND_INT32(&sub, "active", 1);
	bson_append_document_end(reply, &sub);
	BSON_APPEND_DOCUMENT_BEGIN(reply, "opcounters", &sub);
	BSON_APPEND_INT64(&sub, "insert", counter_value(&mlite_stats.insert));
	BSON_APPEND_INT64(&sub, "query", counter_value(&mlite_stats.query));
	BSON_APPEND_INT64(&sub, "update", counter_value(&mlite_stats.update));
	BSON_APPEND_INT64(&sub, "delete", counter_value(&mlite_stats.delete_));
	BSON_APPEND_INT64(&sub, "getmore", counter_value(&mlite_stats.getmore));
	BSON_APPEND_INT64(&sub, "command", mlite_stats.command);
	bson_append_document_end(reply, &sub);
	/* mongod-lite's own: hello/isMaster commands answered */
	BSON_APPEND_INT64(reply, "hellos", mlite_stats.hellos);
	BSON_APPEND_DOCUMENT_BEGIN(reply, "metrics", &sub);
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "cursor", &sub2);
	BSON_APPEND_DOCUMENT_BEGIN(&sub2, "open", &sub3);
	BSON_APPEND_INT64(&sub3, "total", cursor_open_count());
	bson_append_document_end(&sub2, &sub3);
	bson_append_document_end(&sub, &sub2);
	bson_append_document_end(reply, &sub);
	txn_server_status(reply);
	if (!server_config.standalone && !server_config.router) {
		BSON_APPEND_DOCUMENT_BEGIN(reply, "repl", &sub);
		BSON_APPEND_UTF8(&sub, "setName", server_config.replset);
		BSON_APPEND_BOOL(&sub, "isWritablePrimary", true);
		BSON_APPEND_UTF8(&sub, "primary", server_me);
		BSON_APPEND_UTF8(&sub, "me", server_me);
		bson_append_document_end(reply, &sub);
	}
	BSON_APPEND_DOCUMENT_BEGIN(reply, "storageEngine", &sub);
	BSON_APPEND_UTF8(&sub, "name", "wiredTiger");
	BSON_APPEND_BOOL(&sub, "persistent", server_config.dbpath != NULL);
	bson_append_document_end(reply, &sub);
	return true;
}

bool
cmd_list_databases(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	bool name_only = bson_iter_init_find(&it, ctx->cmd, "nameOnly") && bson_iter_as_bool(&it);
	bson_t filter, arr;
	bool have_filter;
	int64_t total = 0;
	uint32_t n = 0;

	if (!cmd_doc_field(ctx->cmd, "filter", &filter, &have_filter, error))
		return false;
	BSON_APPEND_ARRAY_BEGIN(reply, "databases", &arr);
	for (sdb_t *d = store_dbs(); d; d = d->next) {
		int64_t size = 0;
		for (scoll_t *c = d->colls; c; c = c->next)
			size += c->data_size + 4096;
		bson_t entry = BSON_INITIALIZER;
		BSON_APPEND_UTF8(&entry, "name", d->name);
		if (!name_only) {
			BSON_APPEND_INT64(&entry, "sizeOnDisk", size);
			BSON_APPEND_BOOL(&entry, "empty", d->colls == NULL);
		}
		if (!have_filter || query_match(&filter, bson_get_data(&entry), entry.len)) {
			char key[16];
			const char *kp;
			size_t kl = bson_uint32_to_string(n++, &kp, key, sizeof key);
			bson_append_document(&arr, kp, (int)kl, &entry);
			total += size;
		}
		bson_destroy(&entry);
	}
	bson_append_array_end(reply, &arr);
	if (!name_only)
		BSON_APPEND_INT64(reply, "totalSize", total);
	return true;
}

bool
cmd_get_parameter(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_iter_t it;
	bool all = bson_iter_init_find(&it, ctx->cmd, "getParameter") &&
		   BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), "*") == 0;
	bool any = false;
	(void)error;

	if (all || bson_iter_init_find(&it, ctx->cmd, "featureCompatibilityVersion")) {
		bson_t fcv;
		BSON_APPEND_DOCUMENT_BEGIN(reply, "featureCompatibilityVersion", &fcv);
		BSON_APPEND_UTF8(&fcv, "version", "7.0");
		bson_append_document_end(reply, &fcv);
		any = true;
	}
	if (all || bson_iter_init_find(&it, ctx->cmd, "authenticationMechanisms")) {
		bson_t arr = BSON_INITIALIZER;
		BSON_APPEND_ARRAY(reply, "authenticationMechanisms", &arr);
		bson_destroy(&arr);
		any = true;
	}
	if (all || bson_iter_init_find(&it, ctx->cmd, "enableTestCommands")) {
		BSON_APPEND_BOOL(reply, "enableTestCommands", true);
		any = true;
	}
	any |= txn_get_parameter(ctx->cmd, all, reply);
	if (!any) {
		cmd_error(error, 72, "no option found to get");
		return false;
	}
	return true;
}

bool
cmd_get_cmd_line_opts(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_t arr, parsed, net;
	(void)ctx;
	(void)error;
	BSON_APPEND_ARRAY_BEGIN(reply, "argv", &arr);
	BSON_APPEND_UTF8(&arr, "0", "mongod-lite");
	bson_append_array_end(reply, &arr);
	BSON_APPEND_DOCUMENT_BEGIN(reply, "parsed", &parsed);
	BSON_APPEND_DOCUMENT_BEGIN(&parsed, "net", &net);
	BSON_APPEND_UTF8(&net, "bindIp", server_config.bind_addr);
	BSON_APPEND_INT32(&net, "port", server_config.port);
	bson_append_document_end(&parsed, &net);
	if (!server_config.standalone && !server_config.router) {
		bson_t repl;
		BSON_APPEND_DOCUMENT_BEGIN(&parsed, "replication", &repl);
		BSON_APPEND_UTF8(&repl, "replSet", server_config.replset);
		bson_append_document_end(&parsed, &repl);
	}
	bson_append_document_end(reply, &parsed);
	return true;
}

bool
cmd_whatsmyuri(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	(void)error;
	BSON_APPEND_UTF8(reply, "you", ctx->conn->peer);
	return true;
}

bool
cmd_connection_status(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_t info, arr;
	(void)ctx;
	(void)error;
	BSON_APPEND_DOCUMENT_BEGIN(reply, "authInfo", &info);
	BSON_APPEND_ARRAY_BEGIN(&info, "authenticatedUsers", &arr);
	bson_append_array_end(&info, &arr);
	BSON_APPEND_ARRAY_BEGIN(&info, "authenticatedUserRoles", &arr);
	bson_append_array_end(&info, &arr);
	bson_append_document_end(reply, &info);
	return true;
}

bool
cmd_repl_set_get_status(command_ctx_t *ctx, bson_t *reply, bson_error_t *error)
{
	bson_t members, m;
	uint32_t t, i;
	if (server_config.router)
		return router_no_such_command(ctx, error);
	if (server_config.standalone) {
		cmd_error(error, 76, "not running with --replSet");
		return false;
	}
	oplog_last_time(&t, &i);
	BSON_APPEND_UTF8(reply, "set", server_config.replset);
	BSON_APPEND_DATE_TIME(reply, "date", clock_wall_ms());
	BSON_APPEND_INT32(reply, "myState", 1);
	BSON_APPEND_ARRAY_BEGIN(reply, "members", &members);
	BSON_APPEND_DOCUMENT_BEGIN(&members, "0", &m);
	BSON_APPEND_INT32(&m, "_id", 0);
	BSON_APPEND_UTF8(&m, "name", server_me);
	BSON_APPEND_DOUBLE(&m, "health", 1.0);
	BSON_APPEND_INT32(&m, "state", 1);
	BSON_APPEND_UTF8(&m, "stateStr", "PRIMARY");
	BSON_APPEND_BOOL(&m, "self", true);
	bson_append_document_end(&members, &m);
	bson_append_array_end(reply, &members);
	return true;
}
