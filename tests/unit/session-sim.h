/* The session state machine under a virtual clock (test-session.c,
 * test-session-findings.c): a small simulator plays the I/O shell; it
 * keeps the armed timers, fires them as the clock advances, and counts
 * the actions. */
#ifndef TRANSCRIBE_TEST_SESSION_SIM_H
#define TRANSCRIBE_TEST_SESSION_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

struct sim {
	struct session *s;
	struct session_config cfg;
	uint64_t now;
	uint64_t timer_at[SESSION_N_TIMERS];
	struct session_actions last;		/* actions of the last event */
	/* Totals over the whole run. */
	uint32_t n_open, n_close, n_abort, n_fetch, n_refresh, n_answers[4], n_end, n_ping;
	uint64_t last_close;
	uint64_t last_open, last_fetch;
	uint64_t last_ping;			/* its seq */
	int64_t progress;			/* the service's counter */
	uint32_t n_finalize, n_config;
	uint64_t answered[256];			/* waiter id → answers */
	char log[64 * 1024];
	size_t log_len;
};

#define EV(...)	((struct session_event){ __VA_ARGS__ })

/* The module's defaults, pings and silence handling off (tests turn them on). */
void sim_defaults(struct session_config *c);
/* cfg NULL: sim_defaults(). */
struct sim *sim_new(const struct session_config *cfg);
void sim_free(struct sim *m);
void sim_feed(struct sim *m, struct session_event ev);
/* Advances the clock to `to`, firing due timers in deadline order. */
void sim_advance(struct sim *m, uint64_t to);
enum session_state sim_state(struct sim *m);
/* The service processed more audio on conn. */
void sim_progress(struct sim *m, uint64_t conn);
/* credentials → open → opened (→ ready): returns the connection. */
uint64_t sim_connect(struct sim *m);
/* The service acknowledges the end of stream and closes (as Soniox does). */
void sim_finished(struct sim *m, uint64_t conn);
/* Started, streaming, and the service made progress. */
struct sim *sim_streaming(const struct session_config *cfg);

/* For any simulator of the world (also session-model.c): keeps timer_at[]
 * as the machine arms and cancels timers (false for other actions), and
 * finds the timer due first at or before `to` (-1: none). */
bool sim_track_timer(uint64_t timer_at[SESSION_N_TIMERS], const struct session_action *a);
int sim_due_timer(const uint64_t timer_at[SESSION_N_TIMERS], uint64_t to);

#endif
