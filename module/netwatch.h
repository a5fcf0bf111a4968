/* Network and power awareness: rtnetlink (link, address and default-route
 * changes, debounced) and logind's PrepareForSleep with a delay inhibitor.
 *
 * No threads, no timers, never blocks: the owner polls netwatch_fds() for
 * input, calls netwatch_process() when one is readable and again at
 * netwatch_next_due_ms(). Times are CLOCK_MONOTONIC milliseconds (sd-bus
 * timeouts are on that clock; tests of the core may use any origin).
 *
 * Created on any thread, then owned by one thread (the worker): nothing
 * here is thread-safe. Nothing logs unless netwatch_set_log() is called;
 * there is nothing to log when the system bus or logind is absent.
 */
#ifndef TRANSCRIBE_NETWATCH_H
#define TRANSCRIBE_NETWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The first change is reported at once; more within this long after a
 * report are reported once more this long after the last of them. */
#define NETWATCH_DEBOUNCE_MS_DEFAULT	300

struct netwatch;

/* Bits returned by netwatch_process(). */
enum netwatch_event {
	NETWATCH_NONE = 0,
	NETWATCH_NETWORK_CHANGED = 1 << 0,	/* at once, then debounced */
	NETWATCH_SUSPENDING = 1 << 1,		/* PrepareForSleep(true) */
	NETWATCH_RESUMED = 1 << 2,		/* PrepareForSleep(false) */
	/* The system bus connection was lost and closed: stop watching the fd
	 * that netwatch_fds() no longer lists. No more sleep events. */
	NETWATCH_FDS_CHANGED = 1 << 3,
};

enum netwatch_log_level {
	NETWATCH_LOG_WARN,
	NETWATCH_LOG_INFO,
	NETWATCH_LOG_DEBUG,
};

/* One line, key=value fields, no trailing newline. */
typedef void (*netwatch_log_fn)(void *data, enum netwatch_log_level level, const char *msg);

/* Opens the rtnetlink socket and, when with_logind, the system bus (no bus:
 * fine, just no sleep events). Nothing waits: the bus connect() is to a
 * local unix socket, authentication, the signal match and the inhibitor
 * request complete later in netwatch_process(). A change is reported in the
 * netwatch_process() call that reads it, unless it follows a report within
 * debounce_ms (see netwatch.c). NULL with err filled when the
 * netlink socket can not be opened. */
struct netwatch *netwatch_new(bool with_logind, uint32_t debounce_ms, char *err, size_t err_size);
/* Optional; set it before the first netwatch_process(). */
void netwatch_set_log(struct netwatch *nw, netwatch_log_fn fn, void *data);
/* The fds to poll for input: returns how many (1, or 2 with the bus; 0 for
 * a detached netwatch). They stay owned and closed by netwatch: an event
 * loop that closes what it adopts (lws raw-file adoption does) must be
 * given a dup(). Re-read after NETWATCH_FDS_CHANGED. */
int netwatch_fds(struct netwatch *nw, int fds[2]);
/* Reads all pending input without blocking; returns the enum netwatch_event
 * bits due at now_ms. At most one of SUSPENDING/RESUMED per call (the next
 * one is then due at once). */
int netwatch_process(struct netwatch *nw, uint64_t now_ms);
/* When netwatch_process() must run again even if no fd becomes readable
 * (absolute, same clock as now_ms; may be <= now: call it at once); 0 when
 * nothing is pending. */
uint64_t netwatch_next_due_ms(struct netwatch *nw);
/* Lets the system sleep: closes the delay inhibitor (taken at creation and
 * again after each resume). Call once the sessions closed cleanly after
 * NETWATCH_SUSPENDING. 0, or -ENOENT when no lock is held. */
int netwatch_release_sleep_lock(struct netwatch *nw);
bool netwatch_holds_sleep_lock(const struct netwatch *nw);
/* Closes everything (releases the inhibitor). NULL is fine. */
void netwatch_free(struct netwatch *nw);

/* For tests: a netwatch without sockets, fed by hand with what the kernel
 * would have sent (a buffer of nlmsghdr-framed messages, as from one
 * recvmsg()) or with a receive overrun (ENOBUFS). */
struct netwatch *netwatch_new_detached(uint32_t debounce_ms);
void netwatch_feed_netlink(struct netwatch *nw, const void *buf, size_t len, uint64_t now_ms);
void netwatch_feed_overrun(struct netwatch *nw, uint64_t now_ms);

#endif
