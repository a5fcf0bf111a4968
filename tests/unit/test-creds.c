/* Unit tests for the credentials (module/creds.c): key file, environment
 * variable, command, and temporary keys from a scriptable HTTP server on
 * 127.0.0.1 (creds-http-server.py, started once for the whole run).
 *
 * Every failing case uses a recognisable key (SECRET: in the file, printed by
 * the command, sent as Bearer and echoed back in the server's error bodies)
 * and checks through assert_refused() that no message contains it. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "creds.h"

#ifndef CREDS_TEST_SERVER
#error "CREDS_TEST_SERVER must name creds-http-server.py"
#endif
#ifndef CREDS_TEST_PYTHON
#define CREDS_TEST_PYTHON "python3"
#endif

#define SECRET		"sk-NEVER-LOG-ME-4242"
/* Upper bound for anything that must "return quickly". */
#define QUICK_MS	2000

/* The whole run: a scratch directory and the HTTP server. */
static struct {
	char dir[256];
	pid_t server;
	int server_stdin;
	int port;
	int tls_port;		/* 0: openssl missing, TLS test skipped */
} fx = { .server = -1, .server_stdin = -1 };

/* Per test, reset by reset(). */
static struct creds_config cfg;
static struct creds_secret key, long_key;
static struct creds_error err;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void __attribute__((format(printf, 3, 4)))
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < size);
}

/* Writes dir/name with `content` and exactly `mode`; returns the path. */
static const char *write_file(const char *name, const char *content, mode_t mode)
{
	static char path[512];
	int fd;

	fmt(path, sizeof(path), "%s/%s", fx.dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static int reset(void **state)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&err, 0, sizeof(err));
	memset(key.key, 'X', sizeof(key.key));	/* so a missing wipe shows */
	key.len = 42;
	key.source = NULL;
	cfg.connect_timeout_ms = 1000;
	cfg.total_timeout_ms = 3000;
	cfg.temporary_key_ttl_s = 60;
	memset(&long_key, 0, sizeof(long_key));
	memcpy(long_key.key, SECRET, strlen(SECRET));
	long_key.len = strlen(SECRET);
	long_key.source = "file";
	return 0;
}

static void assert_no_key_left(void)
{
	assert_int_equal(key.len, 0);
	for (size_t i = 0; i < sizeof(key.key); i++)
		if (key.key[i] != '\0')
			fail_msg("key byte %zu not wiped after a failure", i);
}

/* A failure: the return value, the class, one line mentioning `part`,
 * no trace of SECRET anywhere, and no key left in `key`. */
static void assert_refused(int res, int want_res, enum err_class cls, const char *part)
{
	if (res != want_res)
		fail_msg("returned %d (%s), want %d; message: %s", res, strerror(-res), want_res, err.message);
	if (getenv("CREDS_TEST_SHOW") != NULL)	/* to review the wording */
		fprintf(stderr, "    message: %s\n", err.message);
	assert_int_equal(err.cls, cls);
	assert_true(strlen(err.message) > 0);
	assert_null(strchr(err.message, '\n'));
	if (strstr(err.message, part) == NULL)
		fail_msg("message \"%s\" does not say \"%s\"", err.message, part);
	if (strstr(err.message, SECRET) != NULL || strstr(err.message, "NEVER-LOG") != NULL)
		fail_msg("message leaks the key: %s", err.message);
	assert_no_key_left();
}

/* The message of the last failure also says `part`. */
static void assert_says(const char *part)
{
	if (strstr(err.message, part) == NULL)
		fail_msg("message \"%s\" does not say \"%s\"", err.message, part);
}

static void assert_loaded(int res, const char *want, const char *source)
{
	if (res != 0)
		fail_msg("returned %d: %s", res, err.message);
	assert_int_equal(err.cls, ERR_NONE);
	assert_string_equal(err.message, "");
	assert_string_equal(key.key, want);
	assert_int_equal(key.len, strlen(want));
	assert_string_equal(key.source, source);
}

/* ---- sources ---- */

static void test_no_source_gives_no_key(void **state)
{
	assert_int_equal(creds_load(&cfg, &key, &err), 0);
	assert_int_equal(err.cls, ERR_NONE);
	assert_no_key_left();
}

static void test_two_sources_are_refused(void **state)
{
	const char *combos[][3] = {
		{ "/k", "VAR", "" }, { "/k", "", "true" }, { "", "VAR", "true" }, { "/k", "VAR", "true" },
	};

	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		reset(state);
		fmt(cfg.file, sizeof(cfg.file), "%s", combos[i][0]);
		fmt(cfg.env, sizeof(cfg.env), "%s", combos[i][1]);
		fmt(cfg.command, sizeof(cfg.command), "%s", combos[i][2]);
		assert_refused(creds_load(&cfg, &key, &err), -EINVAL, ERR_FATAL,
				"service.api-key: give only one of file, env, command");
	}
}

static void test_wipe_zeroes_the_key(void **state)
{
	creds_wipe(&key);
	assert_no_key_left();
}

/* ---- file ---- */

static void test_file_key_is_first_line_trimmed(void **state)
{
	fmt(cfg.file, sizeof(cfg.file), "%s", write_file("ok.key", "  " SECRET " \r\nsecond line\n", 0600));
	assert_loaded(creds_load(&cfg, &key, &err), SECRET, "file");
}

static void test_file_without_newline_is_read(void **state)
{
	fmt(cfg.file, sizeof(cfg.file), "%s", write_file("nonl.key", SECRET, 0400));
	assert_loaded(creds_load(&cfg, &key, &err), SECRET, "file");
}

static void test_file_accessible_by_group_or_other_is_refused_with_chmod_hint(void **state)
{
	const mode_t modes[] = { 0640, 0604, 0660, 0620, 0602, 0610, 0644, 0666 };
	char want[600];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const char *path = write_file("open.key", SECRET "\n", modes[i]);

		reset(state);
		fmt(cfg.file, sizeof(cfg.file), "%s", path);
		fmt(want, sizeof(want), "run: chmod 600 %s", path);
		assert_refused(creds_load(&cfg, &key, &err), -EACCES, ERR_FATAL, want);
		fmt(want, sizeof(want), "(mode %04o)", (unsigned)modes[i]);
		assert_says(want);
	}
}

static void test_missing_file_names_path_and_fix(void **state)
{
	char want[600];

	fmt(cfg.file, sizeof(cfg.file), "%s/does-not-exist.key", fx.dir);
	fmt(want, sizeof(want), "service.api-key.file: %s does not exist", cfg.file);
	assert_refused(creds_load(&cfg, &key, &err), -ENOENT, ERR_FATAL, want);
	assert_says("chmod 600");
}

static void test_empty_file_is_refused(void **state)
{
	fmt(cfg.file, sizeof(cfg.file), "%s", write_file("empty.key", "", 0600));
	assert_refused(creds_load(&cfg, &key, &err), -ENODATA, ERR_FATAL, "no key");
}

static void test_file_with_blank_first_line_is_refused(void **state)
{
	fmt(cfg.file, sizeof(cfg.file), "%s", write_file("blank.key", " \t\r\n" SECRET "\n", 0600));
	assert_refused(creds_load(&cfg, &key, &err), -ENODATA, ERR_FATAL, "the first line is empty");
}

static void test_file_key_of_max_length_is_accepted(void **state)
{
	static char text[CREDS_KEY_MAX + 1];

	memset(text, 'k', CREDS_KEY_MAX - 1);
	text[CREDS_KEY_MAX - 1] = '\n';
	fmt(cfg.file, sizeof(cfg.file), "%s", write_file("max.key", text, 0600));
	text[CREDS_KEY_MAX - 1] = '\0';
	assert_loaded(creds_load(&cfg, &key, &err), text, "file");
}

static void test_file_key_too_long_is_refused(void **state)
{
	static char text[8 * CREDS_KEY_MAX];

	/* one byte over, and a first line longer than what is read at all */
	memset(text, 'k', CREDS_KEY_MAX);
	fmt(cfg.file, sizeof(cfg.file), "%s", write_file("long.key", text, 0600));
	assert_refused(creds_load(&cfg, &key, &err), -EMSGSIZE, ERR_FATAL, "longer than 1023 bytes");

	reset(state);
	memset(text, 'k', sizeof(text) - 1);
	fmt(cfg.file, sizeof(cfg.file), "%s", write_file("long.key", text, 0600));
	assert_refused(creds_load(&cfg, &key, &err), -EMSGSIZE, ERR_FATAL, "longer than 1023 bytes");
}

static void test_key_with_control_characters_is_refused(void **state)
{
	fmt(cfg.file, sizeof(cfg.file), "%s", write_file("ctl.key", SECRET "\001x\n", 0600));
	assert_refused(creds_load(&cfg, &key, &err), -EINVAL, ERR_FATAL, "control characters");
}

static void test_symlink_to_private_file_is_followed(void **state)
{
	char link[600];

	write_file("target.key", SECRET "\n", 0600);
	fmt(link, sizeof(link), "%s/link.key", fx.dir);
	unlink(link);
	assert_int_equal(symlink("target.key", link), 0);
	fmt(cfg.file, sizeof(cfg.file), "%s", link);
	assert_loaded(creds_load(&cfg, &key, &err), SECRET, "file");
}

static void test_symlink_to_group_readable_file_is_refused(void **state)
{
	char link[600];

	write_file("target-open.key", SECRET "\n", 0640);
	fmt(link, sizeof(link), "%s/link-open.key", fx.dir);
	unlink(link);
	assert_int_equal(symlink("target-open.key", link), 0);
	fmt(cfg.file, sizeof(cfg.file), "%s", link);
	assert_refused(creds_load(&cfg, &key, &err), -EACCES, ERR_FATAL, "chmod 600");
}

static void test_tilde_expands_to_home(void **state)
{
	char *old = getenv("HOME") != NULL ? strdup(getenv("HOME")) : NULL;
	int res;

	write_file("home.key", SECRET "\n", 0600);
	setenv("HOME", fx.dir, 1);
	fmt(cfg.file, sizeof(cfg.file), "~/home.key");
	res = creds_load(&cfg, &key, &err);
	if (old != NULL)
		setenv("HOME", old, 1);
	else
		unsetenv("HOME");
	free(old);
	assert_loaded(res, SECRET, "file");
}

static void test_tilde_without_home_is_refused(void **state)
{
	char *old = getenv("HOME") != NULL ? strdup(getenv("HOME")) : NULL;
	int res;

	unsetenv("HOME");
	fmt(cfg.file, sizeof(cfg.file), "~/home.key");
	res = creds_load(&cfg, &key, &err);
	if (old != NULL)
		setenv("HOME", old, 1);
	free(old);
	assert_refused(res, -EINVAL, ERR_FATAL, "HOME is not set");
}

static void test_relative_path_is_refused(void **state)
{
	fmt(cfg.file, sizeof(cfg.file), "soniox.key");
	assert_refused(creds_load(&cfg, &key, &err), -EINVAL, ERR_FATAL, "not an absolute path");
}

static void test_directory_is_refused(void **state)
{
	fmt(cfg.file, sizeof(cfg.file), "%s", fx.dir);
	assert_refused(creds_load(&cfg, &key, &err), -EINVAL, ERR_FATAL, "is not a regular file");
}

static void test_fifo_is_refused_without_blocking(void **state)
{
	int64_t t0 = now_ms();

	fmt(cfg.file, sizeof(cfg.file), "%s/fifo.key", fx.dir);
	unlink(cfg.file);
	assert_int_equal(mkfifo(cfg.file, 0600), 0);
	assert_refused(creds_load(&cfg, &key, &err), -EINVAL, ERR_FATAL, "is not a regular file");
	assert_true(now_ms() - t0 < QUICK_MS);
}

static void test_file_owned_by_another_user_is_refused(void **state)
{
	const char *path = write_file("other.key", SECRET "\n", 0600);

	if (geteuid() != 0)
		skip();		/* only root can give a file away */
	assert_int_equal(chown(path, 65534, 65534), 0);
	fmt(cfg.file, sizeof(cfg.file), "%s", path);
	assert_refused(creds_load(&cfg, &key, &err), -EPERM, ERR_FATAL, "belongs to uid 65534");
}

/* ---- environment ---- */

static void test_env_key_is_read(void **state)
{
	setenv("CREDS_TEST_KEY", SECRET, 1);
	fmt(cfg.env, sizeof(cfg.env), "CREDS_TEST_KEY");
	assert_loaded(creds_load(&cfg, &key, &err), SECRET, "env");
}

static void test_env_missing_names_variable(void **state)
{
	unsetenv("CREDS_TEST_MISSING");
	fmt(cfg.env, sizeof(cfg.env), "CREDS_TEST_MISSING");
	assert_refused(creds_load(&cfg, &key, &err), -ENOENT, ERR_FATAL,
			"environment variable CREDS_TEST_MISSING is not set");
}

static void test_env_empty_is_refused(void **state)
{
	setenv("CREDS_TEST_EMPTY", "", 1);
	fmt(cfg.env, sizeof(cfg.env), "CREDS_TEST_EMPTY");
	assert_refused(creds_load(&cfg, &key, &err), -ENODATA, ERR_FATAL, "CREDS_TEST_EMPTY is empty");
}

static void test_env_with_control_characters_is_refused(void **state)
{
	setenv("CREDS_TEST_CTL", SECRET "\033[2J", 1);
	fmt(cfg.env, sizeof(cfg.env), "CREDS_TEST_CTL");
	assert_refused(creds_load(&cfg, &key, &err), -EINVAL, ERR_FATAL, "control characters");
}

/* ---- command ---- */

static void test_command_first_line_is_key(void **state)
{
	fmt(cfg.command, sizeof(cfg.command), "printf '%%s\\nsecond\\n' '" SECRET "'");
	assert_loaded(creds_load(&cfg, &key, &err), SECRET, "command");
}

static void test_command_sees_environment_and_no_stdin(void **state)
{
	setenv("CREDS_TEST_VAR", SECRET, 1);
	/* cat would block forever on an inherited terminal or pipe */
	fmt(cfg.command, sizeof(cfg.command), "cat; printf '%%s\\n' \"$CREDS_TEST_VAR\"");
	assert_loaded(creds_load(&cfg, &key, &err), SECRET, "command");
}

static void test_command_inherits_no_extra_fds(void **state)
{
	int fd = open("/dev/null", O_RDONLY);	/* deliberately without O_CLOEXEC */

	assert_true(fd > 2);
	fmt(cfg.command, sizeof(cfg.command),
			"if [ -e /proc/self/fd/%d ]; then echo leaked; else echo closed; fi", fd);
	assert_loaded(creds_load(&cfg, &key, &err), "closed", "command");
	close(fd);
}

static void test_command_nonzero_exit_reports_status_not_output(void **state)
{
	fmt(cfg.command, sizeof(cfg.command), "echo " SECRET "; exit 3");
	assert_refused(creds_load(&cfg, &key, &err), -EIO, ERR_FATAL, "exited with status 3");
}

static void test_command_killed_by_signal_is_reported(void **state)
{
	fmt(cfg.command, sizeof(cfg.command), "echo " SECRET "; kill -TERM $$");
	assert_refused(creds_load(&cfg, &key, &err), -EIO, ERR_FATAL, "killed by signal 15 (SIGTERM)");
}

static void test_command_printing_nothing_is_refused(void **state)
{
	fmt(cfg.command, sizeof(cfg.command), "true");
	assert_refused(creds_load(&cfg, &key, &err), -ENODATA, ERR_FATAL, "service.api-key.command");
}

static void test_command_printing_blank_line_is_refused(void **state)
{
	fmt(cfg.command, sizeof(cfg.command), "echo; echo " SECRET);
	assert_refused(creds_load(&cfg, &key, &err), -ENODATA, ERR_FATAL, "the first line is empty");
}

static void test_command_with_endless_output_is_refused(void **state)
{
	fmt(cfg.command, sizeof(cfg.command), "head -c 1000000 /dev/zero | tr '\\0' k");
	assert_refused(creds_load(&cfg, &key, &err), -EMSGSIZE, ERR_FATAL, "longer than 1023 bytes");
}

/* The state letter of /proc/<pid>/stat, or 0 when the process is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	fmt(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/* pidfile holds "<shell pid> <its background child's pid>": both are gone. */
static void assert_group_gone(const char *pidfile)
{
	long sh_pid = 0, bg_pid = 0;
	int64_t deadline;
	FILE *f = fopen(pidfile, "re");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &sh_pid, &bg_pid), 2);
	fclose(f);
	/* the shell was our child and is reaped: not a zombie, not ours any more */
	assert_int_equal(waitpid((pid_t)sh_pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(proc_state((pid_t)sh_pid), 0);
	/* its background child got the signal with the group; it is re-parented,
	 * so it may linger as a zombie of init for a moment */
	deadline = now_ms() + QUICK_MS;
	while (proc_state((pid_t)bg_pid) != 0 && proc_state((pid_t)bg_pid) != 'Z' && now_ms() < deadline)
		sched_yield();
	if (proc_state((pid_t)bg_pid) != 0 && proc_state((pid_t)bg_pid) != 'Z')
		fail_msg("background sleep %ld still running (state %c)", bg_pid, proc_state((pid_t)bg_pid));
}

static void test_command_timeout_kills_and_reaps_process_group(void **state)
{
	char pidfile[600];
	int64_t t0;

	fmt(pidfile, sizeof(pidfile), "%s/cmd.pids", fx.dir);
	unlink(pidfile);
	fmt(cfg.command, sizeof(cfg.command),
			"echo " SECRET "; sleep 30 & echo $$ $! > %s; wait", pidfile);
	cfg.total_timeout_ms = 500;
	t0 = now_ms();
	assert_refused(creds_load(&cfg, &key, &err), -ETIMEDOUT, ERR_TRANSIENT, "no answer within 500 ms");
	assert_true(now_ms() - t0 < 500 + QUICK_MS);
	assert_group_gone(pidfile);
}

struct canceller {
	const char *pidfile;
	atomic_bool flag;
};

/* Unload, from another thread: once the command runs (its pidfile is
 * there, or 10 s went by). */
static void *cancel_when_running(void *data)
{
	struct canceller *c = data;
	int64_t deadline = now_ms() + 10000;

	while (access(c->pidfile, R_OK) != 0 && now_ms() < deadline)
		sched_yield();
	atomic_store(&c->flag, true);
	return NULL;
}

static void test_command_is_terminated_with_its_group_when_cancelled(void **state)
{
	struct canceller c;
	char pidfile[600];
	int64_t t0;
	pthread_t thread;

	fmt(pidfile, sizeof(pidfile), "%s/cancel.pids", fx.dir);
	unlink(pidfile);
	c.pidfile = pidfile;
	atomic_init(&c.flag, false);
	fmt(cfg.command, sizeof(cfg.command), "sleep 30 & echo $$ $! > %s.tmp && mv %s.tmp %s; wait",
			pidfile, pidfile, pidfile);
	cfg.total_timeout_ms = 30000;
	cfg.cancel = &c.flag;
	assert_int_equal(pthread_create(&thread, NULL, cancel_when_running, &c), 0);
	t0 = now_ms();
	assert_refused(creds_load(&cfg, &key, &err), -ECANCELED, ERR_TRANSIENT, "stopped");
	assert_true(now_ms() - t0 < QUICK_MS);
	pthread_join(thread, NULL);
	assert_group_gone(pidfile);
}

static void test_command_closing_stdout_but_running_times_out(void **state)
{
	int64_t t0 = now_ms();

	fmt(cfg.command, sizeof(cfg.command), "echo " SECRET "; exec >&-; sleep 30");
	cfg.total_timeout_ms = 300;
	assert_refused(creds_load(&cfg, &key, &err), -ETIMEDOUT, ERR_TRANSIENT, "no answer within 300 ms");
	assert_true(now_ms() - t0 < 300 + QUICK_MS);
}

static void test_command_without_timeout_is_refused(void **state)
{
	fmt(cfg.command, sizeof(cfg.command), "echo " SECRET);
	cfg.total_timeout_ms = 0;
	assert_refused(creds_load(&cfg, &key, &err), -EINVAL, ERR_FATAL, "timeout");
}

/* ---- temporary keys ---- */

static void set_url(const char *f, ...) __attribute__((format(printf, 1, 2)));
static void set_url(const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(cfg.temporary_key_url, sizeof(cfg.temporary_key_url), f, ap);
	va_end(ap);
}

static int fetch(void)
{
	return creds_fetch_temporary(&cfg, &long_key, &key, &err);
}

static void test_temporary_key_is_fetched_with_bearer_and_json_body(void **state)
{
	/* the server checks header, content type and body, and answers
	 * temp:<bearer>:<ttl> */
	set_url("http://127.0.0.1:%d/key", fx.port);
	cfg.temporary_key_ttl_s = 123;
	assert_loaded(fetch(), "temp:" SECRET ":123", "temporary");
	assert_int_equal(err.http_status, 200);
}

static void test_temporary_key_via_localhost_name(void **state)
{
	set_url("http://localhost:%d/key", fx.port);
	assert_loaded(fetch(), "temp:" SECRET ":60", "temporary");
}

struct fetch_thread {
	pthread_t thread;
	struct creds_secret key;
	struct creds_error err;
	int res;
};

static void *fetch_thread_main(void *data)
{
	struct fetch_thread *t = data;

	t->res = creds_fetch_temporary(&cfg, &long_key, &t->key, &t->err);
	return NULL;
}

static void test_concurrent_fetches_all_succeed(void **state)
{
	struct fetch_thread t[4];

	set_url("http://127.0.0.1:%d/key", fx.port);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i].thread, NULL, fetch_thread_main, &t[i]), 0);
	for (size_t i = 0; i < 4; i++) {
		pthread_join(t[i].thread, NULL);
		if (t[i].res != 0)
			fail_msg("thread %zu: %d %s", i, t[i].res, t[i].err.message);
		assert_string_equal(t[i].key.key, "temp:" SECRET ":60");
	}
}

static void test_temporary_401_and_403_are_fatal_key_refused(void **state)
{
	const int codes[] = { 401, 403 };

	for (size_t i = 0; i < 2; i++) {
		reset(state);
		set_url("http://127.0.0.1:%d/status/%d", fx.port, codes[i]);
		assert_refused(fetch(), -EACCES, ERR_FATAL, "the long-lived key was refused");
		assert_int_equal(err.http_status, codes[i]);
		assert_int_equal(err.retry_after_ms, -1);
	}
}

static void test_temporary_client_errors_are_fatal(void **state)
{
	const int codes[] = { 400, 402, 404, 405, 302 };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char want[32];

		reset(state);
		set_url("http://127.0.0.1:%d/status/%d", fx.port, codes[i]);
		fmt(want, sizeof(want), "HTTP %d", codes[i]);
		assert_refused(fetch(), -EINVAL, ERR_FATAL, want);
		assert_int_equal(err.http_status, codes[i]);
	}
}

static void test_temporary_redirect_is_not_followed(void **state)
{
	set_url("http://127.0.0.1:%d/redirect", fx.port);
	assert_refused(fetch(), -EINVAL, ERR_FATAL, "redirect, not followed");
	assert_int_equal(err.http_status, 302);
}

static void test_temporary_503_with_retry_after_is_transient(void **state)
{
	set_url("http://127.0.0.1:%d/status/503?retry_after=2", fx.port);
	assert_refused(fetch(), -EAGAIN, ERR_TRANSIENT, "HTTP 503");
	assert_int_equal(err.http_status, 503);
	assert_int_equal(err.retry_after_ms, 2000);
}

static void test_temporary_retry_after_zero_is_kept(void **state)
{
	set_url("http://127.0.0.1:%d/status/429?retry_after=0", fx.port);
	assert_refused(fetch(), -EAGAIN, ERR_TRANSIENT, "HTTP 429");
	assert_int_equal(err.retry_after_ms, 0);
}

static void test_temporary_server_errors_without_retry_after_are_transient(void **state)
{
	const int codes[] = { 408, 429, 500, 502, 503, 504 };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		reset(state);
		set_url("http://127.0.0.1:%d/status/%d", fx.port, codes[i]);
		assert_refused(fetch(), -EAGAIN, ERR_TRANSIENT, "server busy or failing");
		assert_int_equal(err.http_status, codes[i]);
		assert_int_equal(err.retry_after_ms, -1);
	}
}

static void test_temporary_slow_server_times_out_transient(void **state)
{
	int64_t t0 = now_ms();

	set_url("http://127.0.0.1:%d/slow?ms=10000", fx.port);
	cfg.total_timeout_ms = 300;
	assert_refused(fetch(), -ETIMEDOUT, ERR_TRANSIENT, "(curl 28)");
	assert_true(now_ms() - t0 < 300 + QUICK_MS);
}

static void test_temporary_request_is_aborted_when_cancelled(void **state)
{
	atomic_bool cancel;
	int64_t t0 = now_ms();

	atomic_init(&cancel, true);
	set_url("http://127.0.0.1:%d/slow?ms=10000", fx.port);
	cfg.total_timeout_ms = 30000;
	cfg.cancel = &cancel;
	assert_true(fetch() < 0);
	assert_non_null(strstr(err.message, "(curl 42)"));
	assert_true(now_ms() - t0 < QUICK_MS);
}

static void test_temporary_garbage_answer_is_refused(void **state)
{
	const char *paths[] = { "garbage", "nokey" };

	for (size_t i = 0; i < 2; i++) {
		reset(state);
		set_url("http://127.0.0.1:%d/%s", fx.port, paths[i]);
		assert_refused(fetch(), -EBADMSG, ERR_FATAL, "not JSON with an \"api_key\" string");
		assert_int_equal(err.http_status, 200);
	}
}

static void test_temporary_huge_answer_is_refused(void **state)
{
	const char *paths[] = { "huge", "huge-stream" };

	for (size_t i = 0; i < 2; i++) {
		reset(state);
		set_url("http://127.0.0.1:%d/%s", fx.port, paths[i]);
		assert_refused(fetch(), -EMSGSIZE, ERR_FATAL, "answer larger than 64 KiB");
	}
}

static void test_temporary_plain_http_off_loopback_is_refused_before_connecting(void **state)
{
	const char *urls[] = {
		"http://192.0.2.1/key",			/* TEST-NET-1: would hang if tried */
		"http://192.0.2.1:80/key",
		"http://localhost@192.0.2.1/key",
		"http://127.0.0.1.example.com/key",
		"http://localhost.example.com/key",
		"HTTP://192.0.2.1/key",
	};

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		int64_t t0 = now_ms();

		reset(state);
		cfg.connect_timeout_ms = 10000;
		cfg.total_timeout_ms = 10000;
		set_url("%s", urls[i]);
		assert_refused(fetch(), -EPROTONOSUPPORT, ERR_FATAL, "http:// is only allowed to 127.0.0.1");
		if (now_ms() - t0 > 100)
			fail_msg("%s took %lld ms: it was tried", urls[i], (long long)(now_ms() - t0));
	}
}

static void test_temporary_other_schemes_and_bad_urls_are_refused(void **state)
{
	const char *urls[] = { "ftp://127.0.0.1/key", "file:///etc/passwd", "ws://127.0.0.1/" };

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		reset(state);
		set_url("%s", urls[i]);
		assert_refused(fetch(), -EPROTONOSUPPORT, ERR_FATAL, "use https://");
	}
	reset(state);
	set_url("127.0.0.1/key");
	assert_refused(fetch(), -EINVAL, ERR_FATAL, "not a valid URL");
	reset(state);
	assert_refused(fetch(), -EINVAL, ERR_FATAL, "service.temporary-key.url: not set");
}

static int closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_temporary_connection_refused_is_transient(void **state)
{
	set_url("http://127.0.0.1:%d/key", closed_port());
	assert_refused(fetch(), -ECONNREFUSED, ERR_TRANSIENT, "(curl 7)");
	assert_int_equal(err.http_status, 0);
}

static void test_temporary_ipv6_loopback_is_allowed(void **state)
{
	set_url("http://[::1]:%d/key", closed_port());
	/* nobody listens there: allowed, tried, refused (or no IPv6 at all) */
	assert_refused(fetch(), -ECONNREFUSED, ERR_TRANSIENT, "(curl 7)");
}

static void test_temporary_untrusted_tls_certificate_is_fatal(void **state)
{
	if (fx.tls_port == 0)
		skip();
	set_url("https://127.0.0.1:%d/key", fx.tls_port);
	assert_refused(fetch(), -EPROTO, ERR_FATAL, "TLS certificate verification failed for 127.0.0.1");
}

static void test_temporary_needs_long_key_timeout_and_ttl(void **state)
{
	set_url("http://127.0.0.1:%d/key", fx.port);
	creds_wipe(&long_key);
	assert_refused(fetch(), -EINVAL, ERR_FATAL, "needs a long-lived key");

	reset(state);
	set_url("http://127.0.0.1:%d/key", fx.port);
	long_key.key[3] = '\n';			/* would split the header */
	assert_refused(fetch(), -EINVAL, ERR_FATAL, "control characters");

	reset(state);
	set_url("http://127.0.0.1:%d/key", fx.port);
	cfg.temporary_key_ttl_s = 0;
	assert_refused(fetch(), -EINVAL, ERR_FATAL, "above 0");
}

/* ---- fixture: scratch directory and HTTP server ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void make_tls_cert(void)
{
	char cmd[2048];

	fmt(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
			"-nodes -days 1 -subj /CN=127.0.0.1 -keyout %s/tls.key -out %s/tls.crt "
			">/dev/null 2>&1", fx.dir, fx.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "openssl failed: the TLS test will be skipped\n");
	else
		fx.tls_port = -1;	/* wanted; set by start_server() */
}

/* Reads the server's "<port>[ <tls-port>]" line, waiting at most 10 s. */
static int read_ports(int fd)
{
	char line[64] = "";
	size_t n = 0;
	int64_t deadline = now_ms() + 10000;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (n < sizeof(line) - 1 && strchr(line, '\n') == NULL) {
		ssize_t r;

		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			return -ETIMEDOUT;
		if ((r = read(fd, line + n, sizeof(line) - 1 - n)) <= 0)
			return -EIO;
		n += (size_t)r;
		line[n] = '\0';
	}
	if (fx.tls_port != 0)
		return sscanf(line, "%d %d", &fx.port, &fx.tls_port) == 2 ? 0 : -EIO;
	return sscanf(line, "%d", &fx.port) == 1 ? 0 : -EIO;
}

static int start_server(void)
{
	posix_spawn_file_actions_t fa;
	char crt[600], keyf[600];
	char *argv[] = { (char *)CREDS_TEST_PYTHON, (char *)CREDS_TEST_SERVER, "--tls", crt, keyf, NULL };
	int in[2], out[2], res;

	if (fx.tls_port == 0)
		argv[2] = NULL;
	fmt(crt, sizeof(crt), "%s/tls.crt", fx.dir);
	fmt(keyf, sizeof(keyf), "%s/tls.key", fx.dir);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	res = posix_spawnp(&fx.server, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	fx.server_stdin = in[1];
	if (res != 0) {
		fx.server = -1;
		close(out[0]);
		return -res;
	}
	res = read_ports(out[0]);
	close(out[0]);
	return res;
}

static int group_teardown(void **state)
{
	if (fx.server_stdin >= 0)
		close(fx.server_stdin);
	if (fx.server > 0) {
		kill(fx.server, SIGTERM);
		waitpid(fx.server, NULL, 0);
	}
	if (fx.dir[0] != '\0')
		nftw(fx.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	const char *proxies[] = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };
	int res;

	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	snprintf(fx.dir, sizeof(fx.dir), "%s/test-creds-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(fx.dir) == NULL) {
		fx.dir[0] = '\0';
		return -1;
	}
	make_tls_cert();
	if ((res = start_server()) < 0) {
		fprintf(stderr, "could not start %s %s: %s\n", CREDS_TEST_PYTHON, CREDS_TEST_SERVER, strerror(-res));
		group_teardown(state);
		return -1;
	}
	return 0;
}

int main(void)
{
#define T(name) cmocka_unit_test_setup(name, reset)
	const struct CMUnitTest tests[] = {
		T(test_no_source_gives_no_key),
		T(test_two_sources_are_refused),
		T(test_wipe_zeroes_the_key),
		T(test_file_key_is_first_line_trimmed),
		T(test_file_without_newline_is_read),
		T(test_file_accessible_by_group_or_other_is_refused_with_chmod_hint),
		T(test_missing_file_names_path_and_fix),
		T(test_empty_file_is_refused),
		T(test_file_with_blank_first_line_is_refused),
		T(test_file_key_of_max_length_is_accepted),
		T(test_file_key_too_long_is_refused),
		T(test_key_with_control_characters_is_refused),
		T(test_symlink_to_private_file_is_followed),
		T(test_symlink_to_group_readable_file_is_refused),
		T(test_tilde_expands_to_home),
		T(test_tilde_without_home_is_refused),
		T(test_relative_path_is_refused),
		T(test_directory_is_refused),
		T(test_fifo_is_refused_without_blocking),
		T(test_file_owned_by_another_user_is_refused),
		T(test_env_key_is_read),
		T(test_env_missing_names_variable),
		T(test_env_empty_is_refused),
		T(test_env_with_control_characters_is_refused),
		T(test_command_first_line_is_key),
		T(test_command_sees_environment_and_no_stdin),
		T(test_command_inherits_no_extra_fds),
		T(test_command_nonzero_exit_reports_status_not_output),
		T(test_command_killed_by_signal_is_reported),
		T(test_command_printing_nothing_is_refused),
		T(test_command_printing_blank_line_is_refused),
		T(test_command_with_endless_output_is_refused),
		T(test_command_timeout_kills_and_reaps_process_group),
		T(test_command_is_terminated_with_its_group_when_cancelled),
		T(test_command_closing_stdout_but_running_times_out),
		T(test_command_without_timeout_is_refused),
		T(test_temporary_key_is_fetched_with_bearer_and_json_body),
		T(test_temporary_key_via_localhost_name),
		T(test_concurrent_fetches_all_succeed),
		T(test_temporary_401_and_403_are_fatal_key_refused),
		T(test_temporary_client_errors_are_fatal),
		T(test_temporary_redirect_is_not_followed),
		T(test_temporary_503_with_retry_after_is_transient),
		T(test_temporary_retry_after_zero_is_kept),
		T(test_temporary_server_errors_without_retry_after_are_transient),
		T(test_temporary_slow_server_times_out_transient),
		T(test_temporary_request_is_aborted_when_cancelled),
		T(test_temporary_garbage_answer_is_refused),
		T(test_temporary_huge_answer_is_refused),
		T(test_temporary_plain_http_off_loopback_is_refused_before_connecting),
		T(test_temporary_other_schemes_and_bad_urls_are_refused),
		T(test_temporary_connection_refused_is_transient),
		T(test_temporary_ipv6_loopback_is_allowed),
		T(test_temporary_untrusted_tls_certificate_is_fatal),
		T(test_temporary_needs_long_key_timeout_and_ttl),
	};
#undef T
	return cmocka_run_group_tests_name("creds", tests, group_setup, group_teardown);
}
