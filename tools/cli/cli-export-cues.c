/* pw-transcribe export: subtitle cues (SubRip and WebVTT) from the finals.
 *
 * Consecutive finals are grouped into one cue until a final ends a
 * sentence, the next would stretch the cue beyond EXPORT_CUE_MAX_MS, a gap
 * comes or the speaker (the label: with several taps, the tap too) changes
 * (a single longer final is a cue of its own). The group's words are wrapped greedily at EXPORT_CUE_LINE_CHARS
 * characters (code points; a longer word is cut), every two lines make a
 * cue, and the two lines are balanced. The cues a group is split into
 * share its time by where their first word is in its final (linear in
 * characters). Finally cues are made not to overlap and to end after they
 * start. Text: control characters and runs of white space become one
 * space; in WebVTT & < > are escaped, in SubRip "-->" becomes "->". */
#include "cli-export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct word {
	const char *s;		/* not NUL-terminated */
	size_t bytes;
	size_t chars;
	bool glue;		/* no space before it: the rest of a cut word */
	int64_t t;		/* when it is said (ms) */
};

struct cue {
	int64_t start;
	int64_t end;
	char *text;		/* lines joined by '\n', unescaped */
};

struct builder {
	const struct export_journal *j;
	char **norm;		/* per entry: the normalized text of a final */
	size_t *group;		/* entries of the cue being gathered */
	size_t n_group;
	struct word *words;
	size_t n_words, cap_words;
	struct cue *cues;
	size_t n_cues, cap_cues;
};

static bool is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static size_t utf8_chars(const char *s, size_t bytes)
{
	size_t n = 0;

	for (size_t i = 0; i < bytes; i++)
		n += !is_cont((unsigned char)s[i]);
	return n;
}

/* Control characters (C0, DEL, C1) and white space: one space; trimmed. */
static char *normalize(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	const unsigned char *u = (const unsigned char *)s;
	bool space = false;

	if (!out)
		return NULL;
	while (*u) {
		size_t skip = 0;

		if (*u <= 0x20 || *u == 0x7f)
			skip = 1;
		else if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
			skip = 2;
		if (skip) {
			space = true;
			u += skip;
			continue;
		}
		if (space && o > out)
			*o++ = ' ';
		space = false;
		*o++ = (char)*u++;
	}
	*o = '\0';
	return out;
}

/* Ends in . ! ? or …, maybe followed by closing quotes or brackets. */
static bool ends_sentence(const char *s)
{
	static const char *const closers[] = { "\"", "'", ")", "]", "\u201d", "\u2019", "\u00bb" };
	static const char *const ends[] = { ".", "!", "?", "\u2026" };
	size_t len = strlen(s), i;
	bool again = true;

	while (again) {
		again = false;
		for (i = 0; i < sizeof(closers) / sizeof(closers[0]); i++) {
			size_t cl = strlen(closers[i]);
			if (len >= cl && memcmp(s + len - cl, closers[i], cl) == 0) {
				len -= cl;
				again = true;
			}
		}
	}
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		size_t el = strlen(ends[i]);
		if (len >= el && memcmp(s + len - el, ends[i], el) == 0)
			return true;
	}
	return false;
}

static int add_word(struct builder *b, const struct word *w)
{
	struct word *grown;

	if (b->n_words == b->cap_words) {
		b->cap_words = b->cap_words ? b->cap_words * 2 : 64;
		grown = realloc(b->words, b->cap_words * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		b->words = grown;
	}
	b->words[b->n_words++] = *w;
	return 0;
}

/* The words of s (normalized), said from start to end; a word longer than
 * a line is cut into glued pieces. */
static int add_words(struct builder *b, const char *s, int64_t start, int64_t end)
{
	size_t total = utf8_chars(s, strlen(s)), at = 0;
	const char *p = s;

	while (*p) {
		size_t bytes = strcspn(p, " "), off = 0;
		bool glue = false;

		while (off < bytes) {
			struct word w = { .s = p + off, .glue = glue };

			while (off + w.bytes < bytes && (w.chars < EXPORT_CUE_LINE_CHARS ||
			       is_cont((unsigned char)p[off + w.bytes]))) {
				w.chars += !is_cont((unsigned char)p[off + w.bytes]);
				w.bytes++;
			}
			w.t = start + (int64_t)((double)(end - start) * (double)at / (double)total);
			if (add_word(b, &w) < 0)
				return -ENOMEM;
			at += w.chars;
			off += w.bytes;
			glue = true;
		}
		p += bytes;
		if (*p == ' ') {
			p++;
			at++;
		}
	}
	return 0;
}

/* Characters of words [a, z) on one line. */
static size_t span_chars(const struct word *w, size_t a, size_t z)
{
	size_t n = 0;

	for (size_t i = a; i < z; i++)
		n += w[i].chars + (i > a && !w[i].glue);
	return n;
}

static void put_span(char **o, const struct word *w, size_t a, size_t z)
{
	for (size_t i = a; i < z; i++) {
		if (i > a && !w[i].glue)
			*(*o)++ = ' ';
		memcpy(*o, w[i].s, w[i].bytes);
		*o += w[i].bytes;
	}
}

/* Where words [a, z) (more than one line) split best into two lines: the
 * longer line as short as it can be, the second the longer on a tie. */
static size_t best_split(const struct word *w, size_t a, size_t z)
{
	size_t best = a + 1, best_max = SIZE_MAX;

	for (size_t s = a + 1; s < z; s++) {
		size_t l1 = span_chars(w, a, s), l2 = span_chars(w, s, z);
		size_t m = l1 > l2 ? l1 : l2;

		if (l1 <= EXPORT_CUE_LINE_CHARS && l2 <= EXPORT_CUE_LINE_CHARS && m < best_max) {
			best = s;
			best_max = m;
		}
	}
	return best;
}

static int add_cue(struct builder *b, int64_t start, int64_t end, size_t a, size_t split, size_t z)
{
	struct cue *grown, *c;
	size_t bytes = 1;
	char *o;

	for (size_t i = a; i < z; i++)
		bytes += b->words[i].bytes + 1;
	if (b->n_cues == b->cap_cues) {
		b->cap_cues = b->cap_cues ? b->cap_cues * 2 : 64;
		grown = realloc(b->cues, b->cap_cues * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		b->cues = grown;
	}
	c = &b->cues[b->n_cues];
	if (!(c->text = o = malloc(bytes)))
		return -ENOMEM;
	put_span(&o, b->words, a, split);
	if (split < z) {
		*o++ = '\n';
		put_span(&o, b->words, split, z);
	}
	*o = '\0';
	c->start = start;
	c->end = end;
	b->n_cues++;
	return 0;
}

/* The words gathered: greedy lines, two to a cue. */
static int words_to_cues(struct builder *b, int64_t start, int64_t end)
{
	const struct word *w = b->words;
	size_t a = 0, n = b->n_words;

	while (a < n) {
		size_t z = a, lines = 0, next_line, split;

		/* up to EXPORT_CUE_MAX_LINES greedy lines from a */
		while (z < n && lines < EXPORT_CUE_MAX_LINES) {
			next_line = z + 1;
			while (next_line < n && span_chars(w, z, next_line + 1) <= EXPORT_CUE_LINE_CHARS)
				next_line++;
			z = next_line;
			lines++;
		}
		split = lines > 1 ? best_split(w, a, z) : z;
		if (add_cue(b, a == 0 ? start : w[a].t, z == n ? end : w[z].t, a, split, z) < 0)
			return -ENOMEM;
		a = z;
	}
	return 0;
}

static int group_flush(struct builder *b)
{
	const struct export_entry *first, *e;
	int64_t start, end = 0;
	char *prefix = NULL;
	int r = 0;

	if (b->n_group == 0)
		return 0;
	first = &b->j->entries[b->group[0]];
	start = first->start_ms;
	b->n_words = 0;
	if (first->label[0]) {
		size_t len = strlen(first->label);
		char *sp = malloc(len + 2);

		if (!sp)
			return -ENOMEM;
		memcpy(sp, first->label, len);
		memcpy(sp + len, ":", 2);
		prefix = normalize(sp);
		free(sp);
		if (!prefix)
			return -ENOMEM;
		r = add_words(b, prefix, start, start);
	}
	for (size_t i = 0; i < b->n_group && r == 0; i++) {
		e = &b->j->entries[b->group[i]];
		if (e->end_ms > end)
			end = e->end_ms;
		r = add_words(b, b->norm[b->group[i]], e->start_ms, e->end_ms);
	}
	if (r == 0)
		r = words_to_cues(b, start, end);
	free(prefix);
	b->n_group = 0;
	return r;
}

static int gather(struct builder *b)
{
	const struct export_journal *j = b->j;
	int r;

	for (size_t i = 0; i < j->n; i++) {
		const struct export_entry *e = &j->entries[i], *first;

		if (e->kind == EXPORT_GAP) {
			if ((r = group_flush(b)) < 0)
				return r;
			continue;
		}
		if (b->norm[i][0] == '\0')
			continue;	/* nothing to show */
		if (b->n_group > 0) {
			first = &j->entries[b->group[0]];
			if (strcmp(first->label, e->label) != 0 ||
			    e->end_ms - first->start_ms > EXPORT_CUE_MAX_MS)
				if ((r = group_flush(b)) < 0)
					return r;
		}
		b->group[b->n_group++] = i;
		if (ends_sentence(b->norm[i]) && (r = group_flush(b)) < 0)
			return r;
	}
	return group_flush(b);
}

/* No cue overlaps the one before it (the earlier one is cut short, or
 * when both start together, the later one starts when the earlier ends);
 * every cue ends at least 1 ms after it starts. */
static void fix_times(struct cue *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && c[i].start < c[i - 1].end) {
			if (c[i].start > c[i - 1].start)
				c[i - 1].end = c[i].start;
			else
				c[i].start = c[i - 1].end;
		}
		if (c[i].end <= c[i].start)
			c[i].end = c[i].start + 1;
	}
}

static void put_time(FILE *f, int64_t ms, char sep)
{
	fprintf(f, "%02lld:%02lld:%02lld%c%03lld", (long long)(ms / 3600000),
		(long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), sep,
		(long long)(ms % 1000));
}

static void put_vtt_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else
			fputc(*s, f);
	}
}

/* SubRip has no escapes: "-->" marks a time line, so it becomes "->". */
static void put_srt_text(FILE *f, const char *s)
{
	for (; *s; s++)
		if (!(s[0] == '-' && s[1] == '-' && s[2] == '>'))
			fputc(*s, f);
}

static void put_cues(FILE *f, const struct cue *c, size_t n, bool vtt)
{
	if (vtt)
		fputs("WEBVTT\n\n", f);
	for (size_t i = 0; i < n; i++) {
		if (!vtt)
			fprintf(f, "%zu\n", i + 1);
		put_time(f, c[i].start, vtt ? '.' : ',');
		fputs(" --> ", f);
		put_time(f, c[i].end, vtt ? '.' : ',');
		fputc('\n', f);
		if (vtt)
			put_vtt_text(f, c[i].text);
		else
			put_srt_text(f, c[i].text);
		fputs("\n\n", f);
	}
}

int export_cues_write(FILE *f, const struct export_journal *j, bool vtt)
{
	struct builder b = { .j = j };
	size_t i;
	int r = -ENOMEM;

	b.norm = calloc(j->n + 1, sizeof(*b.norm));
	b.group = calloc(j->n + 1, sizeof(*b.group));
	if (!b.norm || !b.group)
		goto out;
	for (i = 0; i < j->n; i++)
		if (j->entries[i].kind == EXPORT_FINAL && !(b.norm[i] = normalize(j->entries[i].text)))
			goto out;
	if ((r = gather(&b)) < 0)
		goto out;
	fix_times(b.cues, b.n_cues);
	put_cues(f, b.cues, b.n_cues, vtt);
out:
	for (i = 0; b.norm && i < j->n; i++)
		free(b.norm[i]);
	for (i = 0; i < b.n_cues; i++)
		free(b.cues[i].text);
	free(b.norm);
	free(b.group);
	free(b.words);
	free(b.cues);
	return r;
}
