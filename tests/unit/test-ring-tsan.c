/* The ring under real concurrency, built with -fsanitize=thread.
 *
 * A producer thread pushes 10^7 S16 mono samples (a counter) in blocks of
 * 64..1024 frames into a 2048-frame ring, so the ring wraps every few
 * blocks and overflows often. On -ENOSPC the producer retries the same
 * block, so the stream stays complete. The consumer waits on the wake-up
 * eventfd like the worker does and checks every sample. TSan fails the
 * test on any data race (TSAN_OPTIONS=halt_on_error=1 exitcode=66).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <cmocka.h>

#include "ring.h"

#define N_SAMPLES	10000000u
#define RING_FRAMES	2048u
#define WAKE_FRAMES	256u
#define MIN_PUSH	64u
#define MAX_PUSH	1024u
#define MAX_READ	1536u
#define DEADLINE_S	240
/* Upper bound of one wait for a wake-up. It never decides correctness:
 * the producer writes the eventfd when it finishes, so the consumer always
 * wakes; the bound only keeps a lost wake-up from hanging the test. */
#define POLL_MS		1000

struct run {
	struct tap_ring *ring;
	int wake_fd;
	struct timespec deadline;
	atomic_bool producer_done;

	/* producer thread only until joined */
	uint64_t pushes, retries, retried_frames;
	bool producer_late;

	/* consumer thread only until joined */
	uint64_t received, reads, polls, poll_timeouts;
	uint64_t mismatch_at, mismatch_got;
	bool mismatch, consumer_late;
};

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
		(now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void *producer(void *data)
{
	struct run *run = data;
	static int16_t block[MAX_PUSH];
	uint32_t seed = 0xc0ffee, sent = 0;
	const uint64_t one = 1;

	while (sent < N_SAMPLES) {
		uint32_t n = MIN_PUSH + next_rand(&seed) % (MAX_PUSH - MIN_PUSH + 1);

		n = n < N_SAMPLES - sent ? n : N_SAMPLES - sent;
		for (uint32_t i = 0; i < n; i++)
			block[i] = (int16_t)(uint16_t)(sent + i);
		while (ring_push(run->ring, block, n * sizeof(int16_t)) == -ENOSPC) {
			run->retries++;
			run->retried_frames += n;
			if ((run->retries & 0xff) == 0 && past(&run->deadline)) {
				run->producer_late = true;
				goto done;
			}
			sched_yield();
		}
		run->pushes++;
		sent += n;
	}
done:
	atomic_store(&run->producer_done, true);
	/* The last blocks may sit below the wake threshold. */
	if (write(run->wake_fd, &one, sizeof(one)) < 0)
		run->producer_late = true;
	return NULL;
}

static bool check_block(struct run *run, const int16_t *buf, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint16_t want = (uint16_t)(run->received + i);
		if ((uint16_t)buf[i] != want) {
			run->mismatch = true;
			run->mismatch_at = run->received + i;
			run->mismatch_got = (uint16_t)buf[i];
			return false;
		}
	}
	run->received += n;
	return true;
}

static void *consumer(void *data)
{
	struct run *run = data;
	static int16_t buf[MAX_READ];
	uint32_t seed = 0xbadf00d;
	struct pollfd pfd = { .fd = run->wake_fd, .events = POLLIN };
	uint64_t count;

	while (run->received < N_SAMPLES) {
		uint32_t max = 1 + next_rand(&seed) % MAX_READ;
		uint32_t got = ring_read(run->ring, buf, max * sizeof(int16_t));

		if (got > 0) {
			run->reads++;
			if (!check_block(run, buf, got / sizeof(int16_t)))
				return NULL;
			continue;
		}
		if (past(&run->deadline)) {
			run->consumer_late = true;
			return NULL;
		}
		/* Empty: block until the producer wakes us (or is done and the
		 * ring stays empty). */
		if (atomic_load(&run->producer_done) && ring_readable_frames(run->ring) == 0)
			return NULL;
		run->polls++;
		if (poll(&pfd, 1, POLL_MS) == 0)
			run->poll_timeouts++;
		else if (read(run->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
			return NULL;
	}
	return NULL;
}

static void test_concurrent_stream_arrives_complete_and_in_order(void **state)
{
	static struct run run;
	pthread_t p, c;

	run.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(run.wake_fd >= 0);
	run.ring = ring_new(RING_FRAMES, sizeof(int16_t), WAKE_FRAMES, run.wake_fd);
	assert_non_null(run.ring);
	assert_int_equal(ring_capacity_frames(run.ring), RING_FRAMES);
	clock_gettime(CLOCK_MONOTONIC, &run.deadline);
	run.deadline.tv_sec += DEADLINE_S;
	atomic_init(&run.producer_done, false);

	assert_int_equal(pthread_create(&c, NULL, consumer, &run), 0);
	assert_int_equal(pthread_create(&p, NULL, producer, &run), 0);
	assert_int_equal(pthread_join(p, NULL), 0);
	assert_int_equal(pthread_join(c, NULL), 0);

	printf("samples=%" PRIu64 " pushes=%" PRIu64 " retries=%" PRIu64
			" dropped_frames=%" PRIu64 " reads=%" PRIu64 " polls=%" PRIu64
			" poll_timeouts=%" PRIu64 "\n",
			run.received, run.pushes, run.retries, ring_dropped_frames(run.ring),
			run.reads, run.polls, run.poll_timeouts);

	assert_false(run.producer_late);
	assert_false(run.consumer_late);
	if (run.mismatch)
		fail_msg("sample %" PRIu64 ": got %" PRIu64 ", want %u", run.mismatch_at,
				run.mismatch_got, (unsigned)(uint16_t)run.mismatch_at);
	assert_int_equal(run.received, N_SAMPLES);
	assert_int_equal(ring_readable_frames(run.ring), 0);
	/* Every rejected attempt is counted as dropped, frame for frame. */
	assert_int_equal(ring_dropped_frames(run.ring), run.retried_frames);
	/* The ring was small enough to overflow, or the test proved little. */
	assert_true(run.retries > 0);

	ring_free(run.ring);
	close(run.wake_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_stream_arrives_complete_and_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
