/* The I/O thread's two lanes (see iothread.h). Not on any real-time path:
 * a plain mutex guards the queues. */
#include "iothread.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct lane {
	struct iothread *io;
	enum iothread_lane id;
	pthread_t thread;
	bool started;
	pthread_cond_t cond;
	struct spa_list queued;		/* under io->lock */
	bool stopping;			/* under io->lock: finish the queue, then end */
};

struct iothread {
	pthread_mutex_t lock;
	struct lane lanes[IOTHREAD_N_LANES];
	struct spa_list finished;	/* under lock: jobs whose done() is due */
	size_t bytes;			/* under lock: queued in both lanes */
	unsigned finished_n;		/* under lock: done() or wake jobs since collect */
	unsigned waking;		/* under lock: wake() calls under way */
	pthread_cond_t woke;		/* signalled when waking drops */
	bool stop_asked;		/* under lock */
	void (*wake)(void *data);
	void *data;
	void (*stopped)(void *data);	/* set before the lanes can read it */
	void *stopped_data;
};

static const char *const lane_names[IOTHREAD_N_LANES] = {
	[IOTHREAD_DATA] = "pw-transcr-io",
	[IOTHREAD_SYNC] = "pw-transcr-sync",
};

static void lane_stop_locked(struct lane *l)
{
	l->stopping = true;
	pthread_cond_signal(&l->cond);
}

/* Runs the lane's jobs in order until it is stopping and empty. The data
 * lane ends first, then tells the sync lane (its jobs may hand on to it);
 * the sync lane, last, says the whole thread is done. */
static void *lane_thread(void *arg)
{
	struct lane *l = arg;
	struct iothread *io = l->io;
	struct iothread_job *job;
	bool done, wake;

	pthread_setname_np(pthread_self(), lane_names[l->id]);
	pthread_mutex_lock(&io->lock);
	for (;;) {
		while (!l->stopping && spa_list_is_empty(&l->queued))
			pthread_cond_wait(&l->cond, &io->lock);
		if (spa_list_is_empty(&l->queued))
			break;
		job = spa_list_first(&l->queued, struct iothread_job, link);
		spa_list_remove(&job->link);
		io->bytes -= job->bytes;
		pthread_mutex_unlock(&io->lock);

		/* Without done(), the job may be gone once run() returns. */
		done = job->done != NULL;
		wake = done || job->wake;
		job->run(job);

		pthread_mutex_lock(&io->lock);
		if (done)
			spa_list_append(&io->finished, &job->link);
		io->finished_n += wake;
		if (wake && io->wake != NULL) {
			void (*fn)(void *data) = io->wake;
			io->waking++;
			pthread_mutex_unlock(&io->lock);
			fn(io->data);
			pthread_mutex_lock(&io->lock);
			if (--io->waking == 0)
				pthread_cond_broadcast(&io->woke);
		}
	}
	if (l->id == IOTHREAD_DATA)
		lane_stop_locked(&io->lanes[IOTHREAD_SYNC]);
	pthread_mutex_unlock(&io->lock);
	if (l->id == IOTHREAD_SYNC && io->stopped != NULL)
		io->stopped(io->stopped_data);
	return NULL;
}

struct iothread *iothread_new(void (*wake)(void *data), void *data)
{
	struct iothread *io = calloc(1, sizeof(*io));
	int res = 0;

	if (io == NULL)
		return NULL;
	pthread_mutex_init(&io->lock, NULL);
	pthread_cond_init(&io->woke, NULL);
	spa_list_init(&io->finished);
	io->wake = wake;
	io->data = data;
	for (int i = 0; i < IOTHREAD_N_LANES; i++) {
		struct lane *l = &io->lanes[i];
		l->io = io;
		l->id = i;
		pthread_cond_init(&l->cond, NULL);
		spa_list_init(&l->queued);
	}
	for (int i = 0; i < IOTHREAD_N_LANES && res == 0; i++) {
		struct lane *l = &io->lanes[i];
		if ((res = pthread_create(&l->thread, NULL, lane_thread, l)) == 0)
			l->started = true;
	}
	if (res != 0) {
		iothread_free(io);
		errno = res;
		return NULL;
	}
	return io;
}

int iothread_submit(struct iothread *io, enum iothread_lane lane, struct iothread_job *job)
{
	struct lane *l = &io->lanes[lane];
	int res = 0;

	pthread_mutex_lock(&io->lock);
	if (l->stopping)
		res = -ESHUTDOWN;
	else if (!job->must && io->bytes + job->bytes > IOTHREAD_MAX_BYTES)
		res = -EAGAIN;
	if (res == 0) {
		spa_list_append(&l->queued, &job->link);
		io->bytes += job->bytes;
		pthread_cond_signal(&l->cond);
	}
	pthread_mutex_unlock(&io->lock);
	return res;
}

unsigned iothread_collect(struct iothread *io)
{
	struct spa_list done;
	struct iothread_job *job;
	unsigned n;

	spa_list_init(&done);
	pthread_mutex_lock(&io->lock);
	spa_list_insert_list(&done, &io->finished);
	spa_list_init(&io->finished);
	n = io->finished_n;
	io->finished_n = 0;
	pthread_mutex_unlock(&io->lock);
	spa_list_consume(job, &done, link) {
		spa_list_remove(&job->link);
		job->done(job);
	}
	return n;
}

void iothread_mute(struct iothread *io)
{
	if (io == NULL)
		return;
	pthread_mutex_lock(&io->lock);
	io->wake = NULL;
	while (io->waking > 0)
		pthread_cond_wait(&io->woke, &io->lock);
	pthread_mutex_unlock(&io->lock);
}

size_t iothread_queued_bytes(struct iothread *io)
{
	size_t n;

	pthread_mutex_lock(&io->lock);
	n = io->bytes;
	pthread_mutex_unlock(&io->lock);
	return n;
}

void iothread_stop_async(struct iothread *io, void (*stopped)(void *data), void *data)
{
	pthread_mutex_lock(&io->lock);
	if (!io->stop_asked) {
		io->stop_asked = true;
		io->stopped = stopped;
		io->stopped_data = data;
		lane_stop_locked(&io->lanes[IOTHREAD_DATA]);
		/* A sync lane that never started has no data lane to tell it. */
		if (!io->lanes[IOTHREAD_DATA].started)
			lane_stop_locked(&io->lanes[IOTHREAD_SYNC]);
	}
	pthread_mutex_unlock(&io->lock);
}

void iothread_free(struct iothread *io)
{
	if (io == NULL)
		return;
	iothread_stop_async(io, NULL, NULL);
	for (int i = 0; i < IOTHREAD_N_LANES; i++)
		if (io->lanes[i].started)
			pthread_join(io->lanes[i].thread, NULL);
	iothread_collect(io);
	for (int i = 0; i < IOTHREAD_N_LANES; i++)
		pthread_cond_destroy(&io->lanes[i].cond);
	pthread_cond_destroy(&io->woke);
	pthread_mutex_destroy(&io->lock);
	free(io);
}
