/* check(): the fuzz targets' contract assertion. A failed contract is a
 * crash for libFuzzer (abort), with the condition on stderr. */
#ifndef TRANSCRIBE_FUZZ_CHECK_H
#define TRANSCRIBE_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define check(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
					__FILE__, __LINE__, #cond);	\
			abort();					\
		}							\
	} while (0)

#endif
