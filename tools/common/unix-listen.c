/* unix-listen: see unix-listen.h. */
#include "unix-listen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int unix_default_path(char *out, size_t outlen, char *dir, size_t dirlen, char *err, size_t errlen)
{
	const char *run = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!run || run[0] != '/') {
		snprintf(err, errlen, "XDG_RUNTIME_DIR is not set (or not an absolute path): "
			 "no private place for the socket; run in a user session, or give "
			 "--socket PATH (or TCP: --port with --key-file)");
		return -1;
	}
	n = snprintf(out, outlen, "%s/%s/%s", run, UNIX_LISTEN_DIR, UNIX_LISTEN_NAME);
	if (n < 0 || (size_t)n >= outlen || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "XDG_RUNTIME_DIR %s is too long for a socket path", run);
		return -1;
	}
	if (dir)
		snprintf(dir, dirlen, "%s/%s", run, UNIX_LISTEN_DIR);
	return 0;
}

int unix_private_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(err, errlen, "cannot look at %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory (a link?); remove it", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s belongs to uid %u, not to us (uid %u): refusing to serve "
			 "there; remove it", dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s is open to group or others (mode %04o): refusing to serve "
			 "there; run: chmod 700 %s", dir, (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* A socket file at path nobody accepts on is removed; 0 if path is free now. */
static int clear_stale(const struct sockaddr_un *sa, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; remove it", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "%s is in use: another server listens there", path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return unlink(path);
}

int unix_listen(const char *path, int backlog, ino_t *ino, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, r;

	if (fill_addr(&sa, path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -1;
	}
	err[0] = '\0';
	if (clear_stale(&sa, path, err, errlen) < 0) {
		if (!err[0])
			snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot make a socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);		/* the socket file is born 0600 */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, backlog) < 0 || stat(path, &st) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	*ino = st.st_ino;
	return fd;
}

void unix_unlink_if_ours(const char *path, ino_t ino)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino)
		unlink(path);
}

int unix_bound_path(int fd, char *out, size_t outlen)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 || sa.sun_family != AF_UNIX)
		return -1;
	snprintf(out, outlen, "%.*s", (int)sizeof(sa.sun_path), sa.sun_path);
	return 0;
}
