/* A tap's state snapshots for the main thread (see tap-state.h). */
#include "tap-state.h"

#include <stdio.h>

#include "datapath.h"
#include "publish-queue.h"
#include "transcript-out.h"

#define TAP_STATE_COUNTERS_MS	1000

static void push(struct tap_state *ts, const struct session_status *st, const struct datapath *dp,
		struct transcript_out *tout, uint64_t now_ms)
{
	struct publish_state ps = { .state = st->state, .attempt = st->attempt,
		.max_attempts = st->max_attempts, .next_retry_ms = st->next_retry_ms };

	if (ts->out == NULL)
		return;
	snprintf(ps.error, sizeof(ps.error), "%s", st->error);
	snprintf(ps.session_id, sizeof(ps.session_id), "%s", ts->session_id);
	snprintf(ps.journal_path, sizeof(ps.journal_path), "%s", transcript_out_journal_path(tout));
	ps.buffered_ms = datapath_buffered_ms(dp);
	ps.spooled_ms = datapath_spooled_ms(dp);
	ps.dropped_ms = datapath_dropped_ms(dp) + ts->ring_dropped_ms;
	ts->published_ms = now_ms;
	ts->published_buffered_ms = ps.buffered_ms;
	ts->published_dropped_ms = ps.dropped_ms;
	publish_queue_push_state(ts->out, ts->tap, &ps);
}

void tap_state_publish(struct tap_state *ts, const struct session_status *st,
		const struct datapath *dp, struct transcript_out *tout, uint64_t now_ms)
{
	transcript_out_state(tout, session_state_name(st->state), st->error,
			datapath_position_ms(dp));
	push(ts, st, dp, tout, now_ms);
}

/* Buffered audio moves by a frame all the time while streaming: a status
 * line needs it when it grew or shrank by a second; any loss shows at once. */
void tap_state_refresh(struct tap_state *ts, const struct session_status *st,
		const struct datapath *dp, struct transcript_out *tout, uint64_t now_ms, bool force)
{
	uint64_t buffered = datapath_buffered_ms(dp);
	uint64_t dropped = datapath_dropped_ms(dp) + ts->ring_dropped_ms;

	if (!force && (ts->out == NULL || now_ms - ts->published_ms < TAP_STATE_COUNTERS_MS))
		return;
	if (force || dropped != ts->published_dropped_ms ||
	    buffered + TAP_STATE_COUNTERS_MS <= ts->published_buffered_ms ||
	    buffered >= ts->published_buffered_ms + TAP_STATE_COUNTERS_MS)
		push(ts, st, dp, tout, now_ms);
}
