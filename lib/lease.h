/*
 * Single-writer fencing: a lease per namespace and role, kept as a meta
 * document "lease:<name>" in <db>.<staging>_meta on the TARGET
 * (docs/DESIGN.md, "Meta documents"), so that it holds across processes and
 * across machines. Names: "apply:<target ns>" for whoever writes the target
 * collection (dump-wrap restore, cdc-replay), "capture:<source ns>" for
 * cdc-capture.
 *
 * The holder is named by a random owner id, its host (and boot id), pid,
 * process start time and program. Every takeover increments the lease's
 * term. A holder renews the lease well before it expires (lease_hold); a
 * renewal is conditional on the term it took, so a writer that was stopped
 * or cut off while another took over learns it has lost the lease the next
 * time it tries to publish anything, and stops (exit 73) without writing.
 *
 * A live lease of another owner refuses lease_acquire (exit 73, naming the
 * holder and when its lease expires). A lease whose expiresAt has passed is
 * taken over; on the same machine (same boot id) a holder whose process is
 * gone (exited, a zombie, or its pid now another process's) is taken over at once,
 * so a restart after kill -9 never waits. Expiry compares wall clocks of
 * different machines: they must agree to well within the lease's length
 * (LEASE_TTL_MS), as NTP keeps them.
 */
#ifndef CSM_LEASE_H
#define CSM_LEASE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * How long a lease lasts unless renewed. The holder renews it every third
 * of that, and writes nothing once two thirds have passed without a
 * renewal, so a write it sends has at least a third (10 s) to land before
 * anyone else may take over.
 */
#define LEASE_TTL_MS 30000
#define LEASE_RENEW_EVERY_MS (LEASE_TTL_MS / 3)

/* Who holds (or wants) a lease. */
typedef struct lease_owner {
	char id[25];      /* ObjectId hex: unique per lease_t */
	char host[256];   /* gethostname() */
	char boot_id[40]; /* /proc/sys/kernel/random/boot_id; "" when unknown */
	int64_t pid;
	int64_t started; /* process start time in clock ticks since boot; 0 unknown */
	char program[64];
} lease_owner_t;

typedef struct lease lease_t;

/* Fills owner with this process's identity and a fresh id. */
void lease_owner_self(lease_owner_t *owner, const char *program);

/*
 * A lease named name in the meta collection meta (borrowed: it must outlive
 * the lease), wanted by owner (copied), lasting ttl_ms once taken. Not yet
 * held: call lease_acquire(). Not thread-safe (lease_open's lease is).
 * Free with lease_destroy() (which does not release it).
 */
lease_t *lease_new(mongoc_collection_t *meta, const char *name, const lease_owner_t *owner,
		   int64_t ttl_ms);
void lease_destroy(lease_t *lease);

/*
 * Takes the lease when it is free, expired, held by a dead process of this
 * machine, or already ours. false + exit 73 when another owner holds it
 * live (the message names its program, host, pid, term and expiry);
 * false + the driver's error when the server fails (retry transient ones).
 */
bool lease_acquire(lease_t *lease, bson_error_t *error);

/*
 * For the programs: a lease name in db.meta_coll on the target at uri,
 * taken for program (lease_owner_self) and kept. It has a client of its
 * own (appname "changestream-migration/lease", connect and socket timeouts
 * of a third of the ttl), takes the lease (lease_acquire, retrying
 * transient failures until a stop request), then renews it from a thread
 * of its own every third of the ttl, whatever the caller does meanwhile:
 * an index build, a long restore, an idle wait. The ttl is LEASE_TTL_MS
 * (tests only: CSM_TEST_LEASE_TTL_MS, 300..LEASE_TTL_MS). NULL + error: 73
 * held by another (lease_acquire's message), 69 unreachable, stopped
 * (csm_error_stopped) while retrying. lease_release() then lease_destroy()
 * at exit.
 */
lease_t *lease_open(const char *uri, const char *db, const char *meta_coll, const char *name,
		    const char *program, bson_error_t *error);

/*
 * To call before every write that publishes progress or changes the
 * target. Without lease_open's thread: renews the lease on the caller's
 * thread when a third of the ttl has passed since the last renewal. With
 * it: safe from any thread and without I/O while the last renewal is
 * fresh (under two thirds of the ttl old); when it is not (the thread
 * cannot reach the server, or the process was frozen), asks for a renewal
 * and waits up to a second for it.
 *
 * false + exit 73 when the lease was lost (another owner took it over: the
 * message names it): stop without writing anything more. false + a
 * transient error (75, or the driver's) when it could not be renewed: write
 * nothing until a later call succeeds (retry_wait).
 */
bool lease_hold(lease_t *lease, bson_error_t *error);

/* Renews now (lease_hold without the wait; kept: lease_hold); the same results. */
bool lease_renew(lease_t *lease, bson_error_t *error);

/*
 * Gives the lease up (it expires now), if still ours: the next writer need
 * not wait. Stops lease_open's thread first. Harmless when not held or
 * lost. After it nothing may be written.
 */
bool lease_release(lease_t *lease, bson_error_t *error);

/*
 * Deletes the lease document, if still ours (cdc-cleanup: the namespace's
 * migration is being removed). Stops lease_open's thread first. After it
 * nothing may be written; the next taker starts the terms again at 1,
 * which fences an old holder as well (its renewals name its term and owner
 * id). false + the driver's error.
 */
bool lease_remove(lease_t *lease, bson_error_t *error);

/* The term taken by lease_acquire; 0 while not held (or lost). */
int64_t lease_term(lease_t *lease);

/* What a lease document says (lease_read). */
typedef struct lease_info {
	bool exists;
	int64_t term;
	int64_t expires_ms; /* Unix ms */
	bool released;      /* releasedAt is set: given up */
	lease_owner_t holder;
} lease_info_t;

/*
 * Reads the lease document name ("apply:shop.orders") in meta with read
 * concern majority into info (info->exists false when there is none).
 * false + the driver's error, naming the lease.
 */
bool lease_read(mongoc_collection_t *meta, const char *name, lease_info_t *info,
		bson_error_t *error);

/* Whether info is held at now_ms: it exists, is not released and has not expired. */
bool lease_info_live(const lease_info_t *info, int64_t now_ms);

/*
 * A one-line description of the lease document name in meta for operators
 * ("held by cdc-replay on host h (pid 12, term 3) until 2026-12-01T19:00:00Z",
 * "free (last held by ...)", "none"), or NULL + error. The caller
 * bson_free()s it.
 */
char *lease_describe(mongoc_collection_t *meta, const char *name, bson_error_t *error);

#endif
