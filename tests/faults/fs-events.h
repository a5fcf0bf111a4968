/* fs-events: what makes the server core (srv-core.h) the fault server:
 * its event log lines, the faults of each connection (fs-fault.h) picked
 * at accept and fired at the session's fixed points (upgrade, config,
 * every binary message; "@<ms>" of audio received), runtime fault changes
 * and the idle exit. Everything runs on the service thread (the fault
 * server's sessions run inline). */
#ifndef FS_EVENTS_H
#define FS_EVENTS_H

#include <stdbool.h>

#include "fs-fault.h"
#include "srv-core.h"

struct fs_state {
	struct srv *srv;		/* set once created */
	struct fault_table *faults;
	const char *key;		/* --key, NULL = none */
	bool auth_http;			/* a bad/missing key gets HTTP 401 on the upgrade */
	int quit_after_idle_s;		/* 0 = never */
	int64_t idle_since_us;		/* no connection open since then */
	void (*wake)(void);		/* after srv_wake(): stdin commands */
};

extern const struct srv_events fs_events;	/* data: struct fs_state */
extern const struct sess_hooks fs_hooks;

/* "N:SPEC" / "next:SPEC" / "all:SPEC" into the table; an open connection
 * takes it at once. 0 with *index set, or -1 with err filled. */
int fs_set_fault(struct fs_state *st, const char *arg, char *err, size_t errlen, unsigned *index);

#endif
