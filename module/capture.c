/* Ring → timeline (→ debug WAV). The session will consume from here. */
#include "capture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipewire/log.h>
#include <spa/utils/defs.h>
#include <spa/utils/result.h>

#include "clock.h"
#include "wav-writer.h"

PW_LOG_TOPIC_EXTERN(mod_topic);
#define PW_LOG_TOPIC_DEFAULT mod_topic

#define CAPTURE_CHUNK_BYTES	(16u * 1024u)

struct capture {
	char name[64];
	struct tap_ring *ring;
	uint32_t rate;
	uint32_t channels;
	struct wav_writer *wav;
	capture_sink_fn sink;
	capture_gap_fn gap;
	void *sink_data;
	struct capture_stats stats;
	uint64_t last_drain_ms;
	uint8_t chunk[CAPTURE_CHUNK_BYTES];
};

struct capture *capture_new(const char *tap_name, struct tap_ring *ring,
		uint32_t rate, uint32_t channels, const char *record_file)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", tap_name);
	c->ring = ring;
	c->rate = rate;
	c->channels = channels;
	if (record_file != NULL && record_file[0] != '\0') {
		if ((c->wav = wav_writer_open(record_file, rate, channels)) == NULL) {
			int res = errno;
			free(c);
			errno = res;
			return NULL;
		}
	}
	return c;
}

static void record(struct capture *c, const void *data, uint32_t bytes, uint64_t silence)
{
	int res = 0;

	if (c->wav == NULL)
		return;
	if (bytes > 0)
		res = wav_writer_write(c->wav, data, bytes);
	if (res == 0 && silence > 0)
		res = wav_writer_write_silence(c->wav, silence);
	if (res < 0) {
		pw_log_warn("tap=%s debug recording stopped: %s", c->name, spa_strerror(res));
		wav_writer_close(c->wav);
		c->wav = NULL;
	}
}

void capture_set_sink(struct capture *c, capture_sink_fn fn, capture_gap_fn gap, void *data)
{
	c->sink = fn;
	c->gap = gap;
	c->sink_data = data;
}

static void sink_silence(struct capture *c, uint64_t frames)
{
	uint64_t bytes = frames * ring_frame_bytes(c->ring);

	memset(c->chunk, 0, sizeof(c->chunk));
	while (c->sink != NULL && bytes > 0) {
		uint32_t n = (uint32_t)SPA_MIN(bytes, (uint64_t)sizeof(c->chunk));
		c->sink(c->sink_data, c->chunk, n);
		bytes -= n;
	}
}

/* Frames lost where the stream is now: said (log, the sink's gap), counted
 * (DroppedMs), and kept on the timeline as silence, so what follows stays
 * where it was played. */
static void lost(struct capture *c, uint64_t frames, unsigned why)
{
	const char *reason = why & RING_GAP_OVERFLOW ?
		"ring overflow (buffer.ring-ms): the worker fell behind" :
		"audio missed by the graph (an xrun or a stall)";
	uint64_t at_ms = c->stats.frames * 1000 / c->rate;

	pw_log_warn("tap=%s %" PRIu64 " frames (%" PRIu64 " ms) lost at stream time %" PRIu64
			" ms: %s", c->name, frames, frames * 1000 / c->rate, at_ms, reason);
	if (c->gap != NULL)
		c->gap(c->sink_data, at_ms, frames * 1000 / c->rate, reason);
	c->stats.dropped_frames += frames;
	c->stats.frames += frames;
	record(c, NULL, 0, frames);
	sink_silence(c, frames);
}

uint64_t capture_drain(struct capture *c)
{
	uint64_t before = c->stats.frames, gap, now;
	uint32_t frame_bytes = ring_frame_bytes(c->ring), n;
	unsigned why;

	/* Stops at every gap, so each comes where its frames were lost. */
	for (;;) {
		n = ring_read_gap(c->ring, c->chunk, sizeof(c->chunk), &gap, &why);
		if (gap > 0) {
			lost(c, gap, why);
			continue;
		}
		if (n == 0)
			break;
		c->stats.frames += n / frame_bytes;
		record(c, c->chunk, n, 0);
		if (c->sink != NULL)
			c->sink(c->sink_data, c->chunk, n);
	}
	/* How long the ring waited for us at worst (what a stall costs). */
	now = clock_now_ms();
	if (c->stats.drains > 0 && now - c->last_drain_ms > c->stats.max_drain_gap_ms)
		c->stats.max_drain_gap_ms = now - c->last_drain_ms;
	c->last_drain_ms = now;
	c->stats.drains++;
	return c->stats.frames - before;
}

void capture_get_stats(const struct capture *c, struct capture_stats *stats)
{
	*stats = c->stats;
}

uint32_t capture_rate(const struct capture *c)
{
	return c->rate;
}

const char *capture_name(const struct capture *c)
{
	return c->name;
}

void capture_destroy(struct capture *c)
{
	if (c == NULL)
		return;
	wav_writer_close(c->wav);
	free(c);
}
