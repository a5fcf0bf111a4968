/* pw-transcribe export JOURNAL... [--format txt|srt|vtt|json] [-o FILE]:
 * the command, the txt and JSON writers, and the output (standard output,
 * or FILE.tmp renamed to FILE once complete). No D-Bus. */
#include "cli.h"
#include "json-double.h"
#include "cli-export.h"
#include "cli-text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define TMP_SUFFIX	".tmp"
#define OUTPUT_MODE	0666	/* less the umask, as a shell redirection */

/* "hh:mm:ss.s", tenths cut off (as follow prints them) */
static void put_clock(FILE *f, int64_t ms)
{
	int64_t tenths = ms / 100;

	fprintf(f, "[%02lld:%02lld:%02lld.%lld] ", (long long)(tenths / 36000),
		(long long)(tenths / 600 % 60), (long long)(tenths / 10 % 60),
		(long long)(tenths % 10));
}

static int write_txt(FILE *f, const struct export_journal *j)
{
	for (size_t i = 0; i < j->n; i++) {
		const struct export_entry *e = &j->entries[i];

		put_clock(f, e->start_ms);
		if (e->kind == EXPORT_GAP && e->label[0]) {
			cli_text_put(f, e->label);	/* several taps: whose gap */
			fputs(": ", f);
		}
		if (e->kind == EXPORT_GAP) {
			fprintf(f, "[gap: %.1f s", (double)(e->end_ms - e->start_ms) / 1000.0);
			if (e->text[0]) {
				fputs(", ", f);
				cli_text_put(f, e->text);
			}
			fputs("]\n", f);
			continue;
		}
		if (e->label[0]) {
			cli_text_put(f, e->label);
			fputs(": ", f);
		}
		cli_text_put(f, e->text);
		fputc('\n', f);
	}
	return 0;
}

static struct json_object *entry_json(const struct export_entry *e)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (e->kind == EXPORT_GAP) {
		json_object_object_add(o, "type", json_object_new_string("gap"));
		json_object_object_add(o, "start_ms", json_object_new_int64(e->start_ms));
		json_object_object_add(o, "end_ms", json_object_new_int64(e->end_ms));
		json_object_object_add(o, "reason", json_object_new_string(e->text));
		json_object_object_add(o, "tap", json_object_new_string(e->tap));
		return o;
	}
	json_object_object_add(o, "seq", json_object_new_uint64(e->seq));
	json_object_object_add(o, "start_ms", json_object_new_int64(e->start_ms));
	json_object_object_add(o, "end_ms", json_object_new_int64(e->end_ms));
	json_object_object_add(o, "text", json_object_new_string(e->text));
	json_object_object_add(o, "speaker", json_object_new_string(e->speaker));
	json_object_object_add(o, "language", json_object_new_string(e->language));
	if (e->has_confidence)
		json_object_object_add(o, "confidence", json_double_shortest(e->confidence));
	json_object_object_add(o, "session_id", json_object_new_string(e->session_id));
	json_object_object_add(o, "connection_id", json_object_new_uint64(e->connection_id));
	json_object_object_add(o, "tap", json_object_new_string(e->tap));
	return o;
}

/* One array, one element per line. */
static int write_json(FILE *f, const struct export_journal *j)
{
	struct json_object *o;

	fputc('[', f);
	for (size_t i = 0; i < j->n; i++) {
		if (!(o = entry_json(&j->entries[i])))
			return -ENOMEM;
		fputs(i ? ",\n" : "\n", f);
		fputs(json_object_to_json_string_ext(o, JSON_FLAGS), f);
		json_object_put(o);
	}
	fputs(j->n ? "\n]\n" : "]\n", f);
	return 0;
}

static int write_format(FILE *f, const char *format, const struct export_journal *j)
{
	if (strcmp(format, "srt") == 0)
		return export_cues_write(f, j, false);
	if (strcmp(format, "vtt") == 0)
		return export_cues_write(f, j, true);
	if (strcmp(format, "json") == 0)
		return write_json(f, j);
	return write_txt(f, j);
}

static int to_stdout(const char *format, const struct export_journal *j)
{
	int r = write_format(stdout, format, j);

	if (r < 0) {
		cli_error("standard output: %s", strerror(-r));
		return CLI_EXIT_FAIL;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("standard output: %s", strerror(errno ? errno : EIO));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* FILE.tmp, synced, renamed over FILE: a reader sees the old file or the
 * whole new one, never a part. */
static int to_file(const char *path, const char *format, const struct export_journal *j)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + sizeof(TMP_SUFFIX));
	const char *failed;
	FILE *f = NULL;
	int fd, r = 0;

	if (!tmp) {
		cli_error("%s: %s", path, strerror(ENOMEM));
		return CLI_EXIT_FAIL;
	}
	memcpy(tmp, path, len);
	memcpy(tmp + len, TMP_SUFFIX, sizeof(TMP_SUFFIX));
	failed = tmp;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, OUTPUT_MODE);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if ((r = write_format(f, format, j)) < 0)
		goto out;
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0) {
		r = errno ? -errno : -EIO;
		goto out;
	}
	r = fclose(f) == 0 ? 0 : -errno;
	f = NULL;
	if (r == 0 && rename(tmp, path) < 0) {
		r = -errno;
		failed = path;
	}
out:
	if (f)
		fclose(f);
	if (r < 0) {
		cli_error("%s: %s", failed, strerror(-r));
		unlink(tmp);
	}
	free(tmp);
	return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_export_run(const struct cli_opts *o)
{
	const char *format = o->format ? o->format : "txt";
	struct export_journal j;
	size_t failures;
	int code = CLI_EXIT_FAIL;

	/* Whatever could be read is exported; any failure makes the status 1. */
	if (export_set_read(o->journals, o->n_journals, &j, &failures) > 0)
		code = o->output ? to_file(o->output, format, &j) : to_stdout(format, &j);
	if (failures > 0)
		code = CLI_EXIT_FAIL;
	export_journal_clear(&j);
	return code;
}
