/* The session's data path without sockets: recorded service messages
 * (tests/unit/recorded/) onto the timeline and into the journal, the
 * commit, pacing, what is kept when no connection takes audio, and the
 * speech level. The transport is a fake that records what was sent. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <pipewire/log.h>

#include "datapath.h"
#include "publish-queue.h"
#include "transcript-out.h"

PW_LOG_TOPIC(mod_topic, "mod.transcribe");

#define RATE	16000
#define SEC	(RATE * 2)

struct sent {
	uint64_t conn;
	size_t len;
	bool text;
};

struct fake {
	struct sent sent[4096];
	uint32_t n;
	uint64_t audio_bytes;
	bool end_seen;
	char dir[64];
	struct transcript_out *out;
	struct publish_queue *queue;
	struct datapath *dp;
	uint32_t wakes;
	int64_t wake_seq[256];		/* the journal's last seq at each wake */
	uint32_t checked;		/* events popped and checked against it */
	bool journal_first;		/* each published final was journaled before */
};

static int fake_send(void *data, uint64_t conn, const void *buf, size_t len, bool text)
{
	struct fake *f = data;

	if (f->n < 4096)
		f->sent[f->n++] = (struct sent){ conn, len, text };
	if (!text)
		f->audio_bytes += len;
	else if (len == 0)
		f->end_seen = true;
	return 0;
}

static uint32_t fake_queued(void *data, uint64_t conn)
{
	return 0;		/* the wire takes everything at once */
}

static const struct datapath_ops fake_ops = { .send = fake_send, .queued = fake_queued };

static char *journal_text(struct fake *f)
{
	const char *path = transcript_out_journal_path(f->out);
	FILE *fp = fopen(path, "r");
	static char buf[65536];
	size_t n;

	if (fp == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int64_t journal_last_seq(struct fake *f)
{
	const char *p = journal_text(f);
	int64_t seq = -1;

	while (p != NULL && (p = strstr(p, "\"seq\":")) != NULL) {
		p += 6;
		seq = SPA_MAX(seq, strtoll(p, NULL, 10));
	}
	return seq;
}

/* Called by the publish queue on every push, under its lock (so it must not
 * pop): a final must be in the journal by then (a kill right after the push
 * loses nothing). What the journal held is checked at drain(). */
static void on_publish(void *data)
{
	struct fake *f = data;

	if (f->wakes < SPA_N_ELEMENTS(f->wake_seq))
		f->wake_seq[f->wakes] = journal_last_seq(f);
	f->wakes++;
}

/* Pops what was pushed; the n-th event was the n-th wake. */
static void drain(struct fake *f)
{
	struct publish_event ev;

	while (publish_queue_pop(f->queue, &ev)) {
		uint32_t i = f->checked++;
		if (ev.kind == PUBLISH_FINAL && i < SPA_N_ELEMENTS(f->wake_seq) &&
		    (int64_t)ev.segment.seq > f->wake_seq[i])
			f->journal_first = false;
	}
}

static struct fake *fake_new_with(const struct dialect_ops *dialect)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct datapath_config c = { .rate = RATE, .channels = 1, .memory_sec = 120,
		.replay_speed = 4, .frame_ms = 100, .max_queued = 3 };
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-datapath-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->journal_first = true;
	f->out = transcript_out_new("t", "s", RATE, f->dir, NULL);
	f->queue = publish_queue_new(on_publish, f);
	transcript_out_set_queue(f->out, f->queue, 0);
	f->dp = datapath_new(&c, dialect, f->out, &fake_ops, f, err, sizeof(err));
	assert_non_null(f->dp);
	return f;
}

static struct fake *fake_new(void)
{
	return fake_new_with(&dialect_soniox);
}

static void fake_free(struct fake *f)
{
	char cmd[128];

	datapath_free(f->dp);
	transcript_out_free(f->out);
	publish_queue_free(f->queue);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

static void follow(struct fake *f, uint64_t conn, enum session_audio audio, uint64_t now)
{
	struct session_status st = { .conn = conn, .audio_conn = conn, .audio = audio };

	datapath_follow(f->dp, &st, now);
}

/* amplitude 0: silence. */
static void push_tone(struct fake *f, double amplitude, uint32_t ms)
{
	static int16_t buf[RATE];
	uint32_t n = RATE * ms / 1000;

	for (uint32_t i = 0; i < n; i++)
		buf[i % RATE] = (int16_t)(amplitude * 32767 * sin(2 * M_PI * 440 * i / RATE));
	for (uint32_t done = 0; done < n; done += RATE / 50)
		datapath_push(f->dp, buf, (RATE / 50) * 2);
}

/* What the session heard from one message. */
struct heard {
	uint32_t n;
	struct session_event ev[DATAPATH_MAX_EVENTS];
};

static const struct session_event *find(const struct heard *h, enum session_event_type type)
{
	for (uint32_t i = 0; i < h->n; i++)
		if (h->ev[i].type == type)
			return &h->ev[i];
	return NULL;
}

static void message(struct fake *f, uint64_t conn, const char *msg, uint64_t now, struct heard *h)
{
	h->n = datapath_message(f->dp, conn, msg, strlen(msg), now, h->ev);
}

/* Feeds a recorded file, one message per line; returns the messages. */
static uint32_t replay_file(struct fake *f, const char *name, uint64_t conn, struct heard *last)
{
	char path[512], line[65536];
	uint32_t n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", RECORDED_DIR, name);
	assert_non_null(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		message(f, conn, line, 1000, last);
		assert_true(last->n > 0);
		n++;
	}
	fclose(fp);
	return n;
}

static void test_recorded_speech_reaches_the_journal_before_anyone_sees_it(void **st)
{
	struct fake *f = fake_new();
	struct heard m;
	char *j;

	push_tone(f, 0.3, 3000);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	assert_int_equal(replay_file(f, "pw-transcribe-server-goforward.jsonl", 1, &m), 12);
	assert_non_null(find(&m, SESSION_EV_FINISHED));
	assert_int_equal(find(&m, SESSION_EV_MESSAGE)->progress_ms, 2786);
	j = journal_text(f);
	assert_non_null(strstr(j, "\"text\":\"go forward ten meters\""));
	assert_non_null(strstr(j, "\"start_ms\":460,\"end_ms\":2120"));
	/* Finding 8: the journal line was written after the publish push. */
	drain(f);
	assert_true(f->journal_first);
	assert_true(f->wakes > 0);
	fake_free(f);
}

static void test_recorded_tones_commit_what_the_service_finalized(void **st)
{
	struct fake *f = fake_new();
	struct heard m;

	push_tone(f, 0.3, 3000);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	datapath_pump(f->dp, 100000, &(struct datapath_sent){ 0 });	/* all of it sent */
	assert_int_equal(replay_file(f, "fault-server-tones.jsonl", 1, &m), 20);
	/* 2650 ms were final: only what is after stays for the next one. */
	assert_int_equal(datapath_buffered_ms(f->dp), 350);
	assert_int_equal(datapath_position_ms(f->dp), 3000);
	assert_non_null(strstr(journal_text(f), "\"start_ms\":1600,\"end_ms\":1850,\"text\":\"w1100\""));
	fake_free(f);
}

static void test_a_replayed_connection_maps_its_words_after_the_first(void **st)
{
	struct fake *f = fake_new();
	struct heard m;
	const char *first = "{\"tokens\":[{\"text\":\" a\",\"start_ms\":100,\"end_ms\":400,"
		"\"is_final\":true}],\"final_audio_proc_ms\":1000,\"total_audio_proc_ms\":1200}";
	const char *second = "{\"tokens\":[{\"text\":\" b\",\"start_ms\":50,\"end_ms\":300,"
		"\"is_final\":true}],\"final_audio_proc_ms\":500,\"total_audio_proc_ms\":500}";

	push_tone(f, 0.3, 3000);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	datapath_pump(f->dp, 100000, &(struct datapath_sent){ 0 });
	message(f, 1, first, 1000, &m);
	follow(f, 2, SESSION_AUDIO_KEEP, 2000);		/* a new connection, from C */
	/* It heard the replay: a service's times are only believed within
	 * the audio it was sent (timeline clamping). */
	datapath_pump(f->dp, 100000, &(struct datapath_sent){ 0 });
	message(f, 2, second, 2000, &m);
	assert_non_null(strstr(journal_text(f), "\"start_ms\":1050,\"end_ms\":1300,\"text\":\"b\""));
	fake_free(f);
}

static void test_more_finals_than_fit_hold_the_commit_and_ask_for_a_replay(void **st)
{
	struct fake *f = fake_new();
	struct heard m;
	char *msg = malloc(300 * 100 + 100);
	size_t n = 0;

	n += sprintf(msg + n, "{\"tokens\":[");
	for (int i = 0; i < 300; i++)
		n += sprintf(msg + n, "%s{\"text\":\" w%d\",\"start_ms\":%d,\"end_ms\":%d,\"is_final\":true}",
				i ? "," : "", i, i * 100, i * 100 + 50);
	sprintf(msg + n, "],\"final_audio_proc_ms\":30000,\"total_audio_proc_ms\":30000}");
	push_tone(f, 0.3, 40000);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	datapath_pump(f->dp, 1000000, &(struct datapath_sent){ 0 });
	message(f, 1, msg, 1000, &m);
	/* Finding 8: the commit went to 30 000 ms, past the 44 words dropped. */
	assert_non_null(find(&m, SESSION_EV_RESYNC));
	assert_int_equal(datapath_position_ms(f->dp) - (int64_t)datapath_buffered_ms(f->dp), 25550);
	/* The rest of that connection counts for nothing. */
	message(f, 1, msg, 1000, &m);
	assert_int_equal(m.n, 0);
	free(msg);
	fake_free(f);
}

static void test_the_backlog_of_an_ending_stream_is_paced(void **st)
{
	struct fake *f = fake_new();
	struct datapath_sent sent;

	push_tone(f, 0.3, 60000);		/* a minute of backlog after an outage */
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	datapath_end(f->dp, 1, true, 1000);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	datapath_pump(f->dp, 1000, &sent);
	/* Finding 8: all of it went at once. At 4× with a 1 s lead: */
	assert_true(f->audio_bytes <= (uint64_t)SEC * 11 / 10);
	assert_false(sent.end_sent);
	for (uint64_t now = 1000; !sent.end_sent && now < 30000; now += 100)
		datapath_pump(f->dp, now, &sent);
	assert_true(sent.end_sent);
	assert_true(f->end_seen);
	assert_int_equal(f->audio_bytes, (uint64_t)SEC * 60);
	fake_free(f);
}

static void test_a_connection_that_is_gone_takes_its_words_in_progress_along(void **st)
{
	struct fake *f = fake_new();
	struct heard m;
	const char *partial = "{\"tokens\":[{\"text\":\" hel\",\"start_ms\":100,\"end_ms\":400,"
		"\"is_final\":false}],\"final_audio_proc_ms\":0,\"total_audio_proc_ms\":500}";
	struct publish_event ev;
	uint32_t wakes;

	transcript_out_set_queue(f->out, f->queue, 0);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	message(f, 1, partial, 1000, &m);
	drain(f);
	wakes = f->wakes;
	/* Finding 8: the old partial stayed on screen through an outage. */
	follow(f, 0, SESSION_AUDIO_KEEP, 2000);
	assert_int_equal(f->wakes, wakes + 1);
	follow(f, 0, SESSION_AUDIO_KEEP, 3000);
	assert_int_equal(f->wakes, wakes + 1);
	assert_true(publish_queue_pop(f->queue, &ev));	/* what the one wake was for */
	assert_false(publish_queue_pop(f->queue, &ev));
	fake_free(f);
}

static void test_speech_is_told_from_silence_by_level(void **st)
{
	struct fake *f = fake_new();
	int16_t buf[320];

	for (double db = -90; db <= 0; db += 5) {
		double a = pow(10, db / 20) * sqrt(2);	/* a sine of this RMS level */
		if (fabs(db - DATAPATH_SPEECH_DB) < 1)
			continue;			/* rounding decides the threshold itself */
		for (int i = 0; i < 320; i++)
			buf[i] = (int16_t)(a * 32767 * sin(2 * M_PI * 440 * i / RATE));
		if (datapath_push(f->dp, buf, sizeof(buf)) != (db > DATAPATH_SPEECH_DB))
			fail_msg("%.0f dBFS misjudged", db);
	}
	memset(buf, 0, sizeof(buf));
	assert_false(datapath_push(f->dp, buf, sizeof(buf)));
	fake_free(f);
}

static void test_closed_for_silence_keeps_only_the_preroll_and_stopped_nothing(void **st)
{
	struct fake *f = fake_new();

	follow(f, 0, SESSION_AUDIO_PREROLL, 1000);
	push_tone(f, 0, 10000);
	assert_int_equal(datapath_buffered_ms(f->dp), DATAPATH_PREROLL_MS);
	assert_int_equal(datapath_dropped_ms(f->dp), 0);
	assert_int_equal(datapath_position_ms(f->dp), 10000);
	follow(f, 0, SESSION_AUDIO_DISCARD, 2000);
	assert_int_equal(datapath_buffered_ms(f->dp), 0);
	follow(f, 0, SESSION_AUDIO_KEEP, 3000);
	push_tone(f, 0, 5000);
	assert_int_equal(datapath_buffered_ms(f->dp), 5000);
	assert_int_equal(datapath_dropped_ms(f->dp), 0);
	fake_free(f);
}

/* ---- the other dialects through the same path ---- */

/* OpenAI: audio as base64 text events, the ack first, and an item's
 * completed transcript commits the item's end. */
static void test_openai_items_frame_audio_ack_and_commit_their_end(void **st)
{
	struct fake *f = fake_new_with(&dialect_openai_realtime);
	struct heard m;

	push_tone(f, 0.3, 3000);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	datapath_pump(f->dp, 100000, &(struct datapath_sent){ 0 });
	assert_true(f->n > 0);
	assert_true(f->sent[0].text);
	/* 100 ms at 16 kHz (this fixture's rate): 3200 bytes, 4268 in base64. */
	assert_int_equal(f->sent[0].len, 4268 + 47);
	message(f, 1, "{\"type\":\"session.created\"}", 1000, &m);
	assert_int_equal(m.ev[0].type, SESSION_EV_READY);
	message(f, 1, "{\"type\":\"input_audio_buffer.speech_started\",\"item_id\":\"i1\","
			"\"audio_start_ms\":300}", 1000, &m);
	message(f, 1, "{\"type\":\"input_audio_buffer.speech_stopped\",\"item_id\":\"i1\","
			"\"audio_end_ms\":2000}", 1000, &m);
	assert_int_equal(find(&m, SESSION_EV_MESSAGE)->progress_ms, 2000);
	message(f, 1, "{\"type\":\"input_audio_buffer.committed\",\"item_id\":\"i1\"}", 1000, &m);
	message(f, 1, "{\"type\":\"conversation.item.input_audio_transcription.completed\","
			"\"item_id\":\"i1\",\"transcript\":\"Hello there.\"}", 1000, &m);
	assert_int_equal(find(&m, SESSION_EV_MESSAGE)->count, 1);
	assert_non_null(find(&m, SESSION_EV_FINISHED));
	assert_int_equal(datapath_buffered_ms(f->dp), 1000);
	assert_non_null(strstr(journal_text(f), "\"start_ms\":300,\"end_ms\":2000,\"text\":\"Hello there.\""));
	fake_free(f);
}

static void test_deepgram_final_result_commits_start_plus_duration(void **st)
{
	struct fake *f = fake_new_with(&dialect_deepgram);
	struct heard m;

	push_tone(f, 0.3, 3000);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	datapath_pump(f->dp, 100000, &(struct datapath_sent){ 0 });
	assert_false(f->sent[0].text);
	assert_int_equal(f->audio_bytes, 3 * SEC);
	message(f, 1, "{\"type\":\"Results\",\"start\":0.0,\"duration\":2.5,\"is_final\":true,"
			"\"channel\":{\"alternatives\":[{\"transcript\":\"go on\",\"words\":["
			"{\"word\":\"go\",\"start\":0.5,\"end\":0.8},{\"word\":\"on\",\"start\":0.9,"
			"\"end\":1.2}]}]}}", 1000, &m);
	assert_null(find(&m, SESSION_EV_READY));
	assert_int_equal(find(&m, SESSION_EV_MESSAGE)->progress_ms, 2500);
	assert_int_equal(datapath_buffered_ms(f->dp), 500);
	assert_non_null(strstr(journal_text(f), "\"start_ms\":500,\"end_ms\":1200,\"text\":\"go on\""));
	fake_free(f);
}

/* vosk's empty partial carries nothing but is the answer to audio. */
static void test_vosk_replies_are_progress_and_results_commit_the_last_word(void **st)
{
	struct fake *f = fake_new_with(&dialect_vosk);
	struct heard m;

	push_tone(f, 0.3, 3000);
	follow(f, 1, SESSION_AUDIO_KEEP, 1000);
	datapath_pump(f->dp, 100000, &(struct datapath_sent){ 0 });
	message(f, 1, "{\"partial\" : \"\"}", 1000, &m);
	assert_int_equal(find(&m, SESSION_EV_MESSAGE)->count, 1);
	message(f, 1, "{\"result\" : [{\"conf\" : 1.0, \"end\" : 1.02, \"start\" : 0.75, "
			"\"word\" : \"what\"}], \"text\" : \"what\"}", 1000, &m);
	assert_int_equal(datapath_buffered_ms(f->dp), 1980);
	assert_non_null(strstr(journal_text(f), "\"text\":\"what\""));
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_speech_reaches_the_journal_before_anyone_sees_it),
		cmocka_unit_test(test_recorded_tones_commit_what_the_service_finalized),
		cmocka_unit_test(test_a_replayed_connection_maps_its_words_after_the_first),
		cmocka_unit_test(test_more_finals_than_fit_hold_the_commit_and_ask_for_a_replay),
		cmocka_unit_test(test_the_backlog_of_an_ending_stream_is_paced),
		cmocka_unit_test(test_a_connection_that_is_gone_takes_its_words_in_progress_along),
		cmocka_unit_test(test_speech_is_told_from_silence_by_level),
		cmocka_unit_test(test_closed_for_silence_keeps_only_the_preroll_and_stopped_nothing),
		cmocka_unit_test(test_openai_items_frame_audio_ack_and_commit_their_end),
		cmocka_unit_test(test_deepgram_final_result_commits_start_plus_duration),
		cmocka_unit_test(test_vosk_replies_are_progress_and_results_commit_the_last_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
