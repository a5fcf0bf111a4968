/* The replay buffer (see replay.h). */
#include "replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_SCRATCH	65536	/* bytes moved into the spool at a time */

static uint64_t frames_ms(const struct replay *r, uint64_t frames)
{
	return frames * 1000 / r->rate;
}

int replay_init(struct replay *r, uint32_t rate, uint32_t frame_bytes, uint32_t memory_sec,
		uint32_t speed, const char *spool_dir, uint64_t spool_bytes, struct iothread *io,
		char *err, size_t err_size)
{
	memset(r, 0, sizeof(*r));
	r->spool.fd = -1;
	r->rate = rate;
	r->frame_bytes = frame_bytes;
	r->speed = speed > 0 ? speed : 1;
	timeline_init(&r->tl);
	if (err_size > 0)
		err[0] = '\0';
	if (audio_fifo_init(&r->fifo, (size_t)memory_sec * rate, frame_bytes) < 0)
		return -ENOMEM;
	if (spool_dir == NULL || spool_bytes == 0)
		return 0;
	if ((r->scratch = malloc(REPLAY_SCRATCH - REPLAY_SCRATCH % frame_bytes)) == NULL)
		return -ENOMEM;
	if ((r->spool_error = spool_open(&r->spool, spool_dir, spool_bytes, frame_bytes, io,
			err, err_size)) < 0) {
		free(r->scratch);
		r->scratch = NULL;
	}
	return 0;
}

void replay_clear(struct replay *r)
{
	spool_close(&r->spool);
	audio_fifo_clear(&r->fifo);
	free(r->scratch);
	r->scratch = NULL;
}

static size_t total_len(const struct replay *r)
{
	return (size_t)r->spool.len + audio_fifo_len(&r->fifo);
}

/* The spool failed: what it held is lost (a gap at C), memory goes on. */
static size_t drop_spool(struct replay *r, int err)
{
	size_t lost = (size_t)r->spool.len;

	r->spool_error = err;
	spool_close(&r->spool);
	return lost;
}

/* The I/O queue is full (the disk is stuck): the spool cannot take more
 * now. What it holds goes (a gap at C, so the rest stays contiguous) and
 * memory's oldest will go as it fills; the spool is used again once the
 * queue drains. */
static size_t skip_spool(struct replay *r)
{
	size_t lost = (size_t)r->spool.len;

	spool_consume(&r->spool, r->spool.len);
	return lost;
}

/* Makes room in memory for `bytes` by moving its oldest into the spool;
 * returns the bytes lost on the way (the spool's oldest, when it is full). */
static size_t spill(struct replay *r, size_t bytes)
{
	size_t room = r->fifo.size - audio_fifo_len(&r->fifo), need, lost = 0;
	size_t scratch = REPLAY_SCRATCH - REPLAY_SCRATCH % r->frame_bytes;

	if (r->spool.fd < 0 || bytes <= room)
		return 0;
	need = bytes - room;
	need = need < audio_fifo_len(&r->fifo) ? need : audio_fifo_len(&r->fifo);
	while (need > 0) {
		size_t k = audio_fifo_peek(&r->fifo, r->scratch, need < scratch ? need : scratch);
		int64_t d;
		if (k == 0)
			break;
		if (d = spool_append(&r->spool, r->scratch, k), d == -EAGAIN)
			return lost + skip_spool(r);
		if (d < 0)
			return lost + drop_spool(r, (int)d);
		lost += (size_t)d;
		audio_fifo_consume(&r->fifo, k);
		need -= k;
	}
	return lost;
}

int64_t replay_push(struct replay *r, const void *data, size_t bytes, int64_t *gap_start_ms)
{
	int64_t from = r->tl.committed_ms, gap;
	size_t dropped = 0;

	/* A write or read that failed on the I/O thread since. */
	if (r->spool.fd >= 0 && spool_error(&r->spool) < 0)
		dropped += drop_spool(r, spool_error(&r->spool));
	dropped += spill(r, bytes);

	dropped += audio_fifo_push(&r->fifo, data, bytes);
	if (dropped == 0)
		return 0;
	r->head_frame += dropped / r->frame_bytes;
	r->sent_off = r->sent_off > dropped ? r->sent_off - dropped : 0;
	if (gap_start_ms != NULL)
		*gap_start_ms = from;
	/* Only what goes past C is lost to the transcript (the overlap before
	 * it was final already). */
	gap = timeline_skip(&r->tl, (int64_t)frames_ms(r, r->head_frame));
	r->dropped_ms += (uint64_t)gap;
	return gap;
}

void replay_set_overlap(struct replay *r, uint32_t overlap_ms)
{
	r->overlap_ms = overlap_ms;
}

void replay_begin(struct replay *r, uint64_t conn, uint64_t now_ms)
{
	/* The buffer's head: C, or up to overlap_ms before it. */
	timeline_begin(&r->tl, conn, (int64_t)frames_ms(r, r->head_frame));
	r->sent_off = 0;
	r->conn_sent_bytes = 0;
	r->conn_start_ms = now_ms;
}

/* Copies n bytes from offset after C: the spool's part, then memory's. */
static size_t peek_at(struct replay *r, size_t offset, uint8_t *dst, size_t n)
{
	size_t k = 0, total = total_len(r);

	if (offset >= total)
		return 0;
	n = n < total - offset ? n : total - offset;
	n -= n % r->frame_bytes;
	if (offset < r->spool.len) {
		k = n < r->spool.len - offset ? n : (size_t)(r->spool.len - offset);
		if (spool_read(&r->spool, offset, dst, k) < 0)
			return 0;
	}
	if (n > k)
		audio_fifo_peek_at(&r->fifo, offset + k - (size_t)r->spool.len, dst + k, n - k);
	return n;
}

static void consume(struct replay *r, size_t bytes)
{
	size_t k = bytes < r->spool.len ? bytes : (size_t)r->spool.len;

	spool_consume(&r->spool, k);
	audio_fifo_consume(&r->fifo, bytes - k);
}

size_t replay_next(struct replay *r, uint64_t now_ms, void *dst, size_t chunk, bool all)
{
	size_t left = total_len(r) - r->sent_off;
	uint64_t allowed_ms;

	if (left == 0 || (left < chunk && !all))
		return 0;
	if (!all) {
		/* Catching up goes at `speed`; live audio is never held back. */
		allowed_ms = (now_ms - r->conn_start_ms) * r->speed + REPLAY_LEAD_MS;
		if (frames_ms(r, r->conn_sent_bytes / r->frame_bytes) >= allowed_ms)
			return 0;
	}
	return peek_at(r, r->sent_off, dst, chunk);
}

void replay_sent(struct replay *r, size_t bytes)
{
	r->sent_off += bytes;
	r->conn_sent_bytes += bytes;
	/* What the service can have heard bounds the times it may send back. */
	timeline_sent(&r->tl, (int64_t)frames_ms(r, r->conn_sent_bytes / r->frame_bytes));
}

void replay_commit(struct replay *r, int64_t final_ms)
{
	uint64_t head, frames;
	size_t bytes;

	if (timeline_commit(&r->tl, final_ms) == 0 || r->tl.committed_ms <= (int64_t)r->overlap_ms)
		return;
	head = (uint64_t)(r->tl.committed_ms - r->overlap_ms) * r->rate / 1000;
	if (head <= r->head_frame)
		return;
	/* Only what was sent can be final; never release more. */
	frames = head - r->head_frame;
	bytes = frames * r->frame_bytes;
	if (bytes > r->sent_off) {
		bytes = r->sent_off;
		frames = bytes / r->frame_bytes;
	}
	consume(r, bytes);
	r->sent_off -= bytes;
	r->head_frame += frames;
}

void replay_discard(struct replay *r, uint32_t keep_ms)
{
	size_t total = total_len(r), keep = (size_t)keep_ms * r->rate / 1000 * r->frame_bytes, drop;

	if (total <= keep)
		return;
	drop = total - keep;
	drop -= drop % r->frame_bytes;
	consume(r, drop);
	r->sent_off = r->sent_off > drop ? r->sent_off - drop : 0;
	r->head_frame += drop / r->frame_bytes;
	timeline_skip(&r->tl, (int64_t)frames_ms(r, r->head_frame));
}

size_t replay_unsent_bytes(const struct replay *r)
{
	return total_len(r) - r->sent_off;
}

uint64_t replay_buffered_ms(const struct replay *r)
{
	return frames_ms(r, total_len(r) / r->frame_bytes);
}

uint64_t replay_spooled_ms(const struct replay *r)
{
	return frames_ms(r, r->spool.len / r->frame_bytes);
}

uint64_t replay_dropped_ms(const struct replay *r)
{
	return r->dropped_ms;
}
