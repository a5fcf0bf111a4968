/* The session state machine's timers on the worker's lws loop: one
 * sorted-usec-list entry per enum session_timer, re-armed in place, firing
 * into one callback with the timer's kind.
 *
 * Worker thread only (lws timers are the service thread's).
 */
#ifndef TRANSCRIBE_SESSION_TIMERS_H
#define TRANSCRIBE_SESSION_TIMERS_H

#include <stdint.h>

#include <libwebsockets.h>

#include "session.h"

struct session_timers;

struct session_timer_entry {
	lws_sorted_usec_list_t sul;
	struct session_timers *owner;
	enum session_timer kind;
};

struct session_timers {
	struct lws_context *ctx;
	void (*fired)(void *data, enum session_timer kind);
	void *data;
	struct session_timer_entry t[SESSION_N_TIMERS];
};

void session_timers_init(struct session_timers *st, struct lws_context *ctx,
		void (*fired)(void *data, enum session_timer kind), void *data);
/* at_ms on clock_now_ms()'s clock; in the past fires at once (from the loop). */
void session_timers_arm(struct session_timers *st, enum session_timer kind, uint64_t at_ms);
void session_timers_cancel(struct session_timers *st, enum session_timer kind);
void session_timers_cancel_all(struct session_timers *st);

#endif
