/* The journal through the I/O thread (module/iothread.c): lines reach the
 * file while an fsync is stuck, a full queue never blocks the caller and
 * what it refused is said in a gap line, and the thread ends on its own
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
		cmocka_unit_test_setup_teardown(
				test_stop_returns_at_once_and_says_when_the_last_close_is_done,
				setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
