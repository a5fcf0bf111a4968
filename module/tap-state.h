/* What the main thread hears about a tap's session besides its words: the
 * state snapshot (state, attempt, error, buffer counters, journal path),
 * on every state change and, for the counters alone, at most once a
 * second and only when they moved by a second or anything was lost.
 *
 * Worker thread only.
 */
#ifndef TRANSCRIBE_TAP_STATE_H
#define TRANSCRIBE_TAP_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"

struct datapath;
struct publish_queue;
struct transcript_out;

struct tap_state {
	struct publish_queue *out;	/* NULL: nobody listens */
	uint32_t tap;			/* index in the module's taps */
	const char *session_id;
	uint64_t ring_dropped_ms;	/* lost before the worker saw it */
	uint64_t published_ms;		/* when the last snapshot went out */
	uint64_t published_buffered_ms;
	uint64_t published_dropped_ms;
};

/* A state change: the snapshot goes out, the journal gets a state line. */
void tap_state_publish(struct tap_state *ts, const struct session_status *st,
		const struct datapath *dp, struct transcript_out *tout, uint64_t now_ms);
/* Periodic: the counters, when they moved enough (or now, with force). */
void tap_state_refresh(struct tap_state *ts, const struct session_status *st,
		const struct datapath *dp, struct transcript_out *tout, uint64_t now_ms, bool force);

#endif
