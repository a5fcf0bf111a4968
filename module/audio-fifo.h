/* Audio held for the service, oldest first, bounded: when full, the
 * oldest whole frames make room (counted, never silent). One owner thread
 * (the worker); not for the RT path. */
#ifndef TRANSCRIBE_AUDIO_FIFO_H
#define TRANSCRIBE_AUDIO_FIFO_H

#include <stddef.h>
#include <stdint.h>

struct audio_fifo {
	uint8_t *buf;
	size_t size;		/* bytes, a multiple of frame_bytes */
	size_t head, len;
	uint32_t frame_bytes;
	uint64_t dropped_bytes;	/* made room for newer audio */
};

/* Returns 0 or -ENOMEM/-EINVAL. */
int audio_fifo_init(struct audio_fifo *f, size_t capacity_frames, uint32_t frame_bytes);
void audio_fifo_clear(struct audio_fifo *f);
/* Appends whole frames; returns how many bytes of the oldest audio went. */
size_t audio_fifo_push(struct audio_fifo *f, const void *data, size_t bytes);
/* Copies up to n bytes (whole frames) from the oldest, without consuming. */
size_t audio_fifo_peek(const struct audio_fifo *f, void *dst, size_t n);
/* The same from offset bytes after the oldest (0 when nothing is there). */
size_t audio_fifo_peek_at(const struct audio_fifo *f, size_t offset, void *dst, size_t n);
void audio_fifo_consume(struct audio_fifo *f, size_t n);
static inline size_t audio_fifo_len(const struct audio_fifo *f) { return f->len; }

#endif
