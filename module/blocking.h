/* A helper thread for the calls that block by nature (DNS, the key command,
 * the temporary-key HTTP request), so the worker's service loop never does.
 *
 * submit/collect/destroy: worker (or main) thread. run(): helper thread.
 * A job is handed back through collect() on the submitting thread, exactly
 * once, also when it was cancelled before it ran (job->cancelled set).
 */
#ifndef TRANSCRIBE_BLOCKING_H
#define TRANSCRIBE_BLOCKING_H

#include <stdatomic.h>
#include <stdbool.h>

#include <spa/utils/defs.h>
#include <spa/utils/list.h>

struct blocking_job {
	struct spa_list link;
	void (*run)(struct blocking_job *job);		/* helper thread */
	void (*done)(struct blocking_job *job);		/* collecting thread; may free the job */
	bool cancelled;
};

struct blocking;

/* wake(data) is called on the helper thread after each job (e.g. to call
 * lws_cancel_service()). Returns NULL with errno set. */
struct blocking *blocking_new(void (*wake)(void *data), void *data);
void blocking_submit(struct blocking *b, struct blocking_job *job);
/* Calls done() for every finished job. */
void blocking_collect(struct blocking *b);
/* Set once blocking_destroy() started: a running job that waits checks it
 * and gives up (its own way: kill a command, abort a request). */
const atomic_bool *blocking_cancel_flag(struct blocking *b);
/* Stops the thread (a running job completes first, told to give up through
 * the cancel flag); queued jobs are handed to done() with cancelled set. */
void blocking_destroy(struct blocking *b);

#endif
