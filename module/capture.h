/* A tap's worker-side capture: drains its ring onto the tap's timeline.
 *
 * Worker thread only (after creation). The timeline ("stream time") counts
 * frames since the tap started, dropped frames included, so every later
 * timestamp stays aligned with the audio as it was played.
 */
#ifndef TRANSCRIBE_CAPTURE_H
#define TRANSCRIBE_CAPTURE_H

#include <stdint.h>

#include "ring.h"

struct capture;

struct capture_stats {
	uint64_t frames;	/* stream time in frames */
	uint64_t dropped_frames;	/* of which lost (ring overflow, missed) */
	uint64_t drains;
	uint64_t max_drain_gap_ms;	/* the longest wait between two drains */
};

/* record_file may be NULL or "" (no recording). Returns NULL with errno set. */
struct capture *capture_new(const char *tap_name, struct tap_ring *ring,
		uint32_t rate, uint32_t channels, const char *record_file);
/* Everything drained, in stream order; frames lost (ring overflow, or
 * missed by the graph) come as silence at the place they were lost, so
 * the consumer's clock stays on the stream's timeline, and gap() hears of
 * them first (stream time in ms, length, why) for the journal. */
typedef void (*capture_sink_fn)(void *data, const void *audio, uint32_t bytes);
typedef void (*capture_gap_fn)(void *data, uint64_t at_ms, uint64_t len_ms, const char *reason);
void capture_set_sink(struct capture *c, capture_sink_fn fn, capture_gap_fn gap, void *data);

/* Reads everything readable; returns frames appended to the timeline. */
uint64_t capture_drain(struct capture *c);
void capture_get_stats(const struct capture *c, struct capture_stats *stats);
uint32_t capture_rate(const struct capture *c);
const char *capture_name(const struct capture *c);
void capture_destroy(struct capture *c);

#endif
