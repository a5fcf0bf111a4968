/* What keeps a live connection honest (see session.h): liveness pings,
 * progress from the service, stalls, silence and rollover. Part of the
 * session state machine: no I/O, fed by session.c. */
#include "session-internal.h"

#include <inttypes.h>
#include <stdio.h>

/* Rollover looks for a pause in speech at most this long before the cap
 * (and within the last quarter of a short cap). */
#define ROLLOVER_WINDOW_MAX_MS	60000
/* Silence this long counts as a pause to roll over in (a gap between
 * sentences; between words it is shorter). */
#define ROLLOVER_PAUSE_MS	200

static uint64_t send_ping(struct session *s)
{
	struct session_action *a = session_push(s, SESSION_ACT_SEND_PING);

	a->id = s->conn_id;
	a->seq = ++s->ping_seq;
	return a->seq;
}

static void rearm_ping(struct session *s)
{
	uint64_t at = UINT64_MAX;

	if (session_can_send(s) && s->cfg.ping_ms > 0)
		at = s->ping_wait ? s->ping_deadline : s->next_ping_at;
	if (session_can_send(s) && s->check_seq)
		at = SPA_MIN(at, s->check_deadline);
	if (at == UINT64_MAX)
		session_cancel(s, SESSION_TIMER_PING);
	else if (s->timer_at[SESSION_TIMER_PING] != at)
		session_arm(s, SESSION_TIMER_PING, at);
}

void live_start(struct session *s)
{
	s->last_heard_at = 0;
	s->ping_wait = 0;
	s->check_seq = 0;
	s->next_ping_at = s->now + s->cfg.ping_ms;
	s->speech_unconfirmed = false;
	s->speech_since_finalize = false;
	s->rollover_due = false;
	rearm_ping(s);
}

void live_stop(struct session *s)
{
	s->ping_wait = 0;
	s->check_seq = 0;
	s->speech_unconfirmed = false;
	session_cancel(s, SESSION_TIMER_PING);
	session_cancel(s, SESSION_TIMER_STALL);
}

void live_on_pong(struct session *s, uint64_t seq)
{
	/* Pongs carry the sequence number of their ping: an answer to a ping
	 * sent before a network change does not prove the new path. */
	if (seq != 0 && seq <= s->ping_seq)
		s->last_heard_at = s->now;
	if (s->ping_wait && seq >= s->ping_wait) {
		s->ping_wait = 0;
		s->next_ping_at = s->now + s->cfg.ping_ms;
	}
	if (s->check_seq && seq >= s->check_seq) {
		s->check_seq = 0;
		session_log(s, SESSION_LOG_DEBUG, "path confirmed after a network change");
	}
	rearm_ping(s);
}

void live_on_network(struct session *s)
{
	/* The path may have changed under the socket: prove it now rather
	 * than wait for the next ping or a TCP timeout. */
	if (!session_can_send(s) || s->check_seq)
		return;
	s->check_seq = send_ping(s);
	s->check_deadline = s->now + s->cfg.pong_timeout_ms;
	rearm_ping(s);
}

static void on_ping_timer(struct session *s)
{
	char why[160];

	if (!session_can_send(s))
		return;
	if (s->check_seq && s->now >= s->check_deadline) {
		snprintf(why, sizeof(why), "no pong within %u ms after a network change",
				s->cfg.pong_timeout_ms);
		session_failure(s, ERR_TRANSIENT_NOW, 0, why);
		return;
	}
	if (s->ping_wait && s->now >= s->ping_deadline) {
		snprintf(why, sizeof(why), "no pong within %u ms (half-open connection)",
				s->cfg.pong_timeout_ms);
		session_failure(s, ERR_TRANSIENT, 0, why);
		return;
	}
	if (!s->ping_wait && s->cfg.ping_ms > 0 && s->now >= s->next_ping_at) {
		s->ping_wait = send_ping(s);
		s->ping_deadline = s->now + s->cfg.pong_timeout_ms;
	}
	rearm_ping(s);
}

/* ---- progress ---- */

static void made_progress(struct session *s)
{
	s->progressed = true;
	if (s->attempt == 0 && !s->auth_refreshed)
		return;
	session_log(s, SESSION_LOG_DEBUG, "progress from the service: the run of failures is over");
	s->attempt = 0;
	s->auth_refreshed = false;
}

/* A connection the service kept answering (pongs, messages) for stable_ms
 * is progress even from a service that reports none. */
void live_counts_as_progress(struct session *s)
{
	if ((s->state == SESSION_STREAMING || s->state == SESSION_STOPPING) && !s->progressed &&
	    s->cfg.stable_ms > 0 && s->ready_at > 0 &&
	    s->last_heard_at >= s->ready_at + s->cfg.stable_ms)
		made_progress(s);
}

void live_on_message(struct session *s, const struct session_event *ev)
{
	bool moved = ev->progress_ms > s->progress_mark;

	s->last_heard_at = s->now;
	if (moved)
		s->progress_mark = ev->progress_ms;
	if (!moved && ev->count == 0)
		return;
	s->speech_unconfirmed = false;
	session_cancel(s, SESSION_TIMER_STALL);
	if (s->state == SESSION_STREAMING || s->state == SESSION_STOPPING)
		made_progress(s);
}

/* ---- speech, silence, rollover ---- */

static void arm_idle(struct session *s)
{
	if (s->cfg.idle_finalize_ms > 0 && s->started && s->timer_at[SESSION_TIMER_IDLE] == 0)
		session_arm(s, SESSION_TIMER_IDLE, s->last_voice_ms + s->cfg.idle_finalize_ms);
}

void live_finalize(struct session *s, const char *why)
{
	session_push(s, SESSION_ACT_SEND_FINALIZE)->id = s->conn_id;
	s->speech_since_finalize = false;
	/* silent_ms: since the last speech arrived (the audio's end). */
	session_log(s, SESSION_LOG_INFO, "finalize reason=\"%s\" silent_ms=%" PRIu64, why,
			s->now - SPA_MIN(s->last_voice_ms, s->now));
}

static bool paused(const struct session *s)
{
	return s->now - SPA_MIN(s->last_voice_ms, s->now) >= ROLLOVER_PAUSE_MS;
}

static void roll_over(struct session *s, const char *why)
{
	session_log(s, SESSION_LOG_INFO, "rollover after %" PRIu64 " ms reason=\"%s\"",
			s->now - s->ready_at, why);
	session_begin_drain(s, DRAIN_ROLLOVER);
}

void live_on_audio(struct session *s, bool voiced)
{
	if (!s->started)
		return;
	if (voiced) {
		s->last_voice_ms = s->now;
		if (s->quiet == QUIET_CLOSED && s->state == SESSION_IDLE) {
			s->quiet = QUIET_NO;
			session_reopen(s, "speech returned");
		}
		s->quiet = QUIET_NO;
	}
	arm_idle(s);
	if (!voiced && s->rollover_due && s->state == SESSION_STREAMING && s->drain == DRAIN_NONE &&
	    paused(s))
		roll_over(s, "a pause before the session cap");
}

void live_on_audio_sent(struct session *s, bool voiced)
{
	if (!voiced)
		return;
	/* Speech sent (live, or replayed after an outage) keeps the tap busy
	 * and must be answered by progress (I12: silence never is a stall). */
	s->last_voice_ms = SPA_MAX(s->last_voice_ms, s->now);
	s->speech_since_finalize = true;
	s->speech_unconfirmed = true;
	if (s->quiet == QUIET_FINALIZED)
		s->quiet = QUIET_NO;
	if (s->cfg.stall_timeout_ms > 0 && s->timer_at[SESSION_TIMER_STALL] == 0)
		session_arm(s, SESSION_TIMER_STALL, s->now + s->cfg.stall_timeout_ms);
	arm_idle(s);
}

void live_on_ready(struct session *s)
{
	uint64_t window;

	/* A new connection is not closed for silence before idle_close_ms. */
	if (s->cfg.idle_finalize_ms > 0 && s->last_voice_ms + s->cfg.idle_finalize_ms < s->now) {
		s->last_voice_ms = s->now - s->cfg.idle_finalize_ms;
		session_cancel(s, SESSION_TIMER_IDLE);
	}
	arm_idle(s);
	if (s->cfg.max_session_ms == 0)
		return;
	window = SPA_MIN((uint64_t)s->cfg.max_session_ms / 4, (uint64_t)ROLLOVER_WINDOW_MAX_MS);
	session_arm(s, SESSION_TIMER_ROLLOVER, s->ready_at + s->cfg.max_session_ms - window);
}

static void on_idle_timer(struct session *s)
{
	uint64_t finalize_at = s->last_voice_ms + s->cfg.idle_finalize_ms;
	bool live = s->state == SESSION_STREAMING && s->drain == DRAIN_NONE && session_can_send(s);

	if (!s->started || s->cfg.idle_finalize_ms == 0)
		return;
	if (s->quiet == QUIET_NO) {
		if (s->now < finalize_at) {
			session_arm(s, SESSION_TIMER_IDLE, finalize_at);
			return;
		}
		/* The speaker stopped: make the last words final, and expect
		 * nothing more from the service until speech returns. */
		s->quiet = QUIET_FINALIZED;
		if (live && s->speech_since_finalize)
			live_finalize(s, "no speech");
		s->speech_unconfirmed = false;
		session_cancel(s, SESSION_TIMER_STALL);
	}
	if (s->quiet != QUIET_FINALIZED || s->cfg.idle_close_ms == 0)
		return;
	if (s->now < finalize_at + s->cfg.idle_close_ms) {
		session_arm(s, SESSION_TIMER_IDLE, finalize_at + s->cfg.idle_close_ms);
		return;
	}
	if (live) {
		session_log(s, SESSION_LOG_INFO, "no speech for %" PRIu64 " ms: closing until it returns",
				s->now - s->last_voice_ms);
		session_begin_drain(s, DRAIN_IDLE);
	}
}

static void on_stall_timer(struct session *s)
{
	char why[160];

	if (!session_can_send(s) || !s->speech_unconfirmed)
		return;
	snprintf(why, sizeof(why), "no progress from the service for %u ms after speech was sent "
			"(half-open connection?)", s->cfg.stall_timeout_ms);
	session_failure(s, ERR_TRANSIENT, 0, why);
}

static void on_rollover_timer(struct session *s)
{
	if (s->state != SESSION_STREAMING || s->drain != DRAIN_NONE || !session_can_send(s))
		return;
	if (s->rollover_due) {
		roll_over(s, "session cap");
		return;
	}
	s->rollover_due = true;
	if (paused(s)) {
		roll_over(s, "a pause before the session cap");
		return;
	}
	/* Wait for a pause, but not past the cap. */
	session_arm(s, SESSION_TIMER_ROLLOVER, s->ready_at + s->cfg.max_session_ms);
}

void live_timer(struct session *s, enum session_timer t)
{
	switch (t) {
	case SESSION_TIMER_PING:
		on_ping_timer(s);
		break;
	case SESSION_TIMER_STALL:
		on_stall_timer(s);
		break;
	case SESSION_TIMER_IDLE:
		on_idle_timer(s);
		break;
	case SESSION_TIMER_ROLLOVER:
		on_rollover_timer(s);
		break;
	default:
		break;
	}
}
