/* libFuzzer target for the Soniox dialect (module/dialect-soniox.c).
 *
 * The input is parsed as one server message, and also used (cut at its first
 * NUL) as every string of a config message and as an API key. Besides the
 * sanitizers it checks the contracts: parse returns 0 or -EINVAL, results
 * are bounded, NUL-terminated, valid UTF-8 and free of <fin>/<end>; a built
 * config is JSON that gives the strings back and never holds the key; a
 * header is "Bearer <key>".
 *
 *   fuzz-dialect-soniox -runs=200000 NEW_CORPUS_DIR tests/unit/soniox-messages
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz-dialect.h"

#define FUZZ_STR_MAX	1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The shared contract (fuzz-dialect.h), and markers are never words. */
static void fuzz_soniox_parse(const uint8_t *data, size_t size)
{
	const struct dialect_result *r = parse_one(&dialect_soniox, NULL, data, size);

	for (uint32_t i = 0; r != NULL && i < r->n_tokens; i++)
		check(strcmp(r->tokens[i].text, "<fin>") != 0 && strcmp(r->tokens[i].text, "<end>") != 0);
}

static void check_member(struct json_object *obj, const char *key, const char *value)
{
	struct json_object *v;

	check(json_object_object_get_ex(obj, key, &v));
	check(strcmp(json_object_get_string(v), value) == 0);
}

static void fuzz_config(const char *s)
{
	static char buf[16 * FUZZ_STR_MAX];
	struct dialect_params p = {
		.model = s, .rate = 16000, .channels = 1,
		.n_language_hints = 1, .language_hints = { s },
		.diarization = true, .client_reference_id = s,
	};
	struct json_object *obj;
	bool usable = s[0] != '\0' && is_valid_utf8(s);
	int r;

	r = dialect_soniox.build_config(&p, s, buf, sizeof(buf));
	if (!usable) {
		check(r == -EINVAL);
		return;
	}
	check(r > 0 && (size_t)r == strlen(buf));
	obj = json_tokener_parse(buf);
	check(json_object_is_type(obj, json_type_object));
	check_member(obj, "model", s);
	check(!json_object_object_get_ex(obj, "api_key", NULL));	/* header only */
	check_member(obj, "client_reference_id", s);
	json_object_put(obj);

	/* Too small by one: refused, and no trace of the key left behind. */
	check(dialect_soniox.build_config(&p, s, buf, (size_t)r) == -ENOSPC);
	check(buf[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[FUZZ_STR_MAX + 1];
	size_t n = size < FUZZ_STR_MAX ? size : FUZZ_STR_MAX;

	fuzz_soniox_parse(data, size);

	memcpy(s, data, n);
	s[n] = '\0';
	fuzz_config(s);
	fuzz_auth(&dialect_soniox, "Bearer", s);
	return 0;
}
