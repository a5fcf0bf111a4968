/* The disk spool behind a tap's replay buffer: the oldest audio, when the
 * service has been away longer than memory holds. A ring of at most
 * max_bytes in an anonymous file (O_TMPFILE) in the state dir, so nothing
 * is left behind after a crash; mode 0600. When it is full the oldest
 * frames go (the caller records the gap).
 *
 * One owner calls these (the worker). With an I/O thread (spool_open()'s
 * io) the file's pwrite/pread run on its data lane, in order, and no call
 * here waits for the disk: an append is copied into the lane's queue (a
 * full queue refuses it with -EAGAIN), a read is served from a read-ahead
 * the lane fills (-EAGAIN until it is there: ask again later).
 *
 * Errors are -errno; after one (here or on the lane: spool_error()) the
 * spool is broken and the caller goes on with memory alone.
 */
#ifndef TRANSCRIBE_SPOOL_H
#define TRANSCRIBE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct iothread;
struct spool_file;

struct spool {
	int fd;			/* >= 0: open */
	uint64_t size;		/* bytes, a multiple of frame_bytes */
	uint64_t head;		/* file offset of the oldest byte */
	uint64_t len;
	uint64_t pos;		/* bytes that went through, oldest first: head's position */
	uint32_t frame_bytes;
	struct iothread *io;	/* NULL: I/O on the caller's thread */
	struct spool_file *file;
};

/* dir NULL or "": the state dir (state-dir.h), created 0700 if missing.
 * io: the I/O thread (must outlive spool_close()), or NULL. */
int spool_open(struct spool *s, const char *dir, uint64_t max_bytes, uint32_t frame_bytes,
		struct iothread *io, char *err, size_t err_size);
/* With an I/O thread: closed there, after what was queued before. */
void spool_close(struct spool *s);
/* Appends; returns the bytes of the oldest audio that had to go (>= 0), or
 * -errno (-EAGAIN: the I/O queue is full, nothing was appended). */
int64_t spool_append(struct spool *s, const void *data, size_t bytes);
/* Reads n bytes from offset after the oldest; returns n or -errno
 * (-EAGAIN: being read ahead, ask again). */
int64_t spool_read(struct spool *s, uint64_t offset, void *dst, size_t n);
void spool_consume(struct spool *s, uint64_t bytes);
/* 0, or what broke the spool (also on the I/O thread). */
int spool_error(const struct spool *s);

#endif
