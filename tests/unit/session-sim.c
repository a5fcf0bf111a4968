/* The session simulator (see session-sim.h). */
#include "session-sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_defaults(struct session_config *c)
{
	memset(c, 0, sizeof(*c));
	c->fast_attempts = 6;
	c->base_ms = 1000;
	c->cap_ms = 16000;
	c->offline_probe_ms = 30000;
	c->connect_timeout_ms = 10000;
	c->stall_timeout_ms = 8000;
	c->ping_ms = 0;			/* the liveness tests turn it on */
	c->pong_timeout_ms = 2000;
	c->stop_timeout_ms = 3000;
	c->drain_timeout_ms = 30000;
	c->resume_timeout_ms = 30000;
	c->hold_ms = 10000;
	c->seed = 42;
	c->tap = "t";
	c->session_id = "s1";
}

bool sim_track_timer(uint64_t timer_at[SESSION_N_TIMERS], const struct session_action *a)
{
	if (a->type == SESSION_ACT_ARM_TIMER)
		timer_at[a->timer] = a->at_ms;
	else if (a->type == SESSION_ACT_CANCEL_TIMER)
		timer_at[a->timer] = 0;
	else
		return false;
	return true;
}

int sim_due_timer(const uint64_t timer_at[SESSION_N_TIMERS], uint64_t to)
{
	int next = -1;

	for (int t = 0; t < SESSION_N_TIMERS; t++)
		if (timer_at[t] != 0 && timer_at[t] <= to && (next < 0 || timer_at[t] < timer_at[next]))
			next = t;
	return next;
}

static void apply(struct sim *m)
{
	for (uint32_t i = 0; i < m->last.n; i++) {
		const struct session_action *a = &m->last.a[i];
		if (sim_track_timer(m->timer_at, a))
			continue;
		switch (a->type) {
		case SESSION_ACT_OPEN:
			m->n_open++;
			m->last_open = a->id;
			break;
		case SESSION_ACT_CLOSE:
			m->n_close++;
			m->n_abort += a->abort;
			m->last_close = a->id;
			break;
		case SESSION_ACT_FETCH_CREDS:
			m->n_fetch++;
			m->n_refresh += a->refresh;
			m->last_fetch = a->id;
			break;
		case SESSION_ACT_ANSWER:
			m->n_answers[a->answer]++;
			if (a->id < 256)
				m->answered[a->id]++;
			break;
		case SESSION_ACT_SEND_END:
			m->n_end++;
			break;
		case SESSION_ACT_SEND_PING:
			m->n_ping++;
			m->last_ping = a->seq;
			break;
		case SESSION_ACT_SEND_FINALIZE:
			m->n_finalize++;
			break;
		case SESSION_ACT_SEND_CONFIG:
			m->n_config++;
			break;
		case SESSION_ACT_LOG: {
			int n = snprintf(m->log + m->log_len, sizeof(m->log) - m->log_len, "%s\n", a->text);
			if (n > 0 && m->log_len + (size_t)n < sizeof(m->log))
				m->log_len += n;
			break;
		}
		default:
			break;
		}
	}
}

void sim_feed(struct sim *m, struct session_event ev)
{
	session_handle(m->s, m->now, &ev, &m->last);
	apply(m);
}

/* The service processed more audio. */
void sim_progress(struct sim *m, uint64_t conn)
{
	m->progress += 100;
	sim_feed(m, EV(.type = SESSION_EV_MESSAGE, .id = conn, .progress_ms = m->progress));
}

/* Advances the clock to `to`, firing due timers in deadline order. */
void sim_advance(struct sim *m, uint64_t to)
{
	for (;;) {
		int next = sim_due_timer(m->timer_at, to);
		if (next < 0)
			break;
		m->now = m->now > m->timer_at[next] ? m->now : m->timer_at[next];
		m->timer_at[next] = 0;
		sim_feed(m, EV(.type = SESSION_EV_TIMER, .timer = (enum session_timer)next));
	}
	m->now = to > m->now ? to : m->now;
}

enum session_state sim_state(struct sim *m)
{
	struct session_status st;
	session_get_status(m->s, m->now, &st);
	return st.state;
}

struct sim *sim_new(const struct session_config *cfg)
{
	struct sim *m = calloc(1, sizeof(*m));
	if (cfg)
		m->cfg = *cfg;
	else
		sim_defaults(&m->cfg);
	m->s = session_new(&m->cfg);
	m->now = 1000;
	return m;
}

void sim_free(struct sim *m)
{
	session_free(m->s);
	free(m);
}

/* start → credentials → open → opened → ready */
uint64_t sim_connect(struct sim *m)
{
	sim_feed(m, EV(.type = SESSION_EV_CREDS_READY, .id = m->last_fetch));
	uint64_t conn = m->last_open;
	sim_feed(m, EV(.type = SESSION_EV_OPENED, .id = conn));
	sim_feed(m, EV(.type = SESSION_EV_READY, .id = conn));
	return conn;
}

struct sim *sim_streaming(const struct session_config *cfg)
{
	struct sim *m = sim_new(cfg);
	sim_feed(m, EV(.type = SESSION_EV_START));
	sim_progress(m, sim_connect(m));
	return m;
}


void sim_finished(struct sim *m, uint64_t conn)
{
	sim_feed(m, EV(.type = SESSION_EV_FINISHED, .id = conn));
	sim_feed(m, EV(.type = SESSION_EV_CLOSED, .id = conn, .code = 1000));
}
