/* Where pipewire-transcribe keeps what must outlive a connection (the
 * journals, the disk spool): $XDG_STATE_HOME/pipewire-transcribe, else
 * ~/.local/state/pipewire-transcribe (a relative XDG_STATE_HOME is
 * ignored, as XDG says), or a directory the user configured. */
#ifndef TRANSCRIBE_STATE_DIR_H
#define TRANSCRIBE_STATE_DIR_H

#include <stddef.h>

#define STATE_DIR_NAME	"pipewire-transcribe"

/* dir NULL: the default. Writes the directory (without a trailing '/') to
 * buf and creates what is missing with mode 0700. Returns 0 or -errno with
 * one line in err starting "<what>: " and naming the path. */
int state_dir_prepare(const char *dir, const char *what, char *buf, size_t size,
		char *err, size_t err_size);

#endif
