/* The crash-safe transcript journal: one JSONL file per tap session.
 *
 * One owner calls these functions (the worker). With an I/O thread
 * (journal_open()'s io) the file is written, synced and closed there, so
 * no call here ever waits for the disk: a line goes out with one write(2)
 * on the I/O thread's data lane as soon as it gets to it, and the fsync
 * runs on its own lane, so a slow fsync never holds up the lines behind
 * it. Without one (io NULL) everything happens on the caller's thread.
 *
 * The file is <dir>/<tap>-<UTC yyyymmddThhmmssZ>-<session_id>.jsonl (with
 * -2, -3, … before ".jsonl" when that name exists), created with O_EXCL,
 * mode 0600; a journal is never reopened, a restart starts a new file. The
 * default dir is $XDG_STATE_HOME/pipewire-transcribe (else
 * ~/.local/state/pipewire-transcribe), created 0700 when missing.
 *
 * Lines, keys in this order (json-c, plain, '/' not escaped):
 *   {"type":"header","version":1,"tap":"…","session_id":"…","started":"2026-12-03T09:30:00Z","rate":16000}
 *   {"type":"final","seq":1,"session_id":"…","start_ms":0,"end_ms":1200,"text":"…",
 *    "speaker":"","language":"","confidence":0.93,"connection_id":3}   (confidence only when >= 0)
 *   {"type":"gap","start_ms":0,"end_ms":0,"reason":"…"}
 *   {"type":"state","at_ms":0,"state":"…","error":""}
 *
 * Durability contract: every line goes to the file with one write(2) of the
 * whole line, so a SIGKILL of the process never leaves half a line and
 * never loses a line already written (the kernel's page cache has it). To
 * survive a power loss as well, THE CALLER runs journal_sync() at most 1 s
 * after a write (journal_dirty() tells whether one is due); fsync blocks,
 * so it is not done on every line.
 *
 * With an I/O thread, a line its full queue (IOTHREAD_MAX_BYTES) refuses
 * returns -EAGAIN and the journal stays usable: the next line that fits is
 * preceded by a gap line counting the lines lost and their span.
 *
 * Errors: every int function returns 0 or -errno and never aborts. A short
 * write is cut back to the last whole line and reported as -ENOSPC; after
 * any write or sync error the journal stays broken and every later call
 * returns that error (journal_error() tells, also when it happened on the
 * I/O thread): log it once, journal_close() it and go on without.
 *
 * Size cap (journal_set_limit()): a final or state line that would take the
 * file past the limit less JOURNAL_RESERVE is not written and returns
 * -EFBIG, and the journal stays usable; gap lines may use the reserve (so
 * the file can always say where it stops), up to the limit itself.
 */
#ifndef TRANSCRIBE_JOURNAL_H
#define TRANSCRIBE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_VERSION		1
#define JOURNAL_RESERVE		4096	/* bytes kept for gap lines under a limit */

struct iothread;
struct journal;

/* One final segment; NULL strings are written as "" (session_id: the
 * journal's). Times are milliseconds on the tap's timeline. */
struct journal_final {
	uint64_t seq;
	const char *session_id;
	int64_t start_ms;
	int64_t end_ms;
	const char *text;
	const char *speaker;
	const char *language;
	double confidence;	/* < 0 (or NaN): none, the key is left out */
	uint64_t connection_id;
};

/* Creates the file and writes the header line (here: the one write the
 * caller waits for). dir NULL: the default. tap and session_id: letters,
 * digits, '-', '_' and '.' only. io: the I/O thread that writes, syncs and
 * closes from then on (must outlive the journal's close), or NULL. NULL
 * (with errno set and a one-line reason naming the path in err) on failure. */
struct journal *journal_open(const char *dir, const char *tap, const char *session_id,
		uint32_t rate, struct iothread *io, char *err, size_t err_size);
/* The file's path; valid until journal_close(). */
const char *journal_path(const struct journal *j);
/* Caps the file at max_bytes (0: no cap); see the top comment. */
void journal_set_limit(struct journal *j, uint64_t max_bytes);
/* Bytes of whole lines in the file. */
uint64_t journal_size(const struct journal *j);

int journal_final(struct journal *j, const struct journal_final *f);
int journal_gap(struct journal *j, int64_t start_ms, int64_t end_ms, const char *reason);
/* error NULL: "" */
int journal_state(struct journal *j, const char *state, const char *error, int64_t at_ms);

/* fsync() when anything was written since the last successful sync (with
 * an I/O thread: asked for, after the lines so far; while one is on its
 * way the journal stays dirty and this does nothing). */
int journal_sync(struct journal *j);
bool journal_dirty(const struct journal *j);
/* 0, or the -errno that broke the journal (here or on the I/O thread). */
int journal_error(const struct journal *j);

/* Syncs and closes (with an I/O thread: there, after every line before;
 * returns at once); NULL is ignored. */
void journal_close(struct journal *j);

#endif
