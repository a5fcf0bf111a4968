/* cli-int: see cli-int.h. */
#include "cli-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int cli_int(const char *prog, const char *name, const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || !*v || n < min || n > max) {
		fprintf(stderr, "%s: --%s: expected an integer in %ld..%ld\n", prog, name, min, max);
		return -1;
	}
	*out = n;
	return 0;
}
