/* What ring_push() costs the PipeWire data thread per quantum.
 *
 * For each case (quantum size x sample format x consumer) the producer
 * times every ring_push() with CLOCK_MONOTONIC while a consumer thread
 * drains the ring, so cache lines really bounce between two cores:
 *   eventfd: the worker's way: sleep on the wake-up eventfd, read until
 *            empty. Includes the eventfd write that wakes it.
 *   spin:    no wake-up fd, the consumer polls the ring; the copy alone.
 * The producer pushes one quantum per period of a graph running SPEEDUP
 * times faster than real time (busy-waiting in between, so a run takes
 * seconds, not hours). The consumer keeps up at that pace unless it is
 * scheduled away for long; the few pushes dropped then (the short -ENOSPC
 * path) are left out of the statistics and reported as dropped_frames.
 *
 * Output: one `key=value` per line, e.g. `s16_mono.1024.spin.median_us=0.2`.
 * No pass/fail: timing depends on the machine.
 *
 *   bench-rt-copy [--short]   --short: few iterations, for CI
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <spa/utils/defs.h>

#include "ring.h"

#define ITERATIONS_FULL		100000u
#define ITERATIONS_SHORT	2000u
/* The graph's usual rate, and the module's default wake-up (20 ms). */
#define RATE			48000u
#define WAKE_MS			20u
/* 10 s of ring (the module allows up to 60 s): at SPEEDUP that is 10 ms of
 * wall time, enough for the consumer to be scheduled away now and then
 * without the producer dropping. */
#define RING_MS			10000u
#define SPEEDUP			1000u
/* Bounds one wait of the eventfd consumer; the producer's final eventfd
 * write is what actually ends it. */
#define POLL_MS			1000

struct bench_case {
	const char *format;
	uint32_t frame_bytes;
	uint32_t frames;
	bool wake;
};

static const struct bench_case cases[] = {
	{ "s16_mono", 2, 1024, true },
	{ "s16_mono", 2, 64, true },
	{ "f32_stereo", 8, 1024, true },
	{ "f32_stereo", 8, 64, true },
	{ "s16_mono", 2, 1024, false },
	{ "s16_mono", 2, 64, false },
	{ "f32_stereo", 8, 1024, false },
	{ "f32_stereo", 8, 64, false },
};

struct drain {
	struct tap_ring *ring;
	int wake_fd;		/* -1: spin */
	atomic_bool ready;
	atomic_bool stop;
	uint64_t wakes;		/* consumer thread only until joined */
};

static void *drain_thread(void *data)
{
	struct drain *d = data;
	struct pollfd pfd = { .fd = d->wake_fd, .events = POLLIN };
	static uint8_t buf[64 * 1024];
	uint64_t count;

	atomic_store(&d->ready, true);
	while (!atomic_load(&d->stop)) {
		if (d->wake_fd >= 0 && poll(&pfd, 1, POLL_MS) > 0 &&
		    read(d->wake_fd, &count, sizeof(count)) > 0)
			d->wakes++;
		while (ring_read(d->ring, buf, sizeof(buf)) > 0)
			;
	}
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SPA_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of n sorted values, in per mille (1..1000). */
static uint64_t percentile(const uint64_t *sorted, uint32_t n, uint32_t per_mille)
{
	uint64_t rank = ((uint64_t)n * per_mille + 999) / 1000;

	return sorted[SPA_CLAMP(rank, 1u, n) - 1];
}

/* Pushes warmup + iterations quanta on the SPEEDUP clock. ns[] gets the
 * time of each measured push that was copied (a drop takes the short
 * -ENOSPC path and would flatter the numbers). Returns how many it got. */
static uint32_t push_paced(struct tap_ring *ring, const struct bench_case *c,
		const uint8_t *block, uint64_t *ns, uint32_t warmup, uint32_t iterations)
{
	uint64_t period = (uint64_t)c->frames * SPA_NSEC_PER_SEC / RATE / SPEEDUP;
	uint64_t next = now_ns();
	uint32_t n = 0;

	for (uint32_t i = 0; i < warmup + iterations; i++) {
		uint64_t t0, t1;
		int res;

		while ((t0 = now_ns()) < next)
			;
		next += period;
		res = ring_push(ring, block, c->frames * c->frame_bytes);
		t1 = now_ns();
		if (i >= warmup && res == 0)
			ns[n++] = t1 - t0;
	}
	return n;
}

static void print_case(const struct bench_case *c, uint64_t *ns, uint32_t iterations,
		uint32_t measured, struct drain *d)
{
	char key[64];

	snprintf(key, sizeof(key), "%s.%u.%s", c->format, c->frames, c->wake ? "eventfd" : "spin");
	qsort(ns, measured, sizeof(*ns), cmp_u64);
	printf("%s.bytes=%u\n", key, c->frames * c->frame_bytes);
	printf("%s.period_us=%.3f\n", key,
			(double)c->frames * 1e6 / RATE / SPEEDUP);
	printf("%s.iterations=%u\n", key, iterations);
	printf("%s.measured=%u\n", key, measured);
	if (measured > 0) {
		printf("%s.median_us=%.3f\n", key, percentile(ns, measured, 500) / 1000.0);
		printf("%s.p99_9_us=%.3f\n", key, percentile(ns, measured, 999) / 1000.0);
		printf("%s.max_us=%.3f\n", key, ns[measured - 1] / 1000.0);
	}
	printf("%s.dropped_frames=%" PRIu64 "\n", key, ring_dropped_frames(d->ring));
	printf("%s.wakes=%" PRIu64 "\n", key, d->wakes);
}

static int run_case(const struct bench_case *c, uint32_t iterations)
{
	const uint64_t one = 1;
	uint32_t warmup = iterations / 10;
	uint64_t *ns = calloc(iterations, sizeof(*ns));
	uint32_t measured;
	uint8_t *block = malloc(c->frames * c->frame_bytes);
	struct drain d = { .wake_fd = -1 };
	pthread_t tid;
	int res = -ENOMEM;

	if (ns == NULL || block == NULL)
		goto out;
	if (c->wake && (d.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		res = -errno;
		goto out;
	}
	d.ring = ring_new(RATE / 1000 * RING_MS, c->frame_bytes, RATE / 1000 * WAKE_MS, d.wake_fd);
	if (d.ring == NULL) {
		res = -errno;
		goto out;
	}
	memset(block, 0x5a, c->frames * c->frame_bytes);
	atomic_init(&d.ready, false);
	atomic_init(&d.stop, false);
	if ((res = -pthread_create(&tid, NULL, drain_thread, &d)) != 0)
		goto out;
	while (!atomic_load(&d.ready))
		sched_yield();

	measured = push_paced(d.ring, c, block, ns, warmup, iterations);

	atomic_store(&d.stop, true);
	/* Should this fail, the consumer still sees stop within POLL_MS. */
	if (d.wake_fd >= 0 && write(d.wake_fd, &one, sizeof(one)) < 0)
		fprintf(stderr, "bench-rt-copy: waking the consumer: %m\n");
	pthread_join(tid, NULL);
	print_case(c, ns, iterations, measured, &d);
out:
	ring_free(d.ring);
	if (d.wake_fd >= 0)
		close(d.wake_fd);
	free(block);
	free(ns);
	return res;
}

int main(int argc, char *argv[])
{
	uint32_t iterations = ITERATIONS_FULL;
	int res;

	if (argc == 2 && strcmp(argv[1], "--short") == 0) {
		iterations = ITERATIONS_SHORT;
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [--short]\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < SPA_N_ELEMENTS(cases); i++) {
		if ((res = run_case(&cases[i], iterations)) < 0) {
			fprintf(stderr, "bench-rt-copy: case %s.%u failed: %s\n",
					cases[i].format, cases[i].frames, strerror(-res));
			return 1;
		}
	}
	return 0;
}
