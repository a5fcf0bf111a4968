/* fs-log: see fs-log.h. */
#include "fs-log.h"

#include <stdarg.h>
#include <stdio.h>

void fs_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}
