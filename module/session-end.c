/* Ending a connection cleanly, and the calls that start, stop and
 * reconnect a tap or put it to sleep: part of the session state machine
 * (see session.h). A connection being ended gets SEND_END (finalize, end
 * of stream) and stays current until the service closes it after
 * `finished`, or the drain deadline (I10); what follows depends on why it
 * ended. */
#include "session-internal.h"

#include <stdio.h>

void session_begin_drain(struct session *s, enum session_drain why)
{
	struct session_action *a;

	if (!session_can_send(s))
		return;
	if (s->drain != DRAIN_NONE) {
		/* Already ending: a stop decides what follows, else the latest. */
		if (s->drain != DRAIN_STOP)
			s->drain = why;
		return;
	}
	s->drain = why;
	s->end_sent = false;
	s->finished = false;
	a = session_push(s, SESSION_ACT_SEND_END);
	a->id = s->conn_id;
	/* Stop and sleep end what was captured; a new connection picks up
	 * the rest from the committed position anyway. */
	a->backlog = why == DRAIN_STOP || why == DRAIN_SUSPEND;
	session_cancel(s, SESSION_TIMER_ROLLOVER);
	session_arm_in(s, SESSION_TIMER_DRAIN, s->cfg.drain_timeout_ms);
	session_publish(s);
}

/* abort: the service failed on the way, nothing more will come. */
void session_finish_drain(struct session *s, const char *reason, bool abort)
{
	enum session_drain why = s->drain;

	session_close_connection(s, 1000, abort);
	switch (why) {
	case DRAIN_STOP:
		session_set_state(s, SESSION_STOPPED, reason);
		/* A Start soon resumes exactly where this stopped. */
		session_arm_in(s, SESSION_TIMER_HOLD, s->cfg.hold_ms);
		break;
	case DRAIN_SUSPEND:
		session_wait_for_resume(s, "system going to sleep");
		break;
	case DRAIN_IDLE:
		s->quiet = QUIET_CLOSED;
		session_set_audio(s, SESSION_AUDIO_PREROLL);
		session_set_state(s, SESSION_IDLE, "no speech: connection closed until speech returns");
		break;
	default:
		session_begin_attempt(s, false, "new connection (rollover)");
		break;
	}
}

void session_on_stop(struct session *s)
{
	s->started = false;
	session_answer_all(s, SESSION_ANSWER_CANCELLED, "the tap was stopped");
	session_cancel(s, SESSION_TIMER_RETRY);
	session_cancel(s, SESSION_TIMER_RESUME);
	session_cancel(s, SESSION_TIMER_IDLE);
	if (s->state == SESSION_STREAMING && session_can_send(s)) {
		/* Finalize what was said, then close once the service says so. */
		session_begin_drain(s, DRAIN_STOP);
		session_set_state(s, SESSION_STOPPING, "stop requested");
		return;
	}
	session_close_connection(s, 1000, true);
	session_set_state(s, SESSION_STOPPED, "stop requested");
	session_arm_in(s, SESSION_TIMER_HOLD, s->cfg.hold_ms);
}

void session_on_start(struct session *s)
{
	s->started = true;
	s->quiet = QUIET_NO;
	s->last_voice_ms = s->now;
	session_cancel(s, SESSION_TIMER_HOLD);
	switch (s->state) {
	case SESSION_STOPPING:
		/* The last call wins: finish this stream, then a new one. */
		s->drain = DRAIN_ROLLOVER;
		session_set_state(s, SESSION_STREAMING, "start requested while stopping");
		break;
	case SESSION_IDLE:
	case SESSION_STOPPED:
	case SESSION_FAILED:
		s->attempt = 0;
		s->auth_refreshed = false;
		s->error[0] = '\0';
		session_begin_attempt(s, true, "start");
		break;
	default:
		break;
	}
	live_on_audio(s, false);
}

void session_on_suspending(struct session *s)
{
	s->suspended = true;
	switch (s->state) {
	case SESSION_STREAMING:
		/* Finalize what was said; close once the service says so. */
		session_begin_drain(s, DRAIN_SUSPEND);
		break;
	case SESSION_CONNECTING:
		session_close_connection(s, 1000, true);
		session_wait_for_resume(s, "system going to sleep");
		break;
	case SESSION_RECONNECTING:
	case SESSION_OFFLINE:
		session_wait_for_resume(s, "system going to sleep");
		break;
	default:
		break;
	}
}

void session_resume(struct session *s, const char *reason)
{
	s->suspended = false;
	session_cancel(s, SESSION_TIMER_RESUME);
	if (s->drain == DRAIN_SUSPEND) {
		s->drain = DRAIN_ROLLOVER;	/* the drain ends in a new connection */
	} else if (s->state == SESSION_RECONNECTING) {
		s->attempt = 0;
		session_begin_attempt(s, true, reason);
	}
}

void session_on_reconnect(struct session *s)
{
	switch (s->state) {
	case SESSION_RECONNECTING:
	case SESSION_OFFLINE:
		if (!s->suspended)
			session_begin_attempt(s, true, "reconnect requested");
		break;
	case SESSION_IDLE:
		if (s->started)
			session_begin_attempt(s, false, "reconnect requested");
		break;
	case SESSION_STREAMING:
		/* A new socket, the old one ended cleanly: the server has let
		 * it go before the next one comes (I1 as the server sees it). */
		if (s->drain == DRAIN_NONE) {
			session_log(s, SESSION_LOG_INFO, "reconnect requested: ending this connection");
			session_begin_drain(s, DRAIN_ROLLOVER);
		}
		break;
	default:
		break;		/* connecting: single flight, nothing to do */
	}
}
