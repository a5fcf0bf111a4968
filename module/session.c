/* Sans-IO session state machine: the connection's life, its attempts and
 * failures, and the dispatch of every event (see session.h and DESIGN.md
 * §5). Ending a connection and the user's calls are in session-end.c, what
 * keeps a live connection honest in session-live.c, what the machine emits
 * in session-actions.c. */
#include "session-internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the socket ---- */

/* abort: the socket is suspect (half-open, failed): drop it without a
 * close handshake. Either way its successor opens only once it is gone. */
void session_close_connection(struct session *s, int code, bool abort)
{
	struct session_action *a;

	if (s->conn_id == 0)
		return;
	if (s->socket_requested) {
		a = session_push(s, SESSION_ACT_CLOSE);
		a->id = s->conn_id;
		a->code = code;
		a->abort = abort;
		s->closing_conn = s->conn_id;
		s->closing_since = s->now;
	}
	s->socket_requested = false;
	s->open_deferred = false;
	s->conn_id = 0;
	s->opened = false;
	s->drain = DRAIN_NONE;
	s->end_sent = false;
	s->finished = false;
	session_cancel(s, SESSION_TIMER_CONNECT);
	session_cancel(s, SESSION_TIMER_DRAIN);
	session_cancel(s, SESSION_TIMER_ROLLOVER);
	live_stop(s);
	session_publish(s);
}

/* The peer or the network ended it: there is nothing left to close. */
static void connection_gone(struct session *s)
{
	s->socket_requested = false;
	session_close_connection(s, 0, true);
}

static void open_socket(struct session *s)
{
	struct session_action *a;

	s->conn_id = ++s->next_conn_id;
	s->opened = false;
	s->progressed = false;
	s->progress_mark = 0;
	if (s->closing_conn != 0) {
		/* One socket per tap: the previous one is still going away. */
		s->open_deferred = true;
		session_log(s, SESSION_LOG_DEBUG, "open waits for conn %" PRIu64 " to close", s->closing_conn);
		return;
	}
	a = session_push(s, SESSION_ACT_OPEN);
	a->id = s->conn_id;
	a->index = s->address;
	s->socket_requested = true;
	session_log(s, SESSION_LOG_DEBUG, "open address=%u/%u", s->address + 1, s->n_addresses);
}

/* counts: a new try after a failure; a restart (network change) or a new
 * connection after a clean end is not one. */
void session_begin_attempt(struct session *s, bool counts, const char *reason)
{
	struct session_action *a;

	session_cancel(s, SESSION_TIMER_RETRY);
	session_cancel(s, SESSION_TIMER_RESUME);
	if (counts || s->attempt == 0)
		s->attempt++;
	s->attempt_id++;
	s->n_addresses = 0;
	s->address = 0;
	session_set_state(s, SESSION_CONNECTING, reason);
	session_set_audio(s, SESSION_AUDIO_KEEP);
	session_log(s, SESSION_LOG_INFO, "connect attempt_id=%" PRIu64 " reason=\"%s\"", s->attempt_id, reason);
	/* One deadline covers credentials, TCP, TLS, upgrade and readiness. */
	session_arm_in(s, SESSION_TIMER_CONNECT, s->cfg.connect_timeout_ms);
	a = session_push(s, SESSION_ACT_FETCH_CREDS);
	a->id = s->attempt_id;
	a->refresh = s->refresh_next;
	s->refresh_next = false;
	session_publish(s);
}

void session_reopen(struct session *s, const char *reason)
{
	session_begin_attempt(s, false, reason);
}

void session_wait_for_resume(struct session *s, const char *reason)
{
	session_cancel(s, SESSION_TIMER_RETRY);
	session_cancel(s, SESSION_TIMER_CONNECT);
	session_set_state(s, SESSION_RECONNECTING, reason);
	/* CLOCK_MONOTONIC stands still while the system sleeps: this only
	 * fires if the resume signal got lost (the system bus went away). */
	session_arm_in(s, SESSION_TIMER_RESUME, s->cfg.resume_timeout_ms);
}

static void schedule_retry(struct session *s, enum err_class cls, int64_t retry_after_ms)
{
	uint64_t delay;
	bool offline = s->attempt >= s->cfg.fast_attempts;

	if (cls == ERR_TRANSIENT_NOW && !offline && retry_after_ms <= 0) {
		session_begin_attempt(s, true, "retry at once");
		return;
	}
	if (offline) {
		/* Slow probes, jittered ±50 % so a fleet does not probe in step. */
		delay = s->cfg.offline_probe_ms / 2 + session_random(s) % (s->cfg.offline_probe_ms + 1);
		session_set_state(s, SESSION_OFFLINE, s->error);
	} else {
		delay = session_backoff_ms(&s->cfg, s->attempt + 1, session_random(s));
		session_set_state(s, SESSION_RECONNECTING, s->error);
	}
	if (retry_after_ms > 0)
		delay = SPA_MAX(delay, (uint64_t)retry_after_ms);
	session_log(s, SESSION_LOG_INFO, "next attempt in %" PRIu64 " ms%s", delay,
			retry_after_ms > 0 ? " (Retry-After)" : "");
	session_arm_in(s, SESSION_TIMER_RETRY, delay);
	session_publish(s);
}

static void fail_fatal(struct session *s, const char *why)
{
	char text[SESSION_TEXT_MAX];

	/* why may be s->error itself: copy before writing it. */
	snprintf(text, sizeof(text), "%s", why && *why ? why : "failed");
	snprintf(s->error, sizeof(s->error), "%s", text);
	session_close_connection(s, 1000, true);
	session_cancel(s, SESSION_TIMER_RETRY);
	session_cancel(s, SESSION_TIMER_RESUME);
	session_set_state(s, SESSION_FAILED, text);
	session_answer_all(s, SESSION_ANSWER_ERROR, text);
}

/* The one place a failed or lost connection is decided. */
void session_failure(struct session *s, enum err_class cls, int64_t retry_after_ms, const char *what)
{
	char why[SESSION_TEXT_MAX];

	if (s->drain == DRAIN_STOP) {
		/* Stopping anyway: a failure only ends it sooner. */
		session_log(s, SESSION_LOG_WARN, "failure while stopping error=\"%s\"", what ? what : "");
		session_finish_drain(s, "failed while stopping", true);
		return;
	}
	/* A connection that streamed long enough counts as progress. */
	live_counts_as_progress(s);
	snprintf(why, sizeof(why), "%s", what && *what ? what : "connection failed");
	snprintf(s->error, sizeof(s->error), "%s", why);
	session_log(s, SESSION_LOG_WARN, "failure class=%s error=\"%s\"", err_class_name(cls), s->error);
	session_close_connection(s, 1000, true);
	if (s->suspended && cls != ERR_FATAL) {
		session_wait_for_resume(s, "system going to sleep");
		return;
	}
	switch (cls) {
	case ERR_FATAL:
		fail_fatal(s, s->error);
		return;
	case ERR_AUTH:
		if (s->auth_refreshed) {
			snprintf(why, sizeof(why), "credentials refused again after a refresh: %.260s", s->error);
			fail_fatal(s, why);
			return;
		}
		/* One refresh, at once: a temporary key may just have expired. */
		s->auth_refreshed = true;
		s->refresh_next = true;
		session_begin_attempt(s, true, "credentials refused; refreshing once");
		return;
	default:
		schedule_retry(s, cls, retry_after_ms);
		return;
	}
}

static bool is_current(const struct session *s, uint64_t conn)
{
	return conn != 0 && conn == s->conn_id;
}

static void on_ready(struct session *s)
{
	session_cancel(s, SESSION_TIMER_CONNECT);
	s->ready_at = s->now;
	/* Not progress: a service may accept the config and refuse right
	 * after; the attempt counter waits for real progress (I5). What is
	 * published (attempt 0, no error) says streaming all the same. */
	s->error[0] = '\0';
	session_set_state(s, SESSION_STREAMING, "service ready");
	session_answer_all(s, SESSION_ANSWER_READY, NULL);
	live_on_ready(s);
}

/* ---- user events ---- */

/* ---- timers ---- */

static void on_timer(struct session *s, enum session_timer t)
{
	/* A timer we cancelled or re-armed since is stale. */
	if (t >= SESSION_N_TIMERS || s->timer_at[t] == 0 || s->timer_at[t] > s->now)
		return;
	s->timer_at[t] = 0;
	switch (t) {
	case SESSION_TIMER_RETRY:
		if (s->state == SESSION_RECONNECTING || s->state == SESSION_OFFLINE)
			session_begin_attempt(s, true, s->state == SESSION_OFFLINE ? "offline probe" : "backoff elapsed");
		break;
	case SESSION_TIMER_CONNECT:
		if (s->open_deferred) {
			/* The transport never confirmed the old socket went; do
			 * not wait on it forever (I1's bounded escape). */
			session_log(s, SESSION_LOG_WARN, "conn %" PRIu64 " not released in time", s->closing_conn);
			s->closing_conn = 0;
		}
		if (s->state == SESSION_CONNECTING) {
			char why[96];
			snprintf(why, sizeof(why), "no connection within %u ms", s->cfg.connect_timeout_ms);
			session_failure(s, ERR_TRANSIENT, 0, why);
		}
		break;
	case SESSION_TIMER_DRAIN:
		if (s->drain == DRAIN_NONE)
			break;
		session_finish_drain(s, s->finished ? "end of stream acknowledged" : s->end_sent ?
				"end of stream not acknowledged in time" :
				"the backlog could not be sent in time", false);
		break;
	case SESSION_TIMER_WAITERS:
		session_expire_waiters(s);
		break;
	case SESSION_TIMER_RESUME:
		if (s->suspended) {
			session_log(s, SESSION_LOG_WARN, "no resume signal within %u ms of the sleep; "
					"reconnecting", s->cfg.resume_timeout_ms);
			session_resume(s, "resume signal missing");
		}
		break;
	case SESSION_TIMER_HOLD:
		if (s->state == SESSION_STOPPED)
			session_set_audio(s, SESSION_AUDIO_DISCARD);
		break;
	default:
		live_timer(s, t);
		break;
	}
}

/* ---- system events ---- */

static void on_network(struct session *s)
{
	if (s->suspended)
		return;
	switch (s->state) {
	case SESSION_RECONNECTING:
	case SESSION_OFFLINE:
		if (s->state == SESSION_OFFLINE)
			s->attempt = s->cfg.fast_attempts - 1;
		session_begin_attempt(s, true, "network changed");
		break;
	case SESSION_CONNECTING:
		if (s->opened)
			break;
		/* A socket or a lookup begun on the old path may wait out the
		 * whole connect timeout: start over now (I11). */
		session_close_connection(s, 1000, true);
		session_begin_attempt(s, false, "network changed while connecting");
		break;
	case SESSION_STREAMING:
	case SESSION_STOPPING:
		live_on_network(s);
		break;
	default:
		break;
	}
}

/* ---- connection events ---- */

static void on_creds(struct session *s, const struct session_event *ev)
{
	if (s->state != SESSION_CONNECTING || ev->id != s->attempt_id || s->conn_id != 0)
		return;		/* a late answer for an attempt that is over */
	if (ev->type == SESSION_EV_CREDS_FAILED) {
		session_failure(s, ev->cls != ERR_NONE ? ev->cls : ERR_TRANSIENT, ev->retry_after_ms,
				ev->message);
		return;
	}
	s->n_addresses = SPA_MAX(ev->count, 1u);
	s->address = 0;
	open_socket(s);
}

static void on_connect_failed(struct session *s, const struct session_event *ev)
{
	enum err_class cls = ev->cls != ERR_NONE ? ev->cls :
		ev->http_status ? session_classify_http(ev->http_status) : ERR_TRANSIENT;

	s->socket_requested = false;	/* that socket is gone already */
	if (s->state != SESSION_CONNECTING)
		return;
	if (ev->http_status == 0 && cls == ERR_TRANSIENT && s->address + 1 < s->n_addresses) {
		/* Every address of the name gets its chance within the
		 * connect deadline. */
		session_log(s, SESSION_LOG_INFO, "address %u/%u failed (%s); trying the next",
				s->address + 1, s->n_addresses, ev->message ? ev->message : "");
		s->address++;
		s->conn_id = 0;
		open_socket(s);
		return;
	}
	session_failure(s, cls, ev->retry_after_ms, ev->message);
}

static void on_closed(struct session *s, const struct session_event *ev)
{
	char why[SESSION_TEXT_MAX];
	enum err_class cls = session_classify_close(ev->code);

	snprintf(why, sizeof(why), "connection closed (code %d%s%.200s)", ev->code,
			ev->message && *ev->message ? ": " : "", ev->message ? ev->message : "");
	if (s->finished)
		snprintf(why, sizeof(why), "end of stream acknowledged");
	if (s->drain != DRAIN_NONE && (s->drain == DRAIN_STOP || ev->code == 1000 || s->end_sent)) {
		/* The end was under way and the peer closed: finish it the way
		 * it was meant (nothing is left to close). */
		s->socket_requested = false;
		session_finish_drain(s, why, false);
		return;
	}
	live_counts_as_progress(s);
	connection_gone(s);
	if (s->state == SESSION_CONNECTING || s->state == SESSION_STREAMING)
		session_failure(s, cls, 0, why);
}

static void on_opened(struct session *s)
{
	/* A duplicate for the current socket changes nothing. */
	if (s->state != SESSION_CONNECTING || s->opened || !s->socket_requested)
		return;
	s->opened = true;
	session_log(s, SESSION_LOG_DEBUG, "upgraded");
	session_push(s, SESSION_ACT_SEND_CONFIG)->id = s->conn_id;
	live_start(s);
	if (s->cfg.ready_on_open)
		on_ready(s);
}

static void on_service_error(struct session *s, const struct session_event *ev)
{
	char why[SESSION_TEXT_MAX];

	if (s->drain == DRAIN_STOP) {
		session_finish_drain(s, "service error while stopping", true);
		return;
	}
	snprintf(why, sizeof(why), "%s", ev->message && *ev->message ? ev->message :
			"the service reported an error");
	session_failure(s, ev->cls != ERR_NONE ? ev->cls : ERR_TRANSIENT, ev->retry_after_ms, why);
}

/* The end of stream is out, or acknowledged (the service closes next: let
 * it, so it has let the socket go before the next one comes, I1 as the
 * server sees it): either way the drain deadline starts again. */
static void on_drain_step(struct session *s, bool *step)
{
	if (s->drain == DRAIN_NONE || *step)
		return;
	*step = true;
	session_arm_in(s, SESSION_TIMER_DRAIN, s->cfg.stop_timeout_ms);
}

static void on_conn_event(struct session *s, const struct session_event *ev)
{
	switch (ev->type) {
	case SESSION_EV_OPENED:
		on_opened(s);
		break;
	case SESSION_EV_READY:
		if (s->state == SESSION_CONNECTING && s->opened)
			on_ready(s);
		break;
	case SESSION_EV_CONNECT_FAILED:
		on_connect_failed(s, ev);
		break;
	case SESSION_EV_SERVICE_ERROR:
		on_service_error(s, ev);
		break;
	case SESSION_EV_CLOSED:
		on_closed(s, ev);
		break;
	case SESSION_EV_FINISHED:
		on_drain_step(s, &s->finished);
		break;
	case SESSION_EV_END_SENT:
		on_drain_step(s, &s->end_sent);
		break;
	case SESSION_EV_MESSAGE:
		live_on_message(s, ev);
		break;
	case SESSION_EV_AUDIO_SENT:
		live_on_audio_sent(s, ev->voiced);
		break;
	case SESSION_EV_PONG:
		live_on_pong(s, ev->seq);
		break;
	case SESSION_EV_RESYNC:
		if (s->state != SESSION_STREAMING || s->drain != DRAIN_NONE)
			break;
		/* Words were dropped: the next connection hears them again. */
		session_close_connection(s, 1000, false);
		session_begin_attempt(s, false, "words dropped: replaying from the committed position");
		break;
	default:
		break;
	}
}

static bool is_conn_event(enum session_event_type t)
{
	switch (t) {
	case SESSION_EV_CONNECT_FAILED:
	case SESSION_EV_OPENED:
	case SESSION_EV_READY:
	case SESSION_EV_MESSAGE:
	case SESSION_EV_SERVICE_ERROR:
	case SESSION_EV_CLOSED:
	case SESSION_EV_FINISHED:
	case SESSION_EV_AUDIO_SENT:
	case SESSION_EV_END_SENT:
	case SESSION_EV_PONG:
	case SESSION_EV_RESYNC:
		return true;
	default:
		return false;
	}
}

static void on_released(struct session *s, uint64_t conn)
{
	if (conn == 0 || conn != s->closing_conn)
		return;
	s->closing_conn = 0;
	if (s->open_deferred && s->conn_id != 0 && s->state == SESSION_CONNECTING) {
		struct session_action *a = session_push(s, SESSION_ACT_OPEN);
		a->id = s->conn_id;
		a->index = s->address;
		s->socket_requested = true;
		session_log(s, SESSION_LOG_DEBUG, "open address=%u/%u", s->address + 1, s->n_addresses);
	}
	s->open_deferred = false;
	session_publish(s);
}

static void dispatch(struct session *s, const struct session_event *ev)
{
	switch (ev->type) {
	case SESSION_EV_START:
		session_on_start(s);
		break;
	case SESSION_EV_STOP:
		if (s->state != SESSION_STOPPED && s->state != SESSION_STOPPING)
			session_on_stop(s);
		break;
	case SESSION_EV_RECONNECT:
		session_on_reconnect(s);
		break;
	case SESSION_EV_FINALIZE:
		if (s->state == SESSION_STREAMING && s->drain == DRAIN_NONE && session_can_send(s))
			live_finalize(s, "finalize requested");
		else
			session_log(s, SESSION_LOG_INFO, "finalize requested while not streaming: nothing to do");
		break;
	case SESSION_EV_WAIT:
		session_on_wait(s, ev->id, ev->timeout_ms);
		break;
	case SESSION_EV_CREDS_READY:
	case SESSION_EV_CREDS_FAILED:
		on_creds(s, ev);
		break;
	case SESSION_EV_RELEASED:
		on_released(s, ev->id);
		break;
	case SESSION_EV_AUDIO:
		live_on_audio(s, ev->voiced);
		break;
	case SESSION_EV_TIMER:
		on_timer(s, ev->timer);
		break;
	case SESSION_EV_NETWORK_CHANGED:
		on_network(s);
		break;
	case SESSION_EV_SUSPENDING:
		session_on_suspending(s);
		break;
	case SESSION_EV_RESUMED:
		if (s->suspended)
			session_resume(s, "resumed from sleep");
		break;
	default:
		break;
	}
}

void session_handle(struct session *s, uint64_t now_ms, const struct session_event *ev,
		struct session_actions *out)
{
	out->n = 0;
	s->out = out;
	s->now = SPA_MAX(now_ms, s->now);

	if (!is_conn_event(ev->type)) {
		dispatch(s, ev);
	} else if (is_current(s, ev->id)) {
		on_conn_event(s, ev);
	} else if (ev->type == SESSION_EV_OPENED && ev->id != 0 && ev->id <= s->next_conn_id) {
		/* A callback for another connection than the current one only
		 * ever gets that socket closed (if it is somehow still open). */
		struct session_action *a = session_push(s, SESSION_ACT_CLOSE);
		a->id = ev->id;
		a->code = 1000;
		a->abort = true;
	}
	s->out = NULL;
}

struct session *session_new(const struct session_config *cfg)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = *cfg;
	snprintf(s->tap, sizeof(s->tap), "%s", cfg->tap ? cfg->tap : "-");
	snprintf(s->session_id, sizeof(s->session_id), "%s", cfg->session_id ? cfg->session_id : "-");
	s->cfg.tap = s->tap;
	s->cfg.session_id = s->session_id;
	s->cfg.fast_attempts = SPA_MAX(cfg->fast_attempts, 1u);
	s->rng = cfg->seed ? cfg->seed : 0x9E3779B97F4A7C15ULL;
	s->state = SESSION_IDLE;
	return s;
}

void session_free(struct session *s)
{
	free(s);
}

void session_get_status(const struct session *s, uint64_t now_ms, struct session_status *st)
{
	uint64_t retry = s->timer_at[SESSION_TIMER_RETRY];

	memset(st, 0, sizeof(*st));
	st->state = s->state;
	st->attempt = s->state == SESSION_STREAMING ? 0 : s->attempt;
	st->max_attempts = s->cfg.fast_attempts;
	st->next_retry_ms = retry == 0 ? -1 : (int64_t)(retry - SPA_MIN(retry, now_ms));
	snprintf(st->error, sizeof(st->error), "%s", s->error);
	st->conn = s->conn_id;
	st->audio_conn = s->state == SESSION_STREAMING && s->drain == DRAIN_NONE &&
		session_can_send(s) ? s->conn_id : 0;
	st->sockets = (s->socket_requested ? 1 : 0) + (s->closing_conn != 0 ? 1 : 0);
	st->audio = s->audio;
}
