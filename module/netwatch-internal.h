/* netwatch's insides, shared by its three files: netwatch.c (facts,
 * debounce, the public API), netwatch-rtnl.c (the rtnetlink socket and its
 * messages), netwatch-logind.c (logind's PrepareForSleep and the sleep
 * lock). Not for anyone else: netwatch.h is the interface. */
#ifndef TRANSCRIBE_NETWATCH_INTERNAL_H
#define TRANSCRIBE_NETWATCH_INTERNAL_H

#include "netwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <spa/utils/defs.h>
#include <systemd/sd-bus.h>

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP		0x10000
#endif

/* Link flags whose change is a network change. */
#define NETWATCH_LINK_FLAGS	(IFF_UP | IFF_RUNNING | IFF_LOWER_UP)
/* rtnetlink groups watched. */
#define NETWATCH_GROUPS		(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | \
				 RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE)
/* Socket receive buffer asked for (the kernel caps it at rmem_max). */
#define NETWATCH_RCVBUF		(1024 * 1024)
/* One datagram; the kernel's dumps fill at most a page or 32 KiB. */
#define NETWATCH_RXBUF		(32 * 1024)
/* Datagrams read per netwatch_process(); the fd stays readable after. */
#define NETWATCH_MAX_READS	64
/* A burst is reported at the latest this many debounces after it began. */
#define NETWATCH_BURST_MAX_DEBOUNCES	10
/* Retry delay while sd-bus has output queued. */
#define NETWATCH_WRITE_RETRY_MS	10

#define LOGIND_NAME		"org.freedesktop.login1"
#define LOGIND_PATH		"/org/freedesktop/login1"
#define LOGIND_MANAGER		"org.freedesktop.login1.Manager"
#define INHIBIT_WHO		"PipeWire transcribe"
#define INHIBIT_WHY		"Finalizing transcripts before sleep"

enum nw_kind { NW_LINK = 1, NW_ADDR, NW_ROUTE };
enum nw_dump { DUMP_NONE, DUMP_LINKS, DUMP_ADDRS };

/* Zeroed before filling: compared with memcmp. */
struct nw_key {
	uint8_t kind;		/* enum nw_kind */
	uint8_t family;
	uint8_t plen;		/* address prefix length */
	uint8_t type;		/* route type */
	uint32_t ifindex;	/* the link, the address's link, the route's oif */
	uint32_t table;
	uint32_t priority;
	uint32_t nh_id;
	uint8_t addr[16];	/* address, or route gateway */
};

struct nw_fact {
	struct nw_key key;
	uint32_t value;		/* compared; an absent fact is 0 */
	uint32_t gen;		/* dump generation that last saw it */
	bool loopback;		/* links only */
};

/* Owned by one thread (the worker), see netwatch.h. */
struct netwatch {
	uint32_t debounce_ms;
	uint64_t last_now;
	bool pending;			/* a change waits for its report */
	uint64_t burst_start;
	uint64_t due;
	uint64_t quiet_until;		/* changes before this wait for the debounce */

	struct nw_fact *facts;
	uint32_t n_facts;
	uint32_t max_facts;
	uint32_t gen;

	int nl_fd;			/* -1 when detached */
	uint32_t portid;		/* ours; dump replies carry it */
	enum nw_dump dump;
	uint32_t dump_seq;
	bool resync;			/* dump again once the current one ends */
	bool nl_error_logged;
	uint8_t *rxbuf;

	sd_bus *bus;			/* NULL: no sleep events */
	sd_bus_slot *match_slot;
	sd_bus_slot *inhibit_slot;	/* Inhibit call in flight */
	int lock_fd;			/* delay inhibitor, -1 when not held */
	bool lock_failure_logged;
	bool suspended;			/* between PrepareForSleep true and false */
	int sleep_event;		/* set by the signal handler */
	bool bus_more;			/* stopped after a sleep event */

	netwatch_log_fn log;
	void *log_data;
};

void nw_log(struct netwatch *nw, enum netwatch_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* netwatch.c: the facts and the debounce */
const char *nw_kind_name(uint8_t kind);
void nw_mark_change(struct netwatch *nw, uint64_t now, const char *what, uint32_t ifindex);
void nw_key_init(struct nw_key *key, enum nw_kind kind, uint8_t family);
void nw_fact_update(struct netwatch *nw, const struct nw_key *key, bool del,
		uint32_t value, bool loopback, bool seed, uint64_t now);
bool nw_link_is_loopback(struct netwatch *nw, uint32_t ifindex);
void nw_forget_routes(struct netwatch *nw, uint32_t ifindex);
void nw_sweep(struct netwatch *nw, enum nw_kind kind);

/* netwatch-rtnl.c */
void nw_start_dump(struct netwatch *nw, enum nw_dump what);
int nw_netlink_open(struct netwatch *nw, char *err, size_t err_size);
void nw_netlink_read(struct netwatch *nw, uint64_t now);
void nw_parse(struct netwatch *nw, void *buf, size_t size, uint64_t now);
void nw_overrun(struct netwatch *nw, uint64_t now);

/* netwatch-logind.c */
void nw_bus_close(struct netwatch *nw);
void nw_bus_open(struct netwatch *nw);
int nw_bus_run(struct netwatch *nw);

#endif
