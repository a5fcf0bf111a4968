/* The worker's insides, shared by worker.c (thread, commands, teardown)
 * and worker-net.c (network and sleep events). Worker thread only unless
 * a field says otherwise. */
#ifndef TRANSCRIBE_WORKER_INTERNAL_H
#define TRANSCRIBE_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "config.h"
#include "netwatch.h"
#include "worker.h"

/* Sessions get this long to finalize after a stop before the thread ends. */
#define WORKER_STOP_GRACE_MS	4000
/* A burst of network changes is acted on this long after its last message. */
#define WORKER_NET_DEBOUNCE_MS	300
/* Before sleep, sessions get this long to finalize before the lock goes. */
#define WORKER_SLEEP_GRACE_MS	2000
/* After this many poll ticks without audio or a socket, the poll timer
 * rests until audio, a command or a socket comes (an idle daemon is not
 * woken ten times a second for nothing). */
#define WORKER_QUIET_TICKS	20
/* Commands waiting for the worker; D-Bus callers get -EBUSY beyond. */
#define WORKER_MAX_COMMANDS	64

struct worker {
	struct lws_context *ctx;	/* created on main, serviced by the thread */
	struct lws *wake_wsi;
	int wake_fd;			/* owned by lws once adopted */
	pthread_t thread;
	bool running;			/* main thread only */
	atomic_bool stopping;
	lws_sorted_usec_list_t poll_sul;	/* worker thread only */
	uint32_t poll_ms;
	uint32_t stats_every;		/* in poll ticks */
	uint32_t ticks;
	uint32_t quiet_ticks;		/* worker thread only */
	uint64_t seen_frames;		/* captured + dropped, at the last tick */
	bool poll_resting;		/* worker thread only */
	uint32_t n_captures;
	struct capture *captures[CONFIG_MAX_TAPS];
	struct shell *shells[CONFIG_MAX_TAPS];	/* NULL: capture only */
	const struct transcribe_config *cfg;
	struct blocking *blocking;	/* helper thread */
	struct iothread *io;		/* journal and spool I/O; with blocking */
	struct netwatch *netwatch;	/* NULL: no network awareness */
	struct lws *net_wsi[2];		/* adopted dup()s of netwatch's fds */
	lws_sorted_usec_list_t net_sul;	/* debounce / bus deadlines */
	lws_sorted_usec_list_t sleep_sul;	/* lets the system sleep */
	uint64_t sleep_deadline;

	pthread_mutex_t cmd_lock;	/* any thread queues, the worker runs them */
	uint32_t n_cmds;
	struct worker_command cmds[WORKER_MAX_COMMANDS];

	struct publish_queue *out;	/* a reference of our own: we may outlive the reader */
	/* The end: the thread frees its own side, then says so; when the
	 * main thread stopped waiting (orphaned), the thread also calls
	 * release() and frees the worker. */
	pthread_mutex_t end_lock;
	pthread_cond_t end_cond;
	bool releasing;			/* under end_lock: ctx is going, wake no more */
	bool ended;			/* under end_lock */
	bool orphaned;			/* under end_lock */
	void (*release)(void *data);
	void *release_data;
};

/* Audio, a command, a helper's result, a network event or a socket: the
 * poll timer runs again if it rested. */
void worker_poll_wake(struct worker *w);

/* worker-net.c: netwatch's events to the sessions. */
void worker_net_process(struct worker *w);
/* lws closes what it adopts; netwatch keeps its own fds: adopts dup()s. */
void worker_net_adopt_fds(struct worker *w);
void worker_net_log(void *data, enum netwatch_log_level level, const char *msg);
int worker_net_callback(struct lws *wsi, enum lws_callback_reasons reason,
		void *user, void *in, size_t len);

#endif
