/* server-listen: see server-listen.h. */
#include "server-listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ip-listen.h"
#include "srv-log.h"
#include "unix-listen.h"

#define LISTEN_BACKLOG		64
#define SD_LISTEN_FDS_START	3

/* A socket passed by systemd socket activation; -1 if none, -2 on error. */
static int systemd_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd = SD_LISTEN_FDS_START, flags;

	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "1")) {
		fprintf(stderr, "%s: socket activation: expected exactly 1 socket, got LISTEN_FDS=%s\n",
			SERVER_PROG, fds);
		return -2;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "%s: socket activation: fd %d: %s\n", SERVER_PROG, fd, strerror(errno));
		return -2;
	}
	return fd;
}

/* TCP reaches every local user (and beyond loopback, the network). */
static int tcp_allowed(const char *address, bool have_key, bool insecure)
{
	if (have_key)
		return 0;
	if (!ip_is_loopback(address)) {
		fprintf(stderr, "%s: listening on %s without --key-file would serve anyone who can "
			"reach it; give --key-file\n", SERVER_PROG, address);
		return -1;
	}
	if (!insecure) {
		fprintf(stderr, "%s: TCP on %s without --key-file: any local user could connect "
			"(and a user's audio go to whoever holds the port); give --key-file, or "
			"--insecure-tcp to accept that, or use the default Unix socket\n",
			SERVER_PROG, address);
		return -1;
	}
	srv_log("warning what=insecure-tcp address=%s msg=\"no key: any local user can connect\"",
		address);
	return 0;
}

static int take_tcp(struct server_listener *l, int fd, const struct server_options *o,
		    bool have_key)
{
	if (ip_bound_name(fd, l->where, sizeof(l->where), &l->port)) {
		fprintf(stderr, "%s: listening socket: %s\n", SERVER_PROG, strerror(errno));
		return -1;
	}
	return tcp_allowed(l->where, have_key, o->insecure_tcp);
}

static int listen_unix(struct server_listener *l, const struct server_options *o)
{
	char err[SERVER_PATH_MAX + 256], dir[SERVER_PATH_MAX];

	if (o->socket) {
		snprintf(l->where, sizeof(l->where), "%s", o->socket);
	} else if (unix_default_path(l->where, sizeof(l->where), dir, sizeof(dir), err, sizeof(err)) ||
		   unix_private_dir(dir, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", SERVER_PROG, err);
		return -1;
	}
	l->fd = unix_listen(l->where, LISTEN_BACKLOG, &l->ino, err, sizeof(err));
	if (l->fd < 0) {
		fprintf(stderr, "%s: %s\n", SERVER_PROG, err);
		return -1;
	}
	l->is_unix = l->created = true;
	return 0;
}

int server_listen(const struct server_options *o, bool have_key, struct server_listener *l)
{
	char err[512];
	int fd = systemd_socket();

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (fd == -2)
		return -1;
	if (fd >= 0) {
		l->fd = fd;
		if (unix_bound_path(fd, l->where, sizeof(l->where)) == 0) {
			l->is_unix = true;
			return 0;
		}
	} else if (o->tcp) {
		/* our own socket on exactly this address: lws would take every interface */
		if (ip_is_literal(o->address) && !ip_is_loopback(o->address) && !have_key)
			return tcp_allowed(o->address, false, false);
		l->fd = ip_listen(o->address, (int)o->port, LISTEN_BACKLOG, err, sizeof(err));
		if (l->fd < 0) {
			fprintf(stderr, "%s: %s\n", SERVER_PROG, err);
			return -1;
		}
	} else {
		return listen_unix(l, o);
	}
	if (take_tcp(l, l->fd, o, have_key)) {
		close(l->fd);
		l->fd = -1;
		return -1;
	}
	return 0;
}

void server_listen_announce(const struct server_listener *l)
{
	if (l->is_unix)
		printf("listening socket=%s\n", l->where);
	else
		printf("listening port=%d address=%s\n", l->port, l->where);
	fflush(stdout);
}

void server_listen_cleanup(const struct server_listener *l)
{
	if (l->created)
		unix_unlink_if_ours(l->where, l->ino);
}
