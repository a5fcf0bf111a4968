/* Bounded FIFO of audio bytes (see audio-fifo.h). */
#include "audio-fifo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int audio_fifo_init(struct audio_fifo *f, size_t capacity_frames, uint32_t frame_bytes)
{
	memset(f, 0, sizeof(*f));
	if (frame_bytes == 0 || capacity_frames == 0)
		return -EINVAL;
	f->frame_bytes = frame_bytes;
	f->size = capacity_frames * frame_bytes;
	if ((f->buf = malloc(f->size)) == NULL)
		return -ENOMEM;
	return 0;
}

void audio_fifo_clear(struct audio_fifo *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

size_t audio_fifo_push(struct audio_fifo *f, const void *data, size_t bytes)
{
	const uint8_t *p = data;
	size_t dropped = 0, tail, first;

	bytes -= bytes % f->frame_bytes;
	if (bytes > f->size) {
		/* More than fits at all: only the newest part can stay. */
		dropped += bytes - f->size;
		p += bytes - f->size;
		bytes = f->size;
	}
	if (f->len + bytes > f->size) {
		size_t drop = f->len + bytes - f->size;
		f->head = (f->head + drop) % f->size;
		f->len -= drop;
		dropped += drop;
	}
	tail = (f->head + f->len) % f->size;
	first = bytes < f->size - tail ? bytes : f->size - tail;
	memcpy(f->buf + tail, p, first);
	memcpy(f->buf, p + first, bytes - first);
	f->len += bytes;
	f->dropped_bytes += dropped;
	return dropped;
}

size_t audio_fifo_peek_at(const struct audio_fifo *f, size_t offset, void *dst, size_t n)
{
	size_t first, start;

	if (offset >= f->len)
		return 0;
	n = n < f->len - offset ? n : f->len - offset;
	n -= n % f->frame_bytes;
	start = (f->head + offset) % f->size;
	first = n < f->size - start ? n : f->size - start;
	memcpy(dst, f->buf + start, first);
	memcpy((uint8_t *)dst + first, f->buf, n - first);
	return n;
}

size_t audio_fifo_peek(const struct audio_fifo *f, void *dst, size_t n)
{
	return audio_fifo_peek_at(f, 0, dst, n);
}

void audio_fifo_consume(struct audio_fifo *f, size_t n)
{
	n = n < f->len ? n : f->len;
	f->head = (f->head + n) % f->size;
	f->len -= n;
}
