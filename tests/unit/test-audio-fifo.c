/* The session's bounded audio FIFO: order across the wrap, whole frames,
 * and the oldest audio (only) making room, counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "audio-fifo.h"

static void fill(int16_t *s, size_t n, int16_t start)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (int16_t)(start + i);
}

static void test_order_is_kept_across_the_wrap(void **state)
{
	struct audio_fifo f;
	int16_t in[7], out[7];
	int16_t next_in = 0, next_out = 0;

	assert_int_equal(audio_fifo_init(&f, 10, 2), 0);
	for (int round = 0; round < 50; round++) {
		fill(in, 7, next_in);
		assert_int_equal(audio_fifo_push(&f, in, sizeof(in)), 0);
		next_in += 7;
		assert_int_equal(audio_fifo_peek(&f, out, sizeof(out)), sizeof(out));
		audio_fifo_consume(&f, sizeof(out));
		for (int i = 0; i < 7; i++)
			assert_int_equal(out[i], next_out++);
	}
	assert_int_equal(f.dropped_bytes, 0);
	audio_fifo_clear(&f);
}

static void test_full_fifo_drops_the_oldest_whole_frames(void **state)
{
	struct audio_fifo f;
	int16_t in[16], out[16];

	/* Stereo S16: 4-byte frames, room for 4 frames. */
	assert_int_equal(audio_fifo_init(&f, 4, 4), 0);
	fill(in, 6, 100);				/* 3 frames */
	assert_int_equal(audio_fifo_push(&f, in, 12), 0);
	fill(in, 4, 200);				/* 2 more: one old frame goes */
	assert_int_equal(audio_fifo_push(&f, in, 8), 4);
	assert_int_equal(audio_fifo_len(&f), 16);
	assert_int_equal(audio_fifo_peek(&f, out, sizeof(out)), 16);
	assert_int_equal(out[0], 102);
	assert_int_equal(out[4], 200);
	/* More than fits at all: only the newest stays. */
	fill(in, 12, 300);
	assert_int_equal(audio_fifo_push(&f, in, 24), 24);
	audio_fifo_peek(&f, out, sizeof(out));
	assert_int_equal(out[0], 304);
	assert_int_equal(f.dropped_bytes, 28);
	audio_fifo_clear(&f);
}

static void test_partial_frames_are_never_stored_or_returned(void **state)
{
	struct audio_fifo f;
	uint8_t in[7] = { 1, 2, 3, 4, 5, 6, 7 }, out[8];

	assert_int_equal(audio_fifo_init(&f, 8, 2), 0);
	audio_fifo_push(&f, in, 7);
	assert_int_equal(audio_fifo_len(&f), 6);
	assert_int_equal(audio_fifo_peek(&f, out, 5), 4);
	audio_fifo_clear(&f);
	assert_int_equal(audio_fifo_init(&f, 0, 2), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_is_kept_across_the_wrap),
		cmocka_unit_test(test_full_fifo_drops_the_oldest_whole_frames),
		cmocka_unit_test(test_partial_frames_are_never_stored_or_returned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
