/* The debug WAV writer (module/wav-writer.c): the daemon writes where the
 * config says, so a planted symlink is never followed and only a regular
 * file is truncated; the header is valid at every moment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wav-writer.h"

static char dir[] = "/tmp/test-wav-writer-XXXXXX";
static char path[256], other[256];

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	strcpy(dir, "/tmp/test-wav-writer-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rec.wav", dir);
	snprintf(other, sizeof(other), "%s/victim", dir);
	return 0;
}

static int teardown(void **state)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static off_t size_of(const char *p)
{
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	return st.st_size;
}

static void test_a_symlink_is_never_followed(void **state)
{
	FILE *f = fopen(other, "w");

	assert_non_null(f);
	fputs("precious", f);
	fclose(f);
	assert_int_equal(symlink(other, path), 0);
	assert_null(wav_writer_open(path, 16000, 1));
	assert_int_equal(errno, ELOOP);
	assert_int_equal(size_of(other), 8);	/* not truncated */
}

static void test_a_fifo_is_refused_without_blocking(void **state)
{
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(wav_writer_open(path, 16000, 1));
	assert_true(errno == ENXIO || errno == EINVAL);
}

static void test_a_regular_file_is_truncated_and_rewritten(void **state)
{
	static const int16_t pcm[160];
	struct wav_writer *w;
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 0; i < 1000; i++)
		fputs("old content ", f);
	fclose(f);
	w = wav_writer_open(path, 16000, 1);
	assert_non_null(w);
	assert_int_equal(size_of(path), 44);
	assert_int_equal(wav_writer_write(w, pcm, sizeof(pcm)), 0);
	wav_writer_close(w);
	assert_int_equal(size_of(path), 44 + sizeof(pcm));
	/* a new file is 0600 */
	unlink(path);
	w = wav_writer_open(path, 16000, 1);
	assert_non_null(w);
	wav_writer_close(w);
	{
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_symlink_is_never_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_fifo_is_refused_without_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_regular_file_is_truncated_and_rewritten,
				setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
