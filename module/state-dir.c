/* The state directory (see state-dir.h). */
#include "state-dir.h"
#include "errmsg.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_MODE	0700

static int default_dir(const char *what, char *buf, size_t size, char *err, size_t err_size)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	int n;

	if (state && state[0] == '/') {
		n = snprintf(buf, size, "%s/" STATE_DIR_NAME, state);
	} else {
		if (!home || home[0] != '/') {
			if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res ||
			    !pw.pw_dir || pw.pw_dir[0] != '/')
				return errmsg_fail(err, err_size, -ENOENT,
					    "%s: no state directory (set XDG_STATE_HOME or HOME)", what);
			home = pw.pw_dir;
		}
		n = snprintf(buf, size, "%s/.local/state/" STATE_DIR_NAME, home);
	}
	if (n < 0 || (size_t)n >= size)
		return errmsg_fail(err, err_size, -ENAMETOOLONG, "%s: state directory", what);
	return 0;
}

/* mkdir -p with mode 0700 for what is missing; path must end up a dir. */
static int make_dirs(const char *path, const char *what, char *err, size_t err_size)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(buf))
		return errmsg_fail(err, err_size, -ENAMETOOLONG, "%s: directory \"%s\"", what, path);
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, DIR_MODE) == 0)
			chmod(buf, DIR_MODE);	/* 0700 whatever the umask */
		else if (errno != EEXIST)
			return errmsg_fail(err, err_size, -errno, "%s: cannot create directory %s", what, buf);
		buf[i] = path[i];
	}
	if (stat(path, &st) < 0)
		return errmsg_fail(err, err_size, -errno, "%s: directory %s", what, path);
	if (!S_ISDIR(st.st_mode))
		return errmsg_fail(err, err_size, -ENOTDIR, "%s: %s", what, path);
	return 0;
}

int state_dir_prepare(const char *dir, const char *what, char *buf, size_t size,
		char *err, size_t err_size)
{
	size_t len;
	int r;

	if (!dir) {
		if ((r = default_dir(what, buf, size, err, err_size)) < 0)
			return r;
	} else if (snprintf(buf, size, "%s", dir) >= (int)size) {
		return errmsg_fail(err, err_size, -ENAMETOOLONG, "%s: directory", what);
	}
	/* "a/b/" names its files "a/b/x", not "a/b//x" */
	for (len = strlen(buf); len > 1 && buf[len - 1] == '/'; len--)
		buf[len - 1] = '\0';
	return make_dirs(buf, what, err, err_size);
}
