/* fc-wav: see fc-wav.h. */
#include "fc-wav.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAV_FORMAT_PCM		0x0001
#define WAV_FORMAT_EXTENSIBLE	0xFFFE
#define MAX_WAV_BYTES		(512L * 1024 * 1024)

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > MAX_WAV_BYTES ||
	    fseek(f, 0, SEEK_SET))
		goto out;
	b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	*len = (size_t)n;
out:
	fclose(f);
	return b;
}

int wav_load(const char *path, struct wav *w)
{
	size_t len = 0, pos = 12, data_off = 0, data_len = 0;
	unsigned char *b = slurp(path, &len);
	unsigned fmt = 0, bits = 0;

	memset(w, 0, sizeof(*w));
	if (!b)
		return -1;
	if (len < 12 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WAVE", 4))
		goto bad;
	while (pos + 8 <= len) {
		uint32_t id_len = le32(b + pos + 4);
		size_t body = pos + 8;
		if (!memcmp(b + pos, "fmt ", 4) && id_len >= 16 && body + 16 <= len) {
			fmt = le16(b + body);
			w->channels = le16(b + body + 2);
			w->rate = le32(b + body + 4);
			bits = le16(b + body + 14);
			if (fmt == WAV_FORMAT_EXTENSIBLE && id_len >= 26 && body + 26 <= len)
				fmt = le16(b + body + 24);
		} else if (!memcmp(b + pos, "data", 4)) {
			data_off = body;
			data_len = (id_len == 0 || id_len > len - body) ? len - body : id_len;
			break;
		}
		pos = body + id_len + (id_len & 1);
	}
	if (fmt != WAV_FORMAT_PCM || bits != 16 || w->channels < 1 || w->channels > 2 ||
	    w->rate == 0 || !data_off)
		goto bad;
	w->frames = data_len / (2u * w->channels);
	w->data = malloc(w->frames * 2 * w->channels + 1);
	if (!w->data)
		goto bad;
	memcpy(w->data, b + data_off, w->frames * 2 * w->channels);
	free(b);
	return 0;
bad:
	free(b);
	memset(w, 0, sizeof(*w));
	return -1;
}

void wav_free(struct wav *w)
{
	free(w->data);
	memset(w, 0, sizeof(*w));
}
