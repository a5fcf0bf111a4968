/* The disk spool (see spool.h). */
#include "spool.h"
#include "iothread.h"
#include "state-dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read ahead at a time while replaying from the spool: 8 s of 16 kHz mono. */
#define SPOOL_READ_AHEAD	(256u * 1024u)

/* The file, and what the I/O thread's data lane does to it. With an I/O
 * thread, the worker touches only the atomics and (when `ready` and not
 * `reading`) the read-ahead; the lane frees it on close, after every job
 * before. */
struct spool_file {
	int fd;
	uint64_t size;
	atomic_int error;		/* 0, or the -errno of a write or read */
	atomic_bool reading;		/* a read-ahead is on its way */
	atomic_bool ready;		/* rd_* hold what it read */
	uint64_t rd_pos;		/* spool position (bytes since open) of rd_buf[0] */
	uint64_t rd_at;			/* its file offset */
	size_t rd_len;
	struct iothread_job read_job, close_job;
	uint8_t rd_buf[SPOOL_READ_AHEAD];
};

/* One append on its way. */
struct write_job {
	struct iothread_job job;
	struct spool_file *f;
	uint64_t at;			/* file offset */
	size_t len;
	uint8_t data[];
};

static void set_error(struct spool_file *f, int r)
{
	int none = 0;

	atomic_compare_exchange_strong(&f->error, &none, r);
}

int spool_open(struct spool *s, const char *dir, uint64_t max_bytes, uint32_t frame_bytes,
		struct iothread *io, char *err, size_t err_size)
{
	char path[4096];
	int res;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->frame_bytes = frame_bytes;
	s->size = max_bytes - max_bytes % frame_bytes;
	if (s->size == 0) {
		snprintf(err, err_size, "spool: size 0");
		return -EINVAL;
	}
	if ((res = state_dir_prepare(dir != NULL && dir[0] != '\0' ? dir : NULL, "spool",
			path, sizeof(path), err, err_size)) < 0)
		return res;
	if ((s->file = calloc(1, sizeof(*s->file))) == NULL) {
		snprintf(err, err_size, "spool: out of memory");
		return -ENOMEM;
	}
	/* Nameless, and O_EXCL keeps it so (it can never be linked in). */
	if ((s->fd = open(path, O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600)) < 0) {
		res = -errno;
		snprintf(err, err_size, "spool: cannot spool in %s: %s", path, strerror(-res));
		free(s->file);
		s->file = NULL;
		return res;
	}
	s->file->fd = s->fd;
	s->file->size = s->size;
	s->io = io;
	return 0;
}

static void close_run(struct iothread_job *job)
{
	struct spool_file *f = SPA_CONTAINER_OF(job, struct spool_file, close_job);

	close(f->fd);
	free(f);
}

void spool_close(struct spool *s)
{
	struct spool_file *f = s->file;

	s->fd = -1;
	s->len = 0;
	s->file = NULL;
	if (f == NULL)
		return;
	/* After every write and read queued before (the lane is in order). */
	f->close_job = (struct iothread_job){ .must = true, .run = close_run };
	if (s->io == NULL || iothread_submit(s->io, IOTHREAD_DATA, &f->close_job) < 0)
		close_run(&f->close_job);
}

/* pwrite/pread all of it, in up to two pieces around the ring's end. */
static int file_io(struct spool_file *f, uint64_t at, void *buf, size_t n, bool write)
{
	size_t done = 0;

	while (done < n) {
		uint64_t pos = (at + done) % f->size;
		size_t piece = n - done < f->size - pos ? n - done : (size_t)(f->size - pos);
		ssize_t r = write ? pwrite(f->fd, (char *)buf + done, piece, (off_t)pos)
				  : pread(f->fd, (char *)buf + done, piece, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int res = r < 0 ? -errno : -EIO;
			set_error(f, res);
			return res;
		}
		done += (size_t)r;
	}
	return 0;
}

static void write_run(struct iothread_job *job)
{
	struct write_job *w = SPA_CONTAINER_OF(job, struct write_job, job);

	if (atomic_load(&w->f->error) == 0)
		file_io(w->f, w->at, w->data, w->len, true);
	free(w);
}

/* Queues the write of data at the file offset `at`. */
static int write_at(struct spool *s, uint64_t at, const void *data, size_t bytes)
{
	struct write_job *w;
	int r;

	if (s->io == NULL)
		return file_io(s->file, at, (void *)data, bytes, true);
	if ((w = malloc(sizeof(*w) + bytes)) == NULL)
		return -ENOMEM;
	*w = (struct write_job){ .job = { .bytes = sizeof(*w) + bytes, .run = write_run },
		.f = s->file, .at = at, .len = bytes };
	memcpy(w->data, data, bytes);
	if ((r = iothread_submit(s->io, IOTHREAD_DATA, &w->job)) < 0)
		free(w);
	return r;
}

int64_t spool_append(struct spool *s, const void *data, size_t bytes)
{
	uint64_t dropped = 0;
	int r;

	if (s->fd < 0)
		return -EBADF;
	if ((r = spool_error(s)) < 0)
		return r;
	bytes -= bytes % s->frame_bytes;
	if (bytes > s->size) {
		/* More than fits at all: only the newest part can stay. */
		dropped = s->len + bytes - s->size;
		data = (const char *)data + (bytes - s->size);
		bytes = (size_t)s->size;
		s->pos += s->len;
		s->head = s->len = 0;
	} else if (s->len + bytes > s->size) {
		dropped = s->len + bytes - s->size;
		spool_consume(s, dropped);
	}
	if ((r = write_at(s, s->head + s->len, data, bytes)) < 0)
		return r;
	s->len += bytes;
	return (int64_t)dropped;
}

static void read_run(struct iothread_job *job)
{
	struct spool_file *f = SPA_CONTAINER_OF(job, struct spool_file, read_job);

	if (atomic_load(&f->error) == 0 && file_io(f, f->rd_at, f->rd_buf, f->rd_len, false) == 0)
		atomic_store(&f->ready, true);
	atomic_store(&f->reading, false);
}

/* With an I/O thread: from the read-ahead, or -EAGAIN while the lane
 * fetches what follows offset (after the writes queued before it). */
static int64_t read_ahead(struct spool *s, uint64_t offset, void *dst, size_t n)
{
	struct spool_file *f = s->file;
	uint64_t pos = s->pos + offset;
	int r;

	if (atomic_load(&f->reading))
		return -EAGAIN;
	if (atomic_load(&f->ready) && pos >= f->rd_pos && pos + n <= f->rd_pos + f->rd_len) {
		memcpy(dst, f->rd_buf + (pos - f->rd_pos), n);
		return (int64_t)n;
	}
	if (n > SPOOL_READ_AHEAD)
		return -EINVAL;
	atomic_store(&f->ready, false);
	f->rd_pos = pos;
	f->rd_at = s->head + offset;
	f->rd_len = (size_t)(s->len - offset < SPOOL_READ_AHEAD ? s->len - offset : SPOOL_READ_AHEAD);
	/* `wake`: the worker pumps again when it is in, even with no audio
	 * or timer due to wake it. */
	f->read_job = (struct iothread_job){ .bytes = f->rd_len, .wake = true, .run = read_run };
	atomic_store(&f->reading, true);
	if ((r = iothread_submit(s->io, IOTHREAD_DATA, &f->read_job)) < 0) {
		atomic_store(&f->reading, false);
		return r;
	}
	return -EAGAIN;
}

int64_t spool_read(struct spool *s, uint64_t offset, void *dst, size_t n)
{
	int r;

	if (s->fd < 0)
		return -EBADF;
	if (offset + n > s->len)
		return -EINVAL;
	if ((r = spool_error(s)) < 0)
		return r;
	if (s->io != NULL)
		return read_ahead(s, offset, dst, n);
	if ((r = file_io(s->file, s->head + offset, dst, n, false)) < 0)
		return r;
	return (int64_t)n;
}

void spool_consume(struct spool *s, uint64_t bytes)
{
	bytes = bytes < s->len ? bytes : s->len;
	if (bytes == 0)
		return;		/* also: no spool at all (size 0) */
	s->head = (s->head + bytes) % s->size;
	s->len -= bytes;
	s->pos += bytes;
}

int spool_error(const struct spool *s)
{
	return s->file != NULL ? atomic_load(&s->file->error) : 0;
}
