/* The worker thread: owns the network, files and time.
 *
 * Runs the libwebsockets service loop (lws 4.1 cannot run on a foreign loop,
 * so the session's transport will live on this same loop). It wakes on the
 * eventfd the RT side writes and on a fallback timer, and drains every
 * capture. worker_new/add/start/stop/destroy: main thread only.
 */
#ifndef TRANSCRIBE_WORKER_H
#define TRANSCRIBE_WORKER_H

#include <stddef.h>
#include <stdint.h>

struct worker;
struct capture;

/* poll_ms: fallback drain period (picks up audio below the wake threshold);
 * stats_ms: how often per-tap capture figures are logged. */
struct worker *worker_new(uint32_t poll_ms, uint32_t stats_ms, char *err, size_t err_size);
/* Eventfd the rings write to wake the worker (owned by the worker). */
int worker_wake_fd(const struct worker *w);
/* Before worker_start(); the worker drains c until worker_stop(). */
int worker_add_capture(struct worker *w, struct capture *c);
int worker_start(struct worker *w);
/* Stops and joins the thread after one last drain. Call it only once
 * nothing writes the rings any more (streams deactivated). Idempotent. */
void worker_stop(struct worker *w);
void worker_destroy(struct worker *w);

#endif
