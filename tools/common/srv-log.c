/* srv-log: see srv-log.h. */
#include "srv-log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX	1024

static int log_fd = STDERR_FILENO;	/* set once before any thread starts */

void srv_log_init(int fd)
{
	log_fd = fd;
}

static void emit(char *line, int n)
{
	if (n < 0)
		return;
	if ((size_t)n > LOG_LINE_MAX - 2)
		n = LOG_LINE_MAX - 2;	/* truncated: still one line */
	line[n++] = '\n';
	if (write(log_fd, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}

void srv_log(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	emit(line, n);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A token if there is one; the lock is held. */
static bool take(struct srv_ratelimit *rl)
{
	int64_t now = now_us();

	if (!rl->started) {
		rl->started = true;
		rl->tokens = rl->burst;
	} else {
		rl->tokens += (double)(now - rl->last_us) * rl->per_min / 60e6;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
	}
	rl->last_us = now;
	if (rl->tokens < 1.0)
		return false;
	rl->tokens -= 1.0;
	return true;
}

void srv_log_limited(struct srv_ratelimit *rl, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	unsigned long held;
	va_list ap;
	int n;

	pthread_mutex_lock(&rl->lock);
	if (!take(rl)) {
		rl->suppressed++;
		pthread_mutex_unlock(&rl->lock);
		return;
	}
	held = rl->suppressed;
	rl->suppressed = 0;
	pthread_mutex_unlock(&rl->lock);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (held && n >= 0 && (size_t)n < sizeof(line) - 1)
		n += snprintf(line + n, sizeof(line) - 1 - (size_t)n, " suppressed=%lu", held);
	emit(line, n);
}

void srv_ratelimit_flush(struct srv_ratelimit *rl, const char *what)
{
	unsigned long held = 0;

	pthread_mutex_lock(&rl->lock);
	if (rl->suppressed && take(rl)) {
		held = rl->suppressed;
		rl->suppressed = 0;
	}
	pthread_mutex_unlock(&rl->lock);
	if (held)
		srv_log("%s suppressed=%lu", what, held);
}
