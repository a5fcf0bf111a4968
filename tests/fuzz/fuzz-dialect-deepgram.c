/* libFuzzer target for the Deepgram dialect (module/dialect-deepgram.c).
 *
 * The input is parsed as one message and as one message per line; cut at
 * its first NUL it is also the model and the language of a query and the
 * API key. Contracts: parse returns 0 or -EINVAL with bounded, valid UTF-8
 * results; the query is refused or holds only plain names and never the
 * key; the header is "Token <key>".
 *
 *   fuzz-dialect-deepgram -runs=200000 NEW_CORPUS_DIR tests/unit/deepgram-messages
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz-dialect.h"

#define FUZZ_STR_MAX	1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_query(const char *s)
{
	struct dialect_params p = { .model = s, .rate = 16000, .channels = 1,
		.n_language_hints = 1, .language_hints = { s }, .diarization = true };
	char q[256];
	int r = dialect_deepgram.build_query(&p, false, q, sizeof(q));

	check(r == -EINVAL || r == -ENOSPC || (r > 0 && (size_t)r == strlen(q)));
	if (r <= 0)
		return;
	check(q[0] == '?');
	/* Nothing that would change the URL's meaning. */
	check(strpbrk(q, " #%\"'<>\\\r\n") == NULL);
	check(strstr(q, "&model=") != NULL && strstr(q, s) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[FUZZ_STR_MAX + 1];
	size_t n = size < FUZZ_STR_MAX ? size : FUZZ_STR_MAX;

	fuzz_parse(&dialect_deepgram, data, size);
	memcpy(s, data, n);
	s[n] = '\0';
	fuzz_query(s);
	fuzz_auth(&dialect_deepgram, "Token", s);
	return 0;
}
