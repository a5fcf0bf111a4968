/* Sans-IO session state machine (see session.h and DESIGN.md §5). */
#include "session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spa/utils/defs.h>

struct waiter {
	uint64_t id;
	uint64_t deadline_ms;
};

struct session {
	struct session_config cfg;
	char tap[64];
	char session_id[64];
	enum session_state state;
	uint64_t rng;

	uint32_t attempt;		/* in the current run of failures, 1-based */
	uint64_t attempt_id;		/* every attempt ever, for credentials */
	uint64_t conn_id;		/* current connection, 0: none */
	uint64_t next_conn_id;
	uint64_t closing_conn;		/* closed by us, socket not yet gone */
	bool open_deferred;		/* OPEN waits for closing_conn to go */
	bool socket_requested;		/* OPEN was issued for conn_id */
	bool opened;			/* conn upgraded */
	bool auth_refreshed;		/* a 401-class failure already got its refresh */
	bool refresh_next;		/* next FETCH_CREDS is a refresh */
	bool suspended;
	char error[SESSION_TEXT_MAX];

	uint64_t timer_at[SESSION_N_TIMERS];	/* 0: not armed */
	uint32_t n_waiters;
	struct waiter waiters[SESSION_MAX_WAITERS];

	struct session_actions *out;	/* during session_handle() */
	uint64_t now;
};

static const char *const state_names[] = {
	[SESSION_IDLE] = "idle",
	[SESSION_CONNECTING] = "connecting",
	[SESSION_STREAMING] = "streaming",
	[SESSION_RECONNECTING] = "reconnecting",
	[SESSION_OFFLINE] = "offline",
	[SESSION_FAILED] = "failed",
	[SESSION_STOPPING] = "stopping",
	[SESSION_STOPPED] = "stopped",
};

static const char *const timer_names[] = {
	[SESSION_TIMER_RETRY] = "retry",
	[SESSION_TIMER_CONNECT] = "connect",
	[SESSION_TIMER_STALL] = "stall",
	[SESSION_TIMER_PING] = "ping",
	[SESSION_TIMER_STOP] = "stop",
	[SESSION_TIMER_WAITERS] = "waiters",
};

const char *session_state_name(enum session_state state)
{
	return state < SPA_N_ELEMENTS(state_names) ? state_names[state] : "unknown";
}

const char *session_timer_name(enum session_timer timer)
{
	return timer < SPA_N_ELEMENTS(timer_names) ? timer_names[timer] : "unknown";
}

/* xorshift64*: deterministic with a seed, good enough for jitter. */
static uint64_t next_random(struct session *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545F4914F6CDD1DULL;
}

uint64_t session_backoff_ms(const struct session_config *cfg, uint32_t n, uint64_t rnd)
{
	uint64_t ceiling;

	if (n <= 1)
		return 0;
	/* base·2^(n−2), saturating long before it could overflow. */
	ceiling = n - 2 >= 32 ? cfg->cap_ms : SPA_MIN((uint64_t)cfg->base_ms << (n - 2), (uint64_t)cfg->cap_ms);
	return rnd % (ceiling + 1);
}

enum err_class session_classify_close(int code)
{
	switch (code) {
	case 1001:		/* going away: the server is restarting */
	case 1012:		/* service restart */
		return ERR_TRANSIENT_NOW;
	case 1000:		/* not after our end of stream: unexpected */
	case 1002:		/* lws 4.1 turns a server's 1012–1014 into 1002 */
	case 1005:
	case 1006:
	case 1011:
	case 1013:
	case 1014:
	case 1015:
		return ERR_TRANSIENT;
	case 1008:
		return ERR_AUTH;
	case 1003:
	case 1007:
	case 1009:
	case 1010:
		return ERR_FATAL;
	default:
		return ERR_TRANSIENT;
	}
}

enum err_class session_classify_http(int status)
{
	switch (status) {
	case 401:
	case 403:
		return ERR_AUTH;
	case 400:
	case 402:
	case 404:
		return ERR_FATAL;
	case 408:
	case 429:
		return ERR_TRANSIENT;
	default:
		return status >= 500 ? ERR_TRANSIENT : ERR_FATAL;
	}
}

static struct session_action *push(struct session *s, enum session_action_type type)
{
	struct session_actions *o = s->out;
	struct session_action *a;

	/* The table is sized for the worst event; never overrun it. */
	if (o->n == SESSION_MAX_ACTIONS)
		return &o->a[SESSION_MAX_ACTIONS - 1];
	a = &o->a[o->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

static void logf_(struct session *s, enum session_log_level level, const char *fmt, ...)
	SPA_PRINTF_FUNC(3, 4);

/* Every line carries the correlation ids (DESIGN.md §10). */
static void logf_(struct session *s, enum session_log_level level, const char *fmt, ...)
{
	struct session_action *a = push(s, SESSION_ACT_LOG);
	va_list ap;
	int n;

	a->level = level;
	n = snprintf(a->text, sizeof(a->text), "tap=%s session=%s attempt=%u conn=%" PRIu64 " ",
			s->tap, s->session_id, s->attempt, s->conn_id);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(a->text))
		vsnprintf(a->text + n, sizeof(a->text) - n, fmt, ap);
	va_end(ap);
}

static void arm(struct session *s, enum session_timer t, uint64_t delay_ms)
{
	struct session_action *a = push(s, SESSION_ACT_ARM_TIMER);

	/* 0 means "not armed", so a deadline is never 0. */
	s->timer_at[t] = SPA_MAX(s->now + delay_ms, 1u);
	a->timer = t;
	a->at_ms = s->timer_at[t];
}

static void cancel(struct session *s, enum session_timer t)
{
	if (s->timer_at[t] == 0)
		return;
	s->timer_at[t] = 0;
	push(s, SESSION_ACT_CANCEL_TIMER)->timer = t;
}

static void publish(struct session *s)
{
	push(s, SESSION_ACT_PUBLISH);
}

static void set_state(struct session *s, enum session_state state, const char *reason)
{
	if (s->state == state)
		return;
	logf_(s, state == SESSION_FAILED ? SESSION_LOG_ERROR : SESSION_LOG_INFO,
			"state %s -> %s reason=\"%s\"", session_state_name(s->state),
			session_state_name(state), reason);
	s->state = state;
	publish(s);
}

static void answer(struct session *s, uint64_t waiter, enum session_answer ans, const char *text)
{
	struct session_action *a = push(s, SESSION_ACT_ANSWER);

	a->id = waiter;
	a->answer = ans;
	snprintf(a->text, sizeof(a->text), "%s", text ? text : "");
}

static void rearm_waiters(struct session *s)
{
	uint64_t earliest = UINT64_MAX;

	for (uint32_t i = 0; i < s->n_waiters; i++)
		earliest = SPA_MIN(earliest, s->waiters[i].deadline_ms);
	if (earliest == UINT64_MAX)
		cancel(s, SESSION_TIMER_WAITERS);
	else if (s->timer_at[SESSION_TIMER_WAITERS] != earliest)
		arm(s, SESSION_TIMER_WAITERS, earliest - SPA_MIN(earliest, s->now));
}

static void answer_all(struct session *s, enum session_answer ans, const char *text)
{
	for (uint32_t i = 0; i < s->n_waiters; i++)
		answer(s, s->waiters[i].id, ans, text);
	s->n_waiters = 0;
	cancel(s, SESSION_TIMER_WAITERS);
}

/* abort: the socket is suspect (half-open, failed): drop it without a
 * close handshake. Either way its successor opens only once it is gone. */
static void close_connection(struct session *s, int code, bool abort)
{
	struct session_action *a;

	if (s->conn_id == 0)
		return;
	if (s->socket_requested) {
		a = push(s, SESSION_ACT_CLOSE);
		a->id = s->conn_id;
		a->code = code;
		a->abort = abort;
		s->closing_conn = s->conn_id;
	}
	s->socket_requested = false;
	s->open_deferred = false;
	s->conn_id = 0;
	s->opened = false;
	cancel(s, SESSION_TIMER_CONNECT);
	cancel(s, SESSION_TIMER_STALL);
	cancel(s, SESSION_TIMER_PING);
}

static void drop_connection(struct session *s, int code)
{
	close_connection(s, code, true);
}

static void begin_attempt(struct session *s, const char *reason)
{
	struct session_action *a;

	cancel(s, SESSION_TIMER_RETRY);
	s->attempt++;
	s->attempt_id++;
	set_state(s, SESSION_CONNECTING, reason);
	logf_(s, SESSION_LOG_INFO, "connect attempt_id=%" PRIu64 " reason=\"%s\"", s->attempt_id, reason);
	/* One deadline covers credentials, TCP, TLS, upgrade and readiness. */
	arm(s, SESSION_TIMER_CONNECT, s->cfg.connect_timeout_ms);
	a = push(s, SESSION_ACT_FETCH_CREDS);
	a->id = s->attempt_id;
	a->refresh = s->refresh_next;
	s->refresh_next = false;
	publish(s);
}

static void schedule_retry(struct session *s, enum err_class cls, int64_t retry_after_ms)
{
	uint64_t delay;
	bool offline = s->attempt >= s->cfg.fast_attempts;

	if (cls == ERR_TRANSIENT_NOW && !offline) {
		begin_attempt(s, "retry at once");
		return;
	}
	if (offline) {
		/* Slow probes, jittered ±50 % so a fleet does not probe in step. */
		delay = s->cfg.offline_probe_ms / 2 + next_random(s) % (s->cfg.offline_probe_ms + 1);
		set_state(s, SESSION_OFFLINE, s->error);
	} else {
		delay = session_backoff_ms(&s->cfg, s->attempt + 1, next_random(s));
		set_state(s, SESSION_RECONNECTING, s->error);
	}
	if (retry_after_ms >= 0)
		delay = SPA_MAX(delay, (uint64_t)retry_after_ms);
	logf_(s, SESSION_LOG_INFO, "next attempt in %" PRIu64 " ms%s", delay,
			retry_after_ms >= 0 ? " (Retry-After)" : "");
	arm(s, SESSION_TIMER_RETRY, delay);
	publish(s);
}

static void fail_fatal(struct session *s, const char *why)
{
	snprintf(s->error, sizeof(s->error), "%s", why);
	drop_connection(s, 1000);
	cancel(s, SESSION_TIMER_RETRY);
	set_state(s, SESSION_FAILED, why);
	answer_all(s, SESSION_ANSWER_ERROR, why);
}

/* The one place a failed or lost connection is decided. */
static void on_failure(struct session *s, enum err_class cls, int64_t retry_after_ms,
		const char *what)
{
	snprintf(s->error, sizeof(s->error), "%s", what ? what : "connection failed");
	logf_(s, SESSION_LOG_WARN, "failure class=%s error=\"%s\"", err_class_name(cls), s->error);
	drop_connection(s, 1000);

	switch (cls) {
	case ERR_FATAL:
		fail_fatal(s, s->error);
		return;
	case ERR_AUTH:
		if (s->auth_refreshed) {
			char why[SESSION_TEXT_MAX];
			snprintf(why, sizeof(why), "credentials refused again after a refresh: %.260s", s->error);
			fail_fatal(s, why);
			return;
		}
		/* One refresh, at once: a temporary key may just have expired. */
		s->auth_refreshed = true;
		s->refresh_next = true;
		begin_attempt(s, "credentials refused; refreshing once");
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
	cancel(s, SESSION_TIMER_CONNECT);
	s->attempt = 0;
	s->auth_refreshed = false;
	s->error[0] = '\0';
	set_state(s, SESSION_STREAMING, "service ready");
	answer_all(s, SESSION_ANSWER_READY, NULL);
}

static void on_wait(struct session *s, uint64_t id, uint32_t timeout_ms)
{
	switch (s->state) {
	case SESSION_STREAMING:
		answer(s, id, SESSION_ANSWER_READY, NULL);
		return;
	case SESSION_FAILED:
		answer(s, id, SESSION_ANSWER_ERROR, s->error);
		return;
	case SESSION_STOPPING:
	case SESSION_STOPPED:
		answer(s, id, SESSION_ANSWER_CANCELLED, "the tap is stopped");
		return;
	default:
		break;
	}
	if (s->n_waiters == SESSION_MAX_WAITERS) {
		answer(s, id, SESSION_ANSWER_ERROR, "too many waiters");
		return;
	}
	s->waiters[s->n_waiters++] = (struct waiter){ id, s->now + timeout_ms };
	rearm_waiters(s);
}

static void expire_waiters(struct session *s)
{
	uint32_t i = 0;

	while (i < s->n_waiters) {
		if (s->waiters[i].deadline_ms <= s->now) {
			answer(s, s->waiters[i].id, SESSION_ANSWER_TIMEOUT, "timed out waiting for the service");
			s->waiters[i] = s->waiters[--s->n_waiters];
		} else {
			i++;
		}
	}
	s->timer_at[SESSION_TIMER_WAITERS] = 0;
	rearm_waiters(s);
}

static void on_stop(struct session *s)
{
	answer_all(s, SESSION_ANSWER_CANCELLED, "the tap was stopped");
	cancel(s, SESSION_TIMER_RETRY);
	if (s->state == SESSION_STREAMING && s->conn_id != 0) {
		/* Finalize what was said, then close once the service says so. */
		struct session_action *a = push(s, SESSION_ACT_SEND_END);
		a->id = s->conn_id;
		cancel(s, SESSION_TIMER_STALL);
		cancel(s, SESSION_TIMER_PING);
		arm(s, SESSION_TIMER_STOP, s->cfg.stop_timeout_ms);
		set_state(s, SESSION_STOPPING, "stop requested");
		return;
	}
	drop_connection(s, 1000);
	cancel(s, SESSION_TIMER_CONNECT);
	set_state(s, SESSION_STOPPED, "stop requested");
}

static void finish_stop(struct session *s, const char *reason)
{
	close_connection(s, 1000, false);
	cancel(s, SESSION_TIMER_STOP);
	set_state(s, SESSION_STOPPED, reason);
}

static bool waiting_to_retry(const struct session *s)
{
	return s->state == SESSION_RECONNECTING || s->state == SESSION_OFFLINE;
}

static void on_timer(struct session *s, enum session_timer t)
{
	/* A timer we cancelled or re-armed since is stale. */
	if (t >= SESSION_N_TIMERS || s->timer_at[t] == 0 || s->timer_at[t] > s->now)
		return;
	s->timer_at[t] = 0;
	switch (t) {
	case SESSION_TIMER_RETRY:
		if (waiting_to_retry(s))
			begin_attempt(s, s->state == SESSION_OFFLINE ? "offline probe" : "backoff elapsed");
		break;
	case SESSION_TIMER_CONNECT:
		if (s->open_deferred) {
			/* The transport never confirmed the old socket went; do
			 * not wait on it forever. */
			logf_(s, SESSION_LOG_WARN, "conn %" PRIu64 " not released in time", s->closing_conn);
			s->closing_conn = 0;
		}
		if (s->state == SESSION_CONNECTING) {
			char why[96];
			snprintf(why, sizeof(why), "no connection within %u ms", s->cfg.connect_timeout_ms);
			on_failure(s, ERR_TRANSIENT, -1, why);
		}
		break;
	case SESSION_TIMER_STALL:
		if (s->state == SESSION_STREAMING) {
			char why[128];
			snprintf(why, sizeof(why), "no progress from the service for %u ms while audio "
					"flowed (half-open connection?)", s->cfg.stall_timeout_ms);
			on_failure(s, ERR_TRANSIENT, -1, why);
		}
		break;
	case SESSION_TIMER_PING:
		if (s->state == SESSION_STREAMING)
			on_failure(s, ERR_TRANSIENT_NOW, -1, "no pong after a network change");
		break;
	case SESSION_TIMER_STOP:
		if (s->state == SESSION_STOPPING)
			finish_stop(s, "end of stream not acknowledged in time");
		break;
	case SESSION_TIMER_WAITERS:
		expire_waiters(s);
		break;
	default:
		break;
	}
}

static void on_network(struct session *s, const char *what)
{
	if (s->suspended)
		return;
	if (waiting_to_retry(s)) {
		s->attempt = s->state == SESSION_OFFLINE ? s->cfg.fast_attempts - 1 : s->attempt;
		begin_attempt(s, what);
	} else if (s->state == SESSION_STREAMING && s->conn_id != 0 &&
			s->timer_at[SESSION_TIMER_PING] == 0) {
		/* The path may have changed under the socket: prove it now
		 * rather than wait for the next keepalive or TCP timeout. */
		push(s, SESSION_ACT_SEND_PING)->id = s->conn_id;
		arm(s, SESSION_TIMER_PING, s->cfg.ping_timeout_ms);
	}
}

static void on_conn_event(struct session *s, const struct session_event *ev)
{
	switch (ev->type) {
	case SESSION_EV_OPENED:
		/* A duplicate for the current socket changes nothing. */
		if (s->state != SESSION_CONNECTING || s->opened)
			return;
		s->opened = true;
		logf_(s, SESSION_LOG_DEBUG, "upgraded");
		break;
	case SESSION_EV_READY:
		if (s->state == SESSION_CONNECTING && s->opened)
			on_ready(s);
		break;
	case SESSION_EV_CONNECT_FAILED:
		s->socket_requested = false;	/* that socket is gone already */
		if (s->state == SESSION_CONNECTING) {
			enum err_class cls = ev->cls != ERR_NONE ? ev->cls :
				ev->http_status ? session_classify_http(ev->http_status) : ERR_TRANSIENT;
			on_failure(s, cls, ev->retry_after_ms, ev->message);
		}
		break;
	case SESSION_EV_SERVICE_ERROR:
		if (s->state == SESSION_STOPPING)
			finish_stop(s, "service error while stopping");
		else if (s->state == SESSION_CONNECTING || s->state == SESSION_STREAMING)
			on_failure(s, ev->cls, ev->retry_after_ms, ev->message);
		break;
	case SESSION_EV_CLOSED:
		s->conn_id = 0;		/* it is gone; nothing to close */
		s->socket_requested = false;
		s->opened = false;
		if (s->state == SESSION_STOPPING) {
			finish_stop(s, "closed");
		} else if (s->state == SESSION_CONNECTING || s->state == SESSION_STREAMING) {
			char why[SESSION_TEXT_MAX];
			snprintf(why, sizeof(why), "connection closed (code %d%s%s)", ev->code,
					ev->message && *ev->message ? ": " : "",
					ev->message ? ev->message : "");
			on_failure(s, session_classify_close(ev->code), -1, why);
		}
		break;
	case SESSION_EV_FINISHED:
		if (s->state == SESSION_STOPPING)
			finish_stop(s, "end of stream acknowledged");
		break;
	case SESSION_EV_AUDIO_SENT:
		if (s->state == SESSION_STREAMING && s->timer_at[SESSION_TIMER_STALL] == 0)
			arm(s, SESSION_TIMER_STALL, s->cfg.stall_timeout_ms);
		break;
	case SESSION_EV_PROGRESS:
		cancel(s, SESSION_TIMER_STALL);
		break;
	case SESSION_EV_PONG:
		cancel(s, SESSION_TIMER_PING);
		break;
	default:
		break;
	}
}

static bool is_conn_event(enum session_event_type t)
{
	switch (t) {
	case SESSION_EV_OPENED:
	case SESSION_EV_READY:
	case SESSION_EV_CONNECT_FAILED:
	case SESSION_EV_SERVICE_ERROR:
	case SESSION_EV_CLOSED:
	case SESSION_EV_FINISHED:
	case SESSION_EV_AUDIO_SENT:
	case SESSION_EV_PROGRESS:
	case SESSION_EV_PONG:
		return true;
	default:
		return false;
	}
}

static void on_creds(struct session *s, const struct session_event *ev)
{
	struct session_action *a;

	if (s->state != SESSION_CONNECTING || ev->id != s->attempt_id || s->conn_id != 0)
		return;		/* a late answer for an attempt that is over */
	if (ev->type == SESSION_EV_CREDS_FAILED) {
		on_failure(s, ev->cls != ERR_NONE ? ev->cls : ERR_TRANSIENT, ev->retry_after_ms,
				ev->message);
		return;
	}
	s->conn_id = ++s->next_conn_id;
	s->opened = false;
	if (s->closing_conn != 0) {
		/* One socket per tap: the previous one is still going away. */
		s->open_deferred = true;
		logf_(s, SESSION_LOG_DEBUG, "open waits for conn %" PRIu64 " to close", s->closing_conn);
		return;
	}
	a = push(s, SESSION_ACT_OPEN);
	a->id = s->conn_id;
	s->socket_requested = true;
	logf_(s, SESSION_LOG_DEBUG, "open");
}

static void on_released(struct session *s, uint64_t conn)
{
	struct session_action *a;

	if (conn == 0 || conn != s->closing_conn)
		return;
	s->closing_conn = 0;
	if (s->open_deferred && s->conn_id != 0 && s->state == SESSION_CONNECTING) {
		a = push(s, SESSION_ACT_OPEN);
		a->id = s->conn_id;
		s->socket_requested = true;
		logf_(s, SESSION_LOG_DEBUG, "open");
	}
	s->open_deferred = false;
}

void session_handle(struct session *s, uint64_t now_ms, const struct session_event *ev,
		struct session_actions *out)
{
	out->n = 0;
	s->out = out;
	s->now = now_ms;

	if (is_conn_event(ev->type)) {
		/* A callback for another connection than the current one only
		 * ever gets that socket closed (if it is somehow still open). */
		if (!is_current(s, ev->id)) {
			if (ev->type == SESSION_EV_OPENED && ev->id != 0) {
				struct session_action *a = push(s, SESSION_ACT_CLOSE);
				a->id = ev->id;
				a->code = 1000;
				a->abort = true;
			}
			goto done;
		}
		on_conn_event(s, ev);
		goto done;
	}

	switch (ev->type) {
	case SESSION_EV_START:
		if (s->state == SESSION_IDLE || s->state == SESSION_STOPPED ||
		    s->state == SESSION_FAILED) {
			s->attempt = 0;
			s->auth_refreshed = false;
			s->error[0] = '\0';
			begin_attempt(s, "start");
		}
		break;
	case SESSION_EV_STOP:
		if (s->state != SESSION_STOPPED && s->state != SESSION_STOPPING)
			on_stop(s);
		break;
	case SESSION_EV_RECONNECT:
		if (waiting_to_retry(s)) {
			begin_attempt(s, "reconnect requested");
		} else if (s->state == SESSION_STREAMING) {
			close_connection(s, 1000, false);
			s->attempt = 0;
			begin_attempt(s, "reconnect requested");
		}
		break;		/* connecting: single flight, nothing to do */
	case SESSION_EV_CREDS_READY:
	case SESSION_EV_CREDS_FAILED:
		on_creds(s, ev);
		break;
	case SESSION_EV_RELEASED:
		on_released(s, ev->id);
		break;
	case SESSION_EV_TIMER:
		on_timer(s, ev->timer);
		break;
	case SESSION_EV_NETWORK_CHANGED:
		on_network(s, "network changed");
		break;
	case SESSION_EV_SUSPENDING:
		s->suspended = true;
		if (s->state == SESSION_STREAMING && s->conn_id != 0) {
			/* Finalize what was said; the close follows the end frame. */
			push(s, SESSION_ACT_SEND_END)->id = s->conn_id;
			close_connection(s, 1000, false);
		} else {
			drop_connection(s, 1000);
		}
		if (s->state != SESSION_IDLE && s->state != SESSION_STOPPED &&
		    s->state != SESSION_FAILED && s->state != SESSION_STOPPING) {
			cancel(s, SESSION_TIMER_RETRY);
			cancel(s, SESSION_TIMER_CONNECT);
			set_state(s, SESSION_RECONNECTING, "system going to sleep");
		}
		break;
	case SESSION_EV_RESUMED:
		if (!s->suspended)
			break;
		s->suspended = false;
		if (s->state == SESSION_RECONNECTING) {
			s->attempt = 0;
			begin_attempt(s, "resumed from sleep");
		}
		break;
	case SESSION_EV_WAIT:
		on_wait(s, ev->id, ev->timeout_ms);
		break;
	default:
		break;
	}
done:
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
	memset(st, 0, sizeof(*st));
	st->state = s->state;
	st->attempt = s->attempt;
	st->max_attempts = s->cfg.fast_attempts;
	st->next_retry_ms = s->timer_at[SESSION_TIMER_RETRY] == 0 ? -1 :
		(int64_t)(s->timer_at[SESSION_TIMER_RETRY] - SPA_MIN(s->timer_at[SESSION_TIMER_RETRY], now_ms));
	snprintf(st->error, sizeof(st->error), "%s", s->error);
	st->conn = s->conn_id;
}
