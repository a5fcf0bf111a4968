/* cli-int: an integer option value in a range, for the command-line tools
 * (pw-transcribe-server, fault-server, fault-client). Pure function. */
#ifndef TRANSCRIBE_CLI_INT_H
#define TRANSCRIBE_CLI_INT_H

/* Parses v (all of it, base 10) into *out when it lies in min..max; else
 * prints "<prog>: --<name>: expected an integer in <min>..<max>" on stderr
 * and returns -1. */
int cli_int(const char *prog, const char *name, const char *v, long min, long max, long *out);

#endif
