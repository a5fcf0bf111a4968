/* The I/O thread: the journal's writes and fsyncs and the spool's writes
 * and reads, off the worker, so the drain of the ring never waits on disk.
 *
 * Two lanes, each a thread with a FIFO of jobs:
 *   IOTHREAD_DATA  write(2), pwrite(2), pread(2), in the order submitted;
 *   IOTHREAD_SYNC  fsync(2) and close(2).
 * An fsync can take seconds (an HDD, ext4 under writeback, an NFS home);
 * on its own lane it never holds up the lines and audio queued behind it,
 * so a line reaches the page cache (and survives a SIGKILL) as soon as the
 * data lane gets to it. A job that must follow earlier data (a sync after
 * the lines it covers) is submitted to DATA and hands itself on to SYNC
 * with iothread_submit() from there.
 *
 * The queue is bounded (IOTHREAD_MAX_BYTES over both lanes): a submit that
 * does not fit is refused with -EAGAIN and the caller says what it lost
 * (never blocks). Jobs marked `must` (closing, syncing: small, one per
 * file) are always taken.
 *
 * new/submit/collect: the worker (or the main thread before the worker
 * runs, or after it is gone). run(): the job's lane. done(): the thread
 * that calls iothread_collect(), after wake() said there is something.
 */
#ifndef TRANSCRIBE_IOTHREAD_H
#define TRANSCRIBE_IOTHREAD_H

#include <stdbool.h>
#include <stddef.h>

#include <spa/utils/defs.h>
#include <spa/utils/list.h>

/* What may wait for the disk at once: ~4 min of 16 kHz mono audio or
 * hours of journal lines. */
#define IOTHREAD_MAX_BYTES	(8u << 20)

enum iothread_lane {
	IOTHREAD_DATA,
	IOTHREAD_SYNC,
	IOTHREAD_N_LANES,
};

struct iothread_job {
	struct spa_list link;
	size_t bytes;			/* counted against the bound while queued */
	bool must;			/* taken even when the queue is full */
	bool wake;			/* wake() after run(), also without done() */
	/* The lane's thread. Without done() the job is the run()'s own from
	 * here (it may free it or submit it on). */
	void (*run)(struct iothread_job *job);
	/* NULL, or called from iothread_collect() once run() returned; may
	 * free the job. */
	void (*done)(struct iothread_job *job);
};

struct iothread;

/* wake(data) is called from a lane's thread when a job with done() or
 * `wake` has finished (e.g. lws_cancel_service()). NULL with errno set on failure. */
struct iothread *iothread_new(void (*wake)(void *data), void *data);
/* 0, or -EAGAIN: the queue is full (not for `must` jobs), or -ESHUTDOWN:
 * iothread_stop_async() was called before. The job is not taken then. */
int iothread_submit(struct iothread *io, enum iothread_lane lane, struct iothread_job *job);
/* done() of every finished job, on the calling thread. Returns how many
 * jobs finished with done() or `wake` since the last call (> 0: what the
 * lanes did may let the caller go on, e.g. a read-ahead is in). */
unsigned iothread_collect(struct iothread *io);
/* No wake() from here on (none is under way when it returns): before
 * what wake() uses goes (the lws context). NULL is ignored. */
void iothread_mute(struct iothread *io);
/* Bytes waiting in both lanes (the bench's and the logs' view). */
size_t iothread_queued_bytes(struct iothread *io);

/* Asks both lanes to finish what is queued (every line written, synced
 * and closed) and end. Returns at once: stopped(data) is called from the
 * last lane's thread as it exits (e.g. pw_loop_invoke() to the main loop,
 * which then calls iothread_free() without waiting). stopped may be NULL.
 * Submits after this are refused. */
void iothread_stop_async(struct iothread *io, void (*stopped)(void *data), void *data);
/* Joins the lanes (at once after stopped() came; else waits for the queued
 * I/O) and calls done() of what finished. Stops them first if not asked
 * yet. NULL is ignored. */
void iothread_free(struct iothread *io);

#endif
