/* libFuzzer target for the vosk dialect (module/dialect-vosk.c).
 *
 * The input is parsed as one reply and as one reply per line; cut at its
 * first NUL it is also offered as an API key (vosk takes none). Contracts:
 * parse returns 0 or -EINVAL with bounded, valid UTF-8 results, every
 * accepted reply alive; no Authorization header ever.
 *
 *   fuzz-dialect-vosk -runs=200000 NEW_CORPUS_DIR tests/unit/vosk-messages
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz-dialect.h"

#define FUZZ_STR_MAX	1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[FUZZ_STR_MAX + 1];
	size_t n = size < FUZZ_STR_MAX ? size : FUZZ_STR_MAX;

	fuzz_parse(&dialect_vosk, data, size);
	memcpy(s, data, n);
	s[n] = '\0';
	fuzz_auth(&dialect_vosk, NULL, s);
	return 0;
}
