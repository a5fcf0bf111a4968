/* Results crossing from the worker thread to the main thread: state
 * snapshots, partial and final segments, answers to waiters.
 *
 * publish_queue_push_*: worker thread. publish_queue_pop: main thread.
 * Pushing never blocks for long (a mutex held for a list append) and calls
 * the wake function so the main loop drains the queue. Partials beyond
 * PUBLISH_QUEUE_MAX_PARTIALS waiting are dropped (the next one replaces
 * them anyway); finals, states and answers are never dropped.
 */
#ifndef TRANSCRIBE_PUBLISH_QUEUE_H
#define TRANSCRIBE_PUBLISH_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"
#include "transcript.h"

#define PUBLISH_TEXT_MAX		4096
#define PUBLISH_QUEUE_MAX_PARTIALS	64

enum publish_kind {
	PUBLISH_STATE,
	PUBLISH_PARTIAL,
	PUBLISH_FINAL,
	PUBLISH_ANSWER,
};

struct publish_state {
	enum session_state state;
	bool capture_only;		/* no service configured */
	uint32_t attempt;
	uint32_t max_attempts;
	int64_t next_retry_ms;		/* -1: none */
	char error[SESSION_TEXT_MAX];
	char session_id[40];
	uint64_t buffered_ms;
	uint64_t spooled_ms;
	uint64_t dropped_ms;
	char journal_path[512];		/* "" when there is none */
	char source[256];		/* main thread: the nodes the tap hears ("" none) */
};

/* One segment: the final (or non-final) tokens of one service message. */
struct publish_segment {
	char text[PUBLISH_TEXT_MAX];	/* words joined, no leading space */
	int64_t start_ms;		/* tap timeline */
	int64_t end_ms;
	uint64_t seq;			/* finals: 1, 2, … per tap */
	char speaker[TOKEN_LABEL_MAX];
	char language[TOKEN_LABEL_MAX];
	double confidence;		/* mean over the tokens; -1: none given */
	char session_id[40];
	uint64_t conn;
};

struct publish_answer {
	uint64_t waiter;
	enum session_answer answer;
	char message[SESSION_TEXT_MAX];
};

struct publish_event {
	enum publish_kind kind;
	uint32_t tap;			/* index in the module's taps */
	union {
		struct publish_state state;
		struct publish_segment segment;
		struct publish_answer answer;
	};
};

struct publish_queue;

/* wake(data) is called from the pushing thread after each push (under the
 * queue's lock: it must not block or push). One reference. */
struct publish_queue *publish_queue_new(void (*wake)(void *data), void *data);
/* Any thread: one more reference (a pusher that may outlive the reader). */
void publish_queue_ref(struct publish_queue *q);
/* Reader's thread: wake() is never called again once this returns; pushes
 * still succeed and are dropped with the last reference. */
void publish_queue_detach(struct publish_queue *q);
/* Drops a reference; the last one frees the queue and what it holds. */
void publish_queue_free(struct publish_queue *q);

void publish_queue_push_state(struct publish_queue *q, uint32_t tap, const struct publish_state *st);
void publish_queue_push_answer(struct publish_queue *q, uint32_t tap, uint64_t waiter,
		enum session_answer answer, const char *message);
/* Per tap, worker thread: numbers finals and remembers the last partial. */
struct publish_cursor {
	uint64_t seq;			/* finals pushed so far */
	uint64_t partial_hash;		/* of the last partial pushed; 0: "" */
};

/* Pushes the final tokens (in order, as one segment numbered by cur), then
 * the non-final ones as the partial that replaces the previous one, when it
 * changed (an empty partial clears it). base_ms maps the tokens' times onto
 * the tap's timeline. q NULL: nothing is pushed. When there were finals,
 * returns true and their segment in *final (may be NULL), for the journal. */
bool publish_queue_push_tokens(struct publish_queue *q, uint32_t tap,
		struct publish_cursor *cur, const struct transcript_token *tokens,
		uint32_t n_tokens, int64_t base_ms, const char *session_id, uint64_t conn,
		struct publish_segment *final);

/* Main thread: the oldest event, or false when empty. */
bool publish_queue_pop(struct publish_queue *q, struct publish_event *out);

#endif
