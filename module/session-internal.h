/* Inside the session state machine: the state its four files share:
 * session.c (attempts, failures, the dispatch), session-end.c (ending a
 * connection; Start, Stop, sleep), session-live.c (pings, progress,
 * stalls, silence, rollover) and session-actions.c (what it emits).
 * Nothing else includes it. */
#ifndef TRANSCRIBE_SESSION_INTERNAL_H
#define TRANSCRIBE_SESSION_INTERNAL_H

#include "session.h"

#include <spa/utils/defs.h>

/* Why a connection is being ended with SEND_END, and what comes after. */
enum session_drain {
	DRAIN_NONE,
	DRAIN_STOP,		/* then stopped */
	DRAIN_SUSPEND,		/* then wait for the resume */
	DRAIN_ROLLOVER,		/* then a new connection at once */
	DRAIN_IDLE,		/* then idle until speech returns */
};

enum session_quiet {
	QUIET_NO,		/* speech is recent */
	QUIET_FINALIZED,	/* no speech for idle_finalize_ms: finalized */
	QUIET_CLOSED,		/* and closed; speech reopens */
};

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
	bool started;			/* Start seen and no Stop since */

	/* attempts */
	uint32_t attempt;		/* in the current run of failures, 1-based */
	uint64_t attempt_id;		/* every attempt ever, for credentials */
	uint32_t n_addresses;		/* of the current attempt */
	uint32_t address;		/* the one being tried */
	bool auth_refreshed;		/* a 401-class failure already got its refresh */
	bool refresh_next;		/* next FETCH_CREDS is a refresh */
	bool suspended;
	char error[SESSION_TEXT_MAX];

	/* the socket */
	uint64_t conn_id;		/* current connection, 0: none */
	uint64_t next_conn_id;
	uint64_t closing_conn;		/* closed by us, socket not yet gone */
	uint64_t closing_since;
	bool open_deferred;		/* OPEN waits for closing_conn to go */
	bool socket_requested;		/* OPEN was issued for conn_id */
	bool opened;			/* conn upgraded */
	uint64_t ready_at;		/* streaming since */
	bool progressed;		/* this connection made progress */
	int64_t progress_mark;		/* the service's counter, as last seen */
	enum session_drain drain;
	bool end_sent;
	bool finished;			/* the service said so; its close comes next */

	/* liveness */
	uint64_t ping_seq;		/* last ping sent */
	uint64_t ping_wait;		/* periodic ping awaiting its pong; 0: none */
	uint64_t ping_deadline;
	uint64_t next_ping_at;
	uint64_t check_seq;		/* network-change check awaiting its pong */
	uint64_t check_deadline;
	bool speech_unconfirmed;	/* speech sent since the last progress */
	uint64_t last_heard_at;		/* a pong or a message on this connection */

	/* silence and rollover */
	uint64_t last_voice_ms;		/* speech captured, or sent (replay) */
	bool speech_since_finalize;	/* sent on this connection */
	enum session_quiet quiet;
	bool rollover_due;
	enum session_audio audio;

	uint64_t timer_at[SESSION_N_TIMERS];	/* 0: not armed */
	uint32_t n_waiters;
	struct waiter waiters[SESSION_MAX_WAITERS];

	struct session_actions *out;	/* during session_handle() */
	uint64_t now;
};

/* session-actions.c: what the machine emits */
struct session_action *session_push(struct session *s, enum session_action_type type);
void session_log(struct session *s, enum session_log_level level, const char *fmt, ...)
	SPA_PRINTF_FUNC(3, 4);
void session_arm(struct session *s, enum session_timer t, uint64_t at_ms);
void session_arm_in(struct session *s, enum session_timer t, uint64_t delay_ms);
void session_cancel(struct session *s, enum session_timer t);
void session_publish(struct session *s);
void session_set_state(struct session *s, enum session_state state, const char *reason);
void session_set_audio(struct session *s, enum session_audio audio);
uint64_t session_random(struct session *s);
void session_answer(struct session *s, uint64_t waiter, enum session_answer ans, const char *text);
void session_answer_all(struct session *s, enum session_answer ans, const char *text);
void session_expire_waiters(struct session *s);
void session_on_wait(struct session *s, uint64_t id, uint32_t timeout_ms);
bool session_can_send(const struct session *s);

/* session.c: attempts, failures */
void session_begin_attempt(struct session *s, bool counts, const char *reason);
void session_reopen(struct session *s, const char *reason);	/* closed for silence */
void session_close_connection(struct session *s, int code, bool abort);
void session_wait_for_resume(struct session *s, const char *reason);
void session_failure(struct session *s, enum err_class cls, int64_t retry_after_ms,
		const char *what);

/* session-end.c: ending a connection, Start, Stop, Reconnect, sleep */
void session_begin_drain(struct session *s, enum session_drain why);
void session_finish_drain(struct session *s, const char *reason, bool abort);
void session_on_start(struct session *s);
void session_on_stop(struct session *s);
void session_on_reconnect(struct session *s);
void session_on_suspending(struct session *s);
void session_resume(struct session *s, const char *reason);

/* session-live.c */
void live_start(struct session *s);			/* socket upgraded */
void live_stop(struct session *s);			/* socket gone or closing */
void live_on_pong(struct session *s, uint64_t seq);
void live_on_message(struct session *s, const struct session_event *ev);
void live_on_audio(struct session *s, bool voiced);
void live_on_audio_sent(struct session *s, bool voiced);
void live_on_ready(struct session *s);
void live_on_network(struct session *s);
void live_timer(struct session *s, enum session_timer t);
void live_finalize(struct session *s, const char *why);
void live_counts_as_progress(struct session *s);

#endif
