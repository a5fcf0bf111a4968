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

int ring_push(struct tap_ring *r, const void *data, uint32_t n_bytes)
{
	uint32_t index;
	int32_t filled;

	if (SPA_UNLIKELY(n_bytes % r->frame_bytes != 0))
		return -EINVAL;

	filled = spa_ringbuffer_get_write_index(&r->rb, &index);
	/* Written so that a huge n_bytes cannot wrap the comparison. */
	if (SPA_UNLIKELY(filled < 0 || n_bytes > r->size - (uint32_t)filled)) {
		atomic_fetch_add_explicit(&r->dropped_frames,
				n_bytes / r->frame_bytes, memory_order_release);
		return -ENOSPC;
	}
	spa_ringbuffer_write_data(&r->rb, r->data, r->size, r->write_off, data, n_bytes);
	r->write_off = (uint32_t)(((uint64_t)r->write_off + n_bytes) % r->size);
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

uint32_t ring_read(struct tap_ring *r, void *dst, uint32_t max_bytes)
{
	uint32_t index, n;
	int32_t avail;

	/* Re-arm before reading: audio the producer adds from here on either is
	 * read below or triggers a fresh wake-up, so no wake-up is lost. */
	atomic_store_explicit(&r->wake_armed, true, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);

	avail = spa_ringbuffer_get_read_index(&r->rb, &index);
	if (avail <= 0)
		return 0;
	n = SPA_MIN((uint32_t)avail, max_bytes);
	n -= n % r->frame_bytes;
	if (n == 0)
		return 0;
	spa_ringbuffer_read_data(&r->rb, r->data, r->size, r->read_off, dst, n);
	r->read_off = (uint32_t)(((uint64_t)r->read_off + n) % r->size);
	spa_ringbuffer_read_update(&r->rb, index + n);
	return n;
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
