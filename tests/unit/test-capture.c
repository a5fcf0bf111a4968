/* The worker's side of the ring (module/capture.c) when audio is lost:
 * ring full of A, B dropped, C pushed while A is drained. The sink gets A,
 * silence as long as B, then C, and the gap is journaled at B's place on
 * the stream's timeline (DroppedMs counts it too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pipewire/log.h>

#include "capture.h"
#include "journal.h"
#include "ring.h"

PW_LOG_TOPIC(mod_topic, "test.transcribe");

#define RATE	1000	/* a frame a millisecond */
#define FRAME	2
#define GAP_LINE	"{\"type\":\"gap\",\"start_ms\":1000,\"end_ms\":1500,\"reason\":\"ring overflow"

struct heard {
	uint16_t samples[4096];
	uint32_t n;
	struct tap_ring *ring;		/* C goes in here once A is out */
	struct journal *journal;
	uint64_t gap_at_ms, gap_len_ms;
};

static void push(struct tap_ring *r, uint16_t value, uint32_t frames, int expect);

/* The sink runs inside capture_drain(): C arriving here is C pushed by
 * the data thread while the worker drains. */
static void on_audio(void *data, const void *audio, uint32_t bytes)
{
	struct heard *h = data;

	assert_true(h->n + bytes / FRAME <= SPA_N_ELEMENTS(h->samples));
	memcpy(h->samples + h->n, audio, bytes);
	h->n += bytes / FRAME;
	if (h->ring != NULL) {
		push(h->ring, 3, 300, 0);	/* C */
		h->ring = NULL;
	}
}

/* What the session shell does with a gap (shell_gap()). */
static void on_gap(void *data, uint64_t at_ms, uint64_t len_ms, const char *reason)
{
	struct heard *h = data;

	h->gap_at_ms = at_ms;
	h->gap_len_ms = len_ms;
	assert_int_equal(journal_gap(h->journal, (int64_t)at_ms, (int64_t)(at_ms + len_ms), reason), 0);
}

static void push(struct tap_ring *r, uint16_t value, uint32_t frames, int expect)
{
	uint16_t block[1024];

	for (uint32_t i = 0; i < frames; i++)
		block[i] = value;
	assert_int_equal(ring_push(r, block, frames * FRAME), expect);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void test_a_b_c_comes_out_as_a_silence_c_with_a_gap_line_at_b(void **state)
{
	char dir[] = "/tmp/test-capture-XXXXXX", err[256], line[512], path[4096];
	struct tap_ring *r = ring_new(1000, FRAME, 1000, -1);
	struct heard h = { 0 };
	struct capture_stats st;
	struct capture *c;
	bool found = false;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	assert_non_null(h.journal = journal_open(dir, "t", "s", RATE, NULL, err, sizeof(err)));
	assert_non_null(r);
	assert_non_null(c = capture_new("t", r, RATE, 1, NULL));
	capture_set_sink(c, on_audio, on_gap, &h);

	push(r, 1, 1000, 0);			/* A: fills the ring */
	push(r, 2, 400, -ENOSPC);		/* B: dropped */
	push(r, 2, 100, -ENOSPC);
	h.ring = r;
	capture_drain(c);

	assert_int_equal(h.n, 1000 + 500 + 300);
	for (uint32_t i = 0; i < h.n; i++) {
		uint16_t want_v = i < 1000 ? 1 : i < 1500 ? 0 : 3;
		if (h.samples[i] != want_v)
			fail_msg("frame %u: %u, want %u", i, h.samples[i], want_v);
	}
	assert_int_equal(h.gap_at_ms, 1000);
	assert_int_equal(h.gap_len_ms, 500);
	capture_get_stats(c, &st);
	assert_int_equal(st.dropped_frames, 500);
	assert_int_equal(st.frames, 1800);

	snprintf(path, sizeof(path), "%s", journal_path(h.journal));
	journal_close(h.journal);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		found |= strncmp(line, GAP_LINE, strlen(GAP_LINE)) == 0;
	fclose(f);
	assert_true(found);
	capture_destroy(c);
	ring_free(r);
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_b_c_comes_out_as_a_silence_c_with_a_gap_line_at_b),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
