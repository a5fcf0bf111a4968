/* What the dialect fuzz targets share: the contract every parse result
 * keeps, and feeding an input as a sequence of messages (one per line) on
 * one connection, so that dialects with memory (OpenAI's items) are driven
 * through it. Fuzz targets only. */
#ifndef TRANSCRIBE_FUZZ_DIALECT_H
#define TRANSCRIBE_FUZZ_DIALECT_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "dialect.h"
#include "fuzz-check.h"
#include "../unit/utf8-check.h"

static inline void check_label(const char *s, size_t size)
{
	check(memchr(s, '\0', size) != NULL);
	check(is_valid_utf8(s));
}

static inline void check_result(const struct dialect_result *r)
{
	bool seen_non_final = false;

	check(r->n_tokens <= DIALECT_MAX_TOKENS);
	for (uint32_t i = 0; i < r->n_tokens; i++) {
		const struct transcript_token *t = &r->tokens[i];

		check_label(t->text, sizeof(t->text));
		check_label(t->speaker, sizeof(t->speaker));
		check_label(t->language, sizeof(t->language));
		check(t->start_ms >= -1 && t->end_ms >= -1);
		check(t->confidence == -1 || (t->confidence >= 0 && t->confidence <= 1));
		check(!(t->is_final && seen_non_final));
		seen_non_final |= !t->is_final;
	}
	check(r->final_audio_proc_ms >= -1 && r->total_audio_proc_ms >= -1);
	check_label(r->error_type, sizeof(r->error_type));
	check_label(r->error_message, sizeof(r->error_message));
	check(strpbrk(r->error_message, "\r\n") == NULL);
	check(r->has_error || r->error_class == ERR_NONE);
}

static inline void check_conn(const struct dialect_conn *c)
{
	if (c == NULL)
		return;
	check(c->n_items <= DIALECT_CONN_ITEMS && c->next_item < DIALECT_CONN_ITEMS);
	for (uint32_t i = 0; i < c->n_items; i++)
		check_label(c->items[i].id, sizeof(c->items[i].id));
	check_label(c->partial, sizeof(c->partial));
	check_label(c->partial_item, sizeof(c->partial_item));
}

/* The result, or NULL when the message was refused. c: NULL for a
 * stateless dialect. */
static inline const struct dialect_result *parse_one(const struct dialect_ops *ops,
		struct dialect_conn *c, const uint8_t *data, size_t size)
{
	static struct dialect_result res;
	char err[160];
	int r = ops->parse(c, (const char *)data, size, &res, err, sizeof(err));

	check(r == 0 || r == -EINVAL);
	check(memchr(err, '\0', sizeof(err)) != NULL);
	check(strchr(err, '\n') == NULL);
	if (r == 0)
		check_result(&res);
	else
		check(err[0] != '\0' && res.n_tokens == 0 && !res.has_error);
	check_conn(c);
	return r == 0 ? &res : NULL;
}

/* The whole input as one message, then each line as one on a fresh
 * connection (Deepgram, OpenAI realtime, vosk). */
static inline void fuzz_parse(const struct dialect_ops *ops, const uint8_t *data, size_t size)
{
	static struct dialect_conn c;
	size_t at = 0;

	const struct dialect_result *r;

	dialect_conn_reset(&c);
	r = parse_one(ops, &c, data, size);
	/* These dialects always say why (Soniox may send a code alone). */
	check(r == NULL || !r->has_error || r->error_message[0] != '\0');
	if (memchr(data, '\n', size) == NULL)
		return;		/* one line: parsed already */
	dialect_conn_reset(&c);
	while (at < size) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len = nl != NULL ? (size_t)(nl - (data + at)) : size - at;

		r = parse_one(ops, &c, data + at, len);
		check(r == NULL || !r->has_error || r->error_message[0] != '\0');
		at += len + 1;
	}
}

/* The Authorization value is "<scheme> <key>" or refused. */
static inline void fuzz_auth(const struct dialect_ops *ops, const char *scheme, const char *s)
{
	char buf[2048];
	bool has_ctl = false;
	int r;

	for (const char *c = s; *c != '\0'; c++)
		has_ctl |= (unsigned char)*c < 0x20 || *c == 0x7f;
	r = ops->auth_header(s, buf, sizeof(buf));
	if (scheme == NULL) {
		check(r == -ENOTSUP);
		return;
	}
	if (s[0] == '\0' || has_ctl) {
		check(r == -EINVAL);
		return;
	}
	check(r == (int)(strlen(scheme) + 1 + strlen(s)));
	check(strncmp(buf, scheme, strlen(scheme)) == 0 && strcmp(buf + strlen(scheme) + 1, s) == 0);
}

#endif
