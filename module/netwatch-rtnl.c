/* netwatch: the rtnetlink socket, its dumps and messages, turned into
 * facts (the decisions: netwatch.c's top comment). */
#include "netwatch-internal.h"

/* ---- rtnetlink messages ---- */

static void on_link(struct netwatch *nw, struct nlmsghdr *nh, bool seed, uint64_t now)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	bool del = nh->nlmsg_type == RTM_DELLINK;
	struct nw_key key;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	nw_key_init(&key, NW_LINK, AF_UNSPEC);
	key.ifindex = (uint32_t)ifi->ifi_index;
	nw_fact_update(nw, &key, del, ifi->ifi_flags & NETWATCH_LINK_FLAGS,
			(ifi->ifi_flags & IFF_LOOPBACK) != 0, seed, now);
	if (del || !(ifi->ifi_flags & IFF_UP))
		nw_forget_routes(nw, key.ifindex);
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
	if (ifa->ifa_scope == RT_SCOPE_HOST || nw_link_is_loopback(nw, ifa->ifa_index))
		return;
	nw_key_init(&key, NW_ADDR, ifa->ifa_family);
	key.plen = ifa->ifa_prefixlen;
	key.ifindex = ifa->ifa_index;
	copy_addr(key.addr, local != NULL ? local : address);
	/* Present, and usable once duplicate address detection is done. */
	value = 1 | ((flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) ? 0 : 2);
	nw_fact_update(nw, &key, nh->nlmsg_type == RTM_DELADDR, value, false, seed, now);
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
	nw_key_init(&key, NW_ROUTE, rtm->rtm_family);
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
	nw_fact_update(nw, &key, nh->nlmsg_type == RTM_DELROUTE, 1, false, seed, now);
}


void nw_overrun(struct netwatch *nw, uint64_t now)
{
	nw_mark_change(nw, now, "overrun", 0);
	if (nw->nl_fd < 0)
		return;
	if (nw->dump == DUMP_NONE)
		nw_start_dump(nw, DUMP_LINKS);
	else
		nw->resync = true;
}

static void dump_done(struct netwatch *nw)
{
	if (nw->dump == DUMP_LINKS) {
		nw_sweep(nw, NW_LINK);
		nw_start_dump(nw, DUMP_ADDRS);
		return;
	}
	nw_sweep(nw, NW_ADDR);
	nw->dump = DUMP_NONE;
	if (nw->resync) {
		nw->resync = false;
		nw_start_dump(nw, DUMP_LINKS);
	}
}

void nw_parse(struct netwatch *nw, void *buf, size_t size, uint64_t now)
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
			nw_overrun(nw, now);
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

void nw_start_dump(struct netwatch *nw, enum nw_dump what)
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

int nw_netlink_open(struct netwatch *nw, char *err, size_t err_size)
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
	nw_start_dump(nw, DUMP_LINKS);
	return 0;
}

void nw_netlink_read(struct netwatch *nw, uint64_t now)
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
				nw_overrun(nw, now);
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
			nw_overrun(nw, now);
			continue;
		}
		if (sa.nl_pid != 0)
			continue;	/* not from the kernel */
		nw_parse(nw, nw->rxbuf, (size_t)n, now);
	}
}
