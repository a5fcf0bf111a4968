/* SPSC audio ring between the RT process() callback and the worker.
 *
 * One producer (the PipeWire data thread, through ring_push()) and one
 * consumer (the worker thread, through ring_read()). Storage is allocated
 * once in ring_new(); nothing on the producer side allocates, locks, logs or
 * blocks. The only syscall the producer makes is a non-blocking eventfd
 * write, and only when enough audio has piled up to be worth a wake-up.
 */
#ifndef TRANSCRIBE_RING_H
#define TRANSCRIBE_RING_H

#include <stdint.h>
#include <stddef.h>

struct tap_ring;

/* Setup (any non-RT thread). The ring holds exactly capacity_frames
 * (at most 1 GiB); every page of it is written here (so the RT thread
 * never takes a page fault on it) and mlock()ed if RLIMIT_MEMLOCK allows
 * (ring_lock_error() says why not). wake_fd is a non-blocking (EFD_NONBLOCK)
 * eventfd owned by the caller (or -1: the consumer polls); wake_frames is
 * clamped to the capacity;
 * the producer writes it once wake_frames are pending and the consumer has
 * re-armed the wake-up with ring_read(). Returns NULL with errno set. */
struct tap_ring *ring_new(uint32_t capacity_frames, uint32_t frame_bytes,
		uint32_t wake_frames, int wake_fd);
void ring_free(struct tap_ring *r);

/* RT producer. Copies n_bytes (a whole number of frames) into the ring.
 * If they do not all fit, nothing is written (the new block is dropped, the
 * read index never moves) and the dropped frames are counted.
 * Returns 0 or -ENOSPC (dropped) / -EINVAL (partial frame). */
int ring_push(struct tap_ring *r, const void *data, uint32_t n_bytes);

/* RT producer: frames that never reached us here (an xrun, a stall of the
 * graph): a gap at this point of the stream, as if they had been dropped. */
void ring_skip(struct tap_ring *r, uint64_t frames);

/* Where frames were lost (ring_read_gap()'s *gap_why, or'ed). */
#define RING_GAP_OVERFLOW	(1u << 0)	/* the ring was full */
#define RING_GAP_MISSED		(1u << 1)	/* ring_skip() */
/* Records of drop runs the consumer has not reached; beyond, the newest
 * takes the frames (counted, placed a little early). */
#define RING_MAX_GAPS		64

/* Consumer. Re-arms the wake-up, then copies up to max_bytes of whole
 * frames into dst, stopping where frames were lost: at that point it
 * returns 0 with *gap_frames > 0 (and why): the caller puts the gap in the
 * stream there, then reads on. Otherwise *gap_frames is 0 and it returns
 * the bytes copied. So A, B lost, C pushed while A is read comes out as
 * A, gap(B), C. gap_why may be NULL. */
uint32_t ring_read_gap(struct tap_ring *r, void *dst, uint32_t max_bytes,
		uint64_t *gap_frames, unsigned *gap_why);
/* ring_read_gap() that steps over the gaps (tests, benches). */
uint32_t ring_read(struct tap_ring *r, void *dst, uint32_t max_bytes);

/* Consumer: frames the producer dropped (or skipped) since the ring was
 * created; where they are comes from ring_read_gap(). */
uint64_t ring_dropped_frames(struct tap_ring *r);

/* Consumer: frames currently readable. */
uint32_t ring_readable_frames(struct tap_ring *r);

uint32_t ring_capacity_frames(const struct tap_ring *r);
/* 0 when the ring is locked in memory; else mlock()'s errno (EPERM,
 * ENOMEM: RLIMIT_MEMLOCK), and the ring may be swapped out while idle. */
int ring_lock_error(const struct tap_ring *r);
uint32_t ring_frame_bytes(const struct tap_ring *r);

#endif
