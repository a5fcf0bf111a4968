/* What the dialect unit tests share: the checks every successful parse
 * must pass, and (expect_*) parsing a message or a file and asserting on
 * its tokens. Tests only; include after cmocka.h. */
#ifndef TRANSCRIBE_TEST_DIALECT_CHECK_H
#define TRANSCRIBE_TEST_DIALECT_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dialect.h"
#include "utf8-check.h"

#define LIT(s)	(s), (sizeof(s) - 1)

/* Big (about 90 KiB): static rather than on the test's stack. */
static struct dialect_result res;
static struct dialect_conn conn;
static char err[256];
static char buf[8192];

static inline void check_label(const char *s, size_t size)
{
	assert_non_null(memchr(s, '\0', size));
	if (!is_valid_utf8(s))
		fail_msg("\"%s\" is not valid UTF-8", s);
}

/* What every successful parse guarantees, whatever the input. */
static inline void check_sane_result(const struct dialect_result *r)
{
	bool seen_non_final = false;

	assert_true(r->n_tokens <= DIALECT_MAX_TOKENS);
	for (uint32_t i = 0; i < r->n_tokens; i++) {
		const struct transcript_token *t = &r->tokens[i];

		check_label(t->text, sizeof(t->text));
		check_label(t->speaker, sizeof(t->speaker));
		check_label(t->language, sizeof(t->language));
		assert_true(t->start_ms >= -1 && t->end_ms >= -1);
		assert_true(t->confidence == -1 || (t->confidence >= 0 && t->confidence <= 1));
		if (!t->is_final)
			seen_non_final = true;
		else if (seen_non_final)
			fail_msg("final token %u after a non-final one", i);
	}
	assert_true(r->final_audio_proc_ms >= -1 && r->total_audio_proc_ms >= -1);
	check_label(r->error_type, sizeof(r->error_type));
	check_label(r->error_message, sizeof(r->error_message));
	assert_null(strpbrk(r->error_message, "\r\n"));
	if (!r->has_error)
		assert_int_equal(r->error_class, ERR_NONE);
}

static inline void expect_parse(const struct dialect_ops *ops, const char *msg, size_t len)
{
	int r = ops->parse(&conn, msg, len, &res, err, sizeof(err));

	if (r != 0)
		fail_msg("parse(%.*s) = %d: %s", (int)len, msg, r, err);
	check_sane_result(&res);
	/* The newer dialects always say why (Soniox may send a code alone). */
	assert_true(!res.has_error || res.error_message[0] != '\0');
}

static inline void expect_refused(const struct dialect_ops *ops, const char *msg, size_t len)
{
	int r = ops->parse(&conn, msg, len, &res, err, sizeof(err));

	if (r != -EINVAL)
		fail_msg("parse(%.*s) = %d, want -EINVAL", (int)len, msg ? msg : "", r);
	if (strlen(err) < 10 || strchr(err, '\n') != NULL)
		fail_msg("parse(%.*s): error \"%s\" gives no one-line reason", (int)len,
				msg ? msg : "", err);
}

static inline void expect_file(const struct dialect_ops *ops, const char *dir, const char *name)
{
	char path[512];
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("can not open %s: %s", path, strerror(errno));
	len = fread(buf, 1, sizeof(buf), f);
	assert_true(len < sizeof(buf));
	fclose(f);
	expect_parse(ops, buf, len);
	assert_string_equal(err, "");
}

static inline void expect_token(uint32_t i, const char *text, int64_t start, int64_t end, bool is_final)
{
	const struct transcript_token *t = &res.tokens[i];

	assert_true(i < res.n_tokens);
	assert_string_equal(t->text, text);
	assert_int_equal(t->start_ms, start);
	assert_int_equal(t->end_ms, end);
	assert_int_equal(t->is_final, is_final);
}

/* Hostile input every parser must refuse with a reason, never crash on. */
static inline void check_refuses_garbage(const struct dialect_ops *ops)
{
	static const char deep[] = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]";

	expect_refused(ops, LIT(""));
	expect_refused(ops, NULL, 0);
	expect_refused(ops, LIT("{\"type\":"));
	expect_refused(ops, LIT("[1,2]"));
	expect_refused(ops, LIT("\"text\""));
	expect_refused(ops, LIT("null"));
	expect_refused(ops, LIT("{} trailing"));
	expect_refused(ops, LIT(deep));
	expect_refused(ops, LIT("{\"a\":1}\0"));
}

/* Every control message is text JSON or absent; never an empty binary frame. */
static inline void check_control(const struct dialect_message *m)
{
	if (m->len == 0)
		return;
	assert_true(m->text);
	assert_non_null(m->data);
	assert_int_equal(strlen(m->data), m->len);
	assert_int_equal(m->data[0], '{');
}

#endif
