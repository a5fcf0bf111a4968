/* The worker's network and sleep awareness: netwatch's events (network
 * changed, suspending, resumed) to every session, and the sleep lock held
 * until they closed cleanly. Worker thread only. */
#include "worker-internal.h"

#include <unistd.h>

#include <pipewire/log.h>

#include "clock.h"
#include "session-shell.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

static void notify_all(struct worker *w, enum session_event_type type)
{
	for (uint32_t i = 0; i < w->n_captures; i++)
		if (w->shells[i] != NULL)
			shell_event(w->shells[i], &(struct session_event){ .type = type });
}

/* Sleep waits until every session closed cleanly, or the grace ran out. */
static void on_sleep_check(lws_sorted_usec_list_t *sul)
{
	struct worker *w = lws_container_of(sul, struct worker, sleep_sul);
	bool open = false;

	for (uint32_t i = 0; i < w->n_captures; i++)
		if (w->shells[i] != NULL && shell_has_socket(w->shells[i]))
			open = true;
	if (open && clock_now_ms() < w->sleep_deadline) {
		lws_sul_schedule(w->ctx, 0, &w->sleep_sul, on_sleep_check, 50 * LWS_US_PER_MS);
		return;
	}
	pw_log_info("sessions closed for sleep; releasing the sleep lock");
	netwatch_release_sleep_lock(w->netwatch);
}

static void on_net_due(lws_sorted_usec_list_t *sul)
{
	worker_net_process(lws_container_of(sul, struct worker, net_sul));
}

void worker_net_process(struct worker *w)
{
	int ev = netwatch_process(w->netwatch, clock_now_ms());
	uint64_t due;

	if (ev & NETWATCH_NETWORK_CHANGED) {
		pw_log_info("network changed: sessions in backoff retry now, streaming ones check the path");
		notify_all(w, SESSION_EV_NETWORK_CHANGED);
	}
	if (ev & NETWATCH_SUSPENDING) {
		pw_log_info("system going to sleep: finalizing and closing sessions");
		notify_all(w, SESSION_EV_SUSPENDING);
		w->sleep_deadline = clock_now_ms() + WORKER_SLEEP_GRACE_MS;
		on_sleep_check(&w->sleep_sul);
	}
	if (ev & NETWATCH_RESUMED) {
		pw_log_info("system resumed: reconnecting");
		notify_all(w, SESSION_EV_RESUMED);
	}
	if (ev & NETWATCH_FDS_CHANGED) {
		worker_net_adopt_fds(w);
		/* The system bus is gone: a resume signal will never come. */
		notify_all(w, SESSION_EV_RESUMED);
	}
	due = netwatch_next_due_ms(w->netwatch);
	if (due != 0) {
		uint64_t now = clock_now_ms();
		lws_sul_schedule(w->ctx, 0, &w->net_sul, on_net_due,
				(lws_usec_t)(due > now ? due - now : 0) * LWS_US_PER_MS);
	}
}

int worker_net_callback(struct lws *wsi, enum lws_callback_reasons reason,
		void *user, void *in, size_t len)
{
	struct worker *w = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (w->netwatch != NULL)
			worker_net_process(w);
		worker_poll_wake(w);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		for (int i = 0; i < 2; i++)
			if (w->net_wsi[i] == wsi)
				w->net_wsi[i] = NULL;
		break;
	default:
		break;
	}
	return 0;
}

void worker_net_log(void *data, enum netwatch_log_level level, const char *msg)
{
	if (level == NETWATCH_LOG_WARN)
		pw_log_warn("netwatch: %s", msg);
	else if (level == NETWATCH_LOG_INFO)
		pw_log_info("netwatch: %s", msg);
	else
		pw_log_debug("netwatch: %s", msg);
}

/* lws closes what it adopts; netwatch keeps its own fds: adopt dup()s. */
void worker_net_adopt_fds(struct worker *w)
{
	lws_sock_file_fd_type fd;
	int fds[2], n;

	for (int i = 0; i < 2; i++) {
		if (w->net_wsi[i] != NULL)
			lws_set_timeout(w->net_wsi[i], PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		w->net_wsi[i] = NULL;
	}
	n = netwatch_fds(w->netwatch, fds);
	for (int i = 0; i < n && i < 2; i++) {
		if ((fd.filefd = dup(fds[i])) < 0)
			continue;
		w->net_wsi[i] = lws_adopt_descriptor_vhost(lws_get_vhost_by_name(w->ctx, "default"),
				LWS_ADOPT_RAW_FILE_DESC, fd, "transcribe-net", NULL);
		if (w->net_wsi[i] == NULL)
			close(fd.filefd);
	}
}

