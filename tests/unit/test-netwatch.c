/* Unit tests for network and power awareness (module/netwatch.c).
 *
 * Three parts:
 * - the change rules and the debounce, fed with netlink messages built here
 *   and a virtual clock (a detached netwatch, no sockets);
 * - the real kernel: each test runs in a private network namespace made
 *   with unshare(CLONE_NEWNET) (restored in teardown), where `ip` adds a veth
 *   pair, addresses and routes; it never touches the host's networks.
 *   Skipped when unshare is not permitted or veth is missing;
 * - logind: a private dbus-daemon stands in for the system bus
 *   (DBUS_SYSTEM_BUS_ADDRESS) with a fake org.freedesktop.login1 that hands
 *   out inhibitor fds and emits PrepareForSleep. Skipped without dbus-daemon.
 *
 * Nothing sleeps to synchronise: waits poll the netwatch fds up to a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "netwatch.h"

#define DEBOUNCE	300
/* Debounce for the kernel and bus tests: short, they wait for real. */
#define LIVE_DEBOUNCE	50
/* Upper bound for anything that must happen "at once". */
#define DEADLINE_MS	3000

#define MIN(a, b)	((a) < (b) ? (a) : (b))

extern char **environ;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- captured log lines ---- */

static struct {
	unsigned n;
	unsigned n_info_or_warn;
	unsigned n_denials;
	char last[256];
	char all[4096];
} logs;

static void capture_log(void *data, enum netwatch_log_level level, const char *msg)
{
	logs.n++;
	if (strstr(msg, "no sleep inhibitor") != NULL)
		logs.n_denials++;
	if (level != NETWATCH_LOG_DEBUG)
		logs.n_info_or_warn++;
	snprintf(logs.last, sizeof(logs.last), "%s", msg);
	strncat(logs.all, msg, sizeof(logs.all) - strlen(logs.all) - 2);
	strcat(logs.all, "\n");
}

/* ---- netlink message builder ---- */

struct nlbuf {
	union {
		struct nlmsghdr align;
		uint8_t data[8192];
	} u;
	size_t len;
	struct nlmsghdr *last;
};

static void nl_reset(struct nlbuf *b)
{
	memset(b, 0, sizeof(*b));
}

static void nl_msg(struct nlbuf *b, uint16_t type, const void *body, size_t body_len)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)(b->u.data + b->len);

	assert_true(b->len + NLMSG_SPACE(body_len) <= sizeof(b->u.data));
	nh->nlmsg_len = NLMSG_LENGTH(body_len);
	nh->nlmsg_type = type;
	if (body_len > 0)
		memcpy(NLMSG_DATA(nh), body, body_len);
	b->len += NLMSG_ALIGN(nh->nlmsg_len);
	b->last = nh;
}

static void nl_attr(struct nlbuf *b, uint16_t type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)(b->u.data + b->len);

	assert_true(b->len + RTA_SPACE(len) <= sizeof(b->u.data));
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	b->last->nlmsg_len = NLMSG_ALIGN(b->last->nlmsg_len) + RTA_SPACE(len);
	b->len += RTA_SPACE(len);
}

static void nl_link(struct nlbuf *b, uint16_t type, int ifindex, unsigned flags)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = flags };

	nl_msg(b, type, &ifi, sizeof(ifi));
}

static void nl_addr(struct nlbuf *b, uint16_t type, int family, int ifindex,
		const char *text, unsigned plen, unsigned scope, uint32_t flags)
{
	struct ifaddrmsg ifa = {
		.ifa_family = family, .ifa_prefixlen = plen, .ifa_scope = scope,
		.ifa_index = ifindex,
	};
	uint8_t addr[16];

	assert_int_equal(inet_pton(family, text, addr), 1);
	nl_msg(b, type, &ifa, sizeof(ifa));
	nl_attr(b, IFA_ADDRESS, addr, family == AF_INET ? 4 : 16);
	if (family == AF_INET)
		nl_attr(b, IFA_LOCAL, addr, 4);
	nl_attr(b, IFA_FLAGS, &flags, sizeof(flags));
}

static void nl_route(struct nlbuf *b, uint16_t type, int family, unsigned dst_len,
		uint32_t table, uint32_t oif, const char *gateway)
{
	struct rtmsg rtm = {
		.rtm_family = family, .rtm_dst_len = dst_len,
		.rtm_table = table < 256 ? table : RT_TABLE_UNSPEC,
		.rtm_protocol = RTPROT_DHCP, .rtm_scope = RT_SCOPE_UNIVERSE,
		.rtm_type = RTN_UNICAST,
	};
	uint8_t gw[16];

	nl_msg(b, type, &rtm, sizeof(rtm));
	nl_attr(b, RTA_TABLE, &table, sizeof(table));
	nl_attr(b, RTA_OIF, &oif, sizeof(oif));
	if (gateway != NULL) {
		assert_int_equal(inet_pton(family, gateway, gw), 1);
		nl_attr(b, RTA_GATEWAY, gw, family == AF_INET ? 4 : 16);
	}
}

/* Feeds one message built by `build` at time t. */
#define FEED(nw, t, build) do {				\
		struct nlbuf b_;				\
		nl_reset(&b_);					\
		build;						\
		netwatch_feed_netlink(nw, b_.u.data, b_.len, t);\
	} while (0)

#define UP_RUNNING	(IFF_UP | IFF_RUNNING | IFF_LOWER_UP)

/* Events the kernel tests' `ip` steps already got from netwatch_process(). */
static int reported;

/* No change pending, and none reported since the last check. */
static void assert_nothing_pending(struct netwatch *nw)
{
	assert_int_equal(netwatch_next_due_ms(nw), 0);
	assert_int_equal(reported & NETWATCH_NETWORK_CHANGED, 0);
	reported = 0;
}

/* Runs the virtual clock to the due time; asserts the report comes there. */
static void assert_change_reported_at(struct netwatch *nw, uint64_t at)
{
	assert_int_equal(netwatch_next_due_ms(nw), at);
	assert_int_equal(netwatch_process(nw, at - 1), NETWATCH_NONE);
	assert_int_equal(netwatch_process(nw, at), NETWATCH_NETWORK_CHANGED);
	assert_nothing_pending(nw);
}

static int detached_setup(void **state)
{
	*state = netwatch_new_detached(DEBOUNCE);
	return *state == NULL ? -1 : 0;
}

static int detached_teardown(void **state)
{
	netwatch_free(*state);
	return 0;
}

/* ---- change rules and debounce (virtual clock) ---- */

static void test_the_first_change_is_reported_at_once_the_rest_of_a_burst_once_after(void **state)
{
	struct netwatch *nw = *state;

	/* Link up: connect now, not a debounce later. */
	FEED(nw, 1000, nl_link(&b_, RTM_NEWLINK, 2, IFF_UP));
	assert_change_reported_at(nw, 1000);
	FEED(nw, 1025, nl_link(&b_, RTM_NEWLINK, 2, UP_RUNNING));
	assert_int_equal(netwatch_process(nw, 1025), NETWATCH_NONE);
	FEED(nw, 1050, nl_addr(&b_, RTM_NEWADDR, AF_INET, 2, "192.168.1.20", 24, RT_SCOPE_UNIVERSE, 0));
	FEED(nw, 1075, nl_addr(&b_, RTM_NEWADDR, AF_INET6, 2, "2001:db8::20", 64, RT_SCOPE_UNIVERSE, 0));
	FEED(nw, 1100, nl_route(&b_, RTM_NEWROUTE, AF_INET, 0, RT_TABLE_MAIN, 2, "192.168.1.1"));
	/* The rest of the burst: once, when it settles. */
	assert_int_equal(netwatch_process(nw, 1300), NETWATCH_NONE);
	assert_change_reported_at(nw, 1100 + DEBOUNCE);
	assert_int_equal(netwatch_process(nw, 5000), NETWATCH_NONE);
}

static void test_messages_in_one_datagram_are_one_burst(void **state)
{
	struct netwatch *nw = *state;
	struct nlbuf b;

	nl_reset(&b);
	nl_link(&b, RTM_NEWLINK, 3, UP_RUNNING);
	nl_addr(&b, RTM_NEWADDR, AF_INET, 3, "10.1.2.3", 8, RT_SCOPE_UNIVERSE, 0);
	nl_route(&b, RTM_NEWROUTE, AF_INET6, 0, RT_TABLE_MAIN, 3, "fe80::1");
	netwatch_feed_netlink(nw, b.u.data, b.len, 500);
	assert_change_reported_at(nw, 500);
}

static void test_identical_newlink_flags_are_not_a_change(void **state)
{
	struct netwatch *nw = *state;

	FEED(nw, 1, nl_link(&b_, RTM_NEWLINK, 2, UP_RUNNING | IFF_BROADCAST));
	assert_change_reported_at(nw, 1);

	/* Periodic NEWLINKs (wireless), and flags outside UP/RUNNING/LOWER_UP. */
	FEED(nw, 1000, nl_link(&b_, RTM_NEWLINK, 2, UP_RUNNING | IFF_BROADCAST));
	FEED(nw, 2000, nl_link(&b_, RTM_NEWLINK, 2, UP_RUNNING | IFF_PROMISC));
	assert_nothing_pending(nw);
	assert_int_equal(netwatch_process(nw, 9000), NETWATCH_NONE);

	FEED(nw, 10000, nl_link(&b_, RTM_NEWLINK, 2, IFF_UP));	/* carrier lost */
	assert_change_reported_at(nw, 10000);
}

static void test_new_link_that_is_down_is_not_a_change(void **state)
{
	struct netwatch *nw = *state;

	FEED(nw, 1, nl_link(&b_, RTM_NEWLINK, 7, IFF_BROADCAST));
	assert_nothing_pending(nw);
	FEED(nw, 10, nl_link(&b_, RTM_DELLINK, 7, IFF_BROADCAST));
	assert_nothing_pending(nw);

	FEED(nw, 20, nl_link(&b_, RTM_NEWLINK, 8, UP_RUNNING));
	assert_change_reported_at(nw, 20);
	FEED(nw, 1000, nl_link(&b_, RTM_DELLINK, 8, UP_RUNNING));
	assert_change_reported_at(nw, 1000);
}

static void test_loopback_changes_are_ignored(void **state)
{
	struct netwatch *nw = *state;

	FEED(nw, 1, nl_link(&b_, RTM_NEWLINK, 1, IFF_LOOPBACK));
	FEED(nw, 10, nl_link(&b_, RTM_NEWLINK, 1, IFF_LOOPBACK | UP_RUNNING));
	FEED(nw, 20, nl_addr(&b_, RTM_NEWADDR, AF_INET, 1, "127.0.0.1", 8, RT_SCOPE_HOST, 0));
	FEED(nw, 30, nl_addr(&b_, RTM_NEWADDR, AF_INET6, 1, "::1", 128, RT_SCOPE_HOST, 0));
	/* A global address on lo is still lo's business. */
	FEED(nw, 40, nl_addr(&b_, RTM_NEWADDR, AF_INET, 1, "10.255.0.1", 32, RT_SCOPE_UNIVERSE, 0));
	FEED(nw, 50, nl_link(&b_, RTM_NEWLINK, 1, IFF_LOOPBACK));
	FEED(nw, 60, nl_link(&b_, RTM_DELLINK, 1, IFF_LOOPBACK));
	assert_nothing_pending(nw);
	assert_int_equal(netwatch_process(nw, 10000), NETWATCH_NONE);
}

static void test_receive_overrun_is_a_change(void **state)
{
	struct netwatch *nw = *state;
	struct nlbuf b;

	netwatch_feed_overrun(nw, 100);
	assert_change_reported_at(nw, 100);

	nl_reset(&b);
	nl_msg(&b, NLMSG_OVERRUN, NULL, 0);
	netwatch_feed_netlink(nw, b.u.data, b.len, 1000);
	assert_change_reported_at(nw, 1000);
}

static void test_only_default_routes_of_the_main_table_count(void **state)
{
	struct netwatch *nw = *state;

	FEED(nw, 1, nl_route(&b_, RTM_NEWROUTE, AF_INET, 24, RT_TABLE_MAIN, 2, NULL));
	FEED(nw, 1, nl_route(&b_, RTM_NEWROUTE, AF_INET, 0, RT_TABLE_LOCAL, 2, NULL));
	FEED(nw, 1, nl_route(&b_, RTM_NEWROUTE, AF_INET, 0, 1000, 2, "10.0.0.1"));	/* VPN table */
	FEED(nw, 1, nl_route(&b_, RTM_DELROUTE, AF_INET6, 64, RT_TABLE_MAIN, 2, NULL));
	assert_nothing_pending(nw);

	FEED(nw, 100, nl_route(&b_, RTM_NEWROUTE, AF_INET, 0, RT_TABLE_MAIN, 2, "10.0.0.1"));
	assert_change_reported_at(nw, 100);
	/* The same route again (a renewed lease): nothing new. */
	FEED(nw, 1000, nl_route(&b_, RTM_NEWROUTE, AF_INET, 0, RT_TABLE_MAIN, 2, "10.0.0.1"));
	assert_nothing_pending(nw);
	FEED(nw, 2000, nl_route(&b_, RTM_DELROUTE, AF_INET, 0, RT_TABLE_MAIN, 2, "10.0.0.1"));
	assert_change_reported_at(nw, 2000);
}

static void test_deleting_a_route_from_before_the_start_is_a_change(void **state)
{
	struct netwatch *nw = *state;

	FEED(nw, 1, nl_route(&b_, RTM_DELROUTE, AF_INET6, 0, RT_TABLE_MAIN, 4, "fe80::1"));
	assert_change_reported_at(nw, 1);
}

static void test_address_lifetime_refresh_is_not_a_change(void **state)
{
	struct netwatch *nw = *state;

	FEED(nw, 1, nl_addr(&b_, RTM_NEWADDR, AF_INET6, 2, "2001:db8::5", 64,
			RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE));
	assert_change_reported_at(nw, 1);
	/* Duplicate address detection done: the address is usable now. */
	FEED(nw, 1000, nl_addr(&b_, RTM_NEWADDR, AF_INET6, 2, "2001:db8::5", 64,
			RT_SCOPE_UNIVERSE, 0));
	assert_change_reported_at(nw, 1000);
	/* A router advertisement refreshes the lifetimes, again and again. */
	for (uint64_t t = 2000; t < 10000; t += 1000)
		FEED(nw, t, nl_addr(&b_, RTM_NEWADDR, AF_INET6, 2, "2001:db8::5", 64,
				RT_SCOPE_UNIVERSE, 0));
	assert_nothing_pending(nw);
	FEED(nw, 20000, nl_addr(&b_, RTM_DELADDR, AF_INET6, 2, "2001:db8::5", 64,
			RT_SCOPE_UNIVERSE, 0));
	assert_change_reported_at(nw, 20000);
}

static void test_default_route_counts_again_after_its_link_went_down(void **state)
{
	struct netwatch *nw = *state;

	FEED(nw, 1, nl_link(&b_, RTM_NEWLINK, 2, UP_RUNNING));
	FEED(nw, 1, nl_route(&b_, RTM_NEWROUTE, AF_INET, 0, RT_TABLE_MAIN, 2, "10.0.0.1"));
	assert_change_reported_at(nw, 1);
	/* Down: IPv4 flushes the route without a DELROUTE. */
	FEED(nw, 1000, nl_link(&b_, RTM_NEWLINK, 2, 0));
	assert_change_reported_at(nw, 1000);
	FEED(nw, 2000, nl_link(&b_, RTM_NEWLINK, 2, UP_RUNNING));
	assert_change_reported_at(nw, 2000);
	/* The lease comes seconds later: that is when the network works. */
	FEED(nw, 5000, nl_route(&b_, RTM_NEWROUTE, AF_INET, 0, RT_TABLE_MAIN, 2, "10.0.0.1"));
	assert_change_reported_at(nw, 5000);
}

static void test_flapping_link_is_reported_within_ten_debounces(void **state)
{
	struct netwatch *nw = *state;
	uint64_t t;
	int events = 0;

	FEED(nw, 1000, nl_link(&b_, RTM_NEWLINK, 2, IFF_UP));
	assert_change_reported_at(nw, 1000);
	/* A change every 200 ms, forever: the next report still comes. */
	for (t = 1200; t < 1200 + 20 * DEBOUNCE; t += 200) {
		FEED(nw, t, nl_link(&b_, RTM_NEWLINK, 2, (t / 200) % 2 ? IFF_UP : UP_RUNNING));
		events = netwatch_process(nw, t);
		if (events != NETWATCH_NONE)
			break;
	}
	assert_int_equal(events, NETWATCH_NETWORK_CHANGED);
	assert_int_equal(t, 1200 + 10 * DEBOUNCE);
}

static void test_zero_debounce_reports_in_the_same_call(void **state)
{
	struct netwatch *nw = netwatch_new_detached(0);

	FEED(nw, 42, nl_link(&b_, RTM_NEWLINK, 2, UP_RUNNING));
	assert_int_equal(netwatch_next_due_ms(nw), 42);
	assert_int_equal(netwatch_process(nw, 42), NETWATCH_NETWORK_CHANGED);
	assert_nothing_pending(nw);
	netwatch_free(nw);
}

static void test_truncated_and_garbage_messages_are_ignored(void **state)
{
	struct netwatch *nw = *state;
	struct nlbuf b;
	uint32_t seed = 12345;

	/* A NEWLINK whose header claims less than an ifinfomsg. */
	nl_reset(&b);
	nl_link(&b, RTM_NEWLINK, 2, UP_RUNNING);
	b.last->nlmsg_len = NLMSG_LENGTH(4);
	netwatch_feed_netlink(nw, b.u.data, b.len, 0);
	/* A header longer than the datagram. */
	nl_reset(&b);
	nl_link(&b, RTM_NEWLINK, 2, UP_RUNNING);
	netwatch_feed_netlink(nw, b.u.data, b.len - 4, 0);
	assert_nothing_pending(nw);

	/* Random bytes (ASan watches the parser). */
	for (int i = 0; i < 2000; i++) {
		nl_reset(&b);
		for (size_t j = 0; j < 256; j++) {
			seed = seed * 1103515245 + 12345;
			b.u.data[j] = (uint8_t)(seed >> 16);
		}
		b.u.align.nlmsg_len = 16 + (seed % 240);
		b.u.align.nlmsg_type = RTM_NEWLINK + (uint16_t)(seed % 24);
		netwatch_feed_netlink(nw, b.u.data, 256, (uint64_t)i);
	}
}

static void test_detached_netwatch_has_no_fds(void **state)
{
	int fds[2];

	assert_int_equal(netwatch_fds(*state, fds), 0);
	assert_int_equal(netwatch_release_sleep_lock(*state), -ENOENT);
}

/* ---- waiting for real events ---- */

/* The fake logind (and an impostor) when a bus test runs. */
static struct {
	char dir[128];
	char address[256];
	pid_t daemon;
	sd_bus *logind;
	sd_bus *impostor;
	bool deny;
	bool defer;			/* keep the Inhibit call unanswered */
	sd_bus_message *deferred;
	unsigned inhibit_calls;
	char inhibit_what[32], inhibit_mode[32];
	int lock_read;		/* logind's end of the inhibitor; EOF = released */
} bus;

static void serve(sd_bus *b)
{
	if (b == NULL)
		return;
	while (sd_bus_process(b, NULL) > 0)
		;
}

/* Runs netwatch (and the fake buses) until an event in `want` or, when
 * want is 0, until until() is true, or the deadline. Returns the events seen. */
static int wait_for(struct netwatch *nw, int want, bool (*until)(struct netwatch *),
		int max_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)max_ms;
	int seen = 0;

	for (;;) {
		struct pollfd pfd[4];
		int fds[2], n, timeout;
		uint64_t now, due;

		serve(bus.logind);
		serve(bus.impostor);
		seen |= netwatch_process(nw, now_ms());
		if ((want != 0 && (seen & want)) || (until != NULL && until(nw)))
			return seen;
		if ((now = now_ms()) >= deadline)
			return seen;
		timeout = (int)(deadline - now);
		due = netwatch_next_due_ms(nw);
		if (due != 0)
			timeout = due <= now ? 0 : (int)MIN((uint64_t)timeout, due - now);
		n = netwatch_fds(nw, fds);
		for (int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (bus.logind != NULL)
			pfd[n++] = (struct pollfd){ .fd = sd_bus_get_fd(bus.logind), .events = POLLIN };
		if (bus.impostor != NULL)
			pfd[n++] = (struct pollfd){ .fd = sd_bus_get_fd(bus.impostor), .events = POLLIN };
		assert_true(poll(pfd, (nfds_t)n, timeout) >= 0 || errno == EINTR);
	}
}

static bool no_change_pending(struct netwatch *nw)
{
	return netwatch_next_due_ms(nw) == 0;
}

/* ---- the real kernel, in a private network namespace ---- */

static struct {
	int orig_ns;
	bool private;
	struct netwatch *nw;
} ns = { .orig_ns = -1 };

static int run(const char *prog, const char *args)
{
	char buf[256], *argv[16], *save = NULL;
	int argc = 0, status;
	pid_t pid;

	snprintf(buf, sizeof(buf), "%s %s", prog, args);
	for (char *tok = strtok_r(buf, " ", &save); tok != NULL && argc < 15;
			tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (posix_spawnp(&pid, prog, NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static int netns_setup(void **state)
{
	char err[256];

	ns.private = false;
	ns.nw = NULL;
	if ((ns.orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (unshare(CLONE_NEWNET) < 0)
		return 0;
	ns.private = true;
	/* No IPv6 here: its DAD messages would come in the middle of the steps. */
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	ns.nw = netwatch_new(false, LIVE_DEBOUNCE, err, sizeof(err));
	if (ns.nw == NULL) {
		print_error("%s\n", err);
		return -1;
	}
	*state = ns.nw;
	return 0;
}

static int netns_teardown(void **state)
{
	netwatch_free(ns.nw);
	ns.nw = NULL;
	if (ns.private && setns(ns.orig_ns, CLONE_NEWNET) < 0) {
		print_error("cannot return to the original network namespace: %s\n",
				strerror(errno));
		return -1;
	}
	if (ns.orig_ns >= 0)
		close(ns.orig_ns);
	ns.orig_ns = -1;
	return 0;
}

/* Skips unless in a private netns with `ip` and veth; adds d0 <-> d1, down. */
static void require_netns_with_veth(void)
{
	if (!ns.private) {
		print_message("skipped: unshare(CLONE_NEWNET) not permitted\n");
		skip();
	}
	if (run("ip", "link add d0 type veth peer name d1") != 0) {
		print_message("skipped: `ip` or veth links not available\n");
		skip();
	}
}

/* `ip ARGS` and, since the kernel queues its notification before answering
 * `ip`, everything it caused is readable now. */
static void ip(struct netwatch *nw, const char *args)
{
	assert_int_equal(run("ip", args), 0);
	reported |= netwatch_process(nw, now_ms());
}

/* Reported already (the first change of a burst comes at once), or soon. */
static void assert_change_arrives(struct netwatch *nw)
{
	int events = reported;

	if (!(events & NETWATCH_NETWORK_CHANGED))
		events |= wait_for(nw, NETWATCH_NETWORK_CHANGED, NULL, DEADLINE_MS);
	assert_int_equal(events & NETWATCH_NETWORK_CHANGED, NETWATCH_NETWORK_CHANGED);
	/* Let a trailing report of the same burst go by. */
	wait_for(nw, 0, no_change_pending, DEADLINE_MS);
	reported = 0;
}

static void test_kernel_netlink_fd_is_the_only_fd_without_logind(void **state)
{
	int fds[2] = { -1, -1 };

	if (!ns.private)
		skip();
	assert_int_equal(netwatch_fds(ns.nw, fds), 1);
	assert_true(fds[0] >= 0);
	assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
}

static void test_kernel_loopback_and_down_links_are_not_a_change(void **state)
{
	struct netwatch *nw = ns.nw;

	require_netns_with_veth();
	ip(nw, "link set lo up");
	ip(nw, "addr add 10.255.0.1/32 dev lo");
	ip(nw, "link add d2 type veth peer name d3");
	ip(nw, "link del d2");
	assert_nothing_pending(nw);
}

static void test_kernel_link_up_is_a_change(void **state)
{
	struct netwatch *nw = ns.nw;

	require_netns_with_veth();
	ip(nw, "link set d0 up");
	assert_change_arrives(nw);
	ip(nw, "link set d0 up");	/* already up */
	assert_nothing_pending(nw);
}

static void test_kernel_address_is_a_change(void **state)
{
	struct netwatch *nw = ns.nw;

	require_netns_with_veth();
	ip(nw, "link set d0 up");
	assert_change_arrives(nw);
	ip(nw, "addr add 10.200.0.1/24 dev d0");
	assert_change_arrives(nw);
	ip(nw, "addr del 10.200.0.1/24 dev d0");
	assert_change_arrives(nw);
}

static void test_kernel_default_route_is_a_change_other_routes_are_not(void **state)
{
	struct netwatch *nw = ns.nw;

	require_netns_with_veth();
	ip(nw, "link set d0 up");
	ip(nw, "addr add 10.200.0.1/24 dev d0");
	assert_change_arrives(nw);
	ip(nw, "route add 10.9.0.0/16 via 10.200.0.254");
	ip(nw, "route add default via 10.200.0.253 table 100");
	assert_nothing_pending(nw);
	ip(nw, "route add default via 10.200.0.254");
	assert_change_arrives(nw);
	ip(nw, "route del default via 10.200.0.254");
	assert_change_arrives(nw);
}

static void test_kernel_carrier_is_a_change(void **state)
{
	struct netwatch *nw = ns.nw;

	require_netns_with_veth();
	ip(nw, "link set d0 up");
	assert_change_arrives(nw);
	/* d0 gets its carrier through the kernel's linkwatch, a little later. */
	assert_int_equal(run("ip", "link set d1 up"), 0);
	assert_change_arrives(nw);
	assert_int_equal(run("ip", "link del d0"), 0);
	assert_change_arrives(nw);
}

/* `ip -batch`: "addr VERB 10.201.0.N/32 dev d0" for N in 1..count. */
static void ip_batch(const char *verb, int count)
{
	char path[] = "/tmp/test-netwatch-batch-XXXXXX", args[64];
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	for (int i = 1; i <= count; i++) {
		fprintf(f, "addr %s 10.201.0.%d/32 dev d0\n", verb, i);
	}
	fclose(f);
	snprintf(args, sizeof(args), "-batch %s", path);
	assert_int_equal(run("ip", args), 0);
	unlink(path);
}

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static void test_kernel_overrun_is_a_change_and_relearns_the_addresses(void **state)
{
	struct netwatch *nw = ns.nw;
	int fds[2], small = 1, big = 1 << 20;

	require_netns_with_veth();
	memset(&logs, 0, sizeof(logs));
	netwatch_set_log(nw, capture_log, NULL);
	ip(nw, "link set d0 up");
	assert_change_arrives(nw);

	/* Lose notifications: a tiny buffer and 200 addresses, unread. */
	assert_int_equal(netwatch_fds(nw, fds), 1);
	assert_int_equal(setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	ip_batch("add", 200);
	assert_int_equal(setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)), 0);
	assert_change_arrives(nw);
	assert_non_null(strstr(logs.all, "change=overrun"));

	/* The dumps after the overrun relearned all 200: renewing them is no
	 * change (an address missed without the dump would count). */
	while (readable(fds[0]))
		netwatch_process(nw, now_ms());
	ip_batch("replace", 200);
	while (readable(fds[0]))
		netwatch_process(nw, now_ms());
	assert_nothing_pending(nw);
}

/* ---- logind on a private bus ---- */

static int grant_inhibitor(sd_bus_message *m);

static int fake_inhibit(sd_bus_message *m, void *data, sd_bus_error *error)
{
	const char *what, *who, *why, *mode;
	int r;

	bus.inhibit_calls++;
	if ((r = sd_bus_message_read(m, "ssss", &what, &who, &why, &mode)) < 0)
		return r;
	snprintf(bus.inhibit_what, sizeof(bus.inhibit_what), "%s", what);
	snprintf(bus.inhibit_mode, sizeof(bus.inhibit_mode), "%s", mode);
	if (bus.deny)
		return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED,
				"Permission denied (test)");
	if (bus.defer) {
		bus.deferred = sd_bus_message_ref(m);
		return 1;
	}
	return grant_inhibitor(m);
}

static int grant_inhibitor(sd_bus_message *m)
{
	int p[2], r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (bus.lock_read >= 0)
		close(bus.lock_read);
	bus.lock_read = p[0];
	r = sd_bus_reply_method_return(m, "h", p[1]);
	close(p[1]);
	return r;
}

static const sd_bus_vtable fake_logind_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Inhibit", "ssss", "h", fake_inhibit, 0),
	SD_BUS_SIGNAL("PrepareForSleep", "b", 0),
	SD_BUS_VTABLE_END
};

static sd_bus *bus_connect(void)
{
	sd_bus *b = NULL;

	if (sd_bus_new(&b) < 0 || sd_bus_set_address(b, bus.address) < 0 ||
	    sd_bus_set_bus_client(b, 1) < 0 || sd_bus_start(b) < 0) {
		sd_bus_unref(b);
		return NULL;
	}
	return b;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static bool start_bus_daemon(void)
{
	static const char conf[] =
		"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		"<busconfig><type>session</type><listen>unix:path=%s/bus</listen>\n"
		"<auth>EXTERNAL</auth><policy context=\"default\">\n"
		"<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>\n"
		"<allow own=\"*\"/></policy></busconfig>\n";
	char path[256], arg[300];
	char *argv[] = { "dbus-daemon", arg, "--nofork", "--nopidfile", "--print-address=3", NULL };
	posix_spawn_file_actions_t fa;
	struct pollfd pfd;
	int p[2], wr, res;
	ssize_t n;
	FILE *f;

	snprintf(bus.dir, sizeof(bus.dir), "/tmp/test-netwatch-XXXXXX");
	if (mkdtemp(bus.dir) == NULL)
		return false;
	snprintf(path, sizeof(path), "%s/bus.conf", bus.dir);
	if ((f = fopen(path, "w")) == NULL)
		return false;
	fprintf(f, conf, bus.dir);
	fclose(f);
	snprintf(arg, sizeof(arg), "--config-file=%s", path);

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	wr = fcntl(p[1], F_DUPFD_CLOEXEC, 10);	/* never fd 3 itself */
	close(p[1]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, wr, 3);
	/* As root it complains about fd limits it may not raise: noise. */
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	res = posix_spawnp(&bus.daemon, "dbus-daemon", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(wr);
	if (res != 0) {
		bus.daemon = -1;
		close(p[0]);
		return false;
	}
	/* The address is printed once the daemon listens. */
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	n = poll(&pfd, 1, DEADLINE_MS) == 1 ? read(p[0], bus.address, sizeof(bus.address) - 1) : -1;
	close(p[0]);
	if (n <= 0)
		return false;
	bus.address[n] = '\0';
	bus.address[strcspn(bus.address, "\n")] = '\0';
	return true;
}

static void stop_bus_daemon(void)
{
	if (bus.daemon > 0) {
		kill(bus.daemon, SIGTERM);
		waitpid(bus.daemon, NULL, 0);
	}
	bus.daemon = -1;
}

static int bus_setup(void **state)
{
	memset(&bus, 0, sizeof(bus));
	memset(&logs, 0, sizeof(logs));
	bus.daemon = -1;
	bus.lock_read = -1;
	if (!start_bus_daemon())
		return 0;	/* the test skips */
	setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address, 1);
	if ((bus.logind = bus_connect()) == NULL ||
	    sd_bus_request_name(bus.logind, "org.freedesktop.login1", 0) < 0 ||
	    sd_bus_add_object_vtable(bus.logind, NULL, "/org/freedesktop/login1",
			"org.freedesktop.login1.Manager", fake_logind_vtable, NULL) < 0) {
		print_error("fake logind could not start on %s\n", bus.address);
		return -1;
	}
	return 0;
}

static int bus_teardown(void **state)
{
	netwatch_free(*state);
	*state = NULL;
	bus.deferred = sd_bus_message_unref(bus.deferred);
	bus.logind = sd_bus_flush_close_unref(bus.logind);
	bus.impostor = sd_bus_flush_close_unref(bus.impostor);
	stop_bus_daemon();
	if (bus.lock_read >= 0)
		close(bus.lock_read);
	if (bus.dir[0] != '\0')
		nftw(bus.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	return 0;
}

static struct netwatch *start_netwatch(void **state)
{
	char err[256];
	struct netwatch *nw;

	if (bus.logind == NULL) {
		print_message("skipped: no dbus-daemon\n");
		skip();
	}
	nw = netwatch_new(true, LIVE_DEBOUNCE, err, sizeof(err));
	assert_non_null(nw);
	netwatch_set_log(nw, capture_log, NULL);
	*state = nw;
	return nw;
}

static void emit_sleep(sd_bus *from, bool start)
{
	assert_true(sd_bus_emit_signal(from, "/org/freedesktop/login1",
			"org.freedesktop.login1.Manager", "PrepareForSleep", "b", (int)start) >= 0);
	assert_true(sd_bus_flush(from) >= 0);
}

static bool holds_lock(struct netwatch *nw)
{
	return netwatch_holds_sleep_lock(nw);
}

static bool first_denial_logged(struct netwatch *nw)
{
	return logs.n_denials == 1;
}

static bool second_denial_logged(struct netwatch *nw)
{
	return logs.n_denials == 2;
}

static bool lock_released(struct netwatch *nw)
{
	struct pollfd pfd = { .fd = bus.lock_read, .events = POLLIN };
	char c;

	return poll(&pfd, 1, 0) == 1 && read(bus.lock_read, &c, 1) == 0;
}

static bool lock_retaken(struct netwatch *nw)
{
	return bus.inhibit_calls == 2 && netwatch_holds_sleep_lock(nw);
}

static void test_no_system_bus_is_fine_and_silent(void **state)
{
	char err[256];
	int fds[2];
	struct netwatch *nw;

	memset(&logs, 0, sizeof(logs));
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/netwatch-test-bus", 1);
	nw = netwatch_new(true, LIVE_DEBOUNCE, err, sizeof(err));
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	assert_non_null(nw);
	netwatch_set_log(nw, capture_log, NULL);
	assert_int_equal(netwatch_fds(nw, fds), 1);
	assert_int_equal(netwatch_process(nw, now_ms()) & ~NETWATCH_NETWORK_CHANGED, 0);
	assert_false(netwatch_holds_sleep_lock(nw));
	assert_int_equal(logs.n, 0);
	netwatch_free(nw);
}

static void test_sleep_lock_is_taken_released_and_taken_again_after_resume(void **state)
{
	struct netwatch *nw = start_netwatch(state);
	int fds[2];

	assert_int_equal(netwatch_fds(nw, fds), 2);
	wait_for(nw, 0, holds_lock, DEADLINE_MS);
	assert_true(netwatch_holds_sleep_lock(nw));
	assert_int_equal(bus.inhibit_calls, 1);
	assert_string_equal(bus.inhibit_what, "sleep");
	assert_string_equal(bus.inhibit_mode, "delay");

	emit_sleep(bus.logind, true);
	assert_int_equal(wait_for(nw, NETWATCH_SUSPENDING | NETWATCH_RESUMED, NULL, DEADLINE_MS),
			NETWATCH_SUSPENDING);
	assert_false(lock_released(nw));	/* logind waits for us */
	assert_int_equal(netwatch_release_sleep_lock(nw), 0);
	assert_true(lock_released(nw));
	assert_int_equal(netwatch_release_sleep_lock(nw), -ENOENT);

	emit_sleep(bus.logind, false);
	assert_int_equal(wait_for(nw, NETWATCH_SUSPENDING | NETWATCH_RESUMED, NULL, DEADLINE_MS),
			NETWATCH_RESUMED);
	wait_for(nw, 0, lock_retaken, DEADLINE_MS);
	assert_int_equal(bus.inhibit_calls, 2);
	assert_true(netwatch_holds_sleep_lock(nw));
	assert_int_equal(logs.n_info_or_warn, 0);
}

static void test_denied_inhibitor_still_reports_sleep_events(void **state)
{
	struct netwatch *nw;

	bus.deny = true;
	nw = start_netwatch(state);
	wait_for(nw, 0, first_denial_logged, DEADLINE_MS);
	assert_false(netwatch_holds_sleep_lock(nw));
	assert_int_equal(logs.n_info_or_warn, 1);
	assert_non_null(strstr(logs.all, "AccessDenied"));

	emit_sleep(bus.logind, true);
	assert_int_equal(wait_for(nw, NETWATCH_SUSPENDING, NULL, DEADLINE_MS), NETWATCH_SUSPENDING);
	assert_int_equal(netwatch_release_sleep_lock(nw), -ENOENT);
	emit_sleep(bus.logind, false);
	assert_int_equal(wait_for(nw, NETWATCH_RESUMED, NULL, DEADLINE_MS), NETWATCH_RESUMED);
	/* Asked again after resume; denied again, not logged again. */
	wait_for(nw, 0, second_denial_logged, DEADLINE_MS);
	assert_int_equal(bus.inhibit_calls, 2);
	assert_false(netwatch_holds_sleep_lock(nw));
	assert_int_equal(logs.n_info_or_warn, 1);
}

static bool inhibit_called(struct netwatch *nw)
{
	return bus.inhibit_calls == 1;
}

static void test_inhibitor_granted_during_sleep_is_released_at_once(void **state)
{
	struct netwatch *nw;

	bus.defer = true;
	nw = start_netwatch(state);
	wait_for(nw, 0, inhibit_called, DEADLINE_MS);
	assert_non_null(bus.deferred);
	emit_sleep(bus.logind, true);
	assert_int_equal(wait_for(nw, NETWATCH_SUSPENDING, NULL, DEADLINE_MS), NETWATCH_SUSPENDING);

	/* logind answers late: holding it now would only delay this sleep. */
	bus.defer = false;
	assert_true(grant_inhibitor(bus.deferred) >= 0);
	bus.deferred = sd_bus_message_unref(bus.deferred);
	wait_for(nw, 0, lock_released, DEADLINE_MS);
	assert_false(netwatch_holds_sleep_lock(nw));

	emit_sleep(bus.logind, false);
	assert_int_equal(wait_for(nw, NETWATCH_RESUMED, NULL, DEADLINE_MS), NETWATCH_RESUMED);
	wait_for(nw, 0, lock_retaken, DEADLINE_MS);
	assert_true(netwatch_holds_sleep_lock(nw));
}

static void test_suspend_and_resume_sent_together_come_out_in_order(void **state)
{
	struct netwatch *nw = start_netwatch(state);
	int results[8], n = 0, events;
	uint64_t deadline;

	wait_for(nw, 0, holds_lock, DEADLINE_MS);
	emit_sleep(bus.logind, true);
	emit_sleep(bus.logind, false);
	/* A round trip through the daemon: it has written both signals to
	 * netwatch's socket before it answers. */
	assert_true(sd_bus_call_method(bus.logind, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			"org.freedesktop.DBus", "GetId", NULL, NULL, "") >= 0);
	/* Each call reports at most one of them; the second one is due at once. */
	deadline = now_ms() + DEADLINE_MS;
	while (n < 2 && now_ms() < deadline) {
		events = wait_for(nw, NETWATCH_SUSPENDING | NETWATCH_RESUMED, NULL, DEADLINE_MS);
		if (events == NETWATCH_NONE)
			continue;
		results[n++] = events;
		if (events == NETWATCH_SUSPENDING)
			assert_true(netwatch_next_due_ms(nw) <= now_ms());
	}
	assert_int_equal(n, 2);
	assert_int_equal(results[0], NETWATCH_SUSPENDING);
	assert_int_equal(results[1], NETWATCH_RESUMED);
}

static void test_sleep_signal_from_another_sender_is_ignored(void **state)
{
	struct netwatch *nw = start_netwatch(state);

	wait_for(nw, 0, holds_lock, DEADLINE_MS);
	assert_non_null(bus.impostor = bus_connect());
	emit_sleep(bus.impostor, true);
	assert_int_equal(wait_for(nw, NETWATCH_SUSPENDING, NULL, 4 * LIVE_DEBOUNCE), NETWATCH_NONE);
	/* The real one still gets through. */
	emit_sleep(bus.logind, true);
	assert_int_equal(wait_for(nw, NETWATCH_SUSPENDING, NULL, DEADLINE_MS), NETWATCH_SUSPENDING);
}

static void test_lost_system_bus_drops_its_fd_and_the_lock(void **state)
{
	struct netwatch *nw = start_netwatch(state);
	int fds[2];

	wait_for(nw, 0, holds_lock, DEADLINE_MS);
	bus.logind = sd_bus_close_unref(bus.logind);
	stop_bus_daemon();
	assert_int_equal(wait_for(nw, NETWATCH_FDS_CHANGED, NULL, DEADLINE_MS) & NETWATCH_FDS_CHANGED,
			NETWATCH_FDS_CHANGED);
	assert_int_equal(netwatch_fds(nw, fds), 1);
	assert_false(netwatch_holds_sleep_lock(nw));
	assert_int_equal(netwatch_next_due_ms(nw), 0);
	assert_non_null(strstr(logs.all, "system bus connection lost"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define DETACHED(t) cmocka_unit_test_setup_teardown(t, detached_setup, detached_teardown)
		DETACHED(test_the_first_change_is_reported_at_once_the_rest_of_a_burst_once_after),
		DETACHED(test_messages_in_one_datagram_are_one_burst),
		DETACHED(test_identical_newlink_flags_are_not_a_change),
		DETACHED(test_new_link_that_is_down_is_not_a_change),
		DETACHED(test_loopback_changes_are_ignored),
		DETACHED(test_receive_overrun_is_a_change),
		DETACHED(test_only_default_routes_of_the_main_table_count),
		DETACHED(test_deleting_a_route_from_before_the_start_is_a_change),
		DETACHED(test_address_lifetime_refresh_is_not_a_change),
		DETACHED(test_default_route_counts_again_after_its_link_went_down),
		DETACHED(test_flapping_link_is_reported_within_ten_debounces),
		cmocka_unit_test(test_zero_debounce_reports_in_the_same_call),
		DETACHED(test_truncated_and_garbage_messages_are_ignored),
		DETACHED(test_detached_netwatch_has_no_fds),
#define NETNS(t) cmocka_unit_test_setup_teardown(t, netns_setup, netns_teardown)
		NETNS(test_kernel_netlink_fd_is_the_only_fd_without_logind),
		NETNS(test_kernel_loopback_and_down_links_are_not_a_change),
		NETNS(test_kernel_link_up_is_a_change),
		NETNS(test_kernel_address_is_a_change),
		NETNS(test_kernel_default_route_is_a_change_other_routes_are_not),
		NETNS(test_kernel_carrier_is_a_change),
		NETNS(test_kernel_overrun_is_a_change_and_relearns_the_addresses),
		cmocka_unit_test(test_no_system_bus_is_fine_and_silent),
#define BUS(t) cmocka_unit_test_setup_teardown(t, bus_setup, bus_teardown)
		BUS(test_sleep_lock_is_taken_released_and_taken_again_after_resume),
		BUS(test_denied_inhibitor_still_reports_sleep_events),
		BUS(test_inhibitor_granted_during_sleep_is_released_at_once),
		BUS(test_suspend_and_resume_sent_together_come_out_in_order),
		BUS(test_sleep_signal_from_another_sender_is_ignored),
		BUS(test_lost_system_bus_drops_its_fd_and_the_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
