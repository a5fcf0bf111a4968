/* unix-listen: the servers' private Unix socket. By default
 *     $XDG_RUNTIME_DIR/pipewire-transcribe/server.sock
 * in a directory only its user can enter (0700, created if missing; one
 * that exists owned by someone else, or open to group or others, is
 * refused: another user could read the audio or stand in for the server),
 * the socket itself 0600. A stale socket (nobody accepting) is replaced;
 * a live one is not. The module's default service.url names the same
 * path: ws+unix://<path>:/transcribe-websocket. Single-threaded, startup. */
#ifndef TRANSCRIBE_UNIX_LISTEN_H
#define TRANSCRIBE_UNIX_LISTEN_H

#include <stddef.h>
#include <sys/types.h>

#define UNIX_LISTEN_DIR		"pipewire-transcribe"
#define UNIX_LISTEN_NAME	"server.sock"

/* The default socket path into out (and its directory into dir, if not
 * NULL), from XDG_RUNTIME_DIR. 0, or -1 with err filled. */
int unix_default_path(char *out, size_t outlen, char *dir, size_t dirlen, char *err, size_t errlen);

/* dir exists (created 0700 if missing) as a directory of ours that no one
 * else may enter. 0, or -1 with err filled (what is wrong, what to do). */
int unix_private_dir(const char *dir, char *err, size_t errlen);

/* A listening, non-blocking, close-on-exec socket at path, mode 0600.
 * Returns the fd and sets *ino to the socket file's inode (for
 * unix_unlink_if_ours), or -1 with err filled. */
int unix_listen(const char *path, int backlog, ino_t *ino, char *err, size_t errlen);

/* Removes path if it is still the socket unix_listen made (same inode). */
void unix_unlink_if_ours(const char *path, ino_t ino);

/* The path a listening Unix socket is bound to (systemd's, say); 0 or -1. */
int unix_bound_path(int fd, char *out, size_t outlen);

#endif
