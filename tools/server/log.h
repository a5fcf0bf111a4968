/* log: the server's event log on stderr, one line per event with
 * key=value fields ("conn=3 config rate=16000 ..."). Each line goes out in
 * a single write(), so lines from the service thread and the decoder
 * threads never interleave. Callable from any thread. */
#ifndef SERVER_LOG_H
#define SERVER_LOG_H

void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
