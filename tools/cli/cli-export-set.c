/* pw-transcribe export: several journals as one transcript (see
 * export_set_read() in cli-export.h). The paths are expanded (a directory
 * gives its *.jsonl files), each journal is read on its own (its seq
 * numbers are its own), placed on the timeline of the first one by the
 * header's start time, and the entries are merged in time order. */
#include "cli-export.h"
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define JOURNAL_SUFFIX	".jsonl"

struct journal_in {
	char *path;
	dev_t dev;
	ino_t ino;
	size_t arg;			/* order on the command line (and in a directory) */
	struct export_journal j;
	struct export_source src;
	int64_t offset_ms;		/* added to its times */
};

struct set {
	struct journal_in *in;
	size_t n, cap;
	size_t failures;
};

static int add_path(struct set *s, const char *path, const struct stat *st)
{
	struct journal_in *grown;

	for (size_t i = 0; i < s->n; i++)
		if (s->in[i].dev == st->st_dev && s->in[i].ino == st->st_ino)
			return 0;	/* named twice (a glob and its directory) */
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		if (!(grown = realloc(s->in, s->cap * sizeof(*grown))))
			return -ENOMEM;
		s->in = grown;
	}
	memset(&s->in[s->n], 0, sizeof(s->in[s->n]));
	if (!(s->in[s->n].path = strdup(path)))
		return -ENOMEM;
	s->in[s->n].dev = st->st_dev;
	s->in[s->n].ino = st->st_ino;
	s->in[s->n].arg = s->n;
	s->n++;
	return 0;
}

static bool is_journal_name(const char *name)
{
	size_t len = strlen(name), sl = strlen(JOURNAL_SUFFIX);

	return name[0] != '.' && len > sl && strcmp(name + len - sl, JOURNAL_SUFFIX) == 0;
}

/* The regular *.jsonl files in dir, by name. */
static int add_dir(struct set *s, const char *dir)
{
	struct dirent **names = NULL;
	size_t found = 0;
	int n, r = 0;

	if ((n = scandir(dir, &names, NULL, alphasort)) < 0) {
		cli_error("%s: %s", dir, strerror(errno));
		s->failures++;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct stat st;
		char *path = NULL;

		if (r == 0 && is_journal_name(names[i]->d_name)) {
			if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0)
				r = -ENOMEM;
			else if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
				 (r = add_path(s, path, &st)) == 0)
				found++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	if (r == 0 && found == 0) {
		cli_error("%s: no journals (*" JOURNAL_SUFFIX ") in it", dir);
		s->failures++;
	}
	return r;
}

static int expand(struct set *s, const char *const *paths, size_t n_paths)
{
	int r = 0;

	for (size_t i = 0; i < n_paths && r == 0; i++) {
		struct stat st;

		if (stat(paths[i], &st) < 0) {
			cli_error("%s: %s", paths[i], strerror(errno));
			s->failures++;
		} else if (S_ISDIR(st.st_mode)) {
			r = add_dir(s, paths[i]);
		} else {
			r = add_path(s, paths[i], &st);
		}
	}
	return r;
}

/* By start; unknown starts last; then as named. */
static int by_start(const void *a, const void *b)
{
	const struct journal_in *x = a, *y = b;
	bool xk = x->src.started_ms >= 0, yk = y->src.started_ms >= 0;

	if (xk != yk)
		return xk ? -1 : 1;
	if (xk && x->src.started_ms != y->src.started_ms)
		return x->src.started_ms < y->src.started_ms ? -1 : 1;
	return x->arg < y->arg ? -1 : x->arg > y->arg;
}

/* The latest end of the tap's journals before in[k]; -1: none. */
static int64_t tap_end(const struct set *s, size_t k)
{
	int64_t end = -1;

	for (size_t i = 0; i < k; i++)
		if (strcmp(s->in[i].src.tap, s->in[k].src.tap) == 0 &&
		    s->in[i].offset_ms + s->in[i].src.end_ms > end)
			end = s->in[i].offset_ms + s->in[i].src.end_ms;
	return end;
}

/* Offsets on the first journal's timeline; a journal of unknown start
 * follows the one before it. Returns the gap before in[k] in *gap_from
 * (-1: none). */
static void place(struct set *s, size_t k, int64_t origin, int64_t *gap_from)
{
	struct journal_in *in = &s->in[k];
	int64_t prev = tap_end(s, k), at;

	if (in->src.started_ms >= 0)
		at = in->src.started_ms - origin;
	else
		at = k > 0 ? s->in[k - 1].offset_ms + s->in[k - 1].src.end_ms : 0;
	/* the header has whole seconds: a tap's journals never overlap */
	if (prev >= 0 && at < prev)
		at = prev;
	in->offset_ms = at;
	*gap_from = prev >= 0 && at > prev ? prev : -1;
}

static char *make_label(const char *tap, const char *speaker, bool several_taps)
{
	char *label = NULL;

	if (!several_taps)
		return strdup(speaker);
	if (speaker[0] == '\0')
		return strdup(tap);
	return asprintf(&label, "%s/%s", tap, speaker) < 0 ? NULL : label;
}

static int push(struct export_journal *out, size_t *cap, struct export_entry *e)
{
	struct export_entry *grown;

	if (out->n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		if (!(grown = realloc(out->entries, *cap * sizeof(*grown))))
			return -ENOMEM;
		out->entries = grown;
	}
	out->entries[out->n++] = *e;
	return 0;
}

static int add_gap(struct export_journal *out, size_t *cap, const struct journal_in *in,
		   size_t source, int64_t from, bool several_taps)
{
	struct export_entry e = {
		.kind = EXPORT_GAP, .start_ms = from, .end_ms = in->offset_ms, .source = source,
		.text = strdup(EXPORT_GAP_BETWEEN), .speaker = strdup(""), .language = strdup(""),
		.session_id = strdup(""), .tap = strdup(in->src.tap),
		.label = make_label(in->src.tap, "", several_taps),
	};

	if (!e.text || !e.speaker || !e.language || !e.session_id || !e.tap || !e.label ||
	    push(out, cap, &e) < 0) {
		export_entry_clear(&e);
		return -ENOMEM;
	}
	return 0;
}

/* Moves in's entries (shifted, labelled) to out. */
static int take(struct export_journal *out, size_t *cap, struct journal_in *in, size_t source,
		bool several_taps)
{
	for (size_t i = 0; i < in->j.n; i++) {
		struct export_entry *e = &in->j.entries[i];

		e->start_ms += in->offset_ms;
		e->end_ms += in->offset_ms;
		e->source = source;
		if (!e->speaker && !(e->speaker = strdup("")))
			return -ENOMEM;
		if (!(e->tap = strdup(in->src.tap)) ||
		    !(e->label = make_label(in->src.tap, e->speaker, several_taps)) ||
		    push(out, cap, e) < 0)
			return -ENOMEM;
		memset(e, 0, sizeof(*e));	/* out owns its strings now */
	}
	in->j.n = 0;
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct export_entry *x = a, *y = b;

	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Journals of unknown tap ("") do not make a second tap. */
static bool several_taps(const struct set *s)
{
	const char *first = NULL;

	for (size_t i = 0; i < s->n; i++) {
		if (s->in[i].src.tap[0] == '\0')
			continue;
		if (first && strcmp(s->in[i].src.tap, first) != 0)
			return true;
		first = s->in[i].src.tap;
	}
	return false;
}

static int merge(struct set *s, struct export_journal *out)
{
	bool several = several_taps(s);
	int64_t origin = s->n > 0 ? s->in[0].src.started_ms : -1, gap_from;
	size_t cap = 0;
	int r = 0;

	for (size_t k = 0; k < s->n && r == 0; k++) {
		place(s, k, origin, &gap_from);
		if (gap_from >= 0)
			r = add_gap(out, &cap, &s->in[k], k, gap_from, several);
		if (r == 0)
			r = take(out, &cap, &s->in[k], k, several);
	}
	if (r == 0 && out->n > 0)
		qsort(out->entries, out->n, sizeof(*out->entries), by_time);
	return r;
}

/* Reads every journal; those that can not be read are dropped. */
static void read_all(struct set *s, struct export_journal *out)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct journal_in *in = &s->in[i];

		if (export_journal_read(in->path, &in->j, &in->src) < 0) {
			s->failures++;
			free(in->path);
			continue;
		}
		out->bad_lines += in->j.bad_lines;
		s->in[kept++] = *in;
	}
	s->n = kept;
	if (s->n > 0)		/* qsort() wants an array, even of nothing */
		qsort(s->in, s->n, sizeof(*s->in), by_start);
}

size_t export_set_read(const char *const *paths, size_t n_paths, struct export_journal *j,
		size_t *failures)
{
	struct set s = { 0 };
	size_t n_read = 0;
	int r;

	memset(j, 0, sizeof(*j));
	if ((r = expand(&s, paths, n_paths)) == 0) {
		read_all(&s, j);
		n_read = s.n;
		r = merge(&s, j);
	}
	if (r < 0) {
		cli_error("%s", strerror(-r));
		s.failures++;
	}
	for (size_t i = 0; i < s.n; i++) {
		export_journal_clear(&s.in[i].j);
		export_source_clear(&s.in[i].src);
		free(s.in[i].path);
	}
	free(s.in);
	*failures = s.failures + j->bad_lines;
	return n_read;
}
