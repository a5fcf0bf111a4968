/* srv-log: the servers' event log, one line per event with key=value
 * fields ("conn=3 config rate=16000 ..."). Each line goes out in a single
 * write(), so lines from the service thread and the decoder threads never
 * interleave. srv_log_init() once at startup (before threads start);
 * srv_log() from any thread. */
#ifndef SRV_LOG_H
#define SRV_LOG_H

/* Where lines go: STDERR_FILENO (the default) or STDOUT_FILENO. */
void srv_log_init(int fd);

void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
