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
 * gone (or whose pid now belongs to another process) is taken over at once,
 * so a restart after kill -9 never waits. Expiry compares wall clocks of
 * different machines: they must agree to well within the lease's length
 * (LEASE_TTL_MS), as NTP keeps them.
 */
#ifndef CSM_LEASE_H
#define CSM_LEASE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

/* How long a lease lasts unless renewed, and how often the holder renews it. */
#define LEASE_TTL_MS 30000
#define LEASE_RENEW_EVERY_MS 10000

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
 * held: call lease_acquire(). Free with lease_destroy().
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
 * To call before every write that publishes progress or changes the
 * target: renews the lease when LEASE_RENEW_EVERY_MS have passed since the
 * last renewal. false + exit 73 when the lease was lost (another owner took
 * it over: the message names it); false + the driver's error on a server
 * failure, after which nothing may be written until a later call succeeds.
 */
bool lease_hold(lease_t *lease, bson_error_t *error);

/* Renews now (lease_hold without the wait); the same results. */
bool lease_renew(lease_t *lease, bson_error_t *error);

/*
 * Gives the lease up (it expires now), if still ours: the next writer need
 * not wait. Harmless when not held.
 */
bool lease_release(lease_t *lease, bson_error_t *error);

/* The term taken by lease_acquire; 0 while not held. */
int64_t lease_term(const lease_t *lease);

/*
 * A one-line description of the lease document name in meta for operators
 * ("held by cdc-replay on host h (pid 12, term 3) until 2026-12-01T19:00:00Z",
 * "free (last held by ...)", "none"), or NULL + error. The caller
 * bson_free()s it.
 */
char *lease_describe(mongoc_collection_t *meta, const char *name, bson_error_t *error);

#endif
