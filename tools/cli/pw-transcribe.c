/* pw-transcribe: live captions and control for libpipewire-module-transcribe
 * over its D-Bus service on the session bus (doc/pw-transcribe.1;
 * the interface: doc/io.github.pw_transcribe.Transcribe1.Tap.xml).
 *
 *   pw-transcribe [--bus-name NAME] COMMAND [TAP] [OPTIONS]
 *   pw-transcribe export JOURNAL... [--format FORMAT] [-o FILE]   (no D-Bus)
 *
 * This file: the command table, the command line and the help texts. Every
 * command takes --help and --version, the D-Bus ones --bus-name, before or
 * after the command name; options take their value as "--opt VALUE" or
 * "--opt=VALUE". */
#include "cli.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CLI_VERSION
#define CLI_VERSION "unknown"
#endif

/* WaitReady's limit (the contract: at most 600000 ms) */
#define WAIT_MAX_S 600.0

enum {
	OPT_TAP = 1 << 0,	/* takes [TAP] */
	OPT_JSON = 1 << 1,
	OPT_WAIT = 1 << 2,
	OPT_EXIT_AFTER_FINAL = 1 << 3,
	OPT_EXPORT = 1 << 4,	/* takes JOURNAL... (at least one), --format, -o */
	OPT_BUS = 1 << 5,	/* talks to the service: --bus-name */
};

struct command {
	const char *name;
	unsigned opts;
	int (*run)(const struct cli_opts *o, const char *method);
	const char *method;	/* the Tap method it calls, if any */
	const char *synopsis;	/* what follows the name in the usage line */
	const char *help;	/* what it does */
	const char *exit_help;
};

static int run_list(const struct cli_opts *o, const char *method)
{
	return cli_status_list(o);
}

static int run_status(const struct cli_opts *o, const char *method)
{
	return cli_status_show(o);
}

static int run_follow(const struct cli_opts *o, const char *method)
{
	return cli_follow_run(o);
}

static int run_export(const struct cli_opts *o, const char *method)
{
	return cli_export_run(o);
}

#define EXIT_BUS \
	"Exit status: 0 success, 1 failure (no session bus, no service, unknown\n" \
	"tap, a method failed), 2 usage error.\n"
#define EXIT_WAIT \
	"Exit status: 0 success, 1 failure (no session bus, no service, unknown\n" \
	"tap, a method failed), 2 usage error, 3 --wait timed out, 4 --wait\n" \
	"cancelled (the tap stopped or the module unloaded while waiting).\n"
#define EXIT_EXPORT \
	"Exit status: 0 success, 1 a journal or FILE could not be read or written,\n" \
	"a directory holds no journal, or a line of a journal is damaged (reported\n" \
	"as JOURNAL:LINE; the rest is exported), 2 usage error.\n"

static const struct command commands[] = {
	{ "list", OPT_BUS, run_list, NULL, "",
	  "One line per tap, sorted by name: NAME STATE node=ID MODE TARGET.\n", EXIT_BUS },
	{ "status", OPT_BUS | OPT_TAP | OPT_JSON, run_status, NULL, " [TAP] [--json]",
	  "The state of TAP (every tap when left out): retries, last error, session,\n"
	  "node, buffered/spooled/dropped audio, journal.\n", EXIT_BUS },
	{ "follow", OPT_BUS | OPT_TAP | OPT_JSON | OPT_EXIT_AFTER_FINAL, run_follow, NULL,
	  " [TAP] [--json] [--exit-after-final N]",
	  "Live captions of TAP (every tap, lines prefixed with its name, when left\n"
	  "out and there are several): finals as \"[mm:ss.s] text\", state changes as\n"
	  "\"-- State\" lines, and on a terminal the words in progress on the last\n"
	  "line. Ends (exit 0) when the tap is removed, the service leaves the bus,\n"
	  "or on SIGINT/SIGTERM.\n", EXIT_BUS },
	{ "start", OPT_BUS | OPT_TAP | OPT_WAIT, cli_control_run, "Start", " [TAP] [--wait SECONDS]",
	  "Start streaming again after stop (or a fatal error).\n", EXIT_WAIT },
	{ "stop", OPT_BUS | OPT_TAP, cli_control_run, "Stop", " [TAP]",
	  "Make what was said final and close the session; the tap keeps its node.\n",
	  EXIT_BUS },
	{ "reconnect", OPT_BUS | OPT_TAP | OPT_WAIT, cli_control_run, "Reconnect",
	  " [TAP] [--wait SECONDS]",
	  "Connect now, skipping the backoff wait or the offline probe period.\n", EXIT_WAIT },
	{ "finalize", OPT_BUS | OPT_TAP, cli_control_run, "Finalize", " [TAP]",
	  "Ask the service to make everything said so far final.\n", EXIT_BUS },
	{ "export", OPT_EXPORT, run_export, NULL,
	  " JOURNAL... [--format txt|srt|vtt|json] [-o FILE]",
	  "The transcript in journal files (status shows a tap's; a directory stands\n"
	  "for its *.jsonl files) as:\n"
	  "  txt   one line per final segment, \"[hh:mm:ss.s] text\" (\"speaker: \" before\n"
	  "        the text when there is one), and \"[hh:mm:ss.s] [gap: N.N s, reason]\"\n"
	  "  srt   SubRip subtitles: cues of at most 7 s and 2 lines of 42 characters,\n"
	  "        ending at a sentence end, a gap or a new speaker\n"
	  "  vtt   WebVTT subtitles, the same cues\n"
	  "  json  an array of the final segments and gaps, one per line\n"
	  "in time order, each segment once. Several journals make one timeline that\n"
	  "starts when the first one started: each is placed by the time it started,\n"
	  "the time between two of a tap is a gap \"between journals\", and with\n"
	  "several taps every line is labelled with its tap (\"tap: \", \"tap/speaker: \").\n"
	  "Needs no running service.\n", EXIT_EXPORT },
};

/* A command's options, in the order its help lists them. */
static const struct option_help {
	const char *commands;	/* space-separated; "*": every one; "bus": those of OPT_BUS */
	const char *name;
	const char *help;	/* '\n' continues under the column */
} option_help[] = {
	{ "status", "--json", "one JSON object (an array of them for several taps)" },
	{ "follow", "--json", "one JSON object per event and line" },
	{ "follow", "--exit-after-final N", "exit 0 after N final segments" },
	{ "start reconnect", "--wait SECONDS", "then wait until the tap streams (at most 600)" },
	{ "export", "--format FORMAT", "txt (default), srt, vtt or json" },
	{ "export", "-o, --output FILE", "write FILE (FILE.tmp, renamed when complete)\n"
	  "instead of standard output" },
	{ "bus", "--bus-name NAME", "the service's bus name (default\n" CLI_DEFAULT_BUS_NAME ")" },
	{ "*", "-h, --help", "this text" },
	{ "*", "--version", "the program's name and version" },
};

#define HELP_INDENT	2
#define HELP_COLUMN	24	/* where the explanations start */

static const char main_help[] =
	"Usage: pw-transcribe [--bus-name NAME] COMMAND [TAP] [OPTIONS]\n"
	"       pw-transcribe export JOURNAL... [--format FORMAT] [-o FILE]\n\n"
	"Live captions and control for libpipewire-module-transcribe.\n\n"
	"Commands:\n"
	"  list                  the taps, one per line\n"
	"  status [TAP]          state, retries, buffers and journal\n"
	"  follow [TAP]          live captions and state changes\n"
	"  start [TAP]           start streaming again\n"
	"  stop [TAP]            finalize and close the session\n"
	"  reconnect [TAP]       connect now, skip the backoff\n"
	"  finalize [TAP]        make what was said so far final\n"
	"  export JOURNAL...     journals as one transcript: txt, srt, vtt or json\n\n"
	"TAP is a tap's name (see list); it may be left out when there is one.\n\n"
	"Options:\n"
	"  --json                status, follow: print JSON\n"
	"  --exit-after-final N  follow: exit 0 after N final segments\n"
	"  --wait SECONDS        start, reconnect: then wait until the tap streams\n"
	"  --format FORMAT       export: txt (default), srt, vtt or json\n"
	"  -o, --output FILE     export: write FILE instead of standard output\n"
	"  --bus-name NAME       the service's bus name (default\n"
	"                        " CLI_DEFAULT_BUS_NAME ")\n"
	"  -h, --help            this text; COMMAND --help for a command's\n"
	"  --version             the program's name and version\n\n"
	EXIT_WAIT;

static bool option_applies(const struct option_help *h, const struct command *c)
{
	size_t len = strlen(c->name);
	const char *p;

	if (strcmp(h->commands, "*") == 0)
		return true;
	if (strcmp(h->commands, "bus") == 0)
		return c->opts & OPT_BUS;
	for (p = h->commands; (p = strstr(p, c->name)); p += len)
		if ((p == h->commands || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
			return true;
	return false;
}

/* "  name    text", lines after the first indented to the column. */
static void put_option(FILE *f, const struct option_help *h)
{
	const char *line = h->help, *nl;

	fprintf(f, "%*s%-*s", HELP_INDENT, "", HELP_COLUMN - HELP_INDENT, h->name);
	while ((nl = strchr(line, '\n'))) {
		fprintf(f, "%.*s\n%*s", (int)(nl - line), line, HELP_COLUMN, "");
		line = nl + 1;
	}
	fprintf(f, "%s\n", line);
}

#define HELP_WIDTH	79
#define USAGE_PREFIX	"Usage: pw-transcribe "

/* The usage line, broken before a " [" where it would pass HELP_WIDTH. */
static void put_usage(FILE *f, const struct command *c)
{
	char line[256], *p, *brk;
	size_t col = 0;

	snprintf(line, sizeof(line), USAGE_PREFIX "%s%s%s",
		 c->opts & OPT_BUS ? "[--bus-name NAME] " : "", c->name, c->synopsis);
	for (p = line; strlen(p) + col > HELP_WIDTH; p = brk + 1) {
		for (brk = p + HELP_WIDTH - col; brk > p && !(brk[0] == ' ' && brk[1] == '['); brk--)
			;
		if (brk == p)
			break;
		fprintf(f, "%.*s\n%*s", (int)(brk - p), p, (int)strlen(USAGE_PREFIX), "");
		col = strlen(USAGE_PREFIX);
	}
	fprintf(f, "%s\n", p);
}

static void put_command_help(FILE *f, const struct command *c)
{
	put_usage(f, c);
	fprintf(f, "\n%s\nOptions:\n", c->help);
	for (size_t i = 0; i < sizeof(option_help) / sizeof(option_help[0]); i++)
		if (option_applies(&option_help[i], c))
			put_option(f, &option_help[i]);
	fprintf(f, "\n%s", c->exit_help);
}

static int usage_error(const char *what, const char *arg, const struct command *cmd)
{
	cli_error("%s%s%s%s; see pw-transcribe %s%s--help", what, arg ? " \"" : "",
		  arg ? arg : "", arg ? "\"" : "", cmd ? cmd->name : "", cmd ? " " : "");
	return CLI_EXIT_USAGE;
}

/* A D-Bus well-known name: dot-separated elements of [A-Za-z0-9_-], at
 * least two, none empty or starting with a digit, at most 255 bytes. */
static bool bus_name_valid(const char *s)
{
	size_t len = strlen(s), elements = 1;
	const char *p;

	if (len == 0 || len > 255 || *s == '.' || s[len - 1] == '.')
		return false;
	for (p = s; *p; p++) {
		if (*p == '.') {
			if (p[1] == '.' || (p[1] >= '0' && p[1] <= '9'))
				return false;
			elements++;
		} else if (!(*p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') ||
			     (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) {
			return false;
		}
	}
	return elements >= 2 && !(*s >= '0' && *s <= '9');
}

static bool parse_seconds(const char *s, uint32_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > WAIT_MAX_S)
		return false;
	*ms = (uint32_t)llround(v * 1000.0);
	return true;
}

static bool parse_count(const char *s, unsigned *n)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v == 0 || v > 1000000000UL)
		return false;
	*n = (unsigned)v;
	return true;
}

static bool format_valid(const char *s)
{
	static const char *const formats[] = { "txt", "srt", "vtt", "json" };

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(s, formats[i]) == 0)
			return true;
	return false;
}

/* Splits "--opt=value"; *value is NULL without '='. */
static bool option_is(const char *arg, const char *name, const char **value)
{
	size_t len = strlen(name);

	if (strncmp(arg, name, len) != 0)
		return false;
	if (arg[len] == '\0') {
		*value = NULL;
		return true;
	}
	if (arg[len] == '=') {
		*value = arg + len + 1;
		return true;
	}
	return false;
}

/* An option's value: after '=' or the next argument. */
static const char *take_value(int argc, char **argv, int *i, const char *inline_value)
{
	if (inline_value)
		return inline_value;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* Parses one option of cmd (NULL: before the command); returns -1 when
 * parsed, an exit code when the program ends here. */
static int parse_option(const struct command *cmd, struct cli_opts *o,
			int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *inl, *val;
	unsigned allowed = cmd ? cmd->opts : 0;

	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		if (cmd)
			put_command_help(stdout, cmd);
		else
			fputs(main_help, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(arg, "--version") == 0) {
		puts(CLI_PROGRAM " " CLI_VERSION);
		return CLI_EXIT_OK;
	}
	if ((!cmd || (allowed & OPT_BUS)) && option_is(arg, "--bus-name", &inl)) {
		val = take_value(argc, argv, i, inl);
		if (!val)
			return usage_error("--bus-name needs a NAME", NULL, cmd);
		if (!bus_name_valid(val))
			return usage_error("not a D-Bus name", val, cmd);
		o->bus_name = val;
	} else if ((allowed & OPT_JSON) && strcmp(arg, "--json") == 0) {
		o->json = true;
	} else if ((allowed & OPT_WAIT) && option_is(arg, "--wait", &inl)) {
		val = take_value(argc, argv, i, inl);
		if (!val || !parse_seconds(val, &o->wait_ms))
			return usage_error("--wait needs SECONDS from 0 to 600", NULL, cmd);
		o->wait = true;
	} else if ((allowed & OPT_EXIT_AFTER_FINAL) &&
		   option_is(arg, "--exit-after-final", &inl)) {
		val = take_value(argc, argv, i, inl);
		if (!val || !parse_count(val, &o->exit_after_final))
			return usage_error("--exit-after-final needs a count N >= 1", NULL, cmd);
	} else if ((allowed & OPT_EXPORT) && option_is(arg, "--format", &inl)) {
		val = take_value(argc, argv, i, inl);
		if (!val || !format_valid(val))
			return usage_error("--format needs txt, srt, vtt or json", NULL, cmd);
		o->format = val;
	} else if ((allowed & OPT_EXPORT) && (option_is(arg, "-o", &inl) ||
					     option_is(arg, "--output", &inl))) {
		val = take_value(argc, argv, i, inl);
		if (!val || !*val)
			return usage_error("-o needs a FILE", NULL, cmd);
		o->output = val;
	} else if (cmd && option_is(arg, "--wait", &inl)) {
		return usage_error("--wait works with start and reconnect only", NULL, cmd);
	} else {
		return usage_error("unknown option", arg, cmd);
	}
	return -1;
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Returns -1 with *cmd and *o filled in, or the exit code. */
static int parse(int argc, char **argv, const struct command **cmd, struct cli_opts *o)
{
	bool options_end = false;
	int i, r;

	*cmd = NULL;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_end && strcmp(arg, "--") == 0) {
			options_end = true;
		} else if (!options_end && arg[0] == '-' && arg[1] != '\0') {
			r = parse_option(*cmd, o, argc, argv, &i);
			if (r >= 0)
				return r;
		} else if (!*cmd) {
			*cmd = find_command(arg);
			if (!*cmd)
				return usage_error("unknown command", arg, NULL);
		} else if (((*cmd)->opts & OPT_TAP) && !o->tap) {
			o->tap = arg;
		} else if ((*cmd)->opts & OPT_EXPORT) {
			o->journals[o->n_journals++] = arg;
		} else {
			return usage_error("unexpected argument", arg, *cmd);
		}
	}
	if (!*cmd)
		return usage_error("no command given", NULL, NULL);
	if (((*cmd)->opts & OPT_EXPORT) && o->n_journals == 0)
		return usage_error("export needs a JOURNAL (a file or a directory)", NULL, *cmd);
	return -1;
}

int main(int argc, char **argv)
{
	struct cli_opts o = { .bus_name = CLI_DEFAULT_BUS_NAME };
	const struct command *cmd;
	int r;

	/* column widths of captions; numbers stay in the C locale */
	setlocale(LC_CTYPE, "");
	/* export's JOURNAL...: at most every argument */
	if (!(o.journals = calloc((size_t)argc + 1, sizeof(*o.journals)))) {
		cli_error("%s", strerror(ENOMEM));
		return CLI_EXIT_FAIL;
	}
	r = parse(argc, argv, &cmd, &o);
	if (r < 0)
		r = cmd->run(&o, cmd->method);
	free(o.journals);
	return r;
}
