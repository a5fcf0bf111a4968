/* The replay buffer (see replay.h). */
#include "replay.h"

#include <string.h>

static uint64_t frames_ms(const struct replay *r, uint64_t frames)
{
	return frames * 1000 / r->rate;
}

int replay_init(struct replay *r, uint32_t rate, uint32_t frame_bytes, uint32_t memory_sec,
		uint32_t speed)
{
	memset(r, 0, sizeof(*r));
	r->rate = rate;
	r->frame_bytes = frame_bytes;
	r->speed = speed > 0 ? speed : 1;
	timeline_init(&r->tl);
	return audio_fifo_init(&r->fifo, (size_t)memory_sec * rate, frame_bytes);
}

void replay_clear(struct replay *r)
{
	audio_fifo_clear(&r->fifo);
}

int64_t replay_push(struct replay *r, const void *data, size_t bytes, int64_t *gap_start_ms)
{
	size_t dropped = audio_fifo_push(&r->fifo, data, bytes);
	int64_t from = r->tl.committed_ms;

	if (dropped == 0)
		return 0;
	r->head_frame += dropped / r->frame_bytes;
	r->dropped_frames += dropped / r->frame_bytes;
	r->sent_off = r->sent_off > dropped ? r->sent_off - dropped : 0;
	if (gap_start_ms != NULL)
		*gap_start_ms = from;
	return timeline_skip(&r->tl, (int64_t)frames_ms(r, r->head_frame));
}

void replay_begin(struct replay *r, uint64_t conn, uint64_t now_ms)
{
	timeline_begin(&r->tl, conn);
	r->sent_off = 0;
	r->conn_sent_bytes = 0;
	r->conn_start_ms = now_ms;
}

size_t replay_next(struct replay *r, uint64_t now_ms, void *dst, size_t chunk, bool all)
{
	size_t left = audio_fifo_len(&r->fifo) - r->sent_off;
	uint64_t allowed_ms;

	if (left == 0 || (left < chunk && !all))
		return 0;
	if (!all) {
		/* Catching up goes at `speed`; live audio is never held back. */
		allowed_ms = (now_ms - r->conn_start_ms) * r->speed + REPLAY_LEAD_MS;
		if (frames_ms(r, r->conn_sent_bytes / r->frame_bytes) >= allowed_ms)
			return 0;
	}
	return audio_fifo_peek_at(&r->fifo, r->sent_off, dst, chunk);
}

void replay_sent(struct replay *r, size_t bytes)
{
	r->sent_off += bytes;
	r->conn_sent_bytes += bytes;
}

void replay_commit(struct replay *r, int64_t final_ms)
{
	uint64_t head, frames;
	size_t bytes;

	if (timeline_commit(&r->tl, final_ms) == 0)
		return;
	head = (uint64_t)r->tl.committed_ms * r->rate / 1000;
	if (head <= r->head_frame)
		return;
	/* Only what was sent can be final; never release more. */
	frames = head - r->head_frame;
	bytes = frames * r->frame_bytes;
	if (bytes > r->sent_off) {
		bytes = r->sent_off;
		frames = bytes / r->frame_bytes;
	}
	audio_fifo_consume(&r->fifo, bytes);
	r->sent_off -= bytes;
	r->head_frame += frames;
}

uint64_t replay_buffered_ms(const struct replay *r)
{
	return frames_ms(r, audio_fifo_len(&r->fifo) / r->frame_bytes);
}

uint64_t replay_dropped_ms(const struct replay *r)
{
	return frames_ms(r, r->dropped_frames);
}

bool replay_catching_up(const struct replay *r, size_t chunk)
{
	return audio_fifo_len(&r->fifo) - r->sent_off >= 2 * chunk;
}
