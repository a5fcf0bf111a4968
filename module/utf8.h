/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF; NUL is not a character here. Pure; any thread. */
#ifndef TRANSCRIBE_UTF8_H
#define TRANSCRIBE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid sequence at s, or 0 when s does not start one
 * within its n bytes (n >= 1). */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* True when the NUL-terminated s is valid UTF-8. */
bool utf8_valid(const char *s);

#endif
