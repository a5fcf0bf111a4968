/* One-line error messages (see errmsg.h). */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errmsg_fail(char *err, size_t err_size, int r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err && err_size > 0) {
		va_start(ap, fmt);
		n = vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < err_size)
			snprintf(err + n, err_size - n, ": %s", strerror(-r));
	}
	return r;
}
