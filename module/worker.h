/* The worker thread: owns the network, files and time.
 *
 * Runs the libwebsockets service loop (lws 4.1 cannot run on a foreign loop):
 * it wakes on the eventfd the RT side writes and on a fallback timer, drains
 * every capture, and runs each tap's session shell. A helper thread does the
 * calls that block (DNS, credentials). worker_new/add/start/destroy:
 * main thread only.
 */
#ifndef TRANSCRIBE_WORKER_H
#define TRANSCRIBE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct capture;
struct transcribe_config;

/* poll_ms: fallback drain period (picks up audio below the wake threshold);
 * stats_ms: how often per-tap capture figures are logged. cfg must outlive
 * the worker. */
struct worker *worker_new(const struct transcribe_config *cfg, uint32_t poll_ms,
		uint32_t stats_ms, char *err, size_t err_size);
/* Eventfd the rings write to wake the worker (owned by the worker). */
int worker_wake_fd(const struct worker *w);
/* Before worker_start(): the worker drains c until worker_destroy() and, when
 * a service is configured, streams it to the service. */
int worker_add_capture(struct worker *w, struct capture *c, char *err, size_t err_size);
int worker_start(struct worker *w);

struct publish_queue;
/* Before worker_start(): each tap with a session publishes to q (its index
 * is the order of worker_add_capture()). */
void worker_set_output(struct worker *w, struct publish_queue *q);

enum worker_cmd {
	WORKER_CMD_START,
	WORKER_CMD_STOP,	/* finalize, close; the tap stays */
	WORKER_CMD_RECONNECT,	/* skip the backoff wait */
	WORKER_CMD_FINALIZE,
	WORKER_CMD_WAIT,	/* answered through the output, exactly once */
};

struct worker_command {
	enum worker_cmd cmd;
	uint32_t tap;
	uint64_t waiter;	/* WAIT */
	uint32_t timeout_ms;	/* WAIT */
};

/* Any thread: queued for the worker. -ENOTSUP: the tap has no session
 * (capture only); -EBUSY: too many commands waiting. */
int worker_command(struct worker *w, const struct worker_command *cmd);
/* Asks the thread to finish: sessions finalize and close (bounded by its
 * own grace), the helper's job ends, the network side is freed on that
 * thread. Waits up to wait_ms for it; call it once nothing writes the
 * rings any more (streams deactivated). release(data) is called exactly
 * once, after the worker let go of everything the caller lent it (cfg,
 * captures, rings): here (returns true) when the thread ended in time or
 * never ran, else on the worker thread when it ends (returns false; the
 * worker then frees itself, and the module's code must stay mapped). */
bool worker_destroy(struct worker *w, uint32_t wait_ms, void (*release)(void *data), void *data);

#endif
