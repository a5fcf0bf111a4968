/* What the session state machine emits (see session.h): actions, log
 * lines, timers, state changes and answers to waiters; and its tables:
 * state and timer names, backoff, error classes. */
#include "session-internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
	[SESSION_TIMER_DRAIN] = "drain",
	[SESSION_TIMER_WAITERS] = "waiters",
	[SESSION_TIMER_IDLE] = "idle",
	[SESSION_TIMER_ROLLOVER] = "rollover",
	[SESSION_TIMER_RESUME] = "resume",
	[SESSION_TIMER_HOLD] = "hold",
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
uint64_t session_random(struct session *s)
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
	case 1008:
		return ERR_AUTH;
	case 1003:
	case 1007:
	case 1009:
	case 1010:
		return ERR_FATAL;
	default:		/* 1000 unexpected, 1002 (lws: 1012–1014), 1006, 1011, … */
		return ERR_TRANSIENT;
	}
}

enum err_class session_classify_http(int status)
{
	switch (status) {
	case 401:
	case 403:
		return ERR_AUTH;
	case 408:
	case 429:
		return ERR_TRANSIENT;
	default:		/* 400, 402, 404 and the rest of 4xx are fatal */
		return status >= 500 ? ERR_TRANSIENT : ERR_FATAL;
	}
}

/* ---- actions ---- */

struct session_action *session_push(struct session *s, enum session_action_type type)
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

/* Every line carries the correlation ids (DESIGN.md §10). */
void session_log(struct session *s, enum session_log_level level, const char *fmt, ...)
{
	struct session_action *a = session_push(s, SESSION_ACT_LOG);
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

void session_arm(struct session *s, enum session_timer t, uint64_t at_ms)
{
	struct session_action *a = session_push(s, SESSION_ACT_ARM_TIMER);

	/* 0 means "not armed", so a deadline is never 0, nor in the past. */
	uint64_t at = SPA_MAX(at_ms, s->now);

	s->timer_at[t] = SPA_MAX(at, (uint64_t)1);
	a->timer = t;
	a->at_ms = s->timer_at[t];
}

void session_arm_in(struct session *s, enum session_timer t, uint64_t delay_ms)
{
	session_arm(s, t, s->now + delay_ms);
}

void session_cancel(struct session *s, enum session_timer t)
{
	if (s->timer_at[t] == 0)
		return;
	s->timer_at[t] = 0;
	session_push(s, SESSION_ACT_CANCEL_TIMER)->timer = t;
}

void session_publish(struct session *s)
{
	session_push(s, SESSION_ACT_PUBLISH);
}

void session_set_state(struct session *s, enum session_state state, const char *reason)
{
	if (s->state == state)
		return;
	session_log(s, state == SESSION_FAILED ? SESSION_LOG_ERROR : SESSION_LOG_INFO,
			"state %s -> %s reason=\"%s\"", session_state_name(s->state),
			session_state_name(state), reason);
	s->state = state;
	session_publish(s);
}

void session_set_audio(struct session *s, enum session_audio audio)
{
	if (s->audio == audio)
		return;
	s->audio = audio;
	session_publish(s);
}

bool session_can_send(const struct session *s)
{
	return s->conn_id != 0 && s->opened;
}

/* ---- waiters ---- */

void session_answer(struct session *s, uint64_t waiter, enum session_answer ans, const char *text)
{
	struct session_action *a = session_push(s, SESSION_ACT_ANSWER);

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
		session_cancel(s, SESSION_TIMER_WAITERS);
	else if (s->timer_at[SESSION_TIMER_WAITERS] != earliest)
		session_arm(s, SESSION_TIMER_WAITERS, earliest);
}

void session_answer_all(struct session *s, enum session_answer ans, const char *text)
{
	for (uint32_t i = 0; i < s->n_waiters; i++)
		session_answer(s, s->waiters[i].id, ans, text);
	s->n_waiters = 0;
	session_cancel(s, SESSION_TIMER_WAITERS);
}

void session_expire_waiters(struct session *s)
{
	uint32_t i = 0;

	while (i < s->n_waiters) {
		if (s->waiters[i].deadline_ms <= s->now) {
			session_answer(s, s->waiters[i].id, SESSION_ANSWER_TIMEOUT, "timed out waiting for the service");
			s->waiters[i] = s->waiters[--s->n_waiters];
		} else {
			i++;
		}
	}
	rearm_waiters(s);
}

void session_on_wait(struct session *s, uint64_t id, uint32_t timeout_ms)
{
	switch (s->state) {
	case SESSION_STREAMING:
		/* Ending this connection for a new one: ready once that is. */
		if (s->drain != DRAIN_NONE)
			break;
		session_answer(s, id, SESSION_ANSWER_READY, NULL);
		return;
	case SESSION_FAILED:
		session_answer(s, id, SESSION_ANSWER_ERROR, s->error);
		return;
	case SESSION_STOPPING:
	case SESSION_STOPPED:
		session_answer(s, id, SESSION_ANSWER_CANCELLED, "the tap is stopped");
		return;
	default:
		break;
	}
	if (s->n_waiters == SESSION_MAX_WAITERS) {
		session_answer(s, id, SESSION_ANSWER_ERROR, "too many waiters");
		return;
	}
	s->waiters[s->n_waiters++] = (struct waiter){ id, s->now + timeout_ms };
	rearm_waiters(s);
	/* Closed for silence: someone wants the service now. */
	if (s->state == SESSION_IDLE && s->started)
		session_begin_attempt(s, false, "a client waits for the service");
}

