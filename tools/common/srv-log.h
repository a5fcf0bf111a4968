/* srv-log: the servers' event log, one line per event with key=value
 * fields ("conn=3 config rate=16000 ..."). Each line goes out in a single
 * write(), so lines from the service thread and the decoder threads never
 * interleave. srv_log_init() once at startup (before threads start);
 * everything else from any thread.
 *
 * A line a peer can cause over and over goes through a rate limit: at
 * most `burst` lines at once and `per_min` a minute after that; the ones
 * held back are counted, and the next line that goes out carries
 * " suppressed=<n>" (srv_ratelimit_flush() says it when no line follows).
 */
#ifndef SRV_LOG_H
#define SRV_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Where lines go: STDERR_FILENO (the default) or STDOUT_FILENO. */
void srv_log_init(int fd);

void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct srv_ratelimit {
	unsigned burst, per_min;
	pthread_mutex_t lock;		/* guards the rest */
	double tokens;
	int64_t last_us;
	unsigned long suppressed;
	bool started;
};

#define SRV_RATELIMIT_INIT(b, pm) { .burst = (b), .per_min = (pm), .lock = PTHREAD_MUTEX_INITIALIZER }

/* Logs the line if the limit allows it, else counts it. */
void srv_log_limited(struct srv_ratelimit *rl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* If lines were held back and the limit allows one now: logs
 * "<what> suppressed=<n>". For a periodic tick. */
void srv_ratelimit_flush(struct srv_ratelimit *rl, const char *what);

#endif
