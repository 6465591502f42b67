/*
 * A pipeline stage: one thread, one client, one job at a time (replay_pipe.h).
 */
#include "replay_pipe.h"

#include <pthread.h>
#include <signal.h>

struct replay_pipe {
	mongoc_client_pool_t *pool;
	mongoc_client_t *client;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	replay_pipe_job_t job; /* set: a job to run or running */
	void *arg;
	bool running; /* the caller started a job and has not waited for it */
	bool done;    /* the job started last has returned */
	bool ok;
	bson_error_t error;
	bool quit;
	bool threaded; /* false: no thread could be started; jobs run in start */
};

static void *
pipe_main(void *data)
{
	replay_pipe_t *p = data;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		replay_pipe_job_t job;
		void *arg;
		bson_error_t error = {0};
		bool ok;

		while (!p->job && !p->quit)
			pthread_cond_wait(&p->changed, &p->lock);
		if (!p->job)
			break;
		job = p->job;
		arg = p->arg;
		pthread_mutex_unlock(&p->lock);
		ok = job(p->client, arg, &error);
		pthread_mutex_lock(&p->lock);
		p->ok = ok;
		p->error = error;
		p->job = NULL;
		p->done = true;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

replay_pipe_t *
replay_pipe_new(mongoc_client_pool_t *pool)
{
	replay_pipe_t *p = bson_malloc0(sizeof *p);
	sigset_t stops, old;
	int rc;

	p->pool = pool;
	p->client = mongoc_client_pool_pop(pool);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stops, &old);
	rc = pthread_create(&p->thread, NULL, pipe_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	p->threaded = rc == 0;
	return p;
}

void
replay_pipe_destroy(replay_pipe_t *p)
{
	bson_error_t ignored;

	if (!p)
		return;
	replay_pipe_wait(p, &ignored);
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	if (p->threaded)
		pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	mongoc_client_pool_push(p->pool, p->client);
	bson_free(p);
}

void
replay_pipe_start(replay_pipe_t *p, replay_pipe_job_t job, void *arg)
{
	BSON_ASSERT(!p->running);
	if (!p->threaded) {
		p->running = true;
		p->error = (bson_error_t){0};
		p->ok = job(p->client, arg, &p->error);
		p->done = true;
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->job = job;
	p->arg = arg;
	p->running = true;
	p->done = false;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

bool
replay_pipe_busy(const replay_pipe_t *p)
{
	/* running is only written by the caller's thread. */
	return p->running;
}

bool
replay_pipe_wait(replay_pipe_t *p, bson_error_t *error)
{
	bool ok;

	if (!p->running)
		return true;
	pthread_mutex_lock(&p->lock);
	while (!p->done)
		pthread_cond_wait(&p->changed, &p->lock);
	ok = p->ok;
	if (!ok)
		*error = p->error;
	p->running = false;
	pthread_mutex_unlock(&p->lock);
	return ok;
}
