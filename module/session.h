/* The session state machine: no sockets, no clock, no threads.
 *
 * Fed events with the current time (ms, any monotonic origin), it returns
 * actions for the I/O shell to carry out (open, close, arm a timer, answer a
 * waiter, …). Everything about single-flight connects, stale callbacks,
 * waiters, error classes, backoff and network events lives here, so races
 * are plain unit tests with a virtual clock.
 *
 * Not thread-safe: one owner (the worker thread, or a test).
 */
#ifndef TRANSCRIBE_SESSION_H
#define TRANSCRIBE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "errclass.h"

/* Published names (contract: DESIGN.md §5). */
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
	SESSION_TIMER_CONNECT,	/* connect (credentials + upgrade + ready) deadline */
	SESSION_TIMER_STALL,	/* no progress while audio flows */
	SESSION_TIMER_PING,	/* path validation after a network change */
	SESSION_TIMER_STOP,	/* graceful end-of-stream deadline */
	SESSION_TIMER_WAITERS,	/* earliest waiter deadline */
	SESSION_N_TIMERS,
};

enum session_event_type {
	SESSION_EV_START,
	SESSION_EV_STOP,
	SESSION_EV_RECONNECT,		/* user: skip the wait */
	SESSION_EV_CREDS_READY,		/* id = attempt */
	SESSION_EV_CREDS_FAILED,	/* id = attempt; cls, retry_after_ms, message */
	SESSION_EV_CONNECT_FAILED,	/* id = conn; cls, http_status, retry_after_ms, message */
	SESSION_EV_OPENED,		/* id = conn: upgrade done */
	SESSION_EV_READY,		/* id = conn: dialect ready (config sent / ack) */
	SESSION_EV_AUDIO_SENT,		/* id = conn */
	SESSION_EV_PROGRESS,		/* id = conn: the service processed more audio */
	SESSION_EV_PONG,		/* id = conn */
	SESSION_EV_SERVICE_ERROR,	/* id = conn; cls, code, message (the service closes next) */
	SESSION_EV_CLOSED,		/* id = conn; code (1006 when no close frame), message */
	SESSION_EV_FINISHED,		/* id = conn: end of stream acknowledged */
	SESSION_EV_RELEASED,		/* id = conn: a socket we closed is gone */
	SESSION_EV_TIMER,		/* timer */
	SESSION_EV_NETWORK_CHANGED,
	SESSION_EV_SUSPENDING,
	SESSION_EV_RESUMED,
	SESSION_EV_WAIT,		/* id = waiter; timeout_ms */
};

struct session_event {
	enum session_event_type type;
	uint64_t id;
	enum err_class cls;
	int code;			/* close code or service error code */
	int http_status;		/* failed upgrade, 0 otherwise */
	int64_t retry_after_ms;		/* -1: not given */
	uint32_t timeout_ms;
	enum session_timer timer;
	const char *message;		/* may be NULL; copied */
};

enum session_action_type {
	SESSION_ACT_FETCH_CREDS,	/* id = attempt; refresh: a 401 was seen */
	SESSION_ACT_OPEN,		/* id = conn */
	SESSION_ACT_CLOSE,		/* id = conn; code to send, or abort: drop it now */
	SESSION_ACT_SEND_END,		/* id = conn: finalize + end of stream */
	SESSION_ACT_SEND_PING,		/* id = conn */
	SESSION_ACT_ARM_TIMER,		/* timer, at_ms */
	SESSION_ACT_CANCEL_TIMER,	/* timer */
	SESSION_ACT_ANSWER,		/* id = waiter; answer */
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
	int code;
	bool refresh;
	bool abort;
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
	uint32_t stall_timeout_ms;	/* no progress while audio flows → half-open */
	uint32_t ping_timeout_ms;	/* pong deadline after a network change */
	uint32_t stop_timeout_ms;	/* wait for `finished` on stop */
	uint64_t seed;			/* jitter PRNG */
	const char *tap;		/* for log correlation */
	const char *session_id;
};

struct session_status {
	enum session_state state;
	uint32_t attempt;
	uint32_t max_attempts;
	int64_t next_retry_ms;		/* from now; -1: none scheduled */
	char error[SESSION_TEXT_MAX];	/* last error, "" if none */
	uint64_t conn;			/* current connection id, 0: none */
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
