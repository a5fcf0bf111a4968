/* Worker thread on the libwebsockets service loop. */
#include "worker.h"
#include "worker-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <pipewire/log.h>

#include "blocking.h"
#include "capture.h"
#include "clock.h"
#include "config.h"
#include "iothread.h"
#include "netwatch.h"
#include "publish-queue.h"
#include "session-shell.h"
#include "transport.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic


static void drain_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_captures; i++)
		capture_drain(w->captures[i]);
}

static void log_stats(struct worker *w, const char *when)
{
	struct capture_stats s;

	for (uint32_t i = 0; i < w->n_captures; i++) {
		uint32_t rate = capture_rate(w->captures[i]);
		capture_get_stats(w->captures[i], &s);
		pw_log_info("tap=%s %s captured_ms=%" PRIu64 " dropped_ms=%" PRIu64 " drains=%" PRIu64
				" max_drain_gap_ms=%" PRIu64, capture_name(w->captures[i]), when,
				s.frames * 1000 / rate, s.dropped_frames * 1000 / rate, s.drains,
				s.max_drain_gap_ms);
	}
}

static bool any_socket(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_captures; i++)
		if (w->shells[i] != NULL && shell_has_socket(w->shells[i]))
			return true;
	return false;
}

static void on_poll_timer(lws_sorted_usec_list_t *sul)
{
	struct worker *w = lws_container_of(sul, struct worker, poll_sul);
	uint64_t frames = 0;

	drain_all(w);
	for (uint32_t i = 0; i < w->n_captures; i++) {
		struct capture_stats cs;
		capture_get_stats(w->captures[i], &cs);
		frames += cs.frames + cs.dropped_frames;
		if (w->shells[i] == NULL)
			continue;
		shell_set_ring_dropped(w->shells[i],
				cs.dropped_frames * 1000 / capture_rate(w->captures[i]));
		shell_tick(w->shells[i]);
	}
	if (w->stats_every > 0 && ++w->ticks % w->stats_every == 0)
		log_stats(w, "stats");
	w->quiet_ticks = frames != w->seen_frames || any_socket(w) ? 0 : w->quiet_ticks + 1;
	w->seen_frames = frames;
	if (w->quiet_ticks >= WORKER_QUIET_TICKS) {
		pw_log_debug("no audio and no socket: the poll timer rests");
		w->poll_resting = true;
		return;
	}
	lws_sul_schedule(w->ctx, 0, &w->poll_sul, on_poll_timer,
			(lws_usec_t)w->poll_ms * LWS_US_PER_MS);
}

/* Audio, a command, a helper's result, a network event or a socket. */
void worker_poll_wake(struct worker *w)
{
	if (!w->poll_resting)
		return;
	w->poll_resting = false;
	w->quiet_ticks = 0;
	lws_sul_schedule(w->ctx, 0, &w->poll_sul, on_poll_timer,
			(lws_usec_t)w->poll_ms * LWS_US_PER_MS);
}

static void run_commands(struct worker *w);

static int wake_callback(struct lws *wsi, enum lws_callback_reasons reason,
		void *user, void *in, size_t len)
{
	struct worker *w = lws_context_user(lws_get_context(wsi));
	uint64_t count;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (read(lws_get_socket_fd(wsi), &count, sizeof(count)) < 0 && errno != EAGAIN)
			pw_log_warn("worker wake-up read failed: %m");
		drain_all(w);
		worker_poll_wake(w);
		break;
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		return transport_cert_verified(wsi, user, len);
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* The helper finished a job, a command came or a stop was asked for. */
		if (w->blocking != NULL)
			blocking_collect(w->blocking);
		/* A spool read-ahead came in: what waited for it goes out. */
		if (w->io != NULL && iothread_collect(w->io) > 0)
			for (uint32_t i = 0; i < w->n_captures; i++)
				if (w->shells[i] != NULL)
					shell_tick(w->shells[i]);
		run_commands(w);
		worker_poll_wake(w);
		break;
	default:
		break;
	}
	return 0;
}

static struct lws_protocols protocols[] = {
	{ "transcribe-wake", wake_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },	/* transport_protocol, set at runtime */
	{ "transcribe-net", worker_net_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Stopped, and every socket they closed is gone. */
static bool all_stopped(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_captures; i++)
		if (w->shells[i] != NULL &&
		    (!shell_stopped(w->shells[i]) || shell_has_socket(w->shells[i])))
			return false;
	return true;
}

static void release_network(struct worker *w);
static void worker_free(struct worker *w);

/* The service loop failed under us: every tap says so (D-Bus, metadata,
 * journal), since nothing will drain its ring or run its session now. */
static void worker_died(struct worker *w, const char *why)
{
	for (uint32_t i = 0; i < w->n_captures; i++) {
		pw_log_error("tap=%s the worker thread ends: %s; the tap is deaf until the "
				"module is loaded again", capture_name(w->captures[i]), why);
		if (w->shells[i] != NULL)
			shell_died(w->shells[i], why);
	}
}

/* A debug build's way to make the service loop fail (tests only). */
static uint64_t test_death_at(void)
{
#ifdef TRANSCRIBE_TEST_HOOKS
	const char *ms = getenv("TRANSCRIBE_TEST_WORKER_DIE_MS");
	if (ms != NULL)
		return clock_now_ms() + strtoull(ms, NULL, 10);
#endif
	return 0;
}

static void *worker_thread(void *data)
{
	struct worker *w = data;
	uint64_t deadline = 0, death = test_death_at();
	bool orphaned;

	pthread_setname_np(pthread_self(), "pw-transcribe");
	on_poll_timer(&w->poll_sul);
	if (w->netwatch != NULL)
		worker_net_process(w);
	for (uint32_t i = 0; i < w->n_captures; i++)
		if (w->shells[i] != NULL)
			shell_event(w->shells[i], &(struct session_event){ .type = SESSION_EV_START });
	for (;;) {
		if (atomic_load_explicit(&w->stopping, memory_order_acquire)) {
			if (deadline == 0) {
				/* What was said gets finalized before we go. */
				drain_all(w);
				for (uint32_t i = 0; i < w->n_captures; i++)
					if (w->shells[i] != NULL)
						shell_event(w->shells[i],
								&(struct session_event){ .type = SESSION_EV_STOP });
				deadline = clock_now_ms() + WORKER_STOP_GRACE_MS;
			}
			if (all_stopped(w) || clock_now_ms() >= deadline)
				break;
		}
		if (lws_service(w->ctx, 0) < 0 || (death != 0 && clock_now_ms() >= death)) {
			if (!atomic_load_explicit(&w->stopping, memory_order_acquire))
				worker_died(w, "the worker's network loop (lws_service) failed");
			break;
		}
		/* A session's own timer opened a socket: it needs its ticks. */
		if (w->poll_resting && any_socket(w))
			worker_poll_wake(w);
	}
	lws_sul_cancel(&w->poll_sul);
	lws_sul_cancel(&w->net_sul);
	lws_sul_cancel(&w->sleep_sul);
	drain_all(w);
	log_stats(w, "stopped");
	/* Here, not on the main thread: the helper may still be in a key
	 * command, a temporary-key request or a lookup. */
	pthread_mutex_lock(&w->end_lock);
	w->releasing = true;
	pthread_mutex_unlock(&w->end_lock);
	release_network(w);
	pthread_mutex_lock(&w->end_lock);
	w->ended = true;
	orphaned = w->orphaned;
	pthread_cond_signal(&w->end_cond);
	pthread_mutex_unlock(&w->end_lock);
	if (orphaned) {
		pw_log_info("worker finished after the module let go of it");
		w->release(w->release_data);
		worker_free(w);
	}
	return NULL;
}

static void log_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && line[n - 1] == '\n')
		n--;
	if (level & LLL_ERR)
		pw_log_error("lws: %.*s", (int)n, line);
	else if (level & LLL_WARN)
		pw_log_warn("lws: %.*s", (int)n, line);
	else
		pw_log_debug("lws: %.*s", (int)n, line);
}

/* Any thread but the worker's own: its context may be going. */
static void wake_worker(struct worker *w)
{
	pthread_mutex_lock(&w->end_lock);
	if (!w->releasing)
		lws_cancel_service(w->ctx);
	pthread_mutex_unlock(&w->end_lock);
}

int worker_command(struct worker *w, const struct worker_command *cmd)
{
	int res = 0;

	if (cmd->tap >= w->n_captures || w->shells[cmd->tap] == NULL)
		return -ENOTSUP;
	pthread_mutex_lock(&w->cmd_lock);
	if (w->n_cmds == WORKER_MAX_COMMANDS)
		res = -EBUSY;
	else
		w->cmds[w->n_cmds++] = *cmd;
	pthread_mutex_unlock(&w->cmd_lock);
	if (res == 0)
		wake_worker(w);
	return res;
}

static void run_command(struct worker *w, const struct worker_command *c)
{
	static const enum session_event_type events[] = {
		[WORKER_CMD_START] = SESSION_EV_START,
		[WORKER_CMD_STOP] = SESSION_EV_STOP,
		[WORKER_CMD_RECONNECT] = SESSION_EV_RECONNECT,
		[WORKER_CMD_FINALIZE] = SESSION_EV_FINALIZE,
		[WORKER_CMD_WAIT] = SESSION_EV_WAIT,
	};

	shell_event(w->shells[c->tap], &(struct session_event){ .type = events[c->cmd],
			.id = c->waiter, .timeout_ms = c->timeout_ms });
}

/* Taken out under the lock, run without it: a shell may publish (and so
 * wake the main thread) while it runs. Once stopping, the module's own
 * stop is in charge; waiters get their answer from the stop. */
static void run_commands(struct worker *w)
{
	struct worker_command cmds[WORKER_MAX_COMMANDS];
	uint32_t n;

	pthread_mutex_lock(&w->cmd_lock);
	n = w->n_cmds;
	memcpy(cmds, w->cmds, n * sizeof(cmds[0]));
	w->n_cmds = 0;
	pthread_mutex_unlock(&w->cmd_lock);
	for (uint32_t i = 0; i < n; i++) {
		if (atomic_load_explicit(&w->stopping, memory_order_acquire) &&
		    cmds[i].cmd != WORKER_CMD_WAIT)
			continue;
		run_command(w, &cmds[i]);
	}
}

void worker_set_output(struct worker *w, struct publish_queue *q)
{
	publish_queue_ref(q);
	publish_queue_free(w->out);
	w->out = q;
	for (uint32_t i = 0; i < w->n_captures; i++)
		if (w->shells[i] != NULL)
			shell_set_output(w->shells[i], q, i);
}

static void wake_from_helper(void *data)
{
	struct worker *w = data;
	lws_cancel_service(w->ctx);
}

struct worker *worker_new(const struct transcribe_config *cfg, uint32_t poll_ms,
		uint32_t stats_ms, char *err, size_t err_size)
{
	struct lws_context_creation_info info;
	struct worker *w;
	lws_sock_file_fd_type fd;
	pthread_condattr_t ca;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, err_size, "worker: out of memory");
		return NULL;
	}
	w->cfg = cfg;
	w->poll_ms = poll_ms;
	w->stats_every = poll_ms > 0 ? stats_ms / poll_ms : 0;
	atomic_init(&w->stopping, false);
	pthread_mutex_init(&w->cmd_lock, NULL);
	pthread_mutex_init(&w->end_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->end_cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		snprintf(err, err_size, "worker: eventfd: %s", strerror(errno));
		free(w);
		return NULL;
	}

	/* Process-wide, and lws keeps no way to restore the previous one: the
	 * callback stays installed after an unload, and stays valid because
	 * the module is never unmapped (-z nodelete, module/meson.build). */
	lws_set_log_level(LLL_ERR | LLL_WARN, log_emit);
	memset(&info, 0, sizeof(info));
	protocols[1] = transport_protocol;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* An extra CA (a test server's); verification itself always stays on. */
	if (cfg->service.ca_file[0] != '\0')
		info.client_ssl_ca_filepath = cfg->service.ca_file;
	info.user = w;
	/* Leave the host process's privileges alone (0 = do not change). */
	info.uid = 0;
	info.gid = 0;
	if ((w->ctx = lws_create_context(&info)) == NULL) {
		snprintf(err, err_size, "worker: libwebsockets context creation failed");
		close(w->wake_fd);
		free(w);
		return NULL;
	}
	fd.filefd = w->wake_fd;
	w->wake_wsi = lws_adopt_descriptor_vhost(lws_get_vhost_by_name(w->ctx, "default"),
			LWS_ADOPT_RAW_FILE_DESC, fd, protocols[0].name, NULL);
	if (w->wake_wsi == NULL) {
		snprintf(err, err_size, "worker: cannot watch the wake-up eventfd");
		close(w->wake_fd);
		lws_context_destroy(w->ctx);
		free(w);
		return NULL;
	}
	if (cfg->service.url[0] != '\0' && cfg->network_events) {
		char why[256];
		/* Without it the sessions still work, on their timers alone. */
		if ((w->netwatch = netwatch_new(true, WORKER_NET_DEBOUNCE_MS, why, sizeof(why))) == NULL) {
			pw_log_warn("network awareness off: %s", why);
		} else {
			netwatch_set_log(w->netwatch, worker_net_log, w);
			worker_net_adopt_fds(w);
		}
	}
	if (cfg->service.url[0] != '\0' &&
	    ((w->blocking = blocking_new(wake_from_helper, w)) == NULL ||
	     (w->io = iothread_new(wake_from_helper, w)) == NULL)) {
		snprintf(err, err_size, "worker: cannot start the helper or I/O thread: %s",
				strerror(errno));
		blocking_destroy(w->blocking);
		lws_context_destroy(w->ctx);
		free(w);
		return NULL;
	}
	if (cfg->service.embedded)
		pw_log_info("service=embedded url=%s: pw-transcribe-server, started on demand by "
				"pw-transcribe-server.socket (systemctl --user enable --now "
				"pw-transcribe-server.socket) or run by hand", cfg->service.url);
	return w;
}

int worker_wake_fd(const struct worker *w)
{
	return w->wake_fd;
}

static void feed_shell(void *data, const void *audio, uint32_t bytes)
{
	shell_audio(data, audio, bytes);
}

static void gap_to_shell(void *data, uint64_t at_ms, uint64_t len_ms, const char *reason)
{
	shell_gap(data, at_ms, len_ms, reason);
}

int worker_add_capture(struct worker *w, struct capture *c, char *err, size_t err_size)
{
	struct shell *sh = NULL;

	if (w->running || w->n_captures == CONFIG_MAX_TAPS) {
		snprintf(err, err_size, "worker: cannot add a tap now");
		return -EBUSY;
	}
	if (w->blocking != NULL) {
		sh = shell_new(capture_name(c), w->cfg, w->ctx, w->blocking, w->io, err, err_size);
		if (sh == NULL)
			return -EINVAL;
		capture_set_sink(c, feed_shell, gap_to_shell, sh);
	}
	w->shells[w->n_captures] = sh;
	w->captures[w->n_captures++] = c;
	return 0;
}

int worker_start(struct worker *w)
{
	int res;

	if ((res = pthread_create(&w->thread, NULL, worker_thread, w)) != 0)
		return -res;
	w->running = true;
	return 0;
}

/* Teardown order: the helper (its jobs still point at shells), then the
 * shells' timers and sockets, then lws (which closes the adopted eventfd
 * and any socket still open), then the shells themselves. On the worker
 * thread once it ran; on the caller's when it never started. */
static void release_network(struct worker *w)
{
	blocking_destroy(w->blocking);
	w->blocking = NULL;
	for (uint32_t i = 0; i < w->n_captures; i++)
		if (w->shells[i] != NULL)
			shell_shutdown(w->shells[i]);
	iothread_mute(w->io);		/* its wake-up is lws_cancel_service() */
	lws_context_destroy(w->ctx);
	w->ctx = NULL;
	netwatch_free(w->netwatch);
	w->netwatch = NULL;
	/* shells[] keep their (dangling) values: worker_command() reads them
	 * from other threads, and only compares them with NULL. */
	for (uint32_t i = 0; i < w->n_captures; i++)
		shell_free(w->shells[i]);
	/* The shells' journals and spools were handed to the I/O thread to
	 * close: joining it waits for their last fsync, here on the worker's
	 * own thread (an unload does not wait for it: see worker_destroy). */
	iothread_free(w->io);
	w->io = NULL;
	publish_queue_free(w->out);
	w->out = NULL;
}

static void worker_free(struct worker *w)
{
	pthread_cond_destroy(&w->end_cond);
	pthread_mutex_destroy(&w->end_lock);
	pthread_mutex_destroy(&w->cmd_lock);
	free(w);
}

/* Waits for the thread's end until the deadline; true: it ended. */
static bool wait_end(struct worker *w, uint32_t wait_ms)
{
	struct timespec deadline;
	bool ended;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->end_lock);
	while (!w->ended && pthread_cond_timedwait(&w->end_cond, &w->end_lock, &deadline) != ETIMEDOUT)
		;
	ended = w->ended;
	if (!ended) {
		w->orphaned = true;
		pthread_detach(w->thread);
	}
	pthread_mutex_unlock(&w->end_lock);
	return ended;
}

bool worker_destroy(struct worker *w, uint32_t wait_ms, void (*release)(void *data), void *data)
{
	if (w == NULL) {
		release(data);
		return true;
	}
	w->release = release;
	w->release_data = data;
	if (w->running) {
		atomic_store_explicit(&w->stopping, true, memory_order_release);
		wake_worker(w);
		if (!wait_end(w, wait_ms)) {
			pw_log_info("the worker is still finishing its sessions; it ends on its own");
			return false;
		}
		pthread_join(w->thread, NULL);
	} else {
		release_network(w);
	}
	release(data);
	worker_free(w);
	return true;
}
