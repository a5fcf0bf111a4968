/* The session state machine: no sockets, no clock, no threads.
 *
 * Fed events with the current time (ms, any monotonic origin), it returns
 * actions for the I/O shell to carry out (open, close, send, arm a timer,
 * answer a waiter, …). Everything that decides lives here: single-flight
 * connects, stale callbacks, waiters, error classes, backoff, readiness,
 * progress, liveness (pings, stalls), silence, rollover, network and sleep
 * events. The shell only carries out actions and measures (bytes, levels).
 *
 * Not thread-safe: one owner (the worker thread, or a test).
 *
 * Invariants (checked after every step by tests/unit/test-session-model.c,
 * on random event sequences; each also has a named test in test-session.c):
 *
 *  I1  One socket per tap, counting one that is closing: OPEN is issued only
 *      when no other socket is open, and none is closing unless it has been
 *      closing for connect_timeout_ms (the bounded escape for a transport
 *      that never reports the release). Connection ids only grow.
 *  I2  No action for a stale connection: CLOSE names an open socket (the
 *      current one, or a stale one that reported OPENED, which is all a
 *      stale id can get); SEND_* and PING name the current, upgraded one.
 *  I3  Stop works in every state; after `stopped` no event but START changes
 *      the state or causes anything but logs, answers and that stale CLOSE.
 *  I4  Every waiter is answered exactly once (ready, error, timeout,
 *      cancelled); an error answer carries a reason.
 *  I5  Bounded retries: without progress from the service (a token, a
 *      progress counter that moved on a streaming connection, or
 *      stable_ms of streaming) and without Start, Reconnect or a resume,
 *      at most fast_attempts + 1 attempts are made before the tap is
 *      `offline` or `failed`, whatever the error. Being `streaming` is not
 *      progress.
 *  I6  Every `failed` carries a non-empty reason (the service's own message
 *      when it sent one).
 *  I7  No dead ends: `connecting` has its connect deadline armed;
 *      `reconnecting`, `offline` and `stopping` have a timer armed; an
 *      upgraded socket has its ping timer armed (ping_ms > 0).
 *  I8  The last of Start and Stop wins: once the world settles, the tap is
 *      `stopped` exactly when the last call was Stop.
 *  I9  The action table never overflows.
 *  I10 A connection being ended (SEND_END) stays current until the service
 *      closes it (after `finished`) or the drain deadline, so its last
 *      finals are kept; it gets no second SEND_END and no FINALIZE.
 *  I11 A network change leaves no connection attempt that began before it
 *      waiting on a socket that is not upgraded: it is restarted at once.
 *  I12 Silence is not a stall: a connection is only declared stalled when
 *      speech (voiced audio) was sent on it since its last progress.
 */
#ifndef TRANSCRIBE_SESSION_H
#define TRANSCRIBE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "errclass.h"

/* Published names (contract: DESIGN.md §5). `idle` is also the state of a
 * started tap whose connection was closed for silence (idle_close_ms). */
enum session_state {
	SESSION_IDLE,
	SESSION_CONNECTING,
	SESSION_STREAMING,
	SESSION_RECONNECTING,
	SESSION_OFFLINE,
	SESSION_FAILED,
	SESSION_STOPPING,
	SESSION_STOPPED,
};

enum session_timer {
	SESSION_TIMER_RETRY,	/* backoff wait or offline probe */
	SESSION_TIMER_CONNECT,	/* connect deadline (credentials … ready) */
	SESSION_TIMER_STALL,	/* speech sent, no progress since */
	SESSION_TIMER_PING,	/* next liveness ping, or a pong deadline */
	SESSION_TIMER_DRAIN,	/* end of stream: backlog out, then `finished` */
	SESSION_TIMER_WAITERS,	/* earliest waiter deadline */
	SESSION_TIMER_IDLE,	/* no speech: finalize, later close */
	SESSION_TIMER_ROLLOVER,	/* connection age: roll over at a pause or the cap */
	SESSION_TIMER_RESUME,	/* suspended, and the resume signal never came */
	SESSION_TIMER_HOLD,	/* stopped: audio kept for a Start that resumes */
	SESSION_N_TIMERS,
};

/* Zero is a sane value for every field: no retry-after, no progress. */
enum session_event_type {
	SESSION_EV_START,
	SESSION_EV_STOP,
	SESSION_EV_RECONNECT,		/* user: skip the wait (or start a new socket) */
	SESSION_EV_FINALIZE,		/* user: make what was said final */
	SESSION_EV_WAIT,		/* id = waiter; timeout_ms */
	SESSION_EV_CREDS_READY,		/* id = attempt; count = addresses to try (≥ 1) */
	SESSION_EV_CREDS_FAILED,	/* id = attempt; cls, retry_after_ms, message */
	SESSION_EV_CONNECT_FAILED,	/* id = conn; cls or http_status, retry_after_ms, message */
	SESSION_EV_OPENED,		/* id = conn: upgrade done */
	SESSION_EV_READY,		/* id = conn: the dialect's ack (dialects that have one) */
	SESSION_EV_MESSAGE,		/* id = conn; count = tokens, progress_ms = its counter */
	SESSION_EV_SERVICE_ERROR,	/* id = conn; cls, code, message (the service closes next) */
	SESSION_EV_CLOSED,		/* id = conn; code (1006 when no close frame), message */
	SESSION_EV_FINISHED,		/* id = conn: end of stream acknowledged */
	SESSION_EV_RELEASED,		/* id = conn: a socket we closed is gone */
	SESSION_EV_AUDIO,		/* captured audio arrived; voiced: speech level */
	SESSION_EV_AUDIO_SENT,		/* id = conn; voiced */
	SESSION_EV_END_SENT,		/* id = conn: backlog and end of stream are out */
	SESSION_EV_PONG,		/* id = conn; seq = the ping's */
	SESSION_EV_RESYNC,		/* id = conn: words were dropped; replay from C */
	SESSION_EV_TIMER,		/* timer */
	SESSION_EV_NETWORK_CHANGED,
	SESSION_EV_SUSPENDING,
	SESSION_EV_RESUMED,
};

struct session_event {
	enum session_event_type type;
	uint64_t id;
	enum err_class cls;
	int code;			/* close code or service error code */
	int http_status;		/* failed upgrade, 0 otherwise */
	int64_t retry_after_ms;		/* 0: not given */
	int64_t progress_ms;		/* the service's progress counter; 0: none */
	uint32_t count;
	uint32_t timeout_ms;
	uint64_t seq;
	bool voiced;
	enum session_timer timer;
	const char *message;		/* may be NULL; copied */
};

enum session_action_type {
	SESSION_ACT_FETCH_CREDS,	/* id = attempt; refresh: a 401 was seen */
	SESSION_ACT_OPEN,		/* id = conn; index = address to use */
	SESSION_ACT_SEND_CONFIG,	/* id = conn: the dialect's first message */
	SESSION_ACT_CLOSE,		/* id = conn; code to send, or abort: drop it now */
	SESSION_ACT_SEND_END,		/* id = conn: (backlog: the audio captured so far,
					 * paced, then) finalize and end of stream; the
					 * shell reports END_SENT */
	SESSION_ACT_SEND_FINALIZE,	/* id = conn */
	SESSION_ACT_SEND_PING,		/* id = conn; seq, to come back in the pong */
	SESSION_ACT_ARM_TIMER,		/* timer, at_ms */
	SESSION_ACT_CANCEL_TIMER,	/* timer */
	SESSION_ACT_ANSWER,		/* id = waiter; answer, text */
	SESSION_ACT_PUBLISH,		/* state or counters changed */
	SESSION_ACT_LOG,		/* level, text */
};

enum session_answer {
	SESSION_ANSWER_READY,
	SESSION_ANSWER_ERROR,
	SESSION_ANSWER_TIMEOUT,
	SESSION_ANSWER_CANCELLED,
};

enum session_log_level { SESSION_LOG_DEBUG, SESSION_LOG_INFO, SESSION_LOG_WARN, SESSION_LOG_ERROR };

#define SESSION_MAX_ACTIONS	48
#define SESSION_TEXT_MAX	320
#define SESSION_MAX_WAITERS	32

struct session_action {
	enum session_action_type type;
	uint64_t id;
	uint64_t seq;
	int code;
	uint32_t index;
	bool refresh;
	bool abort;
	bool backlog;
	enum session_timer timer;
	uint64_t at_ms;
	enum session_answer answer;
	enum session_log_level level;
	char text[SESSION_TEXT_MAX];	/* LOG text, or ANSWER error message */
};

struct session_actions {
	uint32_t n;
	struct session_action a[SESSION_MAX_ACTIONS];
};

struct session_config {
	uint32_t fast_attempts;		/* then offline */
	uint32_t base_ms;		/* backoff base */
	uint32_t cap_ms;		/* backoff cap */
	uint32_t offline_probe_ms;	/* mean probe period when offline */
	uint32_t connect_timeout_ms;
	uint32_t stall_timeout_ms;	/* speech sent, no progress: half-open */
	uint32_t ping_ms;		/* liveness ping period; 0: no pings */
	uint32_t pong_timeout_ms;	/* no pong this long after a ping: half-open */
	uint32_t stop_timeout_ms;	/* end of stream out → `finished` */
	uint32_t drain_timeout_ms;	/* SEND_END → END_SENT (the backlog, paced) */
	uint32_t stable_ms;		/* streaming this long counts as progress; 0: never */
	uint32_t idle_finalize_ms;	/* no speech this long: finalize; 0: never */
	uint32_t idle_close_ms;		/* and this much longer: close; 0: never */
	uint32_t max_session_ms;	/* roll over before a connection is this old; 0: never */
	uint32_t resume_timeout_ms;	/* suspended without a resume signal: reconnect */
	uint32_t hold_ms;		/* stopped: audio kept this long for a Start */
	bool ready_on_open;		/* the dialect has no ack: ready once the config is out */
	uint64_t seed;			/* jitter PRNG */
	const char *tap;		/* for log correlation */
	const char *session_id;
};

/* What the shell does with captured audio that no connection took yet. */
enum session_audio {
	SESSION_AUDIO_KEEP,		/* all of it, from the committed position on */
	SESSION_AUDIO_PREROLL,		/* closed for silence: only the last moments */
	SESSION_AUDIO_DISCARD,		/* stopped for good: none */
};

struct session_status {
	enum session_state state;
	uint32_t attempt;
	uint32_t max_attempts;
	int64_t next_retry_ms;		/* from now; -1: none scheduled */
	char error[SESSION_TEXT_MAX];	/* last error, "" if none */
	uint64_t conn;			/* current connection id, 0: none */
	uint64_t audio_conn;		/* live audio goes to this connection; 0: none */
	uint32_t sockets;		/* open or closing */
	enum session_audio audio;
};

struct session;

struct session *session_new(const struct session_config *cfg);
void session_free(struct session *s);
/* Feeds one event at now_ms; out is cleared, then filled. */
void session_handle(struct session *s, uint64_t now_ms, const struct session_event *ev,
		struct session_actions *out);
void session_get_status(const struct session *s, uint64_t now_ms, struct session_status *st);

const char *session_state_name(enum session_state state);
const char *session_timer_name(enum session_timer timer);

/* Backoff delay before attempt n (n ≥ 1): 0 for n = 1, else full jitter in
 * [0, min(cap, base·2^(n−2))]; rnd is a uniform 64-bit random number. */
uint64_t session_backoff_ms(const struct session_config *cfg, uint32_t n, uint64_t rnd);

/* Classification tables (DESIGN.md §5). */
enum err_class session_classify_close(int code);
enum err_class session_classify_http(int status);

#endif
