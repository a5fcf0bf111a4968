/* pw-transcribe export: transcript journals (the module's JSONL, see
 * module/journal.h) read back, put on one timeline and written as text,
 * SubRip, WebVTT or JSON. Only "final" and "gap" lines are exported; the
 * header places a journal in time, "state" lines say when it ended. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum export_kind {
	EXPORT_FINAL,
	EXPORT_GAP,
};

struct export_entry {
	enum export_kind kind;
	size_t line;			/* in the journal, from 1 */
	int64_t start_ms;		/* >= 0 */
	int64_t end_ms;			/* >= start_ms */
	char *text;			/* final: its text; gap: the reason ("" if none) */
	/* finals only; absent strings are "" */
	uint64_t seq;
	char *speaker;
	char *language;
	char *session_id;
	bool has_confidence;
	double confidence;
	uint64_t connection_id;
	/* set by export_set_read(); NULL in a journal read alone */
	char *tap;			/* the journal's tap ("" when unknown) */
	char *label;			/* who speaks in txt and cues: the speaker, or
					 * with several taps "tap" or "tap/speaker" */
	size_t source;			/* the journal's place in time order */
};

struct export_journal {
	struct export_entry *entries;	/* by start_ms, then journal order */
	size_t n;
	size_t bad_lines;		/* reported and skipped */
};

/* What places a journal in time. */
struct export_source {
	char *tap;			/* the header's (else the file name's); "" unknown */
	int64_t started_ms;		/* UTC ms since 1970 of timeline 0; -1 unknown */
	int64_t end_ms;			/* the latest time of any line (state at_ms too) */
};

/* Reads the journal at path: finals with a seq seen before are dropped,
 * the rest sorted; src (may be NULL) gets where it lies in time. A bad
 * line is reported as one stderr line "pw-transcribe: PATH:LINE: what is
 * wrong" and counted; a last line without "\n" (a cut-off file) is bad
 * too. Returns 0, or -errno when the file can not be read at all (reported
 * as "pw-transcribe: PATH: reason"). */
int export_journal_read(const char *path, struct export_journal *j, struct export_source *src);
void export_journal_clear(struct export_journal *j);
void export_entry_clear(struct export_entry *e);
void export_source_clear(struct export_source *src);

/* The journals at paths (files, or directories whose *.jsonl files are
 * read; a file named twice counts once) as one transcript in j, the
 * journals ordered by their start (a journal whose start is unknown comes
 * after the others). Times are on one timeline that starts when the first
 * journal started: each journal is shifted by the time between the
 * starts, so journals of different taps interleave as they were spoken,
 * and one of the same tap never begins before the tap's previous journal
 * ended; the time between two journals of a tap is a gap "between
 * journals". Every entry gets tap, label and source. Returns the number
 * of journals read; problems (a path that can not be read, a directory
 * without journals, damaged lines) are reported and counted in
 * *failures. j is to be cleared with export_journal_clear() in any case. */
size_t export_set_read(const char *const *paths, size_t n_paths, struct export_journal *j,
		size_t *failures);

#define EXPORT_GAP_BETWEEN	"between journals"

/* The limits of one subtitle cue. */
#define EXPORT_CUE_MAX_MS	7000
#define EXPORT_CUE_LINE_CHARS	42
#define EXPORT_CUE_MAX_LINES	2

/* The finals as SubRip (vtt false) or WebVTT cues: a cue ends after a
 * final that ends a sentence, before one that would make it last more
 * than EXPORT_CUE_MAX_MS, at a gap and where the speaker changes; its
 * text is wrapped at EXPORT_CUE_LINE_CHARS characters and a cue of more
 * than EXPORT_CUE_MAX_LINES lines is split into several. Returns 0 or
 * -ENOMEM. */
int export_cues_write(FILE *f, const struct export_journal *j, bool vtt);
