/* fs-hostile: the fault server's hostile-service faults (issue 18): what a
 * broken or malicious service sends a client. Each queues its messages on
 * the session (floods are one item sent again and again, made as it goes
 * out: a million finals take no more memory than one). The kinds and
 * their parameters are in fs-fault.h; what they send is documented at the
 * top of fault-server.c. Service thread. */
#ifndef FS_HOSTILE_H
#define FS_HOSTILE_H

#include "fs-fault.h"
#include "srv-session.h"

/* True when it is one of the hostile kinds (and it was queued). */
bool fs_hostile_fire(struct sess *s, const struct fault_item *it);

#endif
