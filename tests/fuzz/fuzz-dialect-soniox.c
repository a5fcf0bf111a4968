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

#include "dialect.h"
#include "fuzz-check.h"
#include "../unit/utf8-check.h"

#define FUZZ_STR_MAX	1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict RFC 3629, NUL-terminated; independent of the dialect's checker. */

static void check_label(const char *s, size_t size)
{
	check(memchr(s, '\0', size) != NULL);
	check(is_valid_utf8(s));
}

static void check_result(const struct dialect_result *r)
{
	bool seen_non_final = false;
	uint32_t i;

	check(r->n_tokens <= DIALECT_MAX_TOKENS);
	for (i = 0; i < r->n_tokens; i++) {
		const struct transcript_token *t = &r->tokens[i];

		check_label(t->text, sizeof(t->text));
		check_label(t->speaker, sizeof(t->speaker));
		check_label(t->language, sizeof(t->language));
		check(strcmp(t->text, "<fin>") != 0 && strcmp(t->text, "<end>") != 0);
		check(t->start_ms >= -1 && t->end_ms >= -1);
		check(t->confidence == -1 || (t->confidence >= 0 && t->confidence <= 1));
		check(!(t->is_final && seen_non_final));
		seen_non_final |= !t->is_final;
	}
	check(r->final_audio_proc_ms >= -1 && r->total_audio_proc_ms >= -1);
	check_label(r->error_type, sizeof(r->error_type));
	check_label(r->error_message, sizeof(r->error_message));
	check(r->has_error || r->error_class == ERR_NONE);
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	static struct dialect_result res;
	char err[160];
	int r;

	r = dialect_soniox.parse(NULL, (const char *)data, size, &res, err, sizeof(err));
	check(r == 0 || r == -EINVAL);
	check(memchr(err, '\0', sizeof(err)) != NULL);
	check(strchr(err, '\n') == NULL);
	if (r == 0)
		check_result(&res);
	else
		check(err[0] != '\0' && res.n_tokens == 0 && !res.has_error);
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

static void fuzz_auth_header(const char *s)
{
	char buf[FUZZ_STR_MAX + 16];
	bool has_ctl = false;
	const char *c;
	int r;

	for (c = s; *c != '\0'; c++)
		has_ctl |= (unsigned char)*c < 0x20 || *c == 0x7f;
	r = dialect_soniox.auth_header(s, buf, sizeof(buf));
	if (s[0] == '\0' || has_ctl) {
		check(r == -EINVAL);
		return;
	}
	check(r == (int)strlen("Bearer ") + (int)strlen(s));
	check(strncmp(buf, "Bearer ", 7) == 0 && strcmp(buf + 7, s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[FUZZ_STR_MAX + 1];
	size_t n = size < FUZZ_STR_MAX ? size : FUZZ_STR_MAX;

	fuzz_parse(data, size);

	memcpy(s, data, n);
	s[n] = '\0';
	fuzz_config(s);
	fuzz_auth_header(s);
	return 0;
}
