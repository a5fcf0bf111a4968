/* Text for people: control-character cleaning, column widths, cutting a
 * caption to the terminal, and the one-line error report. */
#include "cli-text.h"
#include "cli.h"

#include <langinfo.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#define CLI_ERROR_MAX 1024

/* One character of s: its length in bytes and its code point
 * (an invalid byte is returned alone, as U+FFFD). */
static size_t next_char(const char *s, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len, i;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if ((u[0] & 0xe0) == 0xc0) {
		len = 2;
		*cp = u[0] & 0x1f;
	} else if ((u[0] & 0xf0) == 0xe0) {
		len = 3;
		*cp = u[0] & 0x0f;
	} else if ((u[0] & 0xf8) == 0xf0) {
		len = 4;
		*cp = u[0] & 0x07;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	for (i = 1; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		*cp = (*cp << 6) | (u[i] & 0x3f);
	}
	return len;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

static int char_width(uint32_t cp)
{
	int w;

	if (is_control(cp))
		return 1;	/* printed as a space */
	w = wcwidth((wchar_t)cp);
	/* unknown to the locale: count it, so a line is never longer than
	 * we think */
	return w < 0 ? 1 : w;
}

int cli_text_width(const char *s)
{
	uint32_t cp;
	int w = 0;

	while (*s) {
		s += next_char(s, &cp);
		w += char_width(cp);
	}
	return w;
}

void cli_text_put(FILE *f, const char *s)
{
	uint32_t cp;
	size_t len;

	while (*s) {
		len = next_char(s, &cp);
		if (is_control(cp))
			fputc(' ', f);
		else
			fwrite(s, 1, len, f);
		s += len;
	}
}

void cli_text_put_padded(FILE *f, const char *s, int width)
{
	int w = cli_text_width(s);

	cli_text_put(f, s);
	for (; w < width; w++)
		fputc(' ', f);
}

void cli_text_put_tail(FILE *f, const char *s, int cols)
{
	bool utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	int w = cli_text_width(s);
	uint32_t cp;

	if (cols < 1)
		return;
	if (w <= cols) {
		cli_text_put(f, s);
		return;
	}
	/* keep the tail that fits after a one-column ellipsis */
	while (*s && w > cols - 1) {
		s += next_char(s, &cp);
		w -= char_width(cp);
	}
	fputs(utf8 ? "\u2026" : "<", f);
	cli_text_put(f, s);
}

void cli_error(const char *fmt, ...)
{
	char msg[CLI_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fputs(CLI_PROGRAM ": ", stderr);
	cli_text_put(stderr, msg);
	fputc('\n', stderr);
}
