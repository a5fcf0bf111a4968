/* fc-wav: loads a 16-bit PCM WAV (mono or stereo) into memory for
 * fault-client. A data chunk whose size was never finalized (0 or larger
 * than the file) is read up to the end of the file. */
#ifndef FC_WAV_H
#define FC_WAV_H

#include <stddef.h>
#include <stdint.h>

struct wav {
	unsigned rate;
	unsigned channels;
	size_t frames;
	unsigned char *data;	/* frames * channels * 2 bytes, S16LE interleaved */
};

/* Returns 0, or -1 (file unreadable or not 16-bit PCM with 1..2 channels). */
int wav_load(const char *path, struct wav *w);
void wav_free(struct wav *w);

#endif
