/* What pw-transcribe follow prints. On a terminal the newest partial owns
 * the last line: it is erased before any other line is printed and drawn
 * again after it, cut to the terminal's width so that it never wraps (a
 * wrapped line could not be rewritten with \r). JSON objects are built with
 * json-c, never by hand. */
#include "cli-caption.h"
#include "json-double.h"
#include "cli-text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define ERASE_LINE "\r\033[K"
#define DEFAULT_COLUMNS 80
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct cli_caption {
	enum cli_caption_mode mode;
	bool prefix;
	char *line_tap;		/* terminal: whose partial is on the line */
	char *line_text;	/* terminal: that partial; NULL: the line is empty */
};

struct cli_caption *cli_caption_new(enum cli_caption_mode mode, bool prefix)
{
	struct cli_caption *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->mode = mode;
	c->prefix = prefix;
	return c;
}

static void line_forget(struct cli_caption *c)
{
	free(c->line_tap);
	free(c->line_text);
	c->line_tap = NULL;
	c->line_text = NULL;
}

void cli_caption_free(struct cli_caption *c)
{
	if (!c)
		return;
	if (c->line_text) {
		fputs(ERASE_LINE, stdout);
		fflush(stdout);
	}
	line_forget(c);
	free(c);
}

static int terminal_columns(void)
{
	struct winsize ws;

	/* asked every time: the window may have been resized */
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
		return DEFAULT_COLUMNS;
	return ws.ws_col;
}

/* The last column stays free: some terminals wrap on writing it. */
static void line_draw(struct cli_caption *c)
{
	int cols = terminal_columns() - 1, pw;

	if (!c->line_text)
		return;
	fputs(ERASE_LINE, stdout);
	if (c->prefix) {
		pw = cli_text_width(c->line_tap) + 2;
		if (pw < cols) {
			cli_text_put(stdout, c->line_tap);
			fputs(": ", stdout);
			cols -= pw;
		}
	}
	cli_text_put_tail(stdout, c->line_text, cols);
}

/* Starts a text line: erases a partial, writes the prefix. */
static void line_begin(struct cli_caption *c, const char *tap)
{
	if (c->line_text)
		fputs(ERASE_LINE, stdout);
	if (c->prefix && tap) {
		cli_text_put(stdout, tap);
		fputs(": ", stdout);
	}
}

static void line_end(struct cli_caption *c)
{
	fputc('\n', stdout);
	line_draw(c);
	fflush(stdout);
}

static int put_json(struct json_object *o)
{
	if (!o)
		return -ENOMEM;
	fputs(json_object_to_json_string_ext(o, JSON_FLAGS), stdout);
	fputc('\n', stdout);
	fflush(stdout);
	json_object_put(o);
	return 0;
}

/* {"event":event,"tap":tap}, the start of every tap event. */
static struct json_object *json_event(const char *event, const char *tap)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "event", json_object_new_string(event));
	if (tap)
		json_object_object_add(o, "tap", json_object_new_string(tap));
	return o;
}

static void put_state_text(const struct cli_tap *t)
{
	const char *s = t->state;

	fputs("-- ", stdout);
	if (*s) {
		fputc(toupper((unsigned char)*s), stdout);
		cli_text_put(stdout, s + 1);
	}
	if (strcmp(s, "reconnecting") == 0) {
		printf(" (%u/%u)", t->attempt, t->max_attempts);
		if (t->next_retry_ms >= 0)
			printf(" in %.1f s", (double)t->next_retry_ms / 1000.0);
	} else if ((strcmp(s, "offline") == 0 || strcmp(s, "failed") == 0) &&
		   *t->last_error) {
		fputs(": ", stdout);
		cli_text_put(stdout, t->last_error);
	}
}

int cli_caption_state(struct cli_caption *c, const struct cli_tap *t)
{
	struct json_object *o;

	if (c->mode != CLI_CAPTION_JSON) {
		line_begin(c, t->name);
		put_state_text(t);
		line_end(c);
		return 0;
	}
	o = json_event("state", t->name);
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "state", json_object_new_string(t->state));
	json_object_object_add(o, "attempt", json_object_new_int64(t->attempt));
	json_object_object_add(o, "max_attempts", json_object_new_int64(t->max_attempts));
	json_object_object_add(o, "next_retry_ms", json_object_new_int64(t->next_retry_ms));
	json_object_object_add(o, "error", json_object_new_string(t->last_error));
	return put_json(o);
}

static int partial_on_line(struct cli_caption *c, const char *tap, const char *text)
{
	char *new_tap, *new_text;

	if (!*text) {
		/* "" clears; only the tap whose words are shown can */
		if (c->line_text && strcmp(c->line_tap, tap) == 0) {
			fputs(ERASE_LINE, stdout);
			line_forget(c);
		}
		fflush(stdout);
		return 0;
	}
	new_tap = strdup(tap);
	new_text = strdup(text);
	if (!new_tap || !new_text) {
		free(new_tap);
		free(new_text);
		return -ENOMEM;
	}
	line_forget(c);
	c->line_tap = new_tap;
	c->line_text = new_text;
	line_draw(c);
	fflush(stdout);
	return 0;
}

int cli_caption_partial(struct cli_caption *c, const char *tap, const char *text,
			uint64_t start_ms, uint64_t end_ms)
{
	struct json_object *o;

	if (c->mode == CLI_CAPTION_TERMINAL)
		return partial_on_line(c, tap, text);
	if (c->mode == CLI_CAPTION_PLAIN)
		return 0;	/* a log of what was said: finals only */
	o = json_event("partial", tap);
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "text", json_object_new_string(text));
	json_object_object_add(o, "start_ms", json_object_new_uint64(start_ms));
	json_object_object_add(o, "end_ms", json_object_new_uint64(end_ms));
	return put_json(o);
}

static int final_json(const char *tap, const struct cli_final *f)
{
	struct json_object *o = json_event("final", tap);

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "text", json_object_new_string(f->text));
	json_object_object_add(o, "start_ms", json_object_new_uint64(f->start_ms));
	json_object_object_add(o, "end_ms", json_object_new_uint64(f->end_ms));
	json_object_object_add(o, "seq", json_object_new_uint64(f->seq));
	json_object_object_add(o, "speaker", json_object_new_string(f->speaker));
	json_object_object_add(o, "language", json_object_new_string(f->language));
	if (f->has_confidence)
		json_object_object_add(o, "confidence", json_double_shortest(f->confidence));
	json_object_object_add(o, "session_id", json_object_new_string(f->session_id));
	return put_json(o);
}

int cli_caption_final(struct cli_caption *c, const char *tap, const struct cli_final *f)
{
	uint64_t tenths = f->start_ms / 100;

	if (c->mode == CLI_CAPTION_JSON)
		return final_json(tap, f);
	/* the final replaces the words that were in progress */
	if (c->line_text && strcmp(c->line_tap, tap) == 0) {
		fputs(ERASE_LINE, stdout);
		line_forget(c);
	}
	line_begin(c, tap);
	printf("[%02llu:%02llu.%llu] ", (unsigned long long)(tenths / 600),
	       (unsigned long long)(tenths % 600 / 10), (unsigned long long)(tenths % 10));
	cli_text_put(stdout, f->text);
	line_end(c);
	return 0;
}

int cli_caption_removed(struct cli_caption *c, const char *tap)
{
	if (c->mode == CLI_CAPTION_JSON)
		return put_json(json_event("removed", tap));
	if (c->line_text && strcmp(c->line_tap, tap) == 0) {
		fputs(ERASE_LINE, stdout);
		line_forget(c);
	}
	line_begin(c, tap);
	fputs("-- Removed", stdout);
	line_end(c);
	return 0;
}

int cli_caption_gone(struct cli_caption *c)
{
	if (c->mode == CLI_CAPTION_JSON)
		return put_json(json_event("gone", NULL));
	if (c->line_text) {
		fputs(ERASE_LINE, stdout);
		line_forget(c);
	}
	fputs("-- service gone\n", stdout);
	fflush(stdout);
	return 0;
}
