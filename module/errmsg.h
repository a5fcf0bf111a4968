/* One-line error messages for functions that report through a caller's
 * buffer: the message, then ": " and strerror of the -errno. Any thread. */
#ifndef TRANSCRIBE_ERRMSG_H
#define TRANSCRIBE_ERRMSG_H

#include <stddef.h>

/* Formats into err (when err_size > 0) and returns r (a -errno), so a
 * caller can `return errmsg_fail(err, size, -errno, "open %s", path);`. */
int errmsg_fail(char *err, size_t err_size, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
