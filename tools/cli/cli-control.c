/* pw-transcribe start|stop|reconnect|finalize: call the method on one tap.
 * start and reconnect --wait S then wait for the tap to stream (WaitReady),
 * watching the service's bus name so that its leaving ends the wait at once
 * rather than at the timeout. */
#include "cli.h"
#include "cli-bus.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

/* The service answers WaitReady itself after timeout_ms; our own call
 * timeout only catches a service that never answers, so it leaves room
 * for a busy (or sanitizer-slowed) daemon. */
#define WAIT_MARGIN_MS 5000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int call_method(struct cli_bus *cb, const struct cli_tap *t, const char *method)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_call_method(cb->bus, cb->owner, t->path, CLI_TAP_IFACE, method,
			       &err, &reply, "");
	r = r < 0 ? cli_bus_fail(cb, &err, r, t->name) : CLI_EXIT_OK;
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	return r;
}

static int on_wait_reply(sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
	sd_bus_message **reply = data;

	*reply = sd_bus_message_ref(m);
	return 0;
}

/* What the WaitReady answer (or its absence) means. */
static int wait_result(struct cli_bus *cb, const struct cli_tap *t,
		       sd_bus_message *reply, uint64_t waited_ms, uint64_t limit_ms)
{
	const sd_bus_error *e;

	if (!reply) {
		cli_error("%s: cancelled: the service left the session bus", t->name);
		return CLI_EXIT_CANCELLED;
	}
	if (!sd_bus_message_is_method_error(reply, NULL)) {
		printf("%s: streaming\n", t->name);
		return CLI_EXIT_OK;
	}
	e = sd_bus_message_get_error(reply);
	if (sd_bus_is_open(cb->bus) && sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY)) {
		/* sd-bus gave up on the call, or the service's connection
		 * closed before it answered */
		if (waited_ms >= limit_ms) {
			cli_error("%s: no answer from the service in %.1f s",
				  t->name, (double)limit_ms / 1000.0);
			return CLI_EXIT_TIMEOUT;
		}
		cli_error("%s: cancelled: the service left without answering", t->name);
		return CLI_EXIT_CANCELLED;
	}
	return cli_bus_fail(cb, e, -EIO, t->name);
}

static int wait_ready(struct cli_bus *cb, const struct cli_tap *t, uint32_t timeout_ms)
{
	uint64_t limit_ms = (uint64_t)timeout_ms + WAIT_MARGIN_MS, start = now_ms();
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_slot *slot = NULL;
	int r;

	r = cli_bus_new_call(cb, &m, t->path, CLI_TAP_IFACE, "WaitReady");
	if (r >= 0)
		r = sd_bus_message_append(m, "u", timeout_ms);
	if (r >= 0)
		r = sd_bus_call_async(cb->bus, &slot, m, on_wait_reply, &reply,
				      limit_ms * 1000);
	while (r >= 0 && !reply && !cb->gone) {
		r = sd_bus_process(cb->bus, NULL);
		if (r == 0)
			r = sd_bus_wait(cb->bus, UINT64_MAX);
	}
	if (r < 0)
		r = cli_bus_fail(cb, NULL, r, t->name);
	else
		r = wait_result(cb, t, reply, now_ms() - start, limit_ms);
	sd_bus_slot_unref(slot);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r;
}

int cli_control_run(const struct cli_opts *o, const char *method)
{
	struct cli_tap_list list = { 0 };
	const struct cli_tap *t;
	struct cli_bus cb;
	int r;

	r = cli_bus_open(&cb, o->bus_name, o->wait);
	if (r == CLI_EXIT_OK)
		r = cli_bus_get_taps(&cb, &list, NULL);
	if (r == CLI_EXIT_OK)
		r = cli_bus_select(&list, o->tap, &t);
	if (r == CLI_EXIT_OK)
		r = call_method(&cb, t, method);
	if (r == CLI_EXIT_OK && o->wait)
		r = wait_ready(&cb, t, o->wait_ms);
	fflush(stdout);
	cli_tap_list_clear(&list);
	cli_bus_close(&cb);
	return r;
}
