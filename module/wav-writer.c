/* Minimal RIFF/WAVE writer for the debug recording. */
#include "wav-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spa/utils/defs.h>

#define WAV_HEADER_BYTES	44u

struct wav_writer {
	int fd;
	uint32_t channels;
	uint32_t rate;
	uint64_t data_bytes;
};

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v; p[1] = v >> 8;
}

static int write_header(struct wav_writer *w)
{
	uint8_t h[WAV_HEADER_BYTES];
	uint32_t data = (uint32_t)SPA_MIN(w->data_bytes, (uint64_t)UINT32_MAX - WAV_HEADER_BYTES);

	memcpy(h, "RIFF", 4);
	put_le32(h + 4, data + WAV_HEADER_BYTES - 8);
	memcpy(h + 8, "WAVEfmt ", 8);
	put_le32(h + 16, 16);
	put_le16(h + 20, 1);			/* PCM */
	put_le16(h + 22, w->channels);
	put_le32(h + 24, w->rate);
	put_le32(h + 28, w->rate * w->channels * 2);
	put_le16(h + 32, w->channels * 2);
	put_le16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put_le32(h + 40, data);
	return pwrite(w->fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) ? 0 : -errno;
}

static int check_regular(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -EINVAL;
	}
	return 0;
}

struct wav_writer *wav_writer_open(const char *path, uint32_t rate, uint32_t channels)
{
	struct wav_writer *w;
	int res;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->rate = rate;
	w->channels = channels;
	/* The path is the user's, but the daemon writes there: a symlink is
	 * never followed (ELOOP), and only a regular file is truncated (a
	 * FIFO or device is refused without blocking on it). */
	w->fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (w->fd < 0 || (res = check_regular(w->fd)) < 0 || ftruncate(w->fd, 0) < 0 ||
	    (res = write_header(w)) < 0 || lseek(w->fd, WAV_HEADER_BYTES, SEEK_SET) < 0) {
		res = errno;
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		errno = res;
		return NULL;
	}
	return w;
}

int wav_writer_write(struct wav_writer *w, const void *data, uint32_t bytes)
{
	const uint8_t *p = data;

	while (bytes > 0) {
		ssize_t n = write(w->fd, p, bytes);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		bytes -= (uint32_t)n;
		w->data_bytes += (uint64_t)n;
	}
	return write_header(w);
}

int wav_writer_write_silence(struct wav_writer *w, uint64_t frames)
{
	static const uint8_t zeros[4096];
	uint64_t bytes = frames * w->channels * 2;
	int res = 0;

	while (bytes > 0 && res == 0) {
		uint32_t n = (uint32_t)SPA_MIN(bytes, (uint64_t)sizeof(zeros));
		res = wav_writer_write(w, zeros, n);
		bytes -= n;
	}
	return res;
}

void wav_writer_close(struct wav_writer *w)
{
	if (w == NULL)
		return;
	write_header(w);
	close(w->fd);
	free(w);
}
