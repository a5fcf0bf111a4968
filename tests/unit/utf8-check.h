/* Strict UTF-8 check shared by the dialect unit test and its fuzz target:
 * no overlong forms, no surrogates, nothing above U+10FFFF. Tests only. */
#ifndef TRANSCRIBE_TEST_UTF8_CHECK_H
#define TRANSCRIBE_TEST_UTF8_CHECK_H

#include <stdbool.h>

static inline bool is_valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned int cp, n, i;

		if (*s < 0x80) {
			s++;
			continue;
		} else if ((*s & 0xe0) == 0xc0) {
			cp = *s & 0x1f, n = 1;
		} else if ((*s & 0xf0) == 0xe0) {
			cp = *s & 0x0f, n = 2;
		} else if ((*s & 0xf8) == 0xf0) {
			cp = *s & 0x07, n = 3;
		} else {
			return false;
		}
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

#endif
