/* A listening TCP socket on exactly one IP literal, for the WebSocket
 * servers (pw-transcribe-server and the test fault-server). They hand each
 * accepted socket to libwebsockets: an lws vhost with iface=127.0.0.1 and
 * IPv6 on (the default) listens on every interface. */
#ifndef TRANSCRIBE_IP_LISTEN_H
#define TRANSCRIBE_IP_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

/* Non-blocking, close-on-exec, SO_REUSEADDR, IPv6-only for v6 addresses;
 * port 0 picks a free one. Returns the fd, or -1 with err filled (one line). */
int ip_listen(const char *address, int port, int backlog, char *err, size_t err_size);
/* The address and port a socket is bound to. 0, or -1 with errno set. */
int ip_bound_name(int fd, char *addr, size_t addr_size, int *port);
/* True for an IPv4 or IPv6 literal. */
bool ip_is_literal(const char *address);
/* True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z (an IP literal). */
bool ip_is_loopback(const char *address);

#endif
