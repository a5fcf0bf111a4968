/* LD_PRELOAD shim for tests only: fsync() and fdatasync() of regular files
 * take SLOW_FSYNC_MS (default 3000) before doing their work, like an HDD
 * under writeback or an NFS home. Each call says so on stderr (one line),
 * so a test can tell the shim was in effect. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);

static void slow(int fd, const char *what)
{
	const char *env = getenv("SLOW_FSYNC_MS");
	long ms = env != NULL ? atol(env) : 3000;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	fprintf(stderr, "slow-fsync: %s fd=%d %ld ms\n", what, fd, ms);
	while (nanosleep(&ts, &ts) < 0)
		;
}

int fsync(int fd)
{
	slow(fd, "fsync");
	return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
	slow(fd, "fdatasync");
	return (int)syscall(SYS_fdatasync, fd);
}
