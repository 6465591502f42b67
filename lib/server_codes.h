/*
 * The server error codes the toolkit acts on, by MongoDB's names
 * (src/mongo/base/error_codes.yml in the server's source; the two bare
 * numbers MongoDB gives no name are noted). Nothing in lib/ or tools/
 * compares an error code with a bare number: it names one of these, and
 * csm_error_classify() (error.h) is the one place that sorts them.
 */
#ifndef CSM_SERVER_CODES_H
#define CSM_SERVER_CODES_H

enum server_code {
	SERVER_BAD_VALUE = 2,
	SERVER_HOST_UNREACHABLE = 6,
	SERVER_HOST_NOT_FOUND = 7,
	SERVER_UNAUTHORIZED = 13,
	SERVER_TYPE_MISMATCH = 14,
	/* dropIndexes of an index that is not there (any more). */
	SERVER_INDEX_NOT_FOUND = 27,
	SERVER_NAMESPACE_NOT_FOUND = 26,
	SERVER_PATH_NOT_VIABLE = 28,
	/* WriteConcernFailed: wtimeout, the secondaries lag; the write is on the primary. */
	SERVER_WRITE_CONCERN_FAILED = 64,
	SERVER_CURSOR_NOT_FOUND = 43,
	SERVER_NAMESPACE_EXISTS = 48,
	SERVER_IMMUTABLE_FIELD = 66,
	SERVER_NETWORK_TIMEOUT = 89,
	SERVER_SHUTDOWN_IN_PROGRESS = 91,
	/* A live change stream the oplog has overtaken. */
	SERVER_CAPPED_POSITION_LOST = 136,
	SERVER_PRIMARY_STEPPED_DOWN = 189,
	SERVER_INVALID_RESUME_TOKEN = 260,
	SERVER_EXCEEDED_TIME_LIMIT = 262,
	SERVER_CHANGE_STREAM_FATAL = 280,
	SERVER_CHANGE_STREAM_HISTORY_LOST = 286,
	SERVER_SOCKET_EXCEPTION = 9001,
	SERVER_NOT_WRITABLE_PRIMARY = 10107,
	/* BSONObjectTooLarge: an event (with its looked-up document) over 16 MiB. */
	SERVER_BSON_OBJECT_TOO_LARGE = 10334,
	SERVER_DUPLICATE_KEY = 11000,
	/* The pre-2.6 duplicate-key code some servers still report on updates. */
	SERVER_DUPLICATE_KEY_ON_UPDATE = 11001,
	SERVER_INTERRUPTED_AT_SHUTDOWN = 11600,
	SERVER_INTERRUPTED_DUE_TO_REPL_STATE_CHANGE = 11602,
	SERVER_NOT_PRIMARY_NO_SECONDARY_OK = 13435,
	SERVER_NOT_PRIMARY_OR_SECONDARY = 13436,
	/* No name in MongoDB: "$changeStream is only supported on replica sets". */
	SERVER_CHANGE_STREAM_NEEDS_REPLICA_SET = 40573,
};

#endif
