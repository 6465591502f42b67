/* cdc-replay's throttle and purge (replay_upkeep.h). */
#include "replay_upkeep.h"

#include "clock.h"
#include "error.h"
#include "log.h"
#include "staging_purge.h"
#include "stop.h"
#include "throttle.h"

struct replay_upkeep {
	const replay_opts_t *opts;
	mongoc_collection_t *staging;
	const char *ns;
	lease_t *lease;
	throttle_t *throttle;
	int64_t applied_seen; /* applied at the last turn */
	int64_t next_purge_ms;
	int64_t purged;
	bool purge_warned; /* a failure was told; the next success says so */
};

replay_upkeep_t *
replay_upkeep_new(const replay_opts_t *opts, mongoc_collection_t *staging, const char *ns,
		  lease_t *lease)
{
	replay_upkeep_t *u = bson_malloc0(sizeof *u);

	u->opts = opts;
	u->staging = staging;
	u->ns = ns;
	u->lease = lease;
	if (opts->max_ops_per_sec > 0 || opts->rate_file)
		u->throttle =
			throttle_new(THROTTLE_KEY_OPS, opts->max_ops_per_sec, 0, opts->rate_file);
	u->next_purge_ms = clock_mono_ms();
	return u;
}

void
replay_upkeep_destroy(replay_upkeep_t *u)
{
	if (!u)
		return;
	throttle_destroy(u->throttle);
	bson_free(u);
}

/* Up to REPLAY_PURGE_BATCHES_PER_TURN batches; false + error on failure. */
static bool
purge(replay_upkeep_t *u, bson_error_t *error)
{
	int64_t before = clock_wall_ms() - u->opts->purge_applied_s * 1000, deleted;
	bool more = true;

	for (int k = 0; k < REPLAY_PURGE_BATCHES_PER_TURN && more && !stop_requested(); k++) {
		if (!lease_hold(u->lease, error) ||
		    !staging_purge_batch(u->staging, u->ns, before, &deleted, &more, error))
			return false;
		u->purged += deleted;
	}
	if (more)
		u->next_purge_ms = clock_mono_ms(); /* behind: go on at the next turn */
	return true;
}

void
replay_upkeep_turn(replay_upkeep_t *u, int64_t applied)
{
	bson_error_t error;

	if (applied > u->applied_seen)
		throttle_take(u->throttle, applied - u->applied_seen, 0);
	u->applied_seen = applied;
	if (u->opts->purge_applied_s < 0 || stop_requested() || clock_mono_ms() < u->next_purge_ms)
		return;
	u->next_purge_ms = clock_mono_ms() + REPLAY_PURGE_EVERY_MS;
	if (!purge(u, &error)) {
		if (csm_exit_code(&error) == CSM_EXIT_CANTCREAT || !u->purge_warned)
			log_warn("%s; trying again in %d s (applying goes on)", error.message,
				 REPLAY_PURGE_EVERY_MS / 1000);
		u->purge_warned = true;
	} else if (u->purge_warned) {
		log_info("deleting applied events of '%s' works again", u->ns);
		u->purge_warned = false;
	}
}

json_t *
replay_upkeep_status(replay_upkeep_t *u, json_t *extra)
{
	int64_t limit = throttle_items_per_sec(u ? u->throttle : NULL);

	if (!u || (limit <= 0 && u->purged <= 0))
		return extra;
	if (!extra)
		extra = json_object();
	if (limit > 0)
		json_object_set_new(extra, "maxOpsPerSec", json_integer((json_int_t)limit));
	if (u->purged > 0)
		json_object_set_new(extra, "purged", json_integer((json_int_t)u->purged));
	return extra;
}
