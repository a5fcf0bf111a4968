/* pw-transcribe: what the command's parts share: the service's names, the
 * parsed command line, exit codes and the one-line error report. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transcribe-api.h"		/* the module's: one definition of each name */

#define CLI_PROGRAM		"pw-transcribe"
#define CLI_DEFAULT_BUS_NAME	TRANSCRIBE_DBUS_NAME
#define CLI_ROOT_PATH		TRANSCRIBE_DBUS_ROOT
#define CLI_TAP_IFACE		TRANSCRIBE_DBUS_TAP_IFACE
#define CLI_ERROR_FATAL		TRANSCRIBE_DBUS_ERROR_FATAL
#define CLI_ERROR_TIMEOUT	TRANSCRIBE_DBUS_ERROR_TIMEOUT
#define CLI_ERROR_CANCELLED	TRANSCRIBE_DBUS_ERROR_CANCELLED
#define CLI_ERROR_INVALID_ARGS	TRANSCRIBE_DBUS_ERROR_INVALID_ARGS

/* Contract: scripts test these (--help and the man page list them). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_TIMEOUT = 3,
	CLI_EXIT_CANCELLED = 4,
};

/* The parsed command line; strings point into argv. */
struct cli_opts {
	const char *bus_name;
	const char *tap;		/* NULL: left out */
	bool json;
	bool wait;
	uint32_t wait_ms;		/* with wait */
	unsigned exit_after_final;	/* 0: never */
	const char **journals;		/* export: the files and directories to read */
	size_t n_journals;
	const char *format;		/* export: txt, srt, vtt or json; NULL: txt */
	const char *output;		/* export: NULL: standard output */
};

/* Prints "pw-transcribe: <message>" as exactly one line on stderr (control
 * characters, e.g. newlines from a service's error text, become spaces). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The subcommands; each returns an enum cli_exit and has reported its
 * errors already. */
int cli_status_list(const struct cli_opts *o);
int cli_status_show(const struct cli_opts *o);
int cli_follow_run(const struct cli_opts *o);
/* method: Start, Stop, Reconnect or Finalize */
int cli_control_run(const struct cli_opts *o, const char *method);
/* No D-Bus: reads o->journals. */
int cli_export_run(const struct cli_opts *o);
