/* The session's timers on the lws loop (see session-timers.h). */
#include "session-timers.h"

#include "clock.h"

static void fired(lws_sorted_usec_list_t *sul)
{
	struct session_timer_entry *e = lws_container_of(sul, struct session_timer_entry, sul);

	e->owner->fired(e->owner->data, e->kind);
}

void session_timers_init(struct session_timers *st, struct lws_context *ctx,
		void (*fired_fn)(void *data, enum session_timer kind), void *data)
{
	st->ctx = ctx;
	st->fired = fired_fn;
	st->data = data;
	for (int i = 0; i < SESSION_N_TIMERS; i++) {
		st->t[i].owner = st;
		st->t[i].kind = (enum session_timer)i;
	}
}

void session_timers_arm(struct session_timers *st, enum session_timer kind, uint64_t at_ms)
{
	uint64_t now = clock_now_ms();

	lws_sul_schedule(st->ctx, 0, &st->t[kind].sul, fired,
			(lws_usec_t)(at_ms > now ? at_ms - now : 0) * LWS_US_PER_MS);
}

void session_timers_cancel(struct session_timers *st, enum session_timer kind)
{
	lws_sul_cancel(&st->t[kind].sul);
}

void session_timers_cancel_all(struct session_timers *st)
{
	for (int i = 0; i < SESSION_N_TIMERS; i++)
		lws_sul_cancel(&st->t[i].sul);
}
