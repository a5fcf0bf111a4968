/* Network and power awareness for the worker's service loop (netwatch.h).
 *
 * Decisions:
 * - What counts as a network change: a link's IFF_UP/IFF_RUNNING/
 *   IFF_LOWER_UP actually changing, an address appearing, disappearing or
 *   becoming usable (DAD done), a default route (dst_len 0, main table)
 *   appearing or disappearing, and a receive overrun (ENOBUFS, truncation).
 *   Each is a "fact" in one small table; a message that leaves the fact's
 *   value as it was (periodic NEWLINKs, IPv6 lifetime refreshes on every
 *   router advertisement) is no change. Deleting an unknown address or
 *   route is one (it existed before we started). Loopback links and
 *   host-scope addresses are ignored.
 * - Links and addresses are seeded at start by two dumps (the replies are
 *   told apart from notifications by our port id and sequence number), so
 *   the first refresh of an existing fact is not a change. Routes are not
 *   dumped (a full table can be large); instead a link going down or away
 *   forgets the default routes through it, because IPv4 flushes them
 *   without telling anyone and the next DHCP lease must count again.
 *   After an overrun both dumps run again and sweep what they no longer list.
 * - Debounce: the first change after a quiet spell is reported at once (a
 *   link up means connect now); changes that follow within debounce_ms of
 *   a report are reported once more debounce_ms after the last of them,
 *   but never later than NETWATCH_BURST_MAX_DEBOUNCES debounces after the
 *   first, so a flapping link can not hold the report back forever. The
 *   debounce only swallows flaps, it never delays the first change.
 * - logind: the system bus is opened at creation (connect() to a local
 *   unix socket; sd-bus authenticates asynchronously). The PrepareForSleep
 *   match and the Inhibit("sleep", ..., "delay") call are asynchronous, as is
 *   everything after. A failed Inhibit is logged once (debug when logind
 *   is simply not there) and sleep events still arrive. A lost bus closes
 *   the bus and the lock and reports NETWATCH_FDS_CHANGED; there is no
 *   reconnect (a restarted system bus restarts the session too). An
 *   inhibitor granted while a sleep is under way is released at once (it
 *   would only hold that sleep back) and taken again after the resume.
 * - sd-bus may have output queued (normally written at once on the local
 *   socket); rather than asking the owner to poll for POLLOUT, netwatch is
 *   then due again after NETWATCH_WRITE_RETRY_MS.
 */
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

static void nw_log(struct netwatch *nw, enum netwatch_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void nw_log(struct netwatch *nw, enum netwatch_log_level level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (nw->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	nw->log(nw->log_data, level, msg);
}

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case NW_LINK: return "link";
	case NW_ADDR: return "address";
	case NW_ROUTE: return "default-route";
	default: return "unknown";
	}
}

/* ---- debounce ---- */

static void mark_change(struct netwatch *nw, uint64_t now, const char *what, uint32_t ifindex)
{
	uint64_t cap;

	if (!nw->pending && now >= nw->quiet_until) {
		/* The first change after a quiet spell is reported at once: a
		 * link coming up means connect now, not in a debounce. */
		nw->pending = true;
		nw->burst_start = now;
		nw->due = now;
	} else if (nw->due > nw->burst_start || !nw->pending) {
		/* More of a burst already reported: once more when it settles. */
		if (!nw->pending) {
			nw->pending = true;
			nw->burst_start = now;
		}
		cap = nw->burst_start + (uint64_t)nw->debounce_ms * NETWATCH_BURST_MAX_DEBOUNCES;
		nw->due = SPA_MIN(now + nw->debounce_ms, cap);
	}
	nw_log(nw, NETWATCH_LOG_DEBUG, "netwatch: change=%s ifindex=%u due_ms=%" PRIu64,
			what, ifindex, nw->due);
}

/* ---- facts ---- */

static void key_init(struct nw_key *key, enum nw_kind kind, uint8_t family)
{
	spa_zero(*key);
	key->kind = kind;
	key->family = family;
}

static struct nw_fact *fact_find(struct netwatch *nw, const struct nw_key *key)
{
	for (uint32_t i = 0; i < nw->n_facts; i++)
		if (memcmp(&nw->facts[i].key, key, sizeof(*key)) == 0)
			return &nw->facts[i];
	return NULL;
}

static void fact_remove(struct netwatch *nw, struct nw_fact *f)
{
	*f = nw->facts[--nw->n_facts];
}

static struct nw_fact *fact_add(struct netwatch *nw, const struct nw_key *key)
{
	struct nw_fact *f;

	if (nw->n_facts == nw->max_facts) {
		uint32_t max = nw->max_facts ? nw->max_facts * 2 : 32;
		if ((f = reallocarray(nw->facts, max, sizeof(*f))) == NULL)
			return NULL;
		nw->facts = f;
		nw->max_facts = max;
	}
	f = &nw->facts[nw->n_facts++];
	spa_zero(*f);
	f->key = *key;
	return f;
}

/* NEW (del false) sets the fact to value, DEL removes it. A change when the
 * value differs; an unknown fact counts as 0 for NEW and as the message's
 * value for DEL. Seeds (dump replies) and loopback links never count. */
static void fact_update(struct netwatch *nw, const struct nw_key *key, bool del,
		uint32_t value, bool loopback, bool seed, uint64_t now)
{
	struct nw_fact *f = fact_find(nw, key);
	uint32_t old = f != NULL ? f->value : (del ? value : 0);
	uint32_t new = del ? 0 : value;

	if (del) {
		if (f != NULL)
			fact_remove(nw, f);
	} else {
		if (f == NULL && (f = fact_add(nw, key)) == NULL) {
			/* Out of memory: we can not tell, so say it changed. */
			mark_change(nw, now, "unknown", key->ifindex);
			return;
		}
		f->value = value;
		f->gen = nw->gen;
		f->loopback = loopback;
	}
	if (old != new && !seed && !loopback)
		mark_change(nw, now, kind_name(key->kind), key->ifindex);
}

static bool link_is_loopback(struct netwatch *nw, uint32_t ifindex)
{
	struct nw_key key;
	struct nw_fact *f;

	key_init(&key, NW_LINK, AF_UNSPEC);
	key.ifindex = ifindex;
	f = fact_find(nw, &key);
	return f != NULL && f->loopback;
}

/* Silent: drops routes through a link that went down or away. */
static void forget_routes(struct netwatch *nw, uint32_t ifindex)
{
	for (uint32_t i = nw->n_facts; i-- > 0;)
		if (nw->facts[i].key.kind == NW_ROUTE && nw->facts[i].key.ifindex == ifindex)
			fact_remove(nw, &nw->facts[i]);
}

/* Silent: drops facts of a kind that the dump just finished did not list. */
static void sweep(struct netwatch *nw, enum nw_kind kind)
{
	for (uint32_t i = nw->n_facts; i-- > 0;)
		if (nw->facts[i].key.kind == kind && nw->facts[i].gen != nw->gen)
			fact_remove(nw, &nw->facts[i]);
}

/* ---- rtnetlink messages ---- */

static void on_link(struct netwatch *nw, struct nlmsghdr *nh, bool seed, uint64_t now)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	bool del = nh->nlmsg_type == RTM_DELLINK;
	struct nw_key key;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	key_init(&key, NW_LINK, AF_UNSPEC);
	key.ifindex = (uint32_t)ifi->ifi_index;
	fact_update(nw, &key, del, ifi->ifi_flags & NETWATCH_LINK_FLAGS,
			(ifi->ifi_flags & IFF_LOOPBACK) != 0, seed, now);
	if (del || !(ifi->ifi_flags & IFF_UP))
		forget_routes(nw, key.ifindex);
}

static void copy_addr(uint8_t dst[16], struct rtattr *rta)
{
	if (rta != NULL)
		memcpy(dst, RTA_DATA(rta), SPA_MIN((size_t)RTA_PAYLOAD(rta), (size_t)16));
}

static void on_addr(struct netwatch *nw, struct nlmsghdr *nh, bool seed, uint64_t now)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	struct rtattr *rta, *local = NULL, *address = NULL;
	uint32_t flags, value;
	struct nw_key key;
	int len;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return;
	flags = ifa->ifa_flags;
	len = (int)IFA_PAYLOAD(nh);
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_LOCAL)
			local = rta;
		else if (rta->rta_type == IFA_ADDRESS)
			address = rta;
		else if (rta->rta_type == IFA_FLAGS && RTA_PAYLOAD(rta) >= sizeof(flags))
			memcpy(&flags, RTA_DATA(rta), sizeof(flags));
	}
	if (ifa->ifa_scope == RT_SCOPE_HOST || link_is_loopback(nw, ifa->ifa_index))
		return;
	key_init(&key, NW_ADDR, ifa->ifa_family);
	key.plen = ifa->ifa_prefixlen;
	key.ifindex = ifa->ifa_index;
	copy_addr(key.addr, local != NULL ? local : address);
	/* Present, and usable once duplicate address detection is done. */
	value = 1 | ((flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) ? 0 : 2);
	fact_update(nw, &key, nh->nlmsg_type == RTM_DELADDR, value, false, seed, now);
}

static uint32_t rta_u32(struct rtattr *rta)
{
	uint32_t v = 0;

	if (RTA_PAYLOAD(rta) >= sizeof(v))
		memcpy(&v, RTA_DATA(rta), sizeof(v));
	return v;
}

static void on_route(struct netwatch *nw, struct nlmsghdr *nh, bool seed, uint64_t now)
{
	struct rtmsg *rtm = NLMSG_DATA(nh);
	struct rtattr *rta, *gateway = NULL;
	struct nw_key key;
	int len;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) || rtm->rtm_dst_len != 0 ||
	    (rtm->rtm_flags & RTM_F_CLONED) ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return;
	key_init(&key, NW_ROUTE, rtm->rtm_family);
	key.type = rtm->rtm_type;
	key.table = rtm->rtm_table;
	len = (int)RTM_PAYLOAD(nh);
	for (rta = RTM_RTA(rtm); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		switch (rta->rta_type) {
		case RTA_TABLE: key.table = rta_u32(rta); break;
		case RTA_OIF: key.ifindex = rta_u32(rta); break;
		case RTA_PRIORITY: key.priority = rta_u32(rta); break;
		case RTA_NH_ID: key.nh_id = rta_u32(rta); break;
		case RTA_GATEWAY: gateway = rta; break;
		case RTA_VIA: if (gateway == NULL) gateway = rta; break;
		default: break;
		}
	}
	if (key.table != RT_TABLE_MAIN)
		return;
	copy_addr(key.addr, gateway);
	fact_update(nw, &key, nh->nlmsg_type == RTM_DELROUTE, 1, false, seed, now);
}

static void start_dump(struct netwatch *nw, enum nw_dump what);

static void overrun(struct netwatch *nw, uint64_t now)
{
	mark_change(nw, now, "overrun", 0);
	if (nw->nl_fd < 0)
		return;
	if (nw->dump == DUMP_NONE)
		start_dump(nw, DUMP_LINKS);
	else
		nw->resync = true;
}

static void dump_done(struct netwatch *nw)
{
	if (nw->dump == DUMP_LINKS) {
		sweep(nw, NW_LINK);
		start_dump(nw, DUMP_ADDRS);
		return;
	}
	sweep(nw, NW_ADDR);
	nw->dump = DUMP_NONE;
	if (nw->resync) {
		nw->resync = false;
		start_dump(nw, DUMP_LINKS);
	}
}

static void parse(struct netwatch *nw, void *buf, size_t size, uint64_t now)
{
	int len = (int)SPA_MIN(size, (size_t)INT32_MAX);

	for (struct nlmsghdr *nh = buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
		bool seed = nw->dump != DUMP_NONE && nw->portid != 0 &&
			nh->nlmsg_pid == nw->portid && nh->nlmsg_seq == nw->dump_seq;

		if (seed && (nh->nlmsg_flags & NLM_F_DUMP_INTR))
			nw->resync = true;
		switch (nh->nlmsg_type) {
		case NLMSG_DONE:
		case NLMSG_ERROR:
			if (seed)
				dump_done(nw);
			break;
		case NLMSG_OVERRUN:
			overrun(nw, now);
			break;
		case RTM_NEWLINK:
		case RTM_DELLINK:
			on_link(nw, nh, seed, now);
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
			on_addr(nw, nh, seed, now);
			break;
		case RTM_NEWROUTE:
		case RTM_DELROUTE:
			on_route(nw, nh, seed, now);
			break;
		default:
			break;
		}
	}
}

/* ---- rtnetlink socket ---- */

static void start_dump(struct netwatch *nw, enum nw_dump what)
{
	struct {
		struct nlmsghdr nh;
		union {
			struct ifinfomsg ifi;
			struct ifaddrmsg ifa;
		} u;
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	spa_zero(req);
	req.nh.nlmsg_len = what == DUMP_LINKS ? NLMSG_LENGTH(sizeof(req.u.ifi)) :
		NLMSG_LENGTH(sizeof(req.u.ifa));
	req.nh.nlmsg_type = what == DUMP_LINKS ? RTM_GETLINK : RTM_GETADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = ++nw->dump_seq;
	nw->gen++;
	nw->dump = what;
	if (sendto(nw->nl_fd, &req, req.nh.nlmsg_len, MSG_DONTWAIT,
			(struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		/* Only costs a spurious change on the first refresh. */
		nw_log(nw, NETWATCH_LOG_DEBUG, "netwatch: rtnetlink dump request failed: %s",
				strerror(errno));
		nw->dump = DUMP_NONE;
	}
}

static int netlink_open(struct netwatch *nw, char *err, size_t err_size)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = NETWATCH_GROUPS };
	socklen_t sa_len = sizeof(sa);
	int rcvbuf = NETWATCH_RCVBUF;
	int res;

	nw->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nw->nl_fd < 0) {
		res = -errno;
		snprintf(err, err_size, "netwatch: cannot open an rtnetlink socket: %s; "
				"network changes would go unnoticed", strerror(-res));
		return res;
	}
	/* Best effort: a larger buffer makes overruns rarer. */
	(void)setsockopt(nw->nl_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(nw->nl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(nw->nl_fd, (struct sockaddr *)&sa, &sa_len) < 0) {
		res = -errno;
		snprintf(err, err_size, "netwatch: cannot subscribe to rtnetlink link, address "
				"and route groups: %s", strerror(-res));
		return res;
	}
	nw->portid = sa.nl_pid;
	if ((nw->rxbuf = malloc(NETWATCH_RXBUF)) == NULL) {
		snprintf(err, err_size, "netwatch: out of memory");
		return -ENOMEM;
	}
	start_dump(nw, DUMP_LINKS);
	return 0;
}

static void netlink_read(struct netwatch *nw, uint64_t now)
{
	for (int i = 0; i < NETWATCH_MAX_READS; i++) {
		struct sockaddr_nl sa;
		struct iovec iov = { .iov_base = nw->rxbuf, .iov_len = NETWATCH_RXBUF };
		struct msghdr msg = {
			.msg_name = &sa, .msg_namelen = sizeof(sa),
			.msg_iov = &iov, .msg_iovlen = 1,
		};
		ssize_t n = recvmsg(nw->nl_fd, &msg, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				overrun(nw, now);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && !nw->nl_error_logged) {
				nw->nl_error_logged = true;
				nw_log(nw, NETWATCH_LOG_WARN, "netwatch: rtnetlink read failed: %s",
						strerror(errno));
			}
			return;
		}
		if (msg.msg_flags & MSG_TRUNC) {
			overrun(nw, now);
			continue;
		}
		if (sa.nl_pid != 0)
			continue;	/* not from the kernel */
		parse(nw, nw->rxbuf, (size_t)n, now);
	}
}

/* ---- logind ---- */

static int on_inhibit_reply(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	struct netwatch *nw = data;
	const sd_bus_error *e;
	int fd;

	nw->inhibit_slot = sd_bus_slot_unref(nw->inhibit_slot);
	if ((e = sd_bus_message_get_error(m)) != NULL) {
		bool absent = sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN,
				SD_BUS_ERROR_NAME_HAS_NO_OWNER);
		nw_log(nw, absent || nw->lock_failure_logged ? NETWATCH_LOG_DEBUG : NETWATCH_LOG_INFO,
				"netwatch: no sleep inhibitor error=%s message=\"%s\": suspend "
				"will not wait for sessions to close cleanly",
				e->name, e->message ? e->message : "");
		nw->lock_failure_logged = true;
		return 0;
	}
	if (sd_bus_message_read(m, "h", &fd) < 0 ||
	    (nw->lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		nw_log(nw, NETWATCH_LOG_INFO, "netwatch: unusable sleep inhibitor reply");
		return 0;
	}
	nw_log(nw, NETWATCH_LOG_DEBUG, "netwatch: sleep inhibitor taken mode=delay");
	/* Too late for a sleep under way, and it would only hold it back. */
	if (nw->suspended)
		netwatch_release_sleep_lock(nw);
	return 0;
}

static void take_lock(struct netwatch *nw)
{
	int r;

	if (nw->bus == NULL || nw->lock_fd >= 0 || nw->inhibit_slot != NULL)
		return;
	r = sd_bus_call_method_async(nw->bus, &nw->inhibit_slot, LOGIND_NAME, LOGIND_PATH,
			LOGIND_MANAGER, "Inhibit", on_inhibit_reply, nw, "ssss",
			"sleep", INHIBIT_WHO, INHIBIT_WHY, "delay");
	if (r < 0)
		nw_log(nw, NETWATCH_LOG_DEBUG, "netwatch: cannot ask for a sleep inhibitor: %s",
				strerror(-r));
}

static int on_prepare_for_sleep(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	struct netwatch *nw = data;
	int start;

	if (sd_bus_message_read(m, "b", &start) < 0)
		return 0;
	nw->sleep_event = start ? NETWATCH_SUSPENDING : NETWATCH_RESUMED;
	nw->suspended = start;
	nw_log(nw, NETWATCH_LOG_DEBUG, "netwatch: PrepareForSleep start=%d lock=%s",
			start, nw->lock_fd >= 0 ? "held" : "none");
	if (!start)
		take_lock(nw);
	return 0;
}

static int on_match_installed(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	struct netwatch *nw = data;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	if (e != NULL)
		nw_log(nw, NETWATCH_LOG_WARN, "netwatch: cannot watch logind's PrepareForSleep "
				"error=%s: suspend and resume go unnoticed", e->name);
	return 0;
}

static void bus_close(struct netwatch *nw)
{
	nw->match_slot = sd_bus_slot_unref(nw->match_slot);
	nw->inhibit_slot = sd_bus_slot_unref(nw->inhibit_slot);
	nw->bus = sd_bus_close_unref(nw->bus);
	nw->bus_more = false;
	netwatch_release_sleep_lock(nw);
}

static void bus_open(struct netwatch *nw)
{
	sd_bus *bus = NULL;

	/* No system bus (containers, minimal systems) is normal: no log. */
	if (sd_bus_open_system(&bus) < 0)
		return;
	nw->bus = bus;
	if (sd_bus_match_signal_async(bus, &nw->match_slot, LOGIND_NAME, LOGIND_PATH,
			LOGIND_MANAGER, "PrepareForSleep", on_prepare_for_sleep,
			on_match_installed, nw) < 0) {
		bus_close(nw);
		return;
	}
	take_lock(nw);
}

/* Dispatches bus messages; stops after a sleep event so that one call
 * reports at most one of SUSPENDING/RESUMED, in order. */
static int bus_run(struct netwatch *nw)
{
	int r;

	nw->bus_more = false;
	nw->sleep_event = NETWATCH_NONE;
	for (;;) {
		r = sd_bus_process(nw->bus, NULL);
		if (r < 0) {
			nw_log(nw, NETWATCH_LOG_INFO, "netwatch: system bus connection lost: %s; "
					"suspend and resume go unnoticed from now on", strerror(-r));
			bus_close(nw);
			return nw->sleep_event | NETWATCH_FDS_CHANGED;
		}
		if (nw->sleep_event != NETWATCH_NONE) {
			nw->bus_more = true;
			return nw->sleep_event;
		}
		if (r == 0)
			return NETWATCH_NONE;
	}
}

/* ---- public ---- */

static struct netwatch *alloc_netwatch(uint32_t debounce_ms)
{
	struct netwatch *nw = calloc(1, sizeof(*nw));

	if (nw == NULL)
		return NULL;
	nw->debounce_ms = debounce_ms;
	nw->nl_fd = -1;
	nw->lock_fd = -1;
	return nw;
}

struct netwatch *netwatch_new(bool with_logind, uint32_t debounce_ms, char *err, size_t err_size)
{
	struct netwatch *nw = alloc_netwatch(debounce_ms);

	if (nw == NULL) {
		snprintf(err, err_size, "netwatch: out of memory");
		return NULL;
	}
	if (netlink_open(nw, err, err_size) < 0) {
		netwatch_free(nw);
		return NULL;
	}
	if (with_logind)
		bus_open(nw);
	return nw;
}

struct netwatch *netwatch_new_detached(uint32_t debounce_ms)
{
	return alloc_netwatch(debounce_ms);
}

void netwatch_set_log(struct netwatch *nw, netwatch_log_fn fn, void *data)
{
	nw->log = fn;
	nw->log_data = data;
}

int netwatch_fds(struct netwatch *nw, int fds[2])
{
	int n = 0;

	if (nw->nl_fd >= 0)
		fds[n++] = nw->nl_fd;
	if (nw->bus != NULL && sd_bus_get_fd(nw->bus) >= 0)
		fds[n++] = sd_bus_get_fd(nw->bus);
	return n;
}

int netwatch_process(struct netwatch *nw, uint64_t now_ms)
{
	int events = NETWATCH_NONE;

	nw->last_now = now_ms;
	if (nw->nl_fd >= 0)
		netlink_read(nw, now_ms);
	if (nw->bus != NULL)
		events |= bus_run(nw);
	if (nw->pending && now_ms >= nw->due) {
		nw->pending = false;
		nw->quiet_until = now_ms + nw->debounce_ms;
		events |= NETWATCH_NETWORK_CHANGED;
	}
	return events;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a == 0 ? b : SPA_MIN(a, b);
}

uint64_t netwatch_next_due_ms(struct netwatch *nw)
{
	uint64_t due = nw->pending ? nw->due : 0;
	uint64_t now = SPA_MAX(nw->last_now, (uint64_t)1);
	uint64_t usec;

	if (nw->bus == NULL)
		return due;
	if (nw->bus_more)
		due = earliest(due, now);
	if (sd_bus_get_timeout(nw->bus, &usec) > 0 && usec != UINT64_MAX)
		due = earliest(due, SPA_MAX((usec + 999) / 1000, (uint64_t)1));
	if (sd_bus_get_events(nw->bus) & POLLOUT)
		due = earliest(due, now + NETWATCH_WRITE_RETRY_MS);
	return due;
}

int netwatch_release_sleep_lock(struct netwatch *nw)
{
	if (nw->lock_fd < 0)
		return -ENOENT;
	close(nw->lock_fd);
	nw->lock_fd = -1;
	nw_log(nw, NETWATCH_LOG_DEBUG, "netwatch: sleep inhibitor released");
	return 0;
}

bool netwatch_holds_sleep_lock(const struct netwatch *nw)
{
	return nw->lock_fd >= 0;
}

void netwatch_free(struct netwatch *nw)
{
	if (nw == NULL)
		return;
	bus_close(nw);
	if (nw->nl_fd >= 0)
		close(nw->nl_fd);
	free(nw->rxbuf);
	free(nw->facts);
	free(nw);
}

void netwatch_feed_netlink(struct netwatch *nw, const void *buf, size_t len, uint64_t now_ms)
{
	/* parse() does not write to the buffer; the kernel macros want it mutable. */
	parse(nw, (void *)buf, len, now_ms);
}

void netwatch_feed_overrun(struct netwatch *nw, uint64_t now_ms)
{
	overrun(nw, now_ms);
}
