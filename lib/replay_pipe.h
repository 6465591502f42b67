/*
 * cdc-replay's pipeline stages (docs/DESIGN.md, "Replay rules"): a thread
 * with a connection of its own that runs one job at a time beside the
 * caller, so that the next batch is read and the previous one marked done
 * while the caller applies the current one. A mongoc_client_t is not
 * thread-safe: each stage pops its own client from the session's pool.
 */
#ifndef CSM_REPLAY_PIPE_H
#define CSM_REPLAY_PIPE_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>

/* A job: runs on the stage's thread with the stage's client; false +
 * error on failure. arg is the caller's until replay_pipe_wait returns. */
typedef bool (*replay_pipe_job_t)(mongoc_client_t *client, void *arg, bson_error_t *error);

typedef struct replay_pipe replay_pipe_t;

/*
 * A stage whose client is popped from pool (borrowed; must outlive the
 * stage) and whose thread starts with the stop signals blocked (they reach
 * the caller's thread, which decides). When no thread can be started, the
 * stage runs each job in replay_pipe_start: slower, the same results. Free
 * with replay_pipe_destroy().
 */
replay_pipe_t *replay_pipe_new(mongoc_client_pool_t *pool);

/* Waits for the job in progress, ends the thread and gives the client
 * back. NULL is fine. */
void replay_pipe_destroy(replay_pipe_t *pipe);

/* Hands job(arg) to the stage, which must be idle (replay_pipe_busy
 * false): it starts at once, and the caller goes on. */
void replay_pipe_start(replay_pipe_t *pipe, replay_pipe_job_t job, void *arg);

/* True from replay_pipe_start until replay_pipe_wait. */
bool replay_pipe_busy(const replay_pipe_t *pipe);

/*
 * Waits until the job started last is done and returns its result (its
 * error copied into *error); true at once when the stage is idle. The
 * stage is idle afterwards.
 */
bool replay_pipe_wait(replay_pipe_t *pipe, bson_error_t *error);

#endif
