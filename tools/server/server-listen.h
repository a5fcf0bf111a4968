/* server-listen: where pw-transcribe-server listens. The socket systemd
 * passed (LISTEN_FDS=1), else a TCP socket when --address/--port asked
 * for one, else a Unix socket: --socket, or the private default
 * $XDG_RUNTIME_DIR/pipewire-transcribe/server.sock (unix-listen.h).
 * TCP (also systemd's) needs a key, unless --insecure-tcp on a loopback
 * address (a warning is logged); beyond loopback a key is a must.
 * Startup, single-threaded; failures are said on stderr. */
#ifndef SERVER_LISTEN_H
#define SERVER_LISTEN_H

#include <stdbool.h>
#include <sys/types.h>

#include "server-cli.h"

struct server_listener {
	int fd;				/* listening, non-blocking */
	bool is_unix;
	char where[SERVER_PATH_MAX];	/* the socket path, or the TCP address */
	int port;			/* TCP */
	bool created;			/* we made the socket file (removed at exit) */
	ino_t ino;
};

/* 0, or -1 (said on stderr). */
int server_listen(const struct server_options *o, bool have_key, struct server_listener *l);
/* The first line on stdout: "listening socket=PATH" or "listening port=P address=A". */
void server_listen_announce(const struct server_listener *l);
/* Removes the socket file if we made it (the fd is the server core's). */
void server_listen_cleanup(const struct server_listener *l);

#endif
