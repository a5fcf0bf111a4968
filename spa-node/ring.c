/* SPSC ring on spa_ringbuffer: the RT side of the data path. */
#include "ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <spa/utils/defs.h>
#include <spa/utils/ringbuffer.h>

/* Where the producer lost frames: `at` bytes of audio were pushed before
 * them. The producer grows the newest record while the run goes on (no
 * push succeeded since); the consumer takes its frames with an exchange. */
struct ring_gap {
	uint64_t at;			/* written before head is published */
	atomic_uint_fast64_t frames;
	atomic_uint why;		/* RING_GAP_* */
};

/* The 32-bit stream indexes of spa_ringbuffer give the fill level; where
 * the bytes go each side counts itself, so the size need not divide 2^32
 * (index % size would jump where the index wraps, after 4 GiB). */
struct tap_ring {
	struct spa_ringbuffer rb;	/* indexes: producer writes write, consumer read */
	uint8_t *data;			/* mmap()ed and touched at setup */
	uint32_t size;			/* bytes: exactly the capacity asked for */
	uint32_t write_off;		/* RT: ring_push() only */
	uint32_t read_off;		/* consumer only */
	int lock_error;			/* 0: mlock()ed; else its errno */
	uint32_t frame_bytes;
	uint32_t wake_bytes;
	int wake_fd;
	atomic_bool wake_armed;		/* consumer sets, producer clears */
	atomic_uint_fast64_t dropped_frames;	/* RT: written by ring_push() only */

	struct ring_gap gaps[RING_MAX_GAPS];
	atomic_uint gap_head;		/* RT publishes */
	atomic_uint gap_tail;		/* consumer releases */
	bool gap_open;			/* RT only: the newest record still grows */
	uint64_t pushed_bytes;		/* RT only */
	uint64_t read_bytes;		/* consumer only */
};

/* Every page written here, on the creating thread, so the RT thread's
 * first lap takes no page fault; locked (best effort) so an idle tap's
 * ring is never swapped out. */
static uint8_t *data_new(size_t size, int *lock_error)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	*lock_error = mlock(p, size) < 0 ? errno : 0;
	memset(p, 0, size);
	return p;
}

struct tap_ring *ring_new(uint32_t capacity_frames, uint32_t frame_bytes,
		uint32_t wake_frames, int wake_fd)
{
	struct tap_ring *r;
	uint64_t bytes = (uint64_t)capacity_frames * frame_bytes;

	if (frame_bytes == 0 || capacity_frames == 0 || bytes > (1u << 30)) {
		errno = EINVAL;
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->size = (uint32_t)bytes;
	if ((r->data = data_new(r->size, &r->lock_error)) == NULL) {
		free(r);
		return NULL;
	}
	spa_ringbuffer_init(&r->rb);
	r->frame_bytes = frame_bytes;
	/* A threshold above capacity would never be reached. */
	r->wake_bytes = SPA_CLAMP(wake_frames, 1u, r->size / frame_bytes) * frame_bytes;
	r->wake_fd = wake_fd;
	atomic_init(&r->wake_armed, true);
	atomic_init(&r->dropped_frames, 0);
	return r;
}

void ring_free(struct tap_ring *r)
{
	if (r == NULL)
		return;
	munmap(r->data, r->size);	/* unlocks too */
	free(r);
}

static void wake_consumer(struct tap_ring *r)
{
	uint64_t one = 1;
	ssize_t res;

	/* Non-blocking eventfd: a full counter (never in practice) just means
	 * the consumer is already due to wake, so the result can be ignored. */
	res = write(r->wake_fd, &one, sizeof(one));
	(void)res;
}

/* RT: frames lost right after what was pushed so far. A run of drops is
 * one record; with every record in use (the consumer far behind), the
 * newest takes them, a little early but counted. */
static void gap_add(struct tap_ring *r, uint64_t frames, unsigned why)
{
	unsigned head = atomic_load_explicit(&r->gap_head, memory_order_relaxed);
	unsigned tail = atomic_load_explicit(&r->gap_tail, memory_order_acquire);
	struct ring_gap *g;

	atomic_fetch_add_explicit(&r->dropped_frames, frames, memory_order_release);
	if (r->gap_open || head - tail == RING_MAX_GAPS) {
		g = &r->gaps[(head - 1) % RING_MAX_GAPS];
		atomic_fetch_or_explicit(&g->why, why, memory_order_relaxed);
		atomic_fetch_add_explicit(&g->frames, frames, memory_order_release);
		return;
	}
	g = &r->gaps[head % RING_MAX_GAPS];
	g->at = r->pushed_bytes;
	atomic_store_explicit(&g->why, why, memory_order_relaxed);
	atomic_store_explicit(&g->frames, frames, memory_order_relaxed);
	atomic_store_explicit(&r->gap_head, head + 1, memory_order_release);
	r->gap_open = true;
}

void ring_skip(struct tap_ring *r, uint64_t frames)
{
	if (frames > 0)
		gap_add(r, frames, RING_GAP_MISSED);
}

int ring_push(struct tap_ring *r, const void *data, uint32_t n_bytes)
{
	uint32_t index;
	int32_t filled;

	if (SPA_UNLIKELY(n_bytes % r->frame_bytes != 0))
		return -EINVAL;

	filled = spa_ringbuffer_get_write_index(&r->rb, &index);
	/* Written so that a huge n_bytes cannot wrap the comparison. */
	if (SPA_UNLIKELY(filled < 0 || n_bytes > r->size - (uint32_t)filled)) {
		if (n_bytes > 0)
			gap_add(r, n_bytes / r->frame_bytes, RING_GAP_OVERFLOW);
		return -ENOSPC;
	}
	spa_ringbuffer_write_data(&r->rb, r->data, r->size, r->write_off, data, n_bytes);
	r->write_off = (uint32_t)(((uint64_t)r->write_off + n_bytes) % r->size);
	r->pushed_bytes += n_bytes;
	if (n_bytes > 0)
		r->gap_open = false;
	spa_ringbuffer_write_update(&r->rb, index + n_bytes);

	/* Pairs with the fence in ring_read(): either the consumer sees this
	 * write index, or we see its re-arm and wake it. Without it both sides
	 * may read stale values and the wake-up waits for the next block. */
	atomic_thread_fence(memory_order_seq_cst);
	if (r->wake_fd >= 0 && (uint32_t)filled + n_bytes >= r->wake_bytes &&
	    atomic_exchange_explicit(&r->wake_armed, false, memory_order_acq_rel))
		wake_consumer(r);
	return 0;
}

/* The oldest record, when the read position has reached it: its frames
 * (0 when taken already), released once nothing more can join it (audio
 * came after it, or a newer record). Else how far data may be read. */
static uint64_t gap_take(struct tap_ring *r, int32_t avail, uint32_t *limit, unsigned *why)
{
	unsigned tail = atomic_load_explicit(&r->gap_tail, memory_order_relaxed);
	unsigned head = atomic_load_explicit(&r->gap_head, memory_order_acquire);
	struct ring_gap *g = &r->gaps[tail % RING_MAX_GAPS];
	uint64_t frames;

	if (tail == head)
		return 0;
	if (g->at > r->read_bytes) {
		*limit = (uint32_t)SPA_MIN(g->at - r->read_bytes, (uint64_t)*limit);
		return 0;
	}
	frames = atomic_exchange_explicit(&g->frames, 0, memory_order_acq_rel);
	*why = atomic_load_explicit(&g->why, memory_order_relaxed);
	if (avail > 0 || tail + 1 != head)
		atomic_store_explicit(&r->gap_tail, tail + 1, memory_order_release);
	return frames;
}

uint32_t ring_read_gap(struct tap_ring *r, void *dst, uint32_t max_bytes,
		uint64_t *gap_frames, unsigned *gap_why)
{
	uint32_t index, n;
	int32_t avail;
	unsigned why = 0;

	/* Re-arm before reading: audio the producer adds from here on either is
	 * read below or triggers a fresh wake-up, so no wake-up is lost. */
	atomic_store_explicit(&r->wake_armed, true, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);

	/* The write index first: a record published before the audio seen
	 * here is seen by gap_take() too. */
	avail = spa_ringbuffer_get_read_index(&r->rb, &index);
	n = avail > 0 ? SPA_MIN((uint32_t)avail, max_bytes) : 0;
	*gap_frames = gap_take(r, avail, &n, &why);
	if (gap_why != NULL)
		*gap_why = why;
	if (*gap_frames > 0)
		return 0;
	n -= n % r->frame_bytes;
	if (n == 0)
		return 0;
	spa_ringbuffer_read_data(&r->rb, r->data, r->size, r->read_off, dst, n);
	r->read_off = (uint32_t)(((uint64_t)r->read_off + n) % r->size);
	r->read_bytes += n;
	spa_ringbuffer_read_update(&r->rb, index + n);
	return n;
}

uint32_t ring_read(struct tap_ring *r, void *dst, uint32_t max_bytes)
{
	uint64_t gap;
	uint32_t n, done = 0;

	for (;;) {
		n = ring_read_gap(r, (uint8_t *)dst + done, max_bytes - done, &gap, NULL);
		done += n;
		if (n == 0 && gap == 0)
			return done;
	}
}

uint64_t ring_dropped_frames(struct tap_ring *r)
{
	return atomic_load_explicit(&r->dropped_frames, memory_order_acquire);
}

uint32_t ring_readable_frames(struct tap_ring *r)
{
	uint32_t index;
	int32_t avail = spa_ringbuffer_get_read_index(&r->rb, &index);
	return avail > 0 ? (uint32_t)avail / r->frame_bytes : 0;
}

uint32_t ring_capacity_frames(const struct tap_ring *r)
{
	return r->size / r->frame_bytes;
}

int ring_lock_error(const struct tap_ring *r)
{
	return r->lock_error;
}

uint32_t ring_frame_bytes(const struct tap_ring *r)
{
	return r->frame_bytes;
}
