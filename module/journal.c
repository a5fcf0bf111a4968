/* The transcript journal (see journal.h): a file created once, lines
 * appended with one write(2) each, fsync on the caller's schedule; with an
 * I/O thread both happen there (iothread.h). */
#include "journal.h"
#include "errmsg.h"
#include "iothread.h"
#include "transcribe-api.h"
#include "json-double.h"
#include "state-dir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <spa/utils/defs.h>

#define JSON_FLAGS		(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define FILE_MODE		0600
#define FILE_SUFFIX		".jsonl"
#define NAME_MAX_LEN		128	/* tap and session_id */
#define MAX_SAME_NAME		1000	/* -2 … -1000 in one second */
#define STAMP_FILE_FMT		"%Y%m%dT%H%M%SZ"
#define STAMP_ISO_FMT		"%Y-%m-%dT%H:%M:%SZ"

/* One line on its way to the file (with an I/O thread). */
struct line_job {
	struct iothread_job job;
	struct journal *j;
	size_t len;
	char line[];
};

/* Owned by the thread that calls the journal_* functions (the worker),
 * except where it says otherwise. With an I/O thread, the file itself is
 * the lanes': the data lane writes (fd, written), the sync lane syncs and,
 * last of all, closes and frees. */
struct journal {
	int fd;
	char path[PATH_MAX];
	char session_id[NAME_MAX_LEN + 1];
	off_t size;		/* bytes of whole lines in the file (or on their way) */
	uint64_t limit;		/* 0: none */
	bool dirty;		/* written since the last sync */
	atomic_int error;	/* 0, or the -errno that broke the journal (any thread) */

	struct iothread *io;	/* NULL: write and sync right here */
	off_t written;		/* data lane: bytes of whole lines in the file */
	atomic_bool syncing;	/* a sync is on its way (set here, cleared by the sync lane) */
	struct iothread_job sync_data, sync_sync;	/* one sync at a time */
	struct iothread_job close_data, close_sync;
	uint32_t lost_lines;	/* refused by a full I/O queue, not said yet */
	int64_t lost_from_ms, lost_to_ms;	/* their span */
};

static bool name_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return n <= NAME_MAX_LEN;
}

/* Creates <dir>/<tap>-<stamp>-<sid>[-N].jsonl; never an existing file. */
static int create_file(struct journal *j, const char *dir, const char *tap,
		       const char *stamp, char *err, size_t err_size)
{
	char suffix[16] = "";
	int n, fd;

	for (unsigned k = 1; k <= MAX_SAME_NAME; k++) {
		if (k > 1)
			snprintf(suffix, sizeof(suffix), "-%u", k);
		n = snprintf(j->path, sizeof(j->path), "%s/%s-%s-%s%s" FILE_SUFFIX,
			     dir, tap, stamp, j->session_id, suffix);
		if (n < 0 || (size_t)n >= sizeof(j->path))
			return errmsg_fail(err, err_size, -ENAMETOOLONG, "journal: file name in %s", dir);
		/* O_EXCL: never an existing file, nor a symlink planted there */
		fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC,
			  FILE_MODE);
		if (fd >= 0) {
			/* 0600 whatever the umask */
			if (fchmod(fd, FILE_MODE) < 0) {
				n = -errno;
				close(fd);
				unlink(j->path);
				return errmsg_fail(err, err_size, n, "journal: cannot chmod %s", j->path);
			}
			j->fd = fd;
			return 0;
		}
		if (errno != EEXIST)
			return errmsg_fail(err, err_size, -errno, "journal: cannot create %s", j->path);
	}
	return errmsg_fail(err, err_size, -EEXIST, "journal: %u files named %s/%s-%s-%s*" FILE_SUFFIX,
		    MAX_SAME_NAME, dir, tap, stamp, j->session_id);
}

/* The directory entry itself survives a power loss too; best effort
 * (not every file system can sync a directory). */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static struct json_object *json_str(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static struct json_object *line_new(const char *type)
{
	struct json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "type", json_object_new_string(type));
	return o;
}

/* Whether len more bytes fit under the limit (gap lines: the reserve too). */
static bool fits(const struct journal *j, size_t len, bool gap)
{
	uint64_t room;

	if (j->limit == 0)
		return true;
	room = j->limit - (gap ? 0 : JOURNAL_RESERVE);
	return (uint64_t)j->size + len <= room;
}

static void set_error(struct journal *j, int r)
{
	int none = 0;

	/* The first error is the one that broke it. */
	atomic_compare_exchange_strong(&j->error, &none, r);
}

/* One write(2) of the whole line at the file's end (*size bytes of whole
 * lines); a short write is cut back off. Any thread, one at a time. */
static int write_all(struct journal *j, const char *line, size_t len, off_t *size)
{
	ssize_t n;
	int r = 0;

	do {
		n = write(j->fd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
	} else if ((size_t)n < len) {
		r = -ENOSPC;
		if (ftruncate(j->fd, *size) < 0)
			r = -EIO;
	} else {
		*size += (off_t)len;
	}
	if (r < 0)
		set_error(j, r);
	return r;
}

static void line_run(struct iothread_job *job)
{
	struct line_job *l = SPA_CONTAINER_OF(job, struct line_job, job);

	if (atomic_load(&l->j->error) == 0)
		write_all(l->j, l->line, l->len, &l->j->written);
	free(l);
}

static int put_line(struct journal *j, const char *s, size_t len, int64_t from_ms, int64_t to_ms);

/* Lines a full I/O queue refused are said in a gap line as soon as one
 * fits again (with the span of the words, the finals', they held). */
static int say_lost(struct journal *j)
{
	char why[160], line[320];
	uint32_t n = j->lost_lines;
	int len;

	snprintf(why, sizeof(why), "journal: %u lines not written: the disk was too slow "
			"(the I/O queue was full); the words were published", n);
	len = snprintf(line, sizeof(line), "{\"type\":\"%s\",\"start_ms\":%" PRIi64 ","
			"\"end_ms\":%" PRIi64 ",\"reason\":\"%s\"}\n", TRANSCRIBE_LINE_GAP,
			j->lost_from_ms, j->lost_to_ms, why);
	j->lost_lines = 0;
	if (put_line(j, line, (size_t)len, j->lost_from_ms, j->lost_to_ms) < 0) {
		/* Still full: the same lines are still lost, the gap line itself
		 * is no more of them (its span was set by the first). */
		j->lost_lines = n;
		return -EAGAIN;
	}
	return 0;
}

/* The line (with its '\n') to the file, or to the I/O thread's queue. */
static int put_line(struct journal *j, const char *s, size_t len, int64_t from_ms, int64_t to_ms)
{
	struct line_job *l;
	off_t size = j->size;
	int r;

	if (j->io == NULL) {
		if ((r = write_all(j, s, len, &size)) == 0) {
			j->size = size;
			j->dirty = true;
		}
		return r;
	}
	if (j->lost_lines > 0 && say_lost(j) < 0)
		r = -EAGAIN;
	else if ((l = malloc(sizeof(*l) + len)) == NULL)
		r = -ENOMEM;
	else {
		*l = (struct line_job){ .job = { .bytes = sizeof(*l) + len, .run = line_run },
			.j = j, .len = len };
		memcpy(l->line, s, len);
		if ((r = iothread_submit(j->io, IOTHREAD_DATA, &l->job)) < 0)
			free(l);
	}
	if (r == 0) {
		j->size += (off_t)len;
		j->dirty = true;
	} else if (r == -EAGAIN) {
		if (j->lost_lines++ == 0)
			j->lost_from_ms = from_ms;
		j->lost_to_ms = SPA_MAX(to_ms, j->lost_from_ms);
	}
	return r;
}

/* One line of o (taken): formatted here, written with one write(2). A
 * line the I/O queue refused is counted for a later gap line and is no
 * error of the journal. */
static int write_line(struct journal *j, struct json_object *o, bool gap,
		int64_t from_ms, int64_t to_ms)
{
	const char *s;
	size_t len;
	char *line = NULL;
	int r = 0;

	if ((r = atomic_load(&j->error)) != 0)
		goto out;
	if (!o || !(s = json_object_to_json_string_length(o, JSON_FLAGS, &len)) ||
	    !(line = malloc(len + 1))) {
		r = -ENOMEM;	/* not fatal: the next line may fit */
		goto out;
	}
	if (!fits(j, len + 1, gap)) {
		r = -EFBIG;	/* not fatal: a gap line may still fit */
		goto out;
	}
	memcpy(line, s, len);
	line[len++] = '\n';
	r = put_line(j, line, len, from_ms, to_ms);
out:
	free(line);
	json_object_put(o);
	return r;
}

static int write_header(struct journal *j, const char *tap, const char *started, uint32_t rate)
{
	struct json_object *o = line_new(TRANSCRIBE_LINE_HEADER);

	if (o) {
		json_object_object_add(o, "version", json_object_new_int(JOURNAL_VERSION));
		json_object_object_add(o, "tap", json_str(tap));
		json_object_object_add(o, "session_id", json_str(j->session_id));
		json_object_object_add(o, "started", json_str(started));
		json_object_object_add(o, "rate", json_object_new_int64(rate));
	}
	return write_line(j, o, false, 0, 0);
}

/* The directory's sync on the sync lane: the entry is there already. */
struct dir_job {
	struct iothread_job job;
	char dir[];
};

static void dir_run(struct iothread_job *job)
{
	struct dir_job *d = SPA_CONTAINER_OF(job, struct dir_job, job);

	sync_dir(d->dir);
	free(d);
}

static void sync_dir_on(struct iothread *io, const char *dir)
{
	size_t n = strlen(dir) + 1;
	struct dir_job *d;

	if (io == NULL) {
		sync_dir(dir);
	} else if ((d = malloc(sizeof(*d) + n)) != NULL) {
		*d = (struct dir_job){ .job = { .bytes = sizeof(*d) + n, .must = true, .run = dir_run } };
		memcpy(d->dir, dir, n);
		if (iothread_submit(io, IOTHREAD_SYNC, &d->job) < 0)
			free(d);	/* best effort anyway */
	}
}

struct journal *journal_open(const char *dir, const char *tap, const char *session_id,
		uint32_t rate, struct iothread *io, char *err, size_t err_size)
{
	char dbuf[PATH_MAX], stamp[32], started[32];
	struct journal *j;
	struct tm tm;
	time_t now = time(NULL);
	int r;

	if (err && err_size > 0)
		err[0] = '\0';
	if (!name_valid(tap) || !name_valid(session_id)) {
		r = errmsg_fail(err, err_size, -EINVAL, "journal: tap \"%s\" and session \"%s\" may "
			 "only have letters, digits, '-', '_' and '.'",
			 tap ? tap : "", session_id ? session_id : "");
		errno = -r;
		return NULL;
	}
	if ((r = state_dir_prepare(dir, "journal", dbuf, sizeof(dbuf), err, err_size)) < 0) {
		errno = -r;
		return NULL;
	}
	dir = dbuf;
	if (!(j = calloc(1, sizeof(*j)))) {
		errmsg_fail(err, err_size, -ENOMEM, "journal");
		errno = ENOMEM;
		return NULL;
	}
	j->fd = -1;
	snprintf(j->session_id, sizeof(j->session_id), "%s", session_id);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), STAMP_FILE_FMT, &tm);
	strftime(started, sizeof(started), STAMP_ISO_FMT, &tm);
	if ((r = create_file(j, dir, tap, stamp, err, err_size)) < 0)
		goto error;
	if ((r = write_header(j, tap, started, rate)) < 0) {
		errmsg_fail(err, err_size, r, "journal: cannot write %s", j->path);
		close(j->fd);
		unlink(j->path);
		goto error;
	}
	/* From here the lanes own the file (the header went in at once: a
	 * journal that cannot take one is refused above). */
	j->io = io;
	j->written = j->size;
	sync_dir_on(io, dir);
	return j;
error:
	free(j);
	errno = -r;
	return NULL;
}

const char *journal_path(const struct journal *j)
{
	return j->path;
}

void journal_set_limit(struct journal *j, uint64_t max_bytes)
{
	/* Never below what the reserve needs to work. */
	j->limit = max_bytes == 0 ? 0 : max_bytes > 2 * JOURNAL_RESERVE ? max_bytes : 2 * JOURNAL_RESERVE;
}

uint64_t journal_size(const struct journal *j)
{
	return (uint64_t)j->size;
}

int journal_final(struct journal *j, const struct journal_final *f)
{
	struct json_object *o = line_new(TRANSCRIBE_LINE_FINAL);

	if (o) {
		json_object_object_add(o, "seq", json_object_new_uint64(f->seq));
		json_object_object_add(o, "session_id",
				       json_str(f->session_id ? f->session_id : j->session_id));
		json_object_object_add(o, "start_ms", json_object_new_int64(f->start_ms));
		json_object_object_add(o, "end_ms", json_object_new_int64(f->end_ms));
		json_object_object_add(o, "text", json_str(f->text));
		json_object_object_add(o, "speaker", json_str(f->speaker));
		json_object_object_add(o, "language", json_str(f->language));
		/* NaN compares false: left out like "none" */
		if (f->confidence >= 0 && isfinite(f->confidence))
			json_object_object_add(o, "confidence", json_double_shortest(f->confidence));
		json_object_object_add(o, "connection_id", json_object_new_uint64(f->connection_id));
	}
	return write_line(j, o, false, f->start_ms, f->end_ms);
}

int journal_gap(struct journal *j, int64_t start_ms, int64_t end_ms, const char *reason)
{
	struct json_object *o = line_new(TRANSCRIBE_LINE_GAP);

	if (o) {
		json_object_object_add(o, "start_ms", json_object_new_int64(start_ms));
		json_object_object_add(o, "end_ms", json_object_new_int64(end_ms));
		json_object_object_add(o, "reason", json_str(reason));
	}
	return write_line(j, o, true, start_ms, end_ms);
}

int journal_state(struct journal *j, const char *state, const char *error, int64_t at_ms)
{
	struct json_object *o = line_new(TRANSCRIBE_LINE_STATE);

	if (o) {
		json_object_object_add(o, "at_ms", json_object_new_int64(at_ms));
		json_object_object_add(o, "state", json_str(state));
		json_object_object_add(o, "error", json_str(error));
	}
	return write_line(j, o, false, at_ms, at_ms);
}

/* Sync lane: after the lines before it were written (the data lane
 * handed it on). */
static void sync_run(struct iothread_job *job)
{
	struct journal *j = SPA_CONTAINER_OF(job, struct journal, sync_sync);

	if (atomic_load(&j->error) == 0 && fsync(j->fd) < 0)
		set_error(j, -errno);
	atomic_store(&j->syncing, false);
}

/* Data lane: everything before it is in the file; the sync may go. */
static void sync_handoff(struct iothread_job *job)
{
	struct journal *j = SPA_CONTAINER_OF(job, struct journal, sync_data);

	j->sync_sync = (struct iothread_job){ .must = true, .run = sync_run };
	if (iothread_submit(j->io, IOTHREAD_SYNC, &j->sync_sync) < 0)
		atomic_store(&j->syncing, false);
}

int journal_sync(struct journal *j)
{
	int r = atomic_load(&j->error);

	if (r != 0)
		return r;
	if (!j->dirty)
		return 0;
	if (j->io != NULL) {
		/* One at a time: a slow disk gets one fsync, not a pile. The
		 * lines since stay dirty for the next. */
		if (atomic_load(&j->syncing))
			return 0;
		atomic_store(&j->syncing, true);
		j->sync_data = (struct iothread_job){ .must = true, .run = sync_handoff };
		if ((r = iothread_submit(j->io, IOTHREAD_DATA, &j->sync_data)) < 0) {
			atomic_store(&j->syncing, false);
			return r;
		}
		j->dirty = false;
		return 0;
	}
	if (fsync(j->fd) < 0) {
		set_error(j, -errno);
		return -errno;
	}
	j->dirty = false;
	return 0;
}

bool journal_dirty(const struct journal *j)
{
	return j->dirty;
}

int journal_error(const struct journal *j)
{
	return atomic_load(&((struct journal *)j)->error);
}

/* Syncs what no earlier sync covers (the sync lane ran those first), so
 * an unload right after a sync waits for no second one. */
static void close_now(struct journal *j)
{
	if (atomic_load(&j->error) == 0 && j->dirty)
		fsync(j->fd);
	close(j->fd);
	free(j);
}

static void close_run(struct iothread_job *job)
{
	close_now(SPA_CONTAINER_OF(job, struct journal, close_sync));
}

static void close_handoff(struct iothread_job *job)
{
	struct journal *j = SPA_CONTAINER_OF(job, struct journal, close_data);

	j->close_sync = (struct iothread_job){ .must = true, .run = close_run };
	if (iothread_submit(j->io, IOTHREAD_SYNC, &j->close_sync) < 0)
		close_now(j);	/* never: the sync lane outlives the data lane */
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->lost_lines > 0 && j->io != NULL)
		say_lost(j);
	j->close_data = (struct iothread_job){ .must = true, .run = close_handoff };
	if (j->io == NULL || iothread_submit(j->io, IOTHREAD_DATA, &j->close_data) < 0)
		close_now(j);
}
