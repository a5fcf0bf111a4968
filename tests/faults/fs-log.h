/* fs-log: the fault server's event log: one line per event on stdout,
 * "key=value" fields, flushed at once so tests can wait on lines. */
#ifndef FS_LOG_H
#define FS_LOG_H

void fs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
