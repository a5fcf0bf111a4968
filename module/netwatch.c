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
#include "netwatch-internal.h"

void nw_log(struct netwatch *nw, enum netwatch_log_level level, const char *fmt, ...)
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

const char *nw_kind_name(uint8_t kind)
{
	switch (kind) {
	case NW_LINK: return "link";
	case NW_ADDR: return "address";
	case NW_ROUTE: return "default-route";
	default: return "unknown";
	}
}

/* ---- debounce ---- */

void nw_mark_change(struct netwatch *nw, uint64_t now, const char *what, uint32_t ifindex)
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

void nw_key_init(struct nw_key *key, enum nw_kind kind, uint8_t family)
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
void nw_fact_update(struct netwatch *nw, const struct nw_key *key, bool del,
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
			nw_mark_change(nw, now, "unknown", key->ifindex);
			return;
		}
		f->value = value;
		f->gen = nw->gen;
		f->loopback = loopback;
	}
	if (old != new && !seed && !loopback)
		nw_mark_change(nw, now, nw_kind_name(key->kind), key->ifindex);
}

bool nw_link_is_loopback(struct netwatch *nw, uint32_t ifindex)
{
	struct nw_key key;
	struct nw_fact *f;

	nw_key_init(&key, NW_LINK, AF_UNSPEC);
	key.ifindex = ifindex;
	f = fact_find(nw, &key);
	return f != NULL && f->loopback;
}

/* Silent: drops routes through a link that went down or away. */
void nw_forget_routes(struct netwatch *nw, uint32_t ifindex)
{
	for (uint32_t i = nw->n_facts; i-- > 0;)
		if (nw->facts[i].key.kind == NW_ROUTE && nw->facts[i].key.ifindex == ifindex)
			fact_remove(nw, &nw->facts[i]);
}

/* Silent: drops facts of a kind that the dump just finished did not list. */
void nw_sweep(struct netwatch *nw, enum nw_kind kind)
{
	for (uint32_t i = nw->n_facts; i-- > 0;)
		if (nw->facts[i].key.kind == kind && nw->facts[i].gen != nw->gen)
			fact_remove(nw, &nw->facts[i]);
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
	if (nw_netlink_open(nw, err, err_size) < 0) {
		netwatch_free(nw);
		return NULL;
	}
	if (with_logind)
		nw_bus_open(nw);
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
		nw_netlink_read(nw, now_ms);
	if (nw->bus != NULL)
		events |= nw_bus_run(nw);
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
	nw_bus_close(nw);
	if (nw->nl_fd >= 0)
		close(nw->nl_fd);
	free(nw->rxbuf);
	free(nw->facts);
	free(nw);
}

void netwatch_feed_netlink(struct netwatch *nw, const void *buf, size_t len, uint64_t now_ms)
{
	/* nw_parse() does not write to the buffer; the kernel macros want it mutable. */
	nw_parse(nw, (void *)buf, len, now_ms);
}

void netwatch_feed_overrun(struct netwatch *nw, uint64_t now_ms)
{
	nw_overrun(nw, now_ms);
}
