/* server-cli: pw-transcribe-server's command line: the options, their
 * defaults and ranges, --help and --version (the option reference is the
 * --help text; behaviour: the top of pw-transcribe-server.c). Startup,
 * single-threaded. */
#ifndef SERVER_CLI_H
#define SERVER_CLI_H

#include <stdbool.h>

#include "srv-dialect.h"

#define SERVER_PROG		"pw-transcribe-server"
#define SERVER_PATH_MAX		4096

struct server_options {
	const char *address;		/* TCP: an IP literal */
	const char *key_file;
	const char *socket;		/* Unix socket path; NULL = the default one */
	const struct srv_dialect *dialect;	/* --dialect (default soniox) */
	bool tcp;			/* --address or --port given: TCP, not a Unix socket */
	bool insecure_tcp;		/* TCP without a key, on loopback */
	char hmm[SERVER_PATH_MAX], lm[SERVER_PATH_MAX], dict[SERVER_PATH_MAX];
	long port, rate, max_conns, spare, idle_s, upgrade_s, max_pending, partial_ms, progress_ms,
	     lws_debug;
};

/* Fills *o. 0 to go on; 1 when --help or --version was answered (exit 0);
 * -1 on bad usage (said on stderr; exit 2). */
int server_cli_parse(int argc, char **argv, struct server_options *o);

#endif
