/* pw-transcribe export: a transcript journal (the module's JSONL, see
 * module/journal.h) read back and written as text, SubRip, WebVTT or JSON.
 * Only "final" and "gap" lines count; other types are skipped. */
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
};

struct export_journal {
	struct export_entry *entries;	/* by start_ms, then journal order */
	size_t n;
	size_t bad_lines;		/* reported and skipped */
};

/* Reads the journal at path: finals with a seq seen before are dropped,
 * the rest sorted. A bad line is reported as one stderr line
 * "pw-transcribe: PATH:LINE: what is wrong" and counted; a last line
 * without "\n" (a cut-off file) is bad too. Returns 0, or -errno when the
 * file can not be read at all (reported as "pw-transcribe: PATH: reason"). */
int export_journal_read(const char *path, struct export_journal *j);
void export_journal_clear(struct export_journal *j);

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
