/*
 * The staged-event and meta formats shared by cdc-capture (writer),
 * cdc-replay (reader), dump-wrap restore (restore marker) and operators
 * (docs/DESIGN.md, "Staged events" and "Meta documents"). This header is the
 * single definition of collection suffixes, _id prefixes and field names:
 * code names a field through these macros, never a string literal.
 *
 * Staging collection <db>.<staging> on the TARGET (default "cdc", db = the
 * source database name). One document per staged event (or event part):
 *   _id            ObjectId
 *   ns             "db.coll" of the source collection
 *   seq            Int64, per ns, 1, 2, 3... strictly increasing, no gaps
 *   token          the event's resume token (the change event's _id)
 *   clusterTime    Timestamp of the event
 *   wallTime       Date of the event (absent when the source sends none)
 *   operationType  "insert" | "update" | ... as the event says
 *   event          the whole change event document, as received
 *                  (absent in a chunk part, see below)
 *   status         "pending" | "done"
 *   stagedAt       Date
 *   appliedAt      Date, set when status becomes "done"
 * Split events:
 *   - a server-side split ($changeStreamSplitLargeEvent) is staged one
 *     document per fragment; event.splitEvent = {fragment: i, of: n}; replay
 *     merges the top-level fields of fragments 1..n into one event.
 *   - an event that fits in 16 MiB but whose staged form does not is staged
 *     as k consecutive documents (consecutive seq) holding
 *       chunk          {index: 0..k-1, of: k} (Int32)
 *       eventBytes     BinData(0): the next slice of the event's BSON bytes
 *     and no "event"; token/clusterTime/operationType repeat in each; replay
 *     concatenates eventBytes in index order to get the event back.
 * Indexes: {ns: 1, status: 1, seq: 1} and unique {ns: 1, seq: 1}.
 *
 * Meta collection <db>.<staging>_meta (same database), one document per kind:
 *   checkpoint, _id "checkpoint:<ns>" — kept by cdc-capture (checkpoint.h):
 *     ns, token (last resume token seen: an event's or a postBatchResumeToken),
 *     clusterTime (Timestamp of that position), heartbeatAt (Date of the last
 *     update; advances while idle), lastSeq (Int64), state ("running" |
 *     "stopped" | "ddl" | "history-lost"), stateDetail (string, optional)
 *   restore marker, _id "restore:<target ns>" — written by
 *   `dump-wrap restore` once the data and the ordinary indexes are in
 *   (marker.h):
 *     ns (target ns), sourceNs, completedAt (Date), documents (Int64),
 *     dumpEndTime (Timestamp, absent when the dump recorded none),
 *     deferredIndexes [index specs as in listIndexes] (unique and TTL ones,
 *     only with --defer-constraints), uniqueCreatedAt (Date) / ttlCreatedAt
 *     (Date) set by cdc-replay once it has built them.
 *   transaction record, _id "txn:<lsid id>:<txnNumber>:<t>:<i>" — written
 *   by a database capture for a source transaction staged in several
 *   collections (txn_record.h): lsid, txnNumber, clusterTime,
 *   parts [{ns, firstSeq, lastSeq}].
 */
#ifndef CSM_STAGING_FORMAT_H
#define CSM_STAGING_FORMAT_H

#define STAGING_DEFAULT_COLL "cdc"
#define STAGING_META_SUFFIX "_meta"
#define STAGING_STATUS_PENDING "pending"
#define STAGING_STATUS_DONE "done"
#define STAGING_CHECKPOINT_ID_PREFIX "checkpoint:"
#define STAGING_RESTORE_ID_PREFIX "restore:"
#define STAGING_TXN_ID_PREFIX "txn:"
/* Largest eventBytes slice: leaves room for the other fields under 16 MiB. */
#define STAGING_CHUNK_BYTES (8 * 1024 * 1024)
/* MongoDB's maximum document size. */
#define BSON_MAX_DOC_SIZE (16 * 1024 * 1024)

/* Fields of a staged document. */
#define STAGED_F_ID "_id"
#define STAGED_F_NS "ns"
#define STAGED_F_SEQ "seq"
#define STAGED_F_TOKEN "token"
#define STAGED_F_CLUSTER_TIME "clusterTime"
#define STAGED_F_WALL_TIME "wallTime"
#define STAGED_F_OPERATION_TYPE "operationType"
#define STAGED_F_EVENT "event"
#define STAGED_F_STATUS "status"
#define STAGED_F_STAGED_AT "stagedAt"
#define STAGED_F_APPLIED_AT "appliedAt"
#define STAGED_F_CHUNK "chunk"
#define STAGED_F_CHUNK_INDEX "index"
#define STAGED_F_CHUNK_OF "of"
#define STAGED_F_EVENT_BYTES "eventBytes"

/* Fields of the meta documents (checkpoint and restore marker). */
#define META_F_ID "_id"
#define META_F_NS "ns"
#define META_F_TOKEN "token"
#define META_F_CLUSTER_TIME "clusterTime"
#define META_F_HEARTBEAT_AT "heartbeatAt"
#define META_F_CAUGHT_UP_AT "caughtUpAt"
#define META_F_LAST_SEQ "lastSeq"
#define META_F_STATE "state"
#define META_F_STATE_DETAIL "stateDetail"
#define META_F_SOURCE_NS "sourceNs"
#define META_F_COMPLETED_AT "completedAt"
#define META_F_DOCUMENTS "documents"
#define META_F_DUMP_END_TIME "dumpEndTime"
#define META_F_DEFERRED_INDEXES "deferredIndexes"
#define META_F_UNIQUE_CREATED_AT "uniqueCreatedAt"
#define META_F_TTL_CREATED_AT "ttlCreatedAt"
/* ... and of a cross-collection transaction record (txn_record.h). */
#define META_F_LSID "lsid"
#define META_F_TXN_NUMBER "txnNumber"
#define META_F_PARTS "parts"
#define META_F_FIRST_SEQ "firstSeq"

#endif
