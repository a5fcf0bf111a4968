/* netwatch: logind on the system bus: PrepareForSleep and the delay
 * inhibitor (the decisions: netwatch.c's top comment). */
#include "netwatch-internal.h"

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

void nw_bus_close(struct netwatch *nw)
{
	nw->match_slot = sd_bus_slot_unref(nw->match_slot);
	nw->inhibit_slot = sd_bus_slot_unref(nw->inhibit_slot);
	nw->bus = sd_bus_close_unref(nw->bus);
	nw->bus_more = false;
	netwatch_release_sleep_lock(nw);
}

void nw_bus_open(struct netwatch *nw)
{
	sd_bus *bus = NULL;

	/* No system bus (containers, minimal systems) is normal: no log. */
	if (sd_bus_open_system(&bus) < 0)
		return;
	nw->bus = bus;
	if (sd_bus_match_signal_async(bus, &nw->match_slot, LOGIND_NAME, LOGIND_PATH,
			LOGIND_MANAGER, "PrepareForSleep", on_prepare_for_sleep,
			on_match_installed, nw) < 0) {
		nw_bus_close(nw);
		return;
	}
	take_lock(nw);
}

/* Dispatches bus messages; stops after a sleep event so that one call
 * reports at most one of SUSPENDING/RESUMED, in order. */
int nw_bus_run(struct netwatch *nw)
{
	int r;

	nw->bus_more = false;
	nw->sleep_event = NETWATCH_NONE;
	for (;;) {
		r = sd_bus_process(nw->bus, NULL);
		if (r < 0) {
			nw_log(nw, NETWATCH_LOG_INFO, "netwatch: system bus connection lost: %s; "
					"suspend and resume go unnoticed from now on", strerror(-r));
			nw_bus_close(nw);
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
