/* The disk spool (see spool.h). */
#include "spool.h"
#include "state-dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int spool_open(struct spool *s, const char *dir, uint64_t max_bytes, uint32_t frame_bytes,
		char *err, size_t err_size)
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
	/* Nameless, and O_EXCL keeps it so (it can never be linked in). */
	if ((s->fd = open(path, O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600)) < 0) {
		res = -errno;
		snprintf(err, err_size, "spool: cannot spool in %s: %s", path, strerror(-res));
		return res;
	}
	return 0;
}

void spool_close(struct spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->len = 0;
}

/* pwrite/pread all of it, in up to two pieces around the ring's end. */
static int64_t ring_io(const struct spool *s, uint64_t pos, void *buf, size_t n, bool write)
{
	size_t done = 0;

	while (done < n) {
		uint64_t at = (pos + done) % s->size;
		size_t piece = n - done < s->size - at ? n - done : (size_t)(s->size - at);
		ssize_t r = write ? pwrite(s->fd, (char *)buf + done, piece, (off_t)at)
				  : pread(s->fd, (char *)buf + done, piece, (off_t)at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += (size_t)r;
	}
	return (int64_t)n;
}

int64_t spool_append(struct spool *s, const void *data, size_t bytes)
{
	uint64_t dropped = 0;
	int64_t r;

	if (s->fd < 0)
		return -EBADF;
	bytes -= bytes % s->frame_bytes;
	if (bytes > s->size) {
		/* More than fits at all: only the newest part can stay. */
		dropped = s->len + bytes - s->size;
		data = (const char *)data + (bytes - s->size);
		bytes = (size_t)s->size;
		s->head = s->len = 0;
	} else if (s->len + bytes > s->size) {
		dropped = s->len + bytes - s->size;
		spool_consume(s, dropped);
	}
	if ((r = ring_io(s, s->head + s->len, (void *)data, bytes, true)) < 0)
		return r;
	s->len += bytes;
	return (int64_t)dropped;
}

int64_t spool_read(const struct spool *s, uint64_t offset, void *dst, size_t n)
{
	if (s->fd < 0)
		return -EBADF;
	if (offset + n > s->len)
		return -EINVAL;
	return ring_io(s, s->head + offset, dst, n, false);
}

void spool_consume(struct spool *s, uint64_t bytes)
{
	bytes = bytes < s->len ? bytes : s->len;
	if (bytes == 0)
		return;		/* also: no spool at all (size 0) */
	s->head = (s->head + bytes) % s->size;
	s->len -= bytes;
}
