/* The disk spool behind a tap's replay buffer: the oldest audio, when the
 * service has been away longer than memory holds. A ring of at most
 * max_bytes in an anonymous file (O_TMPFILE) in the state dir, so nothing
 * is left behind after a crash; mode 0600. When it is full the oldest
 * frames go (the caller records the gap).
 *
 * Worker thread only (one owner). Errors are -errno; after one the spool
 * is broken and the caller goes on with memory alone.
 */
#ifndef TRANSCRIBE_SPOOL_H
#define TRANSCRIBE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool {
	int fd;
	uint64_t size;		/* bytes, a multiple of frame_bytes */
	uint64_t head;		/* file offset of the oldest byte */
	uint64_t len;
	uint32_t frame_bytes;
};

/* dir NULL or "": the state dir (state-dir.h), created 0700 if missing. */
int spool_open(struct spool *s, const char *dir, uint64_t max_bytes, uint32_t frame_bytes,
		char *err, size_t err_size);
void spool_close(struct spool *s);
/* Appends; returns the bytes of the oldest audio that had to go (>= 0), or -errno. */
int64_t spool_append(struct spool *s, const void *data, size_t bytes);
/* Reads n bytes from offset after the oldest; returns n or -errno. */
int64_t spool_read(const struct spool *s, uint64_t offset, void *dst, size_t n);
void spool_consume(struct spool *s, uint64_t bytes);

#endif
