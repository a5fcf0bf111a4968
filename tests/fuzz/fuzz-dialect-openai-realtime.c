/* libFuzzer target for the openai-realtime dialect
 * (module/dialect-openai-realtime.c).
 *
 * The input is parsed as one event and as one event per line on one
 * connection (the items' memory is driven through speech_started/stopped,
 * committed, deltas, completed in any order); it is also framed as audio
 * and, cut at its first NUL, used as the model, the language and the key.
 * Contracts: parse returns 0 or -EINVAL with bounded, valid UTF-8 results
 * and a sane memory; a framed event decodes back to the audio; a config is
 * JSON without the key; the header is "Bearer <key>".
 *
 *   fuzz-dialect-openai-realtime -runs=200000 NEW_CORPUS_DIR tests/unit/openai-realtime-messages
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "fuzz-dialect.h"

#define FUZZ_STR_MAX	1024
#define FUZZ_AUDIO_MAX	4800	/* 100 ms at 24 kHz */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_frame(const uint8_t *data, size_t size)
{
	static const char head[] = "{\"type\":\"input_audio_buffer.append\",\"audio\":\"";
	static char buf[DIALECT_AUDIO_FRAME_MAX(FUZZ_AUDIO_MAX)];
	static unsigned char back[FUZZ_AUDIO_MAX + 3];
	size_t n = size < FUZZ_AUDIO_MAX ? size : FUZZ_AUDIO_MAX, b64;
	int r = dialect_openai_realtime.frame_audio(data, n, buf, sizeof(buf)), d;

	check(r > 0 && (size_t)r == strlen(buf));
	check(strncmp(buf, head, sizeof(head) - 1) == 0);
	b64 = (size_t)r - (sizeof(head) - 1) - 2;
	check(strcmp(buf + r - 2, "\"}") == 0);
	d = EVP_DecodeBlock(back, (const unsigned char *)buf + sizeof(head) - 1, (int)b64);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	check(d >= (int)n && memcmp(back, data, n) == 0);
}

static void fuzz_config(const char *s)
{
	static char buf[16 * FUZZ_STR_MAX];
	struct dialect_params p = { .model = s, .rate = 24000, .channels = 1,
		.n_language_hints = 1, .language_hints = { s } };
	struct json_object *obj;
	int r = dialect_openai_realtime.build_config(&p, "sk-FUZZKEY", buf, sizeof(buf));

	if (s[0] == '\0' || !is_valid_utf8(s)) {
		check(r == -EINVAL);
		return;
	}
	check(r > 0 && (size_t)r == strlen(buf));
	/* The key never travels in the config (unless the model spells it). */
	check(strstr(s, "sk-FUZZKEY") != NULL || strstr(buf, "sk-FUZZKEY") == NULL);
	obj = json_tokener_parse(buf);
	check(json_object_is_type(obj, json_type_object));
	json_object_put(obj);
	check(dialect_openai_realtime.build_config(&p, NULL, buf, (size_t)r) == -ENOSPC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[FUZZ_STR_MAX + 1];
	size_t n = size < FUZZ_STR_MAX ? size : FUZZ_STR_MAX;

	fuzz_parse(&dialect_openai_realtime, data, size);
	fuzz_frame(data, size);
	memcpy(s, data, n);
	s[n] = '\0';
	fuzz_config(s);
	fuzz_auth(&dialect_openai_realtime, "Bearer", s);
	return 0;
}
