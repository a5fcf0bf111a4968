/* pw-transcribe export: reading a journal. Each line is parsed on its own
 * (json_tokener, strict, UTF-8 checked); a bad line is reported with its
 * number and skipped, so one damaged line never costs the rest. The header
 * (else the file name, <tap>-<yyyymmddThhmmssZ>-<session>.jsonl) says
 * when the journal's timeline began. */
#include "cli-export.h"
#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#define PARSE_FLAGS	(JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
#define WHAT_MAX	256
#define STAMP_LEN	16		/* yyyymmddThhmmssZ */

struct reader {
	const char *path;
	size_t line;
	const char *type;		/* of the line being read */
	struct json_tokener *tok;
	struct export_journal *j;
	struct export_source *src;
	bool header_seen;
	size_t cap;
};

static void bad_line(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad_line(struct reader *rd, const char *fmt, ...)
{
	char what[WHAT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	cli_error("%s:%zu: %s", rd->path, rd->line, what);
	rd->j->bad_lines++;
}

/* o's member key, reported when missing (and required). */
static bool member(struct reader *rd, struct json_object *o, const char *key, bool required,
		   struct json_object **v)
{
	if (json_object_object_get_ex(o, key, v))
		return true;
	*v = NULL;
	if (required)
		bad_line(rd, "%s: no \"%s\"", rd->type, key);
	return false;
}

static bool get_uint(struct reader *rd, struct json_object *o, const char *key, bool required,
		     uint64_t *out)
{
	struct json_object *v;

	*out = 0;
	if (!member(rd, o, key, required, &v))
		return !required;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
		bad_line(rd, "%s: \"%s\" is not an integer >= 0", rd->type, key);
		return false;
	}
	*out = json_object_get_uint64(v);
	return true;
}

static bool get_time(struct reader *rd, struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!member(rd, o, key, true, &v))
		return false;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
		bad_line(rd, "%s: \"%s\" is not an integer >= 0", rd->type, key);
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

/* A copy of the string (absent and optional: ""); the caller frees it. */
static bool get_string(struct reader *rd, struct json_object *o, const char *key, bool required,
		       char **out)
{
	struct json_object *v;
	const char *s = "";

	*out = NULL;
	if (member(rd, o, key, required, &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			bad_line(rd, "%s: \"%s\" is not a string", rd->type, key);
			return false;
		}
		s = json_object_get_string(v);
	} else if (required) {
		return false;
	}
	*out = strdup(s);
	if (!*out) {
		bad_line(rd, "out of memory");
		return false;
	}
	return true;
}

static bool get_times(struct reader *rd, struct json_object *o, struct export_entry *e)
{
	if (!get_time(rd, o, "start_ms", &e->start_ms) || !get_time(rd, o, "end_ms", &e->end_ms))
		return false;
	if (e->end_ms < e->start_ms) {
		bad_line(rd, "%s: \"end_ms\" %lld is before \"start_ms\" %lld", rd->type,
			 (long long)e->end_ms, (long long)e->start_ms);
		return false;
	}
	return true;
}

void export_entry_clear(struct export_entry *e)
{
	free(e->text);
	free(e->speaker);
	free(e->language);
	free(e->session_id);
	free(e->tap);
	free(e->label);
}

static bool get_confidence(struct reader *rd, struct json_object *o, struct export_entry *e)
{
	struct json_object *v;

	if (!member(rd, o, "confidence", false, &v))
		return true;
	if (!(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
	    !isfinite(json_object_get_double(v))) {
		bad_line(rd, "final: \"confidence\" is not a number");
		return false;
	}
	e->has_confidence = true;
	e->confidence = json_object_get_double(v);
	return true;
}

/* required: seq, start_ms, end_ms, text; the rest may be left out */
static bool parse_final(struct reader *rd, struct json_object *o, struct export_entry *e)
{
	e->kind = EXPORT_FINAL;
	return get_uint(rd, o, "seq", true, &e->seq) &&
	       get_times(rd, o, e) &&
	       get_string(rd, o, "text", true, &e->text) &&
	       get_string(rd, o, "speaker", false, &e->speaker) &&
	       get_string(rd, o, "language", false, &e->language) &&
	       get_confidence(rd, o, e) &&
	       get_string(rd, o, "session_id", false, &e->session_id) &&
	       get_uint(rd, o, "connection_id", false, &e->connection_id);
}

static bool parse_gap(struct reader *rd, struct json_object *o, struct export_entry *e)
{
	e->kind = EXPORT_GAP;
	return get_times(rd, o, e) && get_string(rd, o, "reason", false, &e->text);
}

static void source_saw(struct reader *rd, int64_t ms)
{
	if (ms > rd->src->end_ms)
		rd->src->end_ms = ms;
}

static void add_entry(struct reader *rd, struct json_object *o, bool final)
{
	struct export_journal *j = rd->j;
	struct export_entry e = { .line = rd->line }, *grown;

	if (!(final ? parse_final(rd, o, &e) : parse_gap(rd, o, &e))) {
		export_entry_clear(&e);
		return;
	}
	source_saw(rd, e.end_ms);
	if (j->n == rd->cap) {
		rd->cap = rd->cap ? rd->cap * 2 : 64;
		grown = realloc(j->entries, rd->cap * sizeof(*grown));
		if (!grown) {
			bad_line(rd, "out of memory");
			export_entry_clear(&e);
			return;
		}
		j->entries = grown;
	}
	j->entries[j->n++] = e;
}

/* A JSON object: the first character is '{' (so the tokener never waits
 * for more of a bare number) and nothing but spaces follows it. */
static struct json_object *parse_object(struct reader *rd, const char *s, size_t len)
{
	enum json_tokener_error jerr;
	struct json_object *o;
	size_t i = 0;

	if (memchr(s, '\0', len)) {
		bad_line(rd, "not JSON: a NUL byte");
		return NULL;
	}
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	if (i == len) {
		bad_line(rd, "empty line");
		return NULL;
	}
	if (s[i] != '{') {
		bad_line(rd, "not a JSON object");
		return NULL;
	}
	json_tokener_reset(rd->tok);
	o = json_tokener_parse_ex(rd->tok, s, (int)len);
	jerr = json_tokener_get_error(rd->tok);
	if (o && jerr == json_tokener_success)
		return o;
	json_object_put(o);
	if (jerr == json_tokener_continue)
		bad_line(rd, "not JSON: the line ends inside the object");
	else
		bad_line(rd, "not JSON: %s at column %zu", json_tokener_error_desc(jerr),
			 json_tokener_get_parse_end(rd->tok) + 1);
	return NULL;
}

/* "2026-12-03T09:30:00Z" (ISO) or "20261203T093000Z" (a file name's) as
 * UTC ms since 1970; -1 when it is neither. */
static int64_t parse_utc(const char *s, const char *fmt)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, fmt, &tm);
	time_t t;

	if (end == NULL || *end != '\0' || (t = timegm(&tm)) == (time_t)-1 || t < 0)
		return -1;
	return (int64_t)t * 1000;
}

/* The header: the tap and when the timeline began (only the first line
 * that is a header counts; one without them places nothing). */
static void read_header(struct reader *rd, struct json_object *o)
{
	struct json_object *v;
	int64_t ms;
	char *tap;

	if (rd->header_seen)
		return;
	rd->header_seen = true;
	if (json_object_object_get_ex(o, "tap", &v) && json_object_is_type(v, json_type_string) &&
	    (tap = strdup(json_object_get_string(v)))) {
		free(rd->src->tap);
		rd->src->tap = tap;
	}
	if (json_object_object_get_ex(o, "started", &v) && json_object_is_type(v, json_type_string) &&
	    (ms = parse_utc(json_object_get_string(v), "%Y-%m-%dT%H:%M:%SZ")) >= 0)
		rd->src->started_ms = ms;
}

/* A state line's time ends the journal as much as a final does. */
static void read_state(struct reader *rd, struct json_object *o)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, "at_ms", &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) >= 0)
		source_saw(rd, json_object_get_int64(v));
}

static void read_line(struct reader *rd, const char *s, size_t len)
{
	struct json_object *o = parse_object(rd, s, len), *t;
	const char *type;

	if (!o)
		return;
	if (!json_object_object_get_ex(o, "type", &t)) {
		bad_line(rd, "no \"type\"");
	} else if (!json_object_is_type(t, json_type_string)) {
		bad_line(rd, "\"type\" is not a string");
	} else {
		type = json_object_get_string(t);
		rd->type = type;
		if (strcmp(type, TRANSCRIBE_LINE_FINAL) == 0)
			add_entry(rd, o, true);
		else if (strcmp(type, TRANSCRIBE_LINE_GAP) == 0)
			add_entry(rd, o, false);
		else if (strcmp(type, TRANSCRIBE_LINE_HEADER) == 0)
			read_header(rd, o);
		else if (strcmp(type, TRANSCRIBE_LINE_STATE) == 0)
			read_state(rd, o);
		/* types of later versions: not exported */
	}
	json_object_put(o);
}

static int by_seq(const void *a, const void *b)
{
	const struct export_entry *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->kind == EXPORT_FINAL && x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int by_time(const void *a, const void *b)
{
	const struct export_entry *x = a, *y = b;

	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Drops finals whose seq came earlier in the journal, then sorts by time. */
static void dedupe_and_sort(struct export_journal *j)
{
	size_t i, n = 0;

	if (j->n == 0)
		return;		/* qsort() wants an array, even of nothing */
	qsort(j->entries, j->n, sizeof(*j->entries), by_seq);
	for (i = 0; i < j->n; i++) {
		if (n > 0 && j->entries[i].kind == EXPORT_FINAL &&
		    j->entries[n - 1].kind == EXPORT_FINAL &&
		    j->entries[n - 1].seq == j->entries[i].seq) {
			export_entry_clear(&j->entries[i]);
			continue;
		}
		j->entries[n++] = j->entries[i];
	}
	j->n = n;
	qsort(j->entries, j->n, sizeof(*j->entries), by_time);
}

/* Until the header says otherwise: <tap>-<yyyymmddThhmmssZ>-<session>.jsonl. */
static int source_from_name(const char *path, struct export_source *src)
{
	char *copy = strdup(path), *base, *p, stamp[STAMP_LEN + 1];

	src->tap = NULL;
	src->started_ms = -1;
	src->end_ms = 0;
	if (!copy)
		return -ENOMEM;
	base = basename(copy);
	for (p = strchr(base, '-'); p; p = strchr(p + 1, '-')) {
		if (strlen(p + 1) <= STAMP_LEN || p[1 + STAMP_LEN] != '-')
			continue;
		memcpy(stamp, p + 1, STAMP_LEN);
		stamp[STAMP_LEN] = '\0';
		if ((src->started_ms = parse_utc(stamp, "%Y%m%dT%H%M%SZ")) >= 0) {
			*p = '\0';
			break;
		}
	}
	src->tap = strdup(src->started_ms >= 0 ? base : "");
	free(copy);
	return src->tap ? 0 : -ENOMEM;
}

void export_source_clear(struct export_source *src)
{
	free(src->tap);
	src->tap = NULL;
}

static int read_lines(struct reader *rd, FILE *f)
{
	char *buf = NULL;
	size_t size = 0;
	ssize_t len;
	int r = 0;

	if (!(rd->tok = json_tokener_new()))
		return -ENOMEM;
	json_tokener_set_flags(rd->tok, PARSE_FLAGS);
	while ((len = getline(&buf, &size, f)) >= 0) {
		rd->line++;
		if (len == 0 || buf[len - 1] != '\n') {
			bad_line(rd, "truncated: no newline at the end (the journal was cut off)");
			continue;
		}
		read_line(rd, buf, (size_t)len - 1);
	}
	if (ferror(f))
		r = errno ? -errno : -EIO;
	free(buf);
	json_tokener_free(rd->tok);
	return r;
}

int export_journal_read(const char *path, struct export_journal *j, struct export_source *src)
{
	struct export_source unused;
	struct reader rd = { .path = path, .j = j, .src = src ? src : &unused };
	FILE *f = NULL;
	int r;

	memset(j, 0, sizeof(*j));
	if ((r = source_from_name(path, rd.src)) == 0) {
		if ((f = fopen(path, "re")))
			r = read_lines(&rd, f);
		else
			r = -errno;
	}
	if (f)
		fclose(f);
	if (r < 0) {
		cli_error("%s: %s", path, strerror(-r));
		export_journal_clear(j);
		export_source_clear(rd.src);
	} else {
		dedupe_and_sort(j);
	}
	if (!src)
		export_source_clear(&unused);
	return r;
}

void export_journal_clear(struct export_journal *j)
{
	for (size_t i = 0; i < j->n; i++)
		export_entry_clear(&j->entries[i]);
	free(j->entries);
	memset(j, 0, sizeof(*j));
}
