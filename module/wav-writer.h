/* Debug WAV file of what the worker drained (S16LE PCM).
 * Worker thread only. The header is rewritten after every write so the file
 * is a valid WAV at any moment, also if the process is killed. */
#ifndef TRANSCRIBE_WAV_WRITER_H
#define TRANSCRIBE_WAV_WRITER_H

#include <stdint.h>

struct wav_writer;

/* Creates path (0600) or truncates the regular file there. Never follows a
 * symlink (ELOOP) and refuses anything but a regular file (EINVAL).
 * Returns NULL with errno set. */
struct wav_writer *wav_writer_open(const char *path, uint32_t rate, uint32_t channels);
/* Returns 0 or -errno. */
int wav_writer_write(struct wav_writer *w, const void *data, uint32_t bytes);
int wav_writer_write_silence(struct wav_writer *w, uint64_t frames);
void wav_writer_close(struct wav_writer *w);

#endif
