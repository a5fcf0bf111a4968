/* Strict SPA-JSON check of the module arguments (see config-json.h). */
#include "config-json.h"
#include "utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <spa/utils/defs.h>

#define PATH_MAX_LEN	256	/* of the key path shown in messages */
#define KEY_SHOWN_MAX	64	/* bytes of one key kept in that path */

struct frame {
	char open;		/* '{', '[', or 0: the top level without braces */
	size_t open_at;		/* byte offset of the bracket */
	size_t path_len;	/* the path of this container */
	uint32_t index;		/* arrays: the next element */
	bool want_value;	/* objects: a key was read, its value is next */
};

struct checker {
	const char *text;
	size_t len;
	size_t pos;
	char path[PATH_MAX_LEN];
	struct frame stack[CONFIG_JSON_DEPTH + 1];
	int depth;		/* stack[depth] is the innermost container */
	size_t content_end;	/* after the last token: only blanks and comments follow */
	bool braced;		/* the text is "{ ... }" */
	bool closed_top;	/* and that '}' came: only blanks may follow */
	char *err;
	size_t err_size;
};

SPA_PRINTF_FUNC(3, 4)
static int fail(struct checker *c, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->err == NULL || c->err_size == 0)
		return -EINVAL;
	n = snprintf(c->err, c->err_size, "%s: ", c->path[0] ? c->path : "arguments");
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->err_size)
		n += vsnprintf(c->err + n, c->err_size - n, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < c->err_size)
		snprintf(c->err + n, c->err_size - n, " at byte %zu", at + 1);
	/* Keys are quoted in messages: keep them on one line. */
	for (char *p = c->err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -EINVAL;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
	       ch == ':' || ch == '=' || ch == ',';
}

static bool ends_bare(char ch)
{
	return is_blank(ch) || ch == '}' || ch == ']';
}

/* Skips separators and comments; returns false at the end of the text. */
static bool skip_blanks(struct checker *c)
{
	while (c->pos < c->len) {
		char ch = c->text[c->pos];
		if (ch == '#') {
			while (c->pos < c->len && c->text[c->pos] != '\n' && c->text[c->pos] != '\r')
				c->pos++;
		} else if (is_blank(ch)) {
			c->pos++;
		} else {
			return true;
		}
	}
	return false;
}

static int hex4(const char *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		uint32_t d = ch >= '0' && ch <= '9' ? (uint32_t)(ch - '0') :
			     ch >= 'a' && ch <= 'f' ? (uint32_t)(ch - 'a' + 10) :
			     ch >= 'A' && ch <= 'F' ? (uint32_t)(ch - 'A' + 10) : 16;
		if (d == 16)
			return -1;
		*v = (*v << 4) | d;
	}
	return 0;
}

/* \uXXXX at c->pos (on the 'u'); a high surrogate needs its low half. */
static int check_unicode_escape(struct checker *c)
{
	size_t at = c->pos - 1;
	uint32_t cp, lo;

	if (c->len - c->pos < 5 || hex4(c->text + c->pos + 1, &cp) < 0)
		return fail(c, at, "\\u needs four hex digits");
	c->pos += 5;
	if (cp == 0)
		return fail(c, at, "\\u0000 (NUL) in a string");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(c, at, "\\u%04X is half of a surrogate pair", cp);
	if (cp < 0xd800 || cp > 0xdbff)
		return 0;
	if (c->len - c->pos < 6 || c->text[c->pos] != '\\' || c->text[c->pos + 1] != 'u' ||
	    hex4(c->text + c->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
		return fail(c, at, "\\u%04X is half of a surrogate pair", cp);
	c->pos += 6;
	return 0;
}

/* A string from the quote at c->pos; c->pos ends after the closing quote. */
static int scan_string(struct checker *c)
{
	size_t start = c->pos++;
	int res;

	while (c->pos < c->len) {
		unsigned char ch = (unsigned char)c->text[c->pos];
		size_t l;

		if (ch == '"') {
			c->pos++;
			return 0;
		}
		if (ch == '\\') {
			if (++c->pos == c->len)
				break;
			ch = (unsigned char)c->text[c->pos];
			if (ch == 'u') {
				if ((res = check_unicode_escape(c)) < 0)
					return res;
				continue;
			}
			if (strchr("\"\\/bfnrt", ch) == NULL || ch == '\0')
				return fail(c, c->pos - 1, "unknown escape in a string");
			c->pos++;
			continue;
		}
		if (ch < 0x20 || ch == 0x7f)
			return fail(c, c->pos, "a control character in a string (write it as an escape)");
		if ((l = utf8_seq_len((const unsigned char *)c->text + c->pos, c->len - c->pos)) == 0)
			return fail(c, c->pos, "invalid UTF-8 in a string");
		c->pos += l;
	}
	return fail(c, start, "unterminated string starting");
}

/* A bare word (number, true, name, path) from c->pos. */
static int scan_bare(struct checker *c)
{
	while (c->pos < c->len && !ends_bare(c->text[c->pos])) {
		unsigned char ch = (unsigned char)c->text[c->pos];
		size_t l;

		if (ch == '"' || ch == '{' || ch == '[')
			return fail(c, c->pos, "'%c' inside a bare word (quote the value)", ch);
		if (ch < 0x20 || ch == 0x7f)
			return fail(c, c->pos, "a control character in a bare word");
		if ((l = utf8_seq_len((const unsigned char *)c->text + c->pos, c->len - c->pos)) == 0)
			return fail(c, c->pos, "invalid UTF-8 in a bare word");
		c->pos += l;
	}
	return 0;
}

static void path_truncate(struct checker *c, size_t len)
{
	c->path[len] = '\0';
}

/* Appends ".key" (or "key" at the top) for messages; the key's raw text,
 * quotes and escapes left as they are, cut to KEY_SHOWN_MAX bytes. */
static void path_add_key(struct checker *c, size_t from, size_t to)
{
	size_t n = strlen(c->path), k = to - from;
	const char *key = c->text + from;
	bool plain;

	if (k >= 2 && key[0] == '"') {
		key++;
		k -= 2;
	}
	k = SPA_MIN(k, (size_t)KEY_SHOWN_MAX);
	plain = config_json_key_is_plain(key, k);
	snprintf(c->path + n, sizeof(c->path) - n, "%s%s%.*s%s", n > 0 ? "." : "",
			plain ? "" : "\"", (int)k, key, plain ? "" : "\"");
}

bool config_json_key_is_plain(const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
		      (key[i] >= '0' && key[i] <= '9') || key[i] == '.' || key[i] == '-' ||
		      key[i] == '_'))
			return false;
	return len > 0;
}

static void path_add_index(struct checker *c, uint32_t index)
{
	size_t n = strlen(c->path);

	snprintf(c->path + n, sizeof(c->path) - n, "[%u]", index);
}

/* A value (scalar or container) or a key is done: the parent moves on. */
static void value_done(struct checker *c)
{
	struct frame *f = &c->stack[c->depth];

	path_truncate(c, f->path_len);
	if (f->open == '[')
		f->index++;
	else
		f->want_value = false;
}

static int open_container(struct checker *c, char open)
{
	struct frame *f;

	if (c->depth == CONFIG_JSON_DEPTH)
		return fail(c, c->pos, "nested deeper than %d levels", CONFIG_JSON_DEPTH);
	f = &c->stack[++c->depth];
	memset(f, 0, sizeof(*f));
	f->open = open;
	f->open_at = c->pos++;
	f->path_len = strlen(c->path);
	return 0;
}

static int close_container(struct checker *c, char close)
{
	struct frame *f = &c->stack[c->depth];
	char want = f->open == '{' ? '}' : ']';

	if (f->open == 0)
		return fail(c, c->pos, "unexpected '%c' (nothing to close)", close);
	if (close != want)
		return fail(c, c->pos, "mismatched '%c' (the '%c' at byte %zu needs '%c')", close,
				f->open, f->open_at + 1, want);
	if (f->want_value)
		return fail(c, c->pos, "missing value");
	c->pos++;
	if (--c->depth == 0 && c->braced)
		c->closed_top = true;
	else
		value_done(c);
	return 0;
}

/* One token where an object expects a key. */
static int object_key(struct checker *c)
{
	struct frame *f = &c->stack[c->depth];
	size_t start = c->pos;
	char ch = c->text[c->pos];
	int res;

	if (ch == '{' || ch == '[')
		return fail(c, c->pos, "expected a key, got '%c'", ch);
	res = ch == '"' ? scan_string(c) : scan_bare(c);
	if (res < 0)
		return res;
	if (c->pos - start == 2)
		return fail(c, start, "an empty key");
	path_add_key(c, start, c->pos);
	f->want_value = true;
	return 0;
}

static int element(struct checker *c)
{
	struct frame *f = &c->stack[c->depth];
	char ch = c->text[c->pos];
	int res;

	if (f->open == '[')
		path_add_index(c, f->index);
	if (ch == '{' || ch == '[')
		return open_container(c, ch);
	res = ch == '"' ? scan_string(c) : scan_bare(c);
	if (res == 0)
		value_done(c);
	return res;
}

/* The first token decides: "{ ... }" (nothing may follow it), or the
 * members of an object without braces (stack[0] is that object). */
static int walk(struct checker *c)
{
	int res;

	if (skip_blanks(c) && c->text[c->pos] == '[')
		return fail(c, c->pos, "expected an object, got an array");
	if (skip_blanks(c) && c->text[c->pos] == '{') {
		c->braced = true;
		if ((res = open_container(c, '{')) < 0)
			return res;
		c->content_end = c->pos;
	}
	while (skip_blanks(c)) {
		struct frame *f = &c->stack[c->depth];
		char ch = c->text[c->pos];

		if (c->closed_top)
			return fail(c, c->pos, "unexpected data after the closing '}'");
		if (ch == '}' || ch == ']')
			res = close_container(c, ch);
		else if (f->open == '[' || f->want_value)
			res = element(c);
		else
			res = object_key(c);
		if (res < 0)
			return res;
		c->content_end = c->pos;
	}
	if (c->depth > 0) {
		struct frame *f = &c->stack[c->depth];
		path_truncate(c, f->path_len);
		return fail(c, f->open_at, "unclosed '%c' opened", f->open);
	}
	if (c->stack[0].want_value)
		return fail(c, c->len - 1, "missing value after the key ending");
	return 0;
}

int config_json_check(const char *text, size_t len, size_t *content_len,
		char *err, size_t err_size)
{
	struct checker c = { .text = text, .len = len, .err = err, .err_size = err_size };
	int res;

	if (err_size > 0)
		err[0] = '\0';
	if (content_len != NULL)
		*content_len = 0;
	if (text == NULL)
		return 0;
	if ((res = walk(&c)) == 0 && content_len != NULL)
		*content_len = c.content_end;
	return res;
}
