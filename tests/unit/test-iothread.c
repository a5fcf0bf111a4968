/* The journal and the spool through the I/O thread (module/iothread.c):
 * lines reach the file while an fsync is stuck, a full queue never blocks
 * the caller and what it refused is said in a gap line, the spool replays
 * in order through its read-ahead and a stuck disk costs a gap at C (never
 * a wait, never a hole in the middle), and the thread ends on its own
 * after the last close (the callback an asynchronous unload waits for). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "iothread.h"
#include "journal.h"
#include "replay.h"

#define DEADLINE_S	10

struct fixture {
	char dir[64];
	char err[512];
	struct iothread *io;
};

/* A job that holds its lane until released: a stuck fsync, a slow disk. */
struct gate {
	struct iothread_job job;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool entered, open;
};

static void gate_run(struct iothread_job *job)
{
	struct gate *g = SPA_CONTAINER_OF(job, struct gate, job);

	pthread_mutex_lock(&g->lock);
	g->entered = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_close(struct gate *g, struct iothread *io, enum iothread_lane lane)
{
	*g = (struct gate){ .job = { .must = true, .run = gate_run } };
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	assert_int_equal(iothread_submit(io, lane, &g->job), 0);
	pthread_mutex_lock(&g->lock);
	while (!g->entered)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-iothread-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_non_null(fx->io = iothread_new(NULL, NULL));
	*state = fx;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	iothread_free(fx->io);
	if (getenv("KEEP") == NULL) nftw(fx->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static int count(const char *path, const char *needle)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static int final(struct journal *j, uint64_t seq)
{
	struct journal_final f = { .seq = seq, .start_ms = (int64_t)seq * 100,
		.end_ms = (int64_t)seq * 100 + 80, .text = "word", .confidence = -1 };

	return journal_final(j, &f);
}

static void test_lines_reach_the_file_while_an_fsync_is_stuck(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = journal_open(fx->dir, "t", "s", 16000, fx->io, fx->err, sizeof(fx->err));
	struct gate stuck;
	char path[4096];
	off_t header;
	time_t end = time(NULL) + DEADLINE_S;

	assert_non_null(j);
	snprintf(path, sizeof(path), "%s", journal_path(j));
	header = file_size(path);
	gate_close(&stuck, fx->io, IOTHREAD_SYNC);
	assert_int_equal(final(j, 1), 0);
	assert_int_equal(journal_sync(j), 0);	/* queued behind the stuck one */
	assert_int_equal(final(j, 2), 0);
	assert_true(journal_dirty(j));
	assert_int_equal(journal_sync(j), 0);	/* one at a time: nothing more */
	assert_int_equal(final(j, 3), 0);
	while (count(path, "\"type\":\"final\"") < 3 && time(NULL) < end)
		usleep(1000);
	assert_int_equal(count(path, "\"type\":\"final\""), 3);
	assert_true(file_size(path) > header);
	journal_close(j);
	gate_open(&stuck);
}

static void test_a_full_queue_refuses_lines_at_once_and_a_gap_line_says_so(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = journal_open(fx->dir, "t", "s", 16000, fx->io, fx->err, sizeof(fx->err));
	struct gate disk;
	char path[4096], want[128];
	uint64_t seq = 1, accepted, refused = 0;
	int res;

	assert_non_null(j);
	snprintf(path, sizeof(path), "%s", journal_path(j));
	gate_close(&disk, fx->io, IOTHREAD_DATA);
	while ((res = final(j, seq)) == 0)
		seq++;
	assert_int_equal(res, -EAGAIN);
	accepted = seq - 1;
	assert_true(accepted > 1000);
	for (refused = 1; refused < 5; refused++)
		assert_int_equal(final(j, ++seq), -EAGAIN);
	assert_int_equal(journal_error(j), 0);	/* not broken, only behind */
	gate_open(&disk);
	while (iothread_queued_bytes(fx->io) > 0)
		usleep(1000);
	assert_int_equal(final(j, seq + 1), 0);
	journal_close(j);
	iothread_free(fx->io);
	fx->io = NULL;
	assert_int_equal(count(path, "\"type\":\"final\""), (int)accepted + 1);
	snprintf(want, sizeof(want), "journal: %" PRIu64 " lines not written", refused);
	assert_int_equal(count(path, want), 1);
	snprintf(want, sizeof(want), "\"start_ms\":%" PRIu64 "00,", accepted + 1);
	assert_int_equal(count(path, want), 1);
}

/* Replay buffer: one frame a millisecond, S16 mono; frame f holds f. */
#define RATE	1000
#define FRAME	2
#define BLOCK	100	/* frames pushed at a time */

static void push_block(struct replay *r, uint64_t *next, int64_t *gap, int64_t *gap_start)
{
	uint16_t in[BLOCK];
	int64_t start = -1, g;

	for (int i = 0; i < BLOCK; i++)
		in[i] = (uint16_t)(*next + i);
	*next += BLOCK;
	if ((g = replay_push(r, in, sizeof(in), &start)) > 0) {
		*gap += g;
		if (*gap_start < 0)
			*gap_start = start;
	}
}

/* Sends everything from C to `end` (a frame), in order, waiting out the
 * read-ahead; returns the first frame it got. */
static uint64_t drain_to(struct replay *r, uint64_t end)
{
	static uint16_t out[BLOCK];
	uint64_t first = r->head_frame + r->sent_off / FRAME, f = first;
	time_t deadline = time(NULL) + DEADLINE_S;
	size_t n;

	while (f < end && time(NULL) < deadline) {
		if ((n = replay_next(r, 0, out, sizeof(out), true)) == 0) {
			usleep(1000);
			continue;
		}
		for (size_t i = 0; i < n / FRAME; i++, f++)
			assert_int_equal(out[i], (uint16_t)f);
		replay_sent(r, n);
	}
	assert_int_equal(f, end);
	return first;
}

static atomic_int wakes;

static void count_wake(void *data)
{
	atomic_fetch_add(&wakes, 1);
}

static void test_the_spool_replays_in_order_through_the_read_ahead(void **state)
{
	struct fixture *fx = *state;
	struct replay r;
	uint64_t next = 0;
	int64_t gap = 0, gap_start = -1;
	int seen;

	/* An I/O thread that says when a read-ahead is in (the worker pumps
	 * then, even with nothing else due). */
	iothread_free(fx->io);
	assert_non_null(fx->io = iothread_new(count_wake, NULL));

	/* 1 s of memory, 10 min of spool: 9 min of outage loses nothing. */
	assert_int_equal(replay_init(&r, RATE, FRAME, 1, 1000, fx->dir, 600000 * FRAME, fx->io,
			fx->err, sizeof(fx->err)), 0);
	assert_string_equal(fx->err, "");
	while (next < 540000)
		push_block(&r, &next, &gap, &gap_start);
	assert_int_equal(gap, 0);
	assert_int_equal(replay_spooled_ms(&r), 539000);
	replay_begin(&r, 1, 0);
	assert_int_equal(drain_to(&r, next), 0);
	assert_true(atomic_load(&wakes) > 0);
	assert_true(iothread_collect(fx->io) > 0);
	/* Muted (the worker's lws context is going): no wake-up any more. */
	iothread_mute(fx->io);
	seen = atomic_load(&wakes);
	replay_clear(&r);
	iothread_free(fx->io);
	fx->io = NULL;
	assert_int_equal(atomic_load(&wakes), seen);
}

static void test_a_stuck_disk_never_blocks_the_spool_and_costs_a_gap_at_c(void **state)
{
	struct fixture *fx = *state;
	struct replay r;
	struct gate disk;
	uint64_t next = 0, pushed_while_stuck;
	int64_t gap = 0, gap_start = -1;

	assert_int_equal(replay_init(&r, RATE, FRAME, 1, 1000, fx->dir, 6000000ull * FRAME, fx->io,
			fx->err, sizeof(fx->err)), 0);
	gate_close(&disk, fx->io, IOTHREAD_DATA);
	/* The queue takes IOTHREAD_MAX_BYTES, then the spool lets go. */
	while (gap == 0 && next < 6000000)
		push_block(&r, &next, &gap, &gap_start);
	assert_int_equal(gap_start, 0);		/* at C: what stays is contiguous */
	assert_true(gap * RATE / 1000 * FRAME > IOTHREAD_MAX_BYTES / 2);
	for (int i = 0; i < 20; i++)		/* 2 s more, memory alone */
		push_block(&r, &next, &gap, &gap_start);
	pushed_while_stuck = next;
	gate_open(&disk);
	while (iothread_queued_bytes(fx->io) > 0)
		usleep(1000);
	for (int i = 0; i < 30; i++)		/* the spool takes audio again */
		push_block(&r, &next, &gap, &gap_start);
	assert_true(replay_spooled_ms(&r) > 0);
	assert_int_equal((uint64_t)gap, replay_dropped_ms(&r));
	replay_begin(&r, 1, 0);
	/* All but the gap, in order: the newest second of the stuck time on. */
	assert_int_equal(drain_to(&r, next), (uint64_t)gap);
	assert_true((uint64_t)gap >= pushed_while_stuck - 1000);
	replay_clear(&r);
}

static atomic_int stopped_calls;

static void on_stopped(void *data)
{
	atomic_fetch_add(&stopped_calls, 1);
}

static void test_stop_returns_at_once_and_says_when_the_last_close_is_done(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = journal_open(fx->dir, "t", "s", 16000, fx->io, fx->err, sizeof(fx->err));
	struct gate stuck;
	char path[4096];
	time_t end = time(NULL) + DEADLINE_S;

	assert_non_null(j);
	snprintf(path, sizeof(path), "%s", journal_path(j));
	gate_close(&stuck, fx->io, IOTHREAD_SYNC);
	assert_int_equal(final(j, 1), 0);
	journal_close(j);
	iothread_stop_async(fx->io, on_stopped, NULL);
	assert_int_equal(iothread_submit(fx->io, IOTHREAD_DATA, &stuck.job), -ESHUTDOWN);
	assert_int_equal(atomic_load(&stopped_calls), 0);	/* the fsync is still stuck */
	gate_open(&stuck);
	while (atomic_load(&stopped_calls) == 0 && time(NULL) < end)
		usleep(1000);
	assert_int_equal(atomic_load(&stopped_calls), 1);
	assert_int_equal(count(path, "\"type\":\"final\""), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_reach_the_file_while_an_fsync_is_stuck,
				setup, teardown),
		cmocka_unit_test_setup_teardown(
				test_a_full_queue_refuses_lines_at_once_and_a_gap_line_says_so,
				setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_spool_replays_in_order_through_the_read_ahead,
				setup, teardown),
		cmocka_unit_test_setup_teardown(
				test_a_stuck_disk_never_blocks_the_spool_and_costs_a_gap_at_c,
				setup, teardown),
		cmocka_unit_test_setup_teardown(
				test_stop_returns_at_once_and_says_when_the_last_close_is_done,
				setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
