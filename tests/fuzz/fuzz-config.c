/* libFuzzer target for the module arguments: config_parse() (module/config.c,
 * config-check.c, config-json.c, url.c).
 *
 * The input, cut at its first NUL, sits in a heap block of exactly its size
 * (so ASan sees any read past the end, as with unterminated SPA-JSON once).
 * Besides the sanitizers it checks the contracts: 0 or -EINVAL; the error is
 * one line "key: reason", non-empty exactly on failure; a parsed config has
 * 1..16 taps with valid names, values in their ranges, strings terminated,
 * paths absolute, a service.url that parses, and no key over plain ws:// to
 * another host without allow-insecure.
 *
 *   fuzz-config -dict=tests/fuzz/config.dict NEW_CORPUS_DIR tests/fuzz/config-seeds
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz-check.h"
#include "url.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct transcribe_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* the default service.url is computed from it */
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	return 0;
}

static void check_string(const char *s, size_t size)
{
	check(memchr(s, '\0', size) != NULL);
}

static void check_path(const char *s, size_t size, bool tilde)
{
	check_string(s, size);
	check(s[0] == '\0' || s[0] == '/' || (tilde && s[0] == '~' && s[1] == '/'));
}

static void check_name(const char *s, size_t size)
{
	check_string(s, size);
	check(s[0] != '\0');
	for (; *s; s++)
		check((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.');
}

static void check_service(const struct service_config *svc)
{
	bool has_key = svc->key_file[0] || svc->key_env[0] || svc->key_command[0];
	struct url u;
	char err[256];

	check_string(svc->url, sizeof(svc->url));
	check(svc->max_message_kb >= 16 && svc->max_message_kb <= 65536);
	check_path(svc->key_file, sizeof(svc->key_file), true);
	check_path(svc->ca_file, sizeof(svc->ca_file), false);
	check((svc->key_file[0] != 0) + (svc->key_env[0] != 0) + (svc->key_command[0] != 0) <= 1);
	if (svc->url[0] == '\0')
		return;
	check(url_parse(svc->url, &u, err, sizeof(err)) == 0);
	check(!has_key || u.tls || url_is_loopback(&u) || svc->allow_insecure);
}

static void check_config(void)
{
	check(cfg.rate >= 8000 && cfg.rate <= 48000);
	check(cfg.channels >= 1 && cfg.channels <= 8);
	check(cfg.cap_ms >= cfg.base_ms);
	check(cfg.journal_max_mb >= 1 && cfg.journal_max_mb <= 65536);
	check_path(cfg.journal_dir, sizeof(cfg.journal_dir), false);
	check_string(cfg.warning, sizeof(cfg.warning));
	check_service(&cfg.service);
	check(cfg.service.n_hints <= CONFIG_MAX_HINTS);
	check(cfg.n_taps >= 1 && cfg.n_taps <= CONFIG_MAX_TAPS);
	for (uint32_t i = 0; i < cfg.n_taps; i++) {
		const struct tap_config *t = &cfg.taps[i];

		check_name(t->name, sizeof(t->name));
		for (uint32_t k = 0; k < i; k++)
			check(strcmp(cfg.taps[k].name, t->name) != 0);
		check(t->mode <= TAP_MODE_SOURCE);
		check(t->mode != TAP_MODE_TAP || t->target[0] != '\0' || t->n_match > 0);
		check(t->n_match <= CONFIG_MAX_MATCH);
		check(t->n_position >= 1 && t->n_position <= SPA_AUDIO_MAX_CHANNELS);
		check_string(t->description, sizeof(t->description));
		check(t->description[0] != '\0');
		check_path(t->record_file, sizeof(t->record_file), false);
	}
}

static void check_error(int r, const char *err, size_t size)
{
	const char *colon;

	check(r == 0 || r == -EINVAL);
	check(memchr(err, '\0', size) != NULL);
	for (const char *c = err; *c; c++)
		check((unsigned char)*c >= 0x20 && *c != 0x7f);
	if (r == 0) {
		check(err[0] == '\0');
		return;
	}
	colon = strstr(err, ": ");
	check(colon != NULL && colon > err && colon[2] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = strnlen((const char *)data, size);
	char *text = malloc(len + 1), err[512];
	int r;

	if (text == NULL)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	r = config_parse(text, &cfg, err, sizeof(err));
	check_error(r, err, sizeof(err));
	if (r == 0)
		check_config();
	free(text);
	return 0;
}
