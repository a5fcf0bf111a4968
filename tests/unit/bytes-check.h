/* assert_bytes(): output compared byte for byte, shown escaped when it
 * differs. Shared by the pw-transcribe CLI's unit tests. Include after
 * <cmocka.h>. Tests only. */
#ifndef TRANSCRIBE_TEST_BYTES_CHECK_H
#define TRANSCRIBE_TEST_BYTES_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void put_escaped(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == '\\' || *s == 0x7f)
			fprintf(stderr, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, stderr);
	}
	fputc('\n', stderr);
}

/* Takes got. */
static inline void assert_bytes(char *got, const char *want)
{
	bool same = strcmp(got, want) == 0;

	if (!same) {
		fputs("got:  ", stderr);
		put_escaped(got);
		fputs("want: ", stderr);
		put_escaped(want);
	}
	free(got);
	assert_true(same);
}

#endif
