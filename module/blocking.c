/* Helper thread with a job queue (not on any real-time path: plain mutex). */
#include "blocking.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct blocking {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct spa_list queued;		/* under lock */
	struct spa_list finished;	/* under lock */
	bool stopping;			/* under lock */
	atomic_bool cancel;		/* set at destroy: the running job gives up */
	void (*wake)(void *data);
	void *data;
};

static void *helper_thread(void *arg)
{
	struct blocking *b = arg;
	struct blocking_job *job;

	pthread_setname_np(pthread_self(), "pw-transcr-help");
	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->stopping && spa_list_is_empty(&b->queued))
			pthread_cond_wait(&b->cond, &b->lock);
		if (b->stopping)
			break;
		job = spa_list_first(&b->queued, struct blocking_job, link);
		spa_list_remove(&job->link);
		pthread_mutex_unlock(&b->lock);

		job->run(job);

		pthread_mutex_lock(&b->lock);
		spa_list_append(&b->finished, &job->link);
		pthread_mutex_unlock(&b->lock);
		b->wake(b->data);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct blocking *blocking_new(void (*wake)(void *data), void *data)
{
	struct blocking *b = calloc(1, sizeof(*b));
	int res;

	if (b == NULL)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	spa_list_init(&b->queued);
	spa_list_init(&b->finished);
	b->wake = wake;
	b->data = data;
	if ((res = pthread_create(&b->thread, NULL, helper_thread, b)) != 0) {
		pthread_cond_destroy(&b->cond);
		pthread_mutex_destroy(&b->lock);
		free(b);
		errno = res;
		return NULL;
	}
	return b;
}

const atomic_bool *blocking_cancel_flag(struct blocking *b)
{
	return &b->cancel;
}

void blocking_submit(struct blocking *b, struct blocking_job *job)
{
	job->cancelled = false;
	pthread_mutex_lock(&b->lock);
	spa_list_append(&b->queued, &job->link);
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

void blocking_collect(struct blocking *b)
{
	struct spa_list done;
	struct blocking_job *job;

	spa_list_init(&done);
	pthread_mutex_lock(&b->lock);
	spa_list_insert_list(&done, &b->finished);
	spa_list_init(&b->finished);
	pthread_mutex_unlock(&b->lock);
	spa_list_consume(job, &done, link) {
		spa_list_remove(&job->link);
		job->done(job);
	}
}

void blocking_destroy(struct blocking *b)
{
	struct blocking_job *job;

	if (b == NULL)
		return;
	atomic_store(&b->cancel, true);
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	spa_list_consume(job, &b->queued, link) {
		spa_list_remove(&job->link);
		job->cancelled = true;
		spa_list_append(&b->finished, &job->link);
	}
	blocking_collect(b);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}
