/* Unit tests for the SPSC ring (spa-node/ring.c), single-threaded.
 *
 * Data is a counter pattern of S16 samples: sample s of the stream holds
 * (uint16_t)s, so any lost, repeated or stale byte shows up as a mismatch.
 * The ring sizes used here are never a multiple of 65536 samples, so stale
 * data from one lap earlier can not pass for fresh data.
 *
 * ring.c is compiled into this executable and linked with
 * -Wl,--wrap=malloc,... so the allocator calls it makes are counted.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <cmocka.h>

#include <spa/utils/defs.h>

#include "ring.h"

#define SAMPLE_BYTES	2u

/* Allocator calls made by code in this executable (ring.c and the tests;
 * cmocka and libc allocate through their own, unwrapped references). */
static unsigned long alloc_calls;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
int __real_posix_memalign(void **p, size_t align, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);

void *__wrap_malloc(size_t size)
{
	alloc_calls++;
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	alloc_calls++;
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	alloc_calls++;
	return __real_realloc(p, size);
}

void __wrap_free(void *p)
{
	alloc_calls++;
	__real_free(p);
}

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
	alloc_calls++;
	return __real_posix_memalign(p, align, size);
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
	alloc_calls++;
	return __real_aligned_alloc(align, size);
}

/* Fills n_bytes (whole samples) with the counter pattern from *next on. */
static void pattern_fill(uint8_t *dst, uint32_t n_bytes, uint64_t *next)
{
	for (uint32_t i = 0; i < n_bytes; i += SAMPLE_BYTES) {
		uint16_t v = (uint16_t)(*next)++;
		memcpy(dst + i, &v, sizeof(v));
	}
}

/* Asserts src continues the counter pattern at *next, byte for byte. */
static void pattern_check(const uint8_t *src, uint32_t n_bytes, uint64_t *next)
{
	for (uint32_t i = 0; i < n_bytes; i += SAMPLE_BYTES) {
		uint16_t want = (uint16_t)*next, got;
		memcpy(&got, src + i, sizeof(got));
		if (got != want)
			fail_msg("sample %" PRIu64 ": got %u, want %u", *next, got, want);
		(*next)++;
	}
}

/* xorshift32: a fixed, reproducible sequence of sizes. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Reads and clears the eventfd counter; 0 if it was never written. */
static uint64_t eventfd_take(int fd)
{
	uint64_t v = 0;
	ssize_t res = read(fd, &v, sizeof(v));

	if (res < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	assert_int_equal(res, sizeof(v));
	return v;
}

struct traffic {
	uint64_t pushed;	/* samples written */
	uint64_t read;		/* samples checked */
	uint64_t bytes;		/* stream bytes pushed since ring_new() */
	uint32_t seed;
};

/* Moves at least `bytes` through the ring in pushes and reads of varying
 * sizes (reads also with sizes that are not whole frames), never
 * overflowing it, checking every byte read and the fill level as it goes. */
static void run_traffic(struct tap_ring *r, struct traffic *t, uint64_t bytes)
{
	uint32_t fb = ring_frame_bytes(r), cap = ring_capacity_frames(r);
	uint32_t max_frames = SPA_MIN(cap, 1000u);
	uint8_t *in = malloc((size_t)max_frames * fb), *out = malloc((size_t)cap * fb + fb);
	uint64_t end = t->bytes + bytes;

	assert_non_null(in);
	assert_non_null(out);
	while (t->bytes < end || t->read < t->pushed) {
		uint32_t frames = 1 + next_rand(&t->seed) % max_frames;
		uint32_t fill = ring_readable_frames(r);

		assert_int_equal((uint64_t)fill * fb, (t->pushed - t->read) * SAMPLE_BYTES);
		if (t->bytes < end && fill + frames <= cap && next_rand(&t->seed) % 3 != 0) {
			pattern_fill(in, frames * fb, &t->pushed);
			assert_int_equal(ring_push(r, in, frames * fb), 0);
			t->bytes += frames * fb;
		} else {
			uint32_t max = frames * fb + next_rand(&t->seed) % fb;
			uint32_t n = ring_read(r, out, max);
			assert_int_equal(n, SPA_MIN(fill, max / fb) * fb);
			pattern_check(out, n, &t->read);
		}
	}
	assert_int_equal(ring_dropped_frames(r), 0);
	free(in);
	free(out);
}

static void test_ring_new_rejects_empty_and_oversized_rings(void **state)
{
	struct tap_ring *r;

	errno = 0;
	assert_null(ring_new(0, 4, 1, -1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(ring_new(1024, 0, 1, -1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(ring_new((1u << 28) + 1, 4, 1, -1));
	assert_int_equal(errno, EINVAL);

	r = ring_new(1000, 4, 1, -1);
	assert_non_null(r);
	assert_int_equal(ring_capacity_frames(r), 1000);	/* exactly, not rounded */
	assert_int_equal(ring_frame_bytes(r), 4);
	assert_int_equal(ring_readable_frames(r), 0);
	assert_int_equal(ring_dropped_frames(r), 0);
	ring_free(r);
	ring_free(NULL);
}

/* 6-byte frames (S16, 3 channels) in a 6000-byte buffer (no power of
 * two): pushes and reads of every size cross its end. */
static void test_data_is_byte_exact_across_buffer_end(void **state)
{
	struct traffic t = { .seed = 0x2545f491 };
	struct tap_ring *r = ring_new(1000, 6, 1, -1);

	assert_non_null(r);
	assert_int_equal(ring_capacity_frames(r), 1000);
	run_traffic(r, &t, 200 * 6000);
	assert_true(t.read > 100 * 6000 / SAMPLE_BYTES);
	ring_free(r);
}

/* The 32-bit stream indexes wrap after 4 GiB; data and fill level must stay
 * exact across that point. Fast-forward there with full-ring laps (data not
 * checked, filler that can not pass for the pattern), then check every byte
 * for a few laps on each side. 2^32 is a multiple of neither the 6-byte
 * frame nor the 60000-byte ring: a frame straddles the index wrap, and
 * where the bytes go must not jump there (index % size would). */
static void test_data_is_byte_exact_across_index_wrap(void **state)
{
	struct traffic t = { .seed = 0x9e3779b9 };
	struct tap_ring *r = ring_new(10000, 6, 1, -1);
	const uint64_t wrap = UINT64_C(1) << 32;
	uint32_t lap = 60000;
	uint8_t *filler = malloc(lap), *sink = malloc(lap);

	assert_non_null(r);
	assert_non_null(filler);
	assert_non_null(sink);
	assert_int_equal(ring_capacity_frames(r) * 6, lap);
	memset(filler, 0xa5, lap);

	while (t.bytes + lap < wrap - 4 * (uint64_t)lap) {
		assert_int_equal(ring_push(r, filler, lap), 0);
		assert_int_equal(ring_read(r, sink, lap), lap);
		t.bytes += lap;
	}
	run_traffic(r, &t, 8 * (uint64_t)lap);
	assert_true(t.bytes > wrap + 2 * (uint64_t)lap);
	assert_int_equal(ring_readable_frames(r), 0);
	free(filler);
	free(sink);
	ring_free(r);
}

static void test_push_into_full_ring_is_dropped_and_counted(void **state)
{
	static uint8_t in[1024 * SAMPLE_BYTES], out[1024 * SAMPLE_BYTES];
	uint64_t pushed = 0, read = 0, dropped_block = 1 << 20;
	struct tap_ring *r = ring_new(1024, SAMPLE_BYTES, 1024, -1);

	assert_non_null(r);
	for (int i = 0; i < 4; i++) {
		pattern_fill(in, 256 * SAMPLE_BYTES, &pushed);
		assert_int_equal(ring_push(r, in, 256 * SAMPLE_BYTES), 0);
	}
	assert_int_equal(ring_readable_frames(r), 1024);

	/* Full: blocks of other content are rejected whole, the readable data
	 * and the read position stay as they were. */
	pattern_fill(in, 100 * SAMPLE_BYTES, &dropped_block);
	assert_int_equal(ring_push(r, in, 1 * SAMPLE_BYTES), -ENOSPC);
	assert_int_equal(ring_push(r, in, 100 * SAMPLE_BYTES), -ENOSPC);
	assert_int_equal(ring_dropped_frames(r), 101);
	assert_int_equal(ring_readable_frames(r), 1024);
	assert_int_equal(ring_read(r, out, sizeof(out)), 1024 * SAMPLE_BYTES);
	pattern_check(out, 1024 * SAMPLE_BYTES, &read);

	/* Room again: pushes work, the count stays. */
	pattern_fill(in, 300 * SAMPLE_BYTES, &pushed);
	assert_int_equal(ring_push(r, in, 300 * SAMPLE_BYTES), 0);
	assert_int_equal(ring_dropped_frames(r), 101);

	/* A block that only partly fits is dropped whole, not truncated. */
	pattern_fill(in, 800 * SAMPLE_BYTES, &dropped_block);
	assert_int_equal(ring_push(r, in, 800 * SAMPLE_BYTES), -ENOSPC);
	assert_int_equal(ring_dropped_frames(r), 901);
	assert_int_equal(ring_readable_frames(r), 300);

	/* Exactly the free space fits. */
	pattern_fill(in, 724 * SAMPLE_BYTES, &pushed);
	assert_int_equal(ring_push(r, in, 724 * SAMPLE_BYTES), 0);
	assert_int_equal(ring_readable_frames(r), 1024);
	assert_int_equal(ring_read(r, out, sizeof(out)), 1024 * SAMPLE_BYTES);
	pattern_check(out, 1024 * SAMPLE_BYTES, &read);
	assert_int_equal(read, pushed);
	assert_int_equal(ring_dropped_frames(r), 901);
	ring_free(r);
}

static void test_partial_frame_push_is_rejected_and_not_counted(void **state)
{
	static uint8_t in[1024], out[64];
	uint64_t pushed = 0, read = 0;
	struct tap_ring *r = ring_new(64, 4, 64, -1);

	assert_non_null(r);
	pattern_fill(in, sizeof(in), &pushed);
	assert_int_equal(ring_push(r, in, 2), -EINVAL);
	assert_int_equal(ring_push(r, in, 6), -EINVAL);
	assert_int_equal(ring_push(r, in, 4 * 10 + 1), -EINVAL);
	/* Checked before space: a partial frame too big to fit is still EINVAL. */
	assert_int_equal(ring_push(r, in, sizeof(in) - 2), -EINVAL);
	assert_int_equal(ring_readable_frames(r), 0);
	assert_int_equal(ring_dropped_frames(r), 0);

	/* Reads hand out whole frames only and leave the rest in the ring. */
	assert_int_equal(ring_push(r, in, 8), 0);
	assert_int_equal(ring_read(r, out, 3), 0);
	assert_int_equal(ring_readable_frames(r), 2);
	assert_int_equal(ring_read(r, out, 7), 4);
	pattern_check(out, 4, &read);
	assert_int_equal(ring_readable_frames(r), 1);
	assert_int_equal(ring_read(r, out, sizeof(out)), 4);
	pattern_check(out, 4, &read);
	ring_free(r);
}

static void test_wake_fd_written_once_per_read(void **state)
{
	static uint8_t in[1024 * SAMPLE_BYTES], out[1024 * SAMPLE_BYTES];
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct tap_ring *r;

	assert_true(fd >= 0);
	r = ring_new(1024, SAMPLE_BYTES, 256, fd);
	assert_non_null(r);

	/* Below the threshold: no wake-up. */
	assert_int_equal(ring_push(r, in, 100 * SAMPLE_BYTES), 0);
	assert_int_equal(ring_push(r, in, 155 * SAMPLE_BYTES), 0);
	assert_int_equal(eventfd_take(fd), 0);

	/* The push that reaches it writes the eventfd, once. */
	assert_int_equal(ring_push(r, in, 1 * SAMPLE_BYTES), 0);
	assert_int_equal(eventfd_take(fd), 1);

	/* Not again until the consumer has read, also not on overflow. */
	assert_int_equal(ring_push(r, in, 500 * SAMPLE_BYTES), 0);
	assert_int_equal(ring_push(r, in, 268 * SAMPLE_BYTES), 0);
	assert_int_equal(ring_push(r, in, 1 * SAMPLE_BYTES), -ENOSPC);
	assert_int_equal(eventfd_take(fd), 0);

	/* ring_read re-arms without writing itself; with audio still above
	 * the threshold the next push wakes again. */
	assert_int_equal(ring_read(r, out, 10 * SAMPLE_BYTES), 10 * SAMPLE_BYTES);
	assert_int_equal(eventfd_take(fd), 0);
	assert_int_equal(ring_push(r, in, 1 * SAMPLE_BYTES), 0);
	assert_int_equal(eventfd_take(fd), 1);
	assert_int_equal(ring_push(r, in, 1 * SAMPLE_BYTES), 0);
	assert_int_equal(eventfd_take(fd), 0);

	/* Drained and re-armed: the threshold counts from empty again. */
	while (ring_read(r, out, sizeof(out)) > 0)
		;
	assert_int_equal(ring_push(r, in, 255 * SAMPLE_BYTES), 0);
	assert_int_equal(eventfd_take(fd), 0);
	assert_int_equal(ring_push(r, in, 1 * SAMPLE_BYTES), 0);
	assert_int_equal(eventfd_take(fd), 1);

	ring_free(r);
	close(fd);
}

/* The RT side must never touch the allocator: thousands of pushes of
 * varying sizes through the normal, overflow, partial-frame and wake-up
 * paths (with the consumer re-arming in between) leave the count alone. */
static void test_rt_copy_core_makes_no_heap_allocations(void **state)
{
	static uint8_t in[2048 * SAMPLE_BYTES], out[512 * SAMPLE_BYTES];
	uint32_t seed = 0x1234567, n_ok = 0, n_full = 0, n_partial = 0, n_wake = 0;
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	unsigned long before;
	struct tap_ring *r;

	assert_true(fd >= 0);
	before = alloc_calls;
	r = ring_new(4096, SAMPLE_BYTES, 1024, fd);
	assert_non_null(r);
	/* Proves the wrap is live, so the check below is not vacuous. */
	assert_true(alloc_calls > before);

	before = alloc_calls;
	for (int i = 0; i < 20000; i++) {
		uint32_t n = (1 + next_rand(&seed) % 2048) * SAMPLE_BYTES;
		int res;

		if (i % 5 == 0)
			n -= 1;
		res = ring_push(r, in, n);
		n_ok += res == 0;
		n_full += res == -ENOSPC;
		n_partial += res == -EINVAL;
		n_wake += eventfd_take(fd) > 0;
		if (i % 3 == 0)
			ring_read(r, out, sizeof(out));
	}
	if (alloc_calls != before)
		fail_msg("%lu allocator calls in 20000 ring_push/ring_read rounds",
				alloc_calls - before);
	assert_true(n_ok > 1000);
	assert_true(n_full > 1000);
	assert_true(n_partial > 1000);
	assert_true(n_wake > 100);

	ring_free(r);
	assert_true(alloc_calls > before);
	close(fd);
}

static void test_huge_push_is_dropped_not_overflowing(void **state)
{
	struct tap_ring *r = ring_new(1024, 4, 1024, -1);
	uint8_t frame[4] = { 1, 2, 3, 4 };

	assert_non_null(r);
	assert_int_equal(ring_push(r, frame, sizeof(frame)), 0);
	/* filled + n_bytes used to wrap to a small number and pass the check. */
	assert_int_equal(ring_push(r, frame, UINT32_MAX - 3), -ENOSPC);
	assert_int_equal(ring_readable_frames(r), 1);
	ring_free(r);
}

/* Reads everything readable now as runs: data checked against the pattern
 * from *next, gaps appended to out[] as negative frame counts. */
static int read_runs(struct tap_ring *r, uint64_t *next, int64_t *out, int max, unsigned *why)
{
	static uint8_t buf[4096 * SAMPLE_BYTES];
	uint64_t gap;
	uint32_t n;
	unsigned w;
	int k = 0;

	for (;;) {
		n = ring_read_gap(r, buf, 300 * SAMPLE_BYTES, &gap, &w);
		if (n == 0 && gap == 0)
			return k;
		assert_true(k < max);
		if (gap > 0) {
			out[k++] = -(int64_t)gap;
			*why |= w;
			*next += gap;	/* the stream went on meanwhile */
			continue;
		}
		pattern_check(buf, n, next);
		/* Runs of data are merged: only where they are matters. */
		if (k > 0 && out[k - 1] > 0)
			out[k - 1] += n / SAMPLE_BYTES;
		else
			out[k++] = n / SAMPLE_BYTES;
	}
}

/* Issue 13: ring full of A, B dropped, C pushed while A is drained: the
 * consumer gets A, then the gap where B was, then C (it used to get A, C,
 * then B's silence, which put C too early and everything after it). */
static void test_a_gap_comes_where_the_drop_was_not_after_later_audio(void **state)
{
	static uint8_t in[1024 * SAMPLE_BYTES], half[512 * SAMPLE_BYTES];
	uint64_t pushed = 0, read = 0, other = 1 << 20;
	struct tap_ring *r = ring_new(1024, SAMPLE_BYTES, 1024, -1);
	int64_t runs[8];
	unsigned why = 0;
	int k;

	assert_non_null(r);
	pattern_fill(in, sizeof(in), &pushed);
	assert_int_equal(ring_push(r, in, sizeof(in)), 0);		/* A */
	pattern_fill(in, 256 * SAMPLE_BYTES, &other);
	assert_int_equal(ring_push(r, in, 256 * SAMPLE_BYTES), -ENOSPC);	/* B */
	assert_int_equal(ring_push(r, in, 128 * SAMPLE_BYTES), -ENOSPC);	/* B, on */
	assert_int_equal(ring_read(r, half, sizeof(half)), sizeof(half));	/* the drain */
	pattern_check(half, sizeof(half), &read);
	pushed += 384;		/* the pattern goes on after B, as the stream does */
	pattern_fill(in, 300 * SAMPLE_BYTES, &pushed);
	assert_int_equal(ring_push(r, in, 300 * SAMPLE_BYTES), 0);	/* C */

	k = read_runs(r, &read, runs, 8, &why);
	/* read_runs() checks the pattern across the gap: C is B's length on. */
	assert_int_equal(k, 0 + 3);
	assert_int_equal(runs[0], 512);
	assert_int_equal(runs[1], -384);
	assert_true(why == RING_GAP_OVERFLOW);
	assert_int_equal(runs[2], 300);
	assert_int_equal(ring_dropped_frames(r), 384);
	ring_free(r);
}

/* Frames the graph never delivered (an xrun) are a gap at their place too,
 * also while the ring has room; two runs stay two gaps. */
static void test_missed_frames_are_a_gap_in_place(void **state)
{
	static uint8_t in[600 * SAMPLE_BYTES];
	uint64_t pushed = 0, read = 0;
	struct tap_ring *r = ring_new(4096, SAMPLE_BYTES, 4096, -1);
	int64_t runs[8];
	unsigned why = 0;

	assert_non_null(r);
	pattern_fill(in, 600 * SAMPLE_BYTES, &pushed);
	assert_int_equal(ring_push(r, in, 600 * SAMPLE_BYTES), 0);
	ring_skip(r, 100);
	pushed += 100;
	pattern_fill(in, 200 * SAMPLE_BYTES, &pushed);
	assert_int_equal(ring_push(r, in, 200 * SAMPLE_BYTES), 0);
	ring_skip(r, 50);
	ring_skip(r, 25);	/* the same run */
	assert_int_equal(read_runs(r, &read, runs, 8, &why), 4);
	assert_int_equal(runs[0], 600);
	assert_int_equal(runs[1], -100);
	assert_int_equal(runs[2], 200);
	assert_int_equal(runs[3], -75);
	assert_true(why == RING_GAP_MISSED);
	/* Nothing more, and the open run is not said twice. */
	assert_int_equal(read_runs(r, &read, runs, 8, &why), 0);
	pushed += 75;
	pattern_fill(in, 10 * SAMPLE_BYTES, &pushed);
	assert_int_equal(ring_push(r, in, 10 * SAMPLE_BYTES), 0);
	assert_int_equal(read_runs(r, &read, runs, 8, &why), 1);
	assert_int_equal(runs[0], 10);
	ring_free(r);
}

/* The largest ring the module accepts: buffer.ring-ms 60000 at 48 kHz,
 * 8 channels of S16 (46,080,000 bytes). */
#define BIG_RING_FRAMES	(60u * 48000u)
#define BIG_FRAME	(8u * SAMPLE_BYTES)
#define BIG_BLOCK	1024u	/* frames per push: a 21 ms quantum */

struct lap {
	struct tap_ring *r;
	uint8_t *block;
	long faults;
	uint64_t pushes;
};

static long thread_minflt(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
	return ru.ru_minflt;
}

/* Stands in for the data thread: one whole lap of pushes into a fresh
 * ring, counting the minor page faults this thread takes meanwhile. */
static void *first_lap(void *data)
{
	struct lap *l = data;
	long before;

	/* Warm what is not the ring: this thread's stack and the code. */
	ring_push(l->r, l->block, 0);
	before = thread_minflt();
	while (ring_push(l->r, l->block, BIG_BLOCK * BIG_FRAME) == 0)
		l->pushes++;
	l->faults = thread_minflt() - before;
	return NULL;
}

/* Issue 13: the first lap used to fault in every page on the RT thread
 * (16,388 minor faults for this ring); ring_new() touches them all. */
static void test_the_first_lap_of_a_large_ring_takes_no_page_fault(void **state)
{
	struct lap l = { .r = ring_new(BIG_RING_FRAMES, BIG_FRAME, BIG_RING_FRAMES, -1) };
	pthread_t t;

	assert_non_null(l.r);
	assert_int_equal(ring_capacity_frames(l.r), BIG_RING_FRAMES);
	assert_non_null(l.block = malloc(BIG_BLOCK * BIG_FRAME));
	memset(l.block, 0x5a, BIG_BLOCK * BIG_FRAME);
	assert_int_equal(pthread_create(&t, NULL, first_lap, &l), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("first lap of a %u-byte ring: %" PRIu64 " pushes, %ld minor faults; "
			"mlock: %s\n", BIG_RING_FRAMES * BIG_FRAME, l.pushes, l.faults,
			ring_lock_error(l.r) ? strerror(ring_lock_error(l.r)) : "locked");
	assert_int_equal(l.pushes, BIG_RING_FRAMES / BIG_BLOCK);
	assert_int_equal(l.faults, 0);
	free(l.block);
	ring_free(l.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_new_rejects_empty_and_oversized_rings),
		cmocka_unit_test(test_data_is_byte_exact_across_buffer_end),
		cmocka_unit_test(test_data_is_byte_exact_across_index_wrap),
		cmocka_unit_test(test_push_into_full_ring_is_dropped_and_counted),
		cmocka_unit_test(test_partial_frame_push_is_rejected_and_not_counted),
		cmocka_unit_test(test_wake_fd_written_once_per_read),
		cmocka_unit_test(test_rt_copy_core_makes_no_heap_allocations),
		cmocka_unit_test(test_huge_push_is_dropped_not_overflowing),
		cmocka_unit_test(test_the_first_lap_of_a_large_ring_takes_no_page_fault),
		cmocka_unit_test(test_a_gap_comes_where_the_drop_was_not_after_later_audio),
		cmocka_unit_test(test_missed_frames_are_a_gap_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
