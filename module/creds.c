/* Credentials: the long-lived API key from a file, an environment variable or
 * a command, and temporary keys from an HTTPS endpoint (libcurl + json-c).
 *
 * Nothing here logs: callers log with key=<redacted:SOURCE>. Every failure
 * fills struct creds_error with one line (control characters become '?')
 * that names the source (path, variable, host) but never the key, the
 * command line or anything the command or the server printed.
 *
 * `out` is wiped first and again on failure; out->source is "none" when no
 * source is configured. `err` may be NULL.
 *
 * Decisions:
 * - Key file: an absolute path or "~/..." ($HOME must be set); symlinks are
 *   followed (dotfile managers, secrets on tmpfs), and the checks apply to the
 *   file actually opened (fstat on the fd, no race): a regular file, owned by
 *   us or root, no group/other bits at all (mode & 077 → "chmod 600 <path>").
 *   A group-readable target behind a symlink is refused like any other.
 *   POSIX ACLs show up in the group bits, so files shared by ACL are refused.
 *   Opened O_NONBLOCK, so a FIFO in its place is refused instead of blocking.
 * - Key text (file, env, command): the first line, with leading and trailing
 *   blanks (space, tab, CR, VT, FF) stripped; empty, longer than
 *   CREDS_KEY_MAX - 1 or containing control characters (it goes into an HTTP
 *   header) is refused.
 * - Command: /bin/sh -c via posix_spawn in its own process group, stdin from
 *   /dev/null, no inherited fds beyond 0-2, default signal dispositions and
 *   mask. stderr is inherited (like git credential helpers, so their own
 *   diagnostics reach the journal); stdout stays here. Bounded by
 *   total_timeout_ms (0 is refused): on expiry the whole process group gets
 *   SIGKILL and the shell is reaped before returning (ERR_TRANSIENT).
 * - Temporary keys: https only; plain http only to 127.0.0.1, [::1] or
 *   localhost (tests, local proxies) and then with proxies disabled, so the
 *   key never leaves the machine in clear; checked before any connection and
 *   again by CURLOPT_PROTOCOLS_STR. TLS verification stays on (defaults,
 *   set explicitly). Redirects are not followed (3xx is fatal). Proxies from
 *   the environment are honoured for https. The response is capped at
 *   CREDS_RESPONSE_MAX; a non-2xx body is never read, and a received
 *   non-2xx status decides the class whatever curl says after. A 2xx answer
 *   that is not JSON with a usable "api_key" (or too big) is ERR_FATAL: the
 *   URL does not point at a temporary-key endpoint. Unknown curl errors are
 *   ERR_TRANSIENT, the table in PROTOCOLS.md F otherwise.
 * - curl_global_init runs once, lazily, under pthread_once; it is never
 *   cleaned up (the module may be loaded again; libcurl 7.88 is threadsafe).
 * - Key copies we own (read buffers, header list, response, parsed JSON
 *   string) are wiped; copies inside libcurl/json-c internals are not
 *   reachable and are freed unwiped (best effort).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strerrordesc_np, sigabbrev_np, pipe2, closefrom_np */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#include "creds.h"
#include "creds-internal.h"

/* Bytes of a key file or of a command's stdout that are looked at: the first
 * line must end within them. */
#define CREDS_READ_MAX		(2 * CREDS_KEY_MAX)
/* Poll step while waiting for a command that closed stdout to exit. */
#define CREDS_REAP_STEP_MS	5
/* How often a waiting key command checks for a cancel, and how long it
 * gets between SIGTERM and SIGKILL. */
#define CREDS_CANCEL_STEP_MS	50
#define CREDS_TERM_GRACE_MS	200

/* ---- errors and key text ---- */

static const char *errstr(int e)
{
	const char *s = strerrordesc_np(e);
	return s != NULL ? s : "unknown error";
}

void creds_err_reset(struct creds_error *err)
{
	err->cls = ERR_NONE;
	err->http_status = 0;
	err->retry_after_ms = -1;
	err->message[0] = '\0';
}

/* Fills err with one line and returns res (a -errno). */
int creds_fail(struct creds_error *err, enum err_class cls, int res, const char *fmt, ...)
{
	va_list ap;
	char *c;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	for (c = err->message; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	err->cls = cls;
	return res;
}

enum line_result {
	LINE_OK,
	LINE_NONE,		/* no bytes at all */
	LINE_EMPTY,		/* first line blank */
	LINE_TOO_LONG,
	LINE_CONTROL,		/* control characters inside the key */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

bool creds_has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* Takes the first line of buf[0..n) as the key. `cut` says buf holds only
 * the start of a longer text. */
static enum line_result take_first_line(const char *buf, size_t n, bool cut,
		struct creds_secret *out)
{
	const char *nl = memchr(buf, '\n', n);
	size_t start = 0, end = nl != NULL ? (size_t)(nl - buf) : n;

	if (n == 0)
		return LINE_NONE;
	if (nl == NULL && cut)
		return LINE_TOO_LONG;
	while (start < end && is_blank(buf[start]))
		start++;
	while (end > start && is_blank(buf[end - 1]))
		end--;
	if (end == start)
		return LINE_EMPTY;
	if (end - start > CREDS_KEY_MAX - 1)
		return LINE_TOO_LONG;
	if (creds_has_control(buf + start, end - start))
		return LINE_CONTROL;
	memcpy(out->key, buf + start, end - start);
	out->key[end - start] = '\0';
	out->len = end - start;
	return LINE_OK;
}

/* Turns a line_result into an error; `what` names the source, e.g.
 * "service.api-key.file: /x/y". */
static int line_error(enum line_result r, const char *what, struct creds_error *err)
{
	switch (r) {
	case LINE_OK:
		return 0;
	case LINE_NONE:
		return creds_fail(err, ERR_FATAL, -ENODATA, "%s: no key (nothing to read); put the key on the first line", what);
	case LINE_EMPTY:
		return creds_fail(err, ERR_FATAL, -ENODATA, "%s: the first line is empty; put the key on the first line", what);
	case LINE_TOO_LONG:
		return creds_fail(err, ERR_FATAL, -EMSGSIZE, "%s: the first line is longer than %d bytes; is this the key?",
				what, CREDS_KEY_MAX - 1);
	case LINE_CONTROL:
		break;
	}
	return creds_fail(err, ERR_FATAL, -EINVAL, "%s: the key contains control characters; put only the key on the first line", what);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- file ---- */

static int expand_path(const char *path, char *buf, size_t size, struct creds_error *err)
{
	const char *home;
	int n;

	if (path[0] == '/') {
		n = snprintf(buf, size, "%s", path);
	} else if (path[0] == '~' && path[1] == '/') {
		home = getenv("HOME");
		if (home == NULL || home[0] != '/')
			return creds_fail(err, ERR_FATAL, -EINVAL, "service.api-key.file: %s: HOME is not set to an absolute path, "
					"so ~/ can not be expanded; give an absolute path", path);
		n = snprintf(buf, size, "%s%s", home, path + 1);
	} else {
		return creds_fail(err, ERR_FATAL, -EINVAL, "service.api-key.file: %s is not an absolute path; "
				"give /... or ~/...", path);
	}
	if (n < 0 || (size_t)n >= size)
		return creds_fail(err, ERR_FATAL, -ENAMETOOLONG, "service.api-key.file: %s: path too long", path);
	return 0;
}

static int check_key_file(int fd, const char *path, struct creds_error *err)
{
	struct stat st;
	uid_t me = geteuid();

	if (fstat(fd, &st) < 0)
		return creds_fail(err, ERR_FATAL, -errno, "service.api-key.file: %s: %s", path, errstr(errno));
	if (!S_ISREG(st.st_mode))
		return creds_fail(err, ERR_FATAL, -EINVAL, "service.api-key.file: %s is not a regular file", path);
	if (st.st_uid != me && st.st_uid != 0)
		return creds_fail(err, ERR_FATAL, -EPERM, "service.api-key.file: %s belongs to uid %u, not to this user "
				"(uid %u); use a key file you own", path, (unsigned)st.st_uid, (unsigned)me);
	if ((st.st_mode & 077) != 0)
		return creds_fail(err, ERR_FATAL, -EACCES, "service.api-key.file: %s is accessible by group/other "
				"(mode %04o); run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

/* Reads until the first newline, EOF or a full buffer. */
static ssize_t read_head(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n < size) {
		r = read(fd, buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 || memchr(buf + n, '\n', (size_t)r) != NULL) {
			n += (size_t)r;
			break;
		}
		n += (size_t)r;
	}
	return (ssize_t)n;
}

static int load_file(const struct creds_config *cfg, struct creds_secret *out, struct creds_error *err)
{
	char path[CREDS_PATH_MAX + 256], what[CREDS_PATH_MAX + 256 + 32], buf[CREDS_READ_MAX];
	ssize_t n;
	int fd, res;

	if ((res = expand_path(cfg->file, path, sizeof(path), err)) < 0)
		return res;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return creds_fail(err, ERR_FATAL, -ENOENT, "service.api-key.file: %s does not exist; put the key on its "
				"first line and run: chmod 600 %s", path, path);
	if (fd < 0)
		return creds_fail(err, ERR_FATAL, -errno, "service.api-key.file: can not open %s: %s", path, errstr(errno));
	if ((res = check_key_file(fd, path, err)) < 0) {
		close(fd);
		return res;
	}
	n = read_head(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return creds_fail(err, ERR_FATAL, (int)n, "service.api-key.file: can not read %s: %s", path, errstr((int)-n));
	snprintf(what, sizeof(what), "service.api-key.file: %s", path);
	res = line_error(take_first_line(buf, (size_t)n, (size_t)n == sizeof(buf), out), what, err);
	explicit_bzero(buf, sizeof(buf));
	return res;
}

/* ---- environment ---- */

static int load_env(const struct creds_config *cfg, struct creds_secret *out, struct creds_error *err)
{
	const char *value = getenv(cfg->env);
	char what[sizeof(cfg->env) + 64];

	if (value == NULL)
		return creds_fail(err, ERR_FATAL, -ENOENT, "service.api-key.env: environment variable %s is not set "
				"in the PipeWire process", cfg->env);
	if (value[0] == '\0')
		return creds_fail(err, ERR_FATAL, -ENODATA, "service.api-key.env: environment variable %s is empty", cfg->env);
	snprintf(what, sizeof(what), "service.api-key.env: environment variable %s", cfg->env);
	return line_error(take_first_line(value, strlen(value), false, out), what, err);
}

/* ---- command ---- */

static int spawn_shell(const char *command, int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)command, NULL };
	int res;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	res = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -res;
}

/* Collects stdout until EOF: the first `size` bytes into buf, the rest is
 * drained. Returns the bytes kept, or -ETIMEDOUT at the deadline. */
static bool cancelled(const atomic_bool *cancel)
{
	return cancel != NULL && atomic_load(cancel);
}

static ssize_t collect_output(int fd, char *buf, size_t size, bool *cut, int64_t deadline,
		const atomic_bool *cancel)
{
	char drain[512];
	size_t n = 0;
	ssize_t r;
	int64_t left;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	*cut = false;
	while (true) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (cancelled(cancel))
			return -ECANCELED;
		r = poll(&pfd, 1, left < CREDS_CANCEL_STEP_MS ? (int)left : CREDS_CANCEL_STEP_MS);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (n < size)
			r = read(fd, buf + n, size - n);
		else
			r = read(fd, drain, sizeof(drain));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return (ssize_t)n;
		if (n < size)
			n += (size_t)r;
		else
			*cut = true;
	}
}

/* Waits for the shell to exit until the deadline (it closed stdout already). */
static int wait_exit(pid_t pid, int *status, int64_t deadline)
{
	struct timespec step = { .tv_nsec = CREDS_REAP_STEP_MS * 1000000L };
	pid_t r;

	while (true) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		if (r == 0)
			nanosleep(&step, NULL);
	}
}

static void kill_and_reap(pid_t pid)
{
	int status;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* Asked to stop: the command's group may clean up (SIGTERM) before it
 * is killed. */
static void terminate_and_reap(pid_t pid)
{
	int status;

	kill(-pid, SIGTERM);
	if (wait_exit(pid, &status, now_ms() + CREDS_TERM_GRACE_MS) == 0)
		kill(-pid, SIGKILL);	/* what it left behind in its group */
	else
		kill_and_reap(pid);
}

static int command_status_error(int status, struct creds_error *err)
{
	if (WIFEXITED(status))
		return creds_fail(err, ERR_FATAL, -EIO, "service.api-key.command: exited with status %d; "
				"run it by hand to see why", WEXITSTATUS(status));
	if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));
		return creds_fail(err, ERR_FATAL, -EIO, "service.api-key.command: killed by signal %d (SIG%s)",
				WTERMSIG(status), name != NULL ? name : "?");
	}
	return creds_fail(err, ERR_FATAL, -EIO, "service.api-key.command: ended with wait status 0x%x", status);
}

static int load_command(const struct creds_config *cfg, struct creds_secret *out, struct creds_error *err)
{
	char buf[CREDS_READ_MAX];
	int64_t deadline = now_ms() + cfg->total_timeout_ms;
	int fds[2], res, status = 0;
	ssize_t n;
	bool cut;
	pid_t pid;

	if (cfg->total_timeout_ms == 0)
		return creds_fail(err, ERR_FATAL, -EINVAL, "service.api-key.command: needs a timeout above 0 ms");
	if (pipe2(fds, O_CLOEXEC) < 0)
		return creds_fail(err, ERR_TRANSIENT, -errno, "service.api-key.command: pipe: %s", errstr(errno));
	res = spawn_shell(cfg->command, fds[1], &pid);
	close(fds[1]);
	if (res < 0) {
		close(fds[0]);
		return creds_fail(err, ERR_FATAL, res, "service.api-key.command: can not run /bin/sh: %s", errstr(-res));
	}
	n = collect_output(fds[0], buf, sizeof(buf), &cut, deadline, cfg->cancel);
	close(fds[0]);
	if (n == -ECANCELED) {
		terminate_and_reap(pid);
		explicit_bzero(buf, sizeof(buf));
		return creds_fail(err, ERR_TRANSIENT, -ECANCELED, "service.api-key.command: stopped");
	}
	res = n < 0 ? (int)n : wait_exit(pid, &status, deadline);
	if (n < 0 || res == -ETIMEDOUT) {
		kill_and_reap(pid);
		explicit_bzero(buf, sizeof(buf));
		if (res == -ETIMEDOUT)
			return creds_fail(err, ERR_TRANSIENT, -ETIMEDOUT, "service.api-key.command: no answer within %u ms; "
					"killed it", cfg->total_timeout_ms);
		return creds_fail(err, ERR_TRANSIENT, res, "service.api-key.command: reading its output: %s", errstr(-res));
	}
	if (res < 0)
		res = creds_fail(err, ERR_FATAL, res, "service.api-key.command: can not get its exit status: %s "
				"(is SIGCHLD ignored?)", errstr(-res));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		res = command_status_error(status, err);
	else
		res = line_error(take_first_line(buf, (size_t)n, cut || (size_t)n == sizeof(buf), out),
				"service.api-key.command: its output", err);
	explicit_bzero(buf, sizeof(buf));
	return res;
}

/* ---- public: load / wipe ---- */

void creds_wipe(struct creds_secret *s)
{
	explicit_bzero(s->key, sizeof(s->key));
	s->len = 0;
}

int creds_load(const struct creds_config *cfg, struct creds_secret *out, struct creds_error *err)
{
	struct creds_error dummy;
	int n, res;

	if (err == NULL)
		err = &dummy;
	creds_err_reset(err);
	creds_wipe(out);
	out->source = "none";
	n = (cfg->file[0] != '\0') + (cfg->env[0] != '\0') + (cfg->command[0] != '\0');
	if (n > 1)
		return creds_fail(err, ERR_FATAL, -EINVAL, "service.api-key: give only one of file, env, command");
	if (cfg->file[0] != '\0') {
		out->source = "file";
		res = load_file(cfg, out, err);
	} else if (cfg->env[0] != '\0') {
		out->source = "env";
		res = load_env(cfg, out, err);
	} else if (cfg->command[0] != '\0') {
		out->source = "command";
		res = load_command(cfg, out, err);
	} else {
		return 0;
	}
	if (res < 0)
		creds_wipe(out);
	return res;
}
