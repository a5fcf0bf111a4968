#!/usr/bin/env python3
"""Tests of pw-transcribe-server (tools/server/) driven by fault-client
(tests/faults/), with real speech from pocketsphinx-testdata.

    TRANSCRIBE_SERVER=build/tools/server/pw-transcribe-server \\
    FAULT_CLIENT=build/tests/faults/fault-client \\
    python3 tests/server/test_server.py -v

Needs sox (WAV conversion and resampling) and pocketsphinx-testdata
(/usr/share/pocketsphinx/test/data, or POCKETSPHINX_TESTDATA). Every server
is started per test, read by a thread, stopped with SIGTERM and must exit 0
without sanitizer reports. Exits 77 (meson: skipped) when the binaries are
not given.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import wave
from pathlib import Path

from serverproc import ServerProcess

SERVER = os.environ.get("TRANSCRIBE_SERVER", "")
CLIENT = os.environ.get("FAULT_CLIENT", "")
TESTDATA = Path(os.environ.get("POCKETSPHINX_TESTDATA", "/usr/share/pocketsphinx/test/data"))
START_TIMEOUT = 30.0
CLIENT_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
TIME_TOLERANCE_MS = 150

GOFORWARD = ["go", "forward", "ten", "meters"]
GO_START_MS = 460          # "go" in goforward.raw (pocketsphinx alignment)
LIBRIVOX = ["0870", "0880", "0890", "0920", "0930"]
MARKERS = ("<fin>", "<end>")

WORK = None                # temporary directory with the WAVs


def sox(*args):
    # -D: no dither, so silence stays digital silence and files are exact
    subprocess.run(["sox", "-D", *map(str, args)], check=True, capture_output=True)


def write_silence(path, seconds, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(2 * int(rate * seconds)))


def wav(name):
    return WORK / name


def make_wavs():
    raw = TESTDATA / "goforward.raw"
    gf = wav("goforward.wav")
    sox("-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", raw, gf)
    for secs in (1, 2, 3):
        write_silence(wav("silence%d.wav" % secs), secs)
    sox(gf, "-c", "2", wav("gf-stereo.wav"))
    for rate in (8000, 44100, 48000):
        sox(gf, "-r", rate, wav("gf-%d.wav" % rate))
    # 3 s of silence first: word times must move by exactly that
    sox(wav("silence3.wav"), gf, wav("gf-late.wav"))
    # twice, 2 s apart (finalize in the first, the second must keep its times)
    sox(gf, wav("silence2.wav"), gf, wav("gf-twice.wav"))
    # 10 s of 48 kHz stereo = 1.9 MB in one message (sent under a 16 kHz
    # config: the point is the message size, not the audio)
    sox(gf, "-r", "48000", "-c", "2", wav("gf-48000-stereo.wav"))
    sox(wav("gf-48000-stereo.wav"), wav("gf-long.wav"), "repeat", "4")
    # the five LibriVox sentences, 1 s apart
    args = []
    for c in LIBRIVOX:
        args += [TESTDATA / "librivox" / ("sense_and_sensibility_01_austen_64kb-%s.wav" % c),
                 wav("silence1.wav")]
    sox(*args, wav("librivox.wav"))
    # ~30 s of 16 kHz stereo = 1.9 MB: more than the server buffers
    sox(wav("librivox.wav"), "-c", "2", wav("librivox-stereo.wav"))


def librivox_reference():
    ref = {}
    for line in (TESTDATA / "librivox" / "transcription").read_text().splitlines():
        words, _, utt = line.rpartition("(")
        ref[utt.strip(") ")[-4:]] = [w for w in words.split() if w not in ("<s>", "</s>")]
    return [w for c in LIBRIVOX for w in ref[c]]


def lcs(a, b):
    """Length of the longest common subsequence of two word lists."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


class Server(ServerProcess):
    """A running pw-transcribe-server; stderr is its log. TCP without a key
    must be asked for (the default is a Unix socket)."""

    def __init__(self, *args, check_start=True, argv=None, env=None):
        super().__init__(argv or [SERVER, "--port", "0", "--insecure-tcp", *args], log="stderr",
                         env=env, check_start=check_start, start_timeout=START_TIMEOUT,
                         stop_timeout=STOP_TIMEOUT)


class Result:
    """What fault-client printed."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.messages = []
        self.close_code = None
        for line in proc.stdout.splitlines():
            if line.startswith("recv text ") and " data=" in line:
                self.messages.append(json.loads(line.split(" data=", 1)[1]))
            elif line.startswith("closed code="):
                self.close_code = int(line.split("=")[1])

    def tokens(self, final=None):
        return [t for m in self.messages for t in m.get("tokens", [])
                if final is None or t.get("is_final") == final]

    def words(self):
        """Final words, in order, markers left out."""
        return [t["text"].strip() for t in self.tokens(True) if t["text"] not in MARKERS]

    def errors(self):
        return [m for m in self.messages if "error_code" in m]

    def finished(self):
        return [m for m in self.messages if m.get("finished")]


def run_client(server, *args, url=None, timeout=CLIENT_TIMEOUT):
    where = ["--unix", server.socket] if getattr(server, "socket", None) else []
    proc = subprocess.run([CLIENT, "--url", url or server.url, *where, "--timeout-s", str(int(timeout)),
                           *args], capture_output=True, text=True, timeout=timeout + 30)
    return Result(proc)


def start_client(server, *args):
    return subprocess.Popen([CLIENT, "--url", server.url, "--timeout-s", str(int(CLIENT_TIMEOUT)), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_client(proc):
    out, err = proc.communicate(timeout=CLIENT_TIMEOUT + 30)
    return Result(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))


class ServerTest(unittest.TestCase):
    server_args = ()

    def setUp(self):
        self.servers = []
        self.server = self.start_server(*self.server_args)

    def start_server(self, *args):
        s = Server(*args)
        self.servers.append(s)
        return s

    def tearDown(self):
        stopped = []
        for s in self.servers:          # stop them all before judging any
            try:
                stopped.append((s.stop(), s.log()))
            except AssertionError as e:
                stopped.append((None, "%s\n%s" % (e, s.log())))
        for rc, log in stopped:
            self.assertEqual(rc, 0, "server exit status %s:\n%s" % (rc, log))
            for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                        "final-token-before-final-audio", "pocketsphinx level=error"):
                self.assertNotIn(bad, log, log)

    def assert_completed(self, r):
        self.assertEqual(r.rc, 0, r.out)
        self.assertEqual(r.close_code, 1000, r.out)
        self.assertEqual(len(r.finished()), 1, r.out)
        self.assertIs(r.messages[-1].get("finished"), True, r.out)
        self.assertEqual(r.errors(), [], r.out)

    def assert_consistent(self, r):
        """Finals each once and in time order, F <= T, both never decrease."""
        finals = [t for t in r.tokens(True) if t["text"] not in MARKERS]
        keys = [(t["text"], t["start_ms"]) for t in finals]
        self.assertEqual(len(keys), len(set(keys)), "a final token came twice: %s" % keys)
        starts = [t["start_ms"] for t in finals]
        self.assertEqual(starts, sorted(starts), r.out)
        last_f = last_t = 0
        for m in r.messages:
            if "tokens" not in m:
                continue
            f, t = m["final_audio_proc_ms"], m["total_audio_proc_ms"]
            self.assertLessEqual(f, t, m)
            self.assertGreaterEqual(f, last_f, m)
            self.assertGreaterEqual(t, last_t, m)
            for tok in m["tokens"]:
                self.assertLessEqual(tok["start_ms"], tok["end_ms"], tok)
                self.assertLessEqual(tok["end_ms"], t, tok)
                if tok.get("is_final") and tok["text"] not in MARKERS:
                    self.assertGreaterEqual(tok["start_ms"], last_f, "final before F: %s" % tok)
                    self.assertTrue(0.0 <= tok["confidence"] <= 1.0, tok)
            last_f, last_t = f, t


class TestStreaming(ServerTest):
    def test_listening_line_names_the_bound_port_and_address(self):
        self.assertGreater(self.server.port, 0)
        self.assertEqual(self.server.address, "127.0.0.1")

    def test_goforward_words_arrive_as_finals_in_order(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0")
        self.assert_completed(r)
        self.assert_consistent(r)
        self.assertEqual(r.words(), GOFORWARD)
        go = r.tokens(True)[0]
        self.assertLess(abs(go["start_ms"] - GO_START_MS), TIME_TOLERANCE_MS, go)
        self.assertEqual(r.messages[-1]["total_audio_proc_ms"], 2786)
        self.assertEqual(r.messages[-1]["final_audio_proc_ms"], 2786)

    def test_non_final_words_come_before_they_are_final(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0")
        self.assert_completed(r)
        first_final = next(i for i, m in enumerate(r.messages)
                           if any(t["is_final"] for t in m.get("tokens", [])))
        partial = [t["text"].strip() for m in r.messages[:first_final] for t in m["tokens"]]
        self.assertIn("go", partial)
        self.assertNotIn("confidence", r.tokens(False)[0])

    def test_total_audio_progresses_without_speech(self):
        r = run_client(self.server, "--wav", wav("silence3.wav"), "--speed", "0")
        self.assert_completed(r)
        totals = [m["total_audio_proc_ms"] for m in r.messages]
        self.assertGreaterEqual(len(totals), 5, r.out)      # at least every ~500 ms
        self.assertEqual(r.words(), [])
        # between utterances F trails T by at most the VAD look-back (1 s)
        self.assertGreaterEqual(r.messages[-2]["final_audio_proc_ms"],
                                r.messages[-2]["total_audio_proc_ms"] - 1000, r.out)

    def test_word_times_follow_leading_silence(self):
        r = run_client(self.server, "--wav", wav("gf-late.wav"), "--speed", "0")
        self.assert_completed(r)
        self.assertEqual(r.words(), GOFORWARD)
        go = r.tokens(True)[0]
        self.assertLess(abs(go["start_ms"] - (3000 + GO_START_MS)), TIME_TOLERANCE_MS, go)

    def test_librivox_sentences_are_recognized_in_order(self):
        r = run_client(self.server, "--wav", wav("librivox.wav"), "--speed", "0")
        self.assert_completed(r)
        self.assert_consistent(r)
        ref, hyp = librivox_reference(), r.words()
        recall = lcs(ref, hyp) / len(ref)
        self.assertGreater(recall, 0.6, "recall %.2f\nref: %s\nhyp: %s" % (recall, ref, hyp))
        # each clip ends an utterance: finals arrive in several responses
        self.assertGreaterEqual(sum(1 for m in r.messages
                                    if any(t["is_final"] for t in m.get("tokens", []))), 5)

    def test_fast_client_is_slowed_down_not_dropped(self):
        r = run_client(self.server, "--wav", wav("librivox-stereo.wav"), "--speed", "0",
                       "--chunk-ms", "1000")
        self.assert_completed(r)
        self.assert_consistent(r)
        ref, hyp = librivox_reference(), r.words()
        self.assertGreater(lcs(ref, hyp) / len(ref), 0.6, hyp)
        self.server.wait_log("conn=1 rx resumed")
        self.assertIn("conn=1 rx paused", self.server.log())

    def test_real_time_streaming_gives_the_same_words(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "1")
        self.assert_completed(r)
        self.assertEqual(r.words(), GOFORWARD)

    def test_stereo_is_averaged_to_mono(self):
        r = run_client(self.server, "--wav", wav("gf-stereo.wav"), "--speed", "0")
        self.assert_completed(r)
        self.assert_consistent(r)
        self.assertEqual(r.words(), GOFORWARD)
        go = r.tokens(True)[0]
        self.assertLess(abs(go["start_ms"] - GO_START_MS), TIME_TOLERANCE_MS, go)

    def test_rates_other_than_16000_are_refused_with_a_hint(self):
        # The en-us model is 16 kHz and the server does not resample: the
        # module's PipeWire adapter does, so its audio is always 16 kHz.
        for rate in (8000, 44100, 48000):
            with self.subTest(rate=rate):
                r = run_client(self.server, "--wav", wav("gf-%d.wav" % rate), "--speed", "0")
                self.assertEqual([e["error_code"] for e in r.errors()], [400], r.out)
                self.assertIn("16000 Hz", r.errors()[0]["error_message"])

    def test_endpoint_detection_adds_end_tokens(self):
        cfg = ('{"audio_format":"pcm_s16le","sample_rate":16000,"num_channels":1,'
               '"enable_endpoint_detection":true}')
        r = run_client(self.server, "--wav", wav("gf-twice.wav"), "--speed", "0", "--config", cfg)
        self.assert_completed(r)
        texts = [t["text"].strip() for t in r.tokens(True)]
        self.assertEqual(texts, GOFORWARD + ["<end>"] + GOFORWARD + ["<end>"])


class TestControl(ServerTest):
    def test_finalize_makes_words_final_then_fin(self):
        r = run_client(self.server, "--wav", wav("gf-twice.wav"), "--speed", "0",
                       "--send-at", '1500:{"type":"finalize"}')
        self.assert_completed(r)
        self.assert_consistent(r)
        fin = [m for m in r.messages if any(t["text"] == "<fin>" for t in m.get("tokens", []))]
        self.assertEqual(len(fin), 1, r.out)
        toks = fin[0]["tokens"]
        i = next(k for k, t in enumerate(toks) if t["text"] == "<fin>")
        self.assertTrue(all(t["is_final"] for t in toks[:i + 1]), toks)
        self.assertEqual([t["text"].strip() for t in toks[:i]][:2], ["go", "forward"])
        self.assertEqual(fin[0]["final_audio_proc_ms"], fin[0]["total_audio_proc_ms"])
        self.assertEqual(toks[i]["start_ms"], fin[0]["total_audio_proc_ms"])
        # the second sentence keeps its place on the timeline after the finalize
        words = r.tokens(True)
        second_go = [t for t in words if t["text"].strip() == "go"][-1]
        expected = 2786 + 2000 + GO_START_MS
        self.assertLess(abs(second_go["start_ms"] - expected), TIME_TOLERANCE_MS, second_go)
        self.assertEqual(r.words()[-4:], GOFORWARD)

    def test_keepalive_changes_nothing(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0",
                       "--send-at", '500:{"type":"keepalive"}')
        self.assert_completed(r)
        self.assertEqual(r.words(), GOFORWARD)

    def test_empty_binary_message_ends_the_stream(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0", "--end", "binary")
        self.assert_completed(r)
        self.assertEqual(r.words(), GOFORWARD)

    def test_end_before_audio_finishes_at_once(self):
        r = run_client(self.server)      # config, no audio, empty message
        self.assert_completed(r)
        self.assertEqual(r.messages[-1]["total_audio_proc_ms"], 0)


class TestErrors(ServerTest):
    def assert_error(self, r, code, close=1000):
        self.assertEqual(len(r.errors()), 1, r.out)
        self.assertEqual(r.errors()[0]["error_code"], code, r.out)
        self.assertTrue(r.errors()[0]["error_message"], r.out)
        self.assertEqual(r.close_code, close, r.out)
        self.assertEqual(r.finished(), [], r.out)

    def test_bad_configs_get_400(self):
        bad = {
            "mp3": '{"audio_format":"mp3","sample_rate":16000,"num_channels":1}',
            "rate-low": '{"audio_format":"pcm_s16le","sample_rate":7000,"num_channels":1}',
            "rate-high": '{"audio_format":"pcm_s16le","sample_rate":96000,"num_channels":1}',
            "rate-odd": '{"audio_format":"pcm_s16le","sample_rate":44123,"num_channels":1}',
            "channels": '{"audio_format":"pcm_s16le","sample_rate":16000,"num_channels":3}',
            "no-rate": '{"audio_format":"pcm_s16le","num_channels":1}',
            "array": '[1,2,3]',
            "not-json": 'hello',
        }
        for name, cfg in bad.items():
            with self.subTest(config=name):
                r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0",
                               "--config", cfg)
                self.assert_error(r, 400)
                self.assertEqual(r.rc, 1)

    def test_garbage_text_gets_400_and_the_next_connection_works(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0",
                       "--send-at", "500:not json at all")
        self.assert_error(r, 400)
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0")
        self.assert_completed(r)
        self.assertEqual(r.words(), GOFORWARD)

    def test_unknown_control_type_gets_400(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0",
                       "--send-at", '500:{"type":"rewind"}')
        self.assert_error(r, 400)

    def test_audio_before_config_gets_400(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0", "--no-config")
        self.assert_error(r, 400)

    def test_message_over_1_mib_gets_400_and_close_1009(self):
        # 10 s of 48 kHz stereo in one message = 1.92 MB
        r = run_client(self.server, "--wav", wav("gf-long.wav"), "--speed", "0", "--chunk-ms", "10000",
                       "--config", '{"audio_format":"pcm_s16le","sample_rate":16000,"num_channels":1}')
        self.assert_error(r, 400, close=1009)
        self.assertEqual(r.errors()[0]["error_type"], "message_too_large")

    def test_plain_http_gets_400(self):
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen("http://127.0.0.1:%d/" % self.server.port, timeout=10)
        self.assertEqual(cm.exception.code, 400)


class TestIdle(ServerTest):
    server_args = ("--idle-timeout", "1")

    def test_silent_connection_gets_408(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0", "--hold-ms", "4000")
        self.assertEqual(len(r.errors()), 1, r.out)
        self.assertEqual(r.errors()[0]["error_code"], 408, r.out)
        self.assertEqual(r.close_code, 1000, r.out)
        # what came before the timeout was still answered
        self.assertEqual(r.words()[:2], GOFORWARD[:2])

    def test_audio_keeps_the_connection_open(self):
        # one message every 0.8 s of wall time, idle limit 1 s
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "1",
                       "--chunk-ms", "800")
        self.assert_completed(r)
        self.assertEqual(r.words(), GOFORWARD)


class TestConcurrency(ServerTest):
    def test_four_concurrent_connections_all_get_results(self):
        procs = [start_client(self.server, "--wav", wav("goforward.wav"), "--speed", "1")
                 for _ in range(4)]
        results = [finish_client(p) for p in procs]
        for r in results:
            self.assert_completed(r)
            self.assert_consistent(r)
            self.assertEqual(r.words(), GOFORWARD)
        self.server.wait_log("conn=4 finished")


class TestLimits(ServerTest):
    server_args = ("--max-connections", "1")

    def test_stream_over_the_limit_gets_429(self):
        first = start_client(self.server, "--wav", wav("goforward.wav"), "--speed", "1")
        self.server.wait_log("conn=1 decoder ready")
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0")
        self.assertEqual(r.errors()[0]["error_code"], 429, r.out)
        self.assert_completed(finish_client(first))


class TestAuth(ServerTest):
    KEY = "s3cret-key-for-tests"

    def setUp(self):
        self.keydir = tempfile.TemporaryDirectory()
        self.keyfile = Path(self.keydir.name) / "key"
        self.keyfile.write_text(self.KEY + "\n")
        self.keyfile.chmod(0o600)
        self.server_args = ("--key-file", str(self.keyfile))
        super().setUp()

    def tearDown(self):
        super().tearDown()
        self.keydir.cleanup()

    def test_missing_key_gets_401(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0")
        self.assertEqual(r.errors()[0]["error_code"], 401, r.out)
        self.assertEqual(r.close_code, 1000)

    def test_wrong_key_gets_401(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0", "--key", "nope")
        self.assertEqual(r.errors()[0]["error_code"], 401, r.out)

    def test_bearer_header_is_accepted(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0", "--key", self.KEY)
        self.assert_completed(r)
        self.assertEqual(r.words(), GOFORWARD)

    def test_api_key_in_config_is_accepted(self):
        r = run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0", "--api-key", self.KEY)
        self.assert_completed(r)

    def test_key_never_appears_in_the_log(self):
        run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0", "--key", self.KEY)
        run_client(self.server, "--wav", wav("goforward.wav"), "--speed", "0", "--api-key", self.KEY)
        self.server.wait_log("conn=2 closed")
        self.assertNotIn(self.KEY, self.server.log())

    def test_key_file_readable_by_others_is_refused(self):
        self.keyfile.chmod(0o644)
        s = Server("--key-file", str(self.keyfile), check_start=False)
        rc = s.wait_exit()
        self.assertEqual(rc, 2)
        self.assertIn("chmod 600", s.log())


class TestLifecycle(unittest.TestCase):
    def test_sigterm_closes_streams_with_1001_and_exits_0(self):
        s = Server()
        try:
            client = start_client(s, "--wav", wav("librivox.wav"), "--speed", "1")
            s.wait_log("conn=1 decoder ready")
            time.sleep(1.0)
            t0 = time.monotonic()
            rc = s.stop()
            self.assertLess(time.monotonic() - t0, 5.0)
        finally:
            s.kill()
        r = finish_client(client)
        self.assertEqual(rc, 0, s.log())
        self.assertEqual(r.close_code, 1001, r.out)
        self.assertIn("exit reason=signal", s.log())
        self.assertNotIn("Sanitizer", s.log())

    def test_ipv6_loopback_address(self):
        if not socket_has_ipv6():
            self.skipTest("no IPv6 loopback")
        s = Server("--address", "::1")
        try:
            self.assertEqual(s.address, "::1")
            r = run_client(s, "--wav", wav("goforward.wav"), "--speed", "0",
                           url="ws://[::1]:%d/" % s.port)
            self.assertEqual(r.words(), GOFORWARD, r.out)
        finally:
            self.assertEqual(s.stop(), 0, s.log())

    def test_systemd_socket_activation(self):
        activate = shutil.which("systemd-socket-activate")
        if not activate:
            self.skipTest("no systemd-socket-activate")
        import socket
        with socket.socket() as sk:        # a free port (closed again at once)
            sk.bind(("127.0.0.1", 0))
            port = sk.getsockname()[1]
        # it execs the server on the first connection, with the socket as fd 3
        s = Server(argv=[activate, "-l", "127.0.0.1:%d" % port, SERVER, "--insecure-tcp"],
                   check_start=False)
        try:
            s.port = port
            s.wait_log("Listening on")
            r = run_client(s, "--wav", wav("goforward.wav"), "--speed", "0")
            self.assertEqual(r.words(), GOFORWARD, r.out)
            self.assertEqual(s.listening_line(), "listening port=%d address=127.0.0.1" % port)
        finally:
            self.assertEqual(s.stop(), 0, s.log())

    def test_bad_address_is_refused(self):
        s = Server("--address", "localhost", check_start=False)
        rc = s.wait_exit()
        self.assertEqual(rc, 2)
        self.assertIn("not an IP address", s.log())


class TestListening(unittest.TestCase):
    """The default is a Unix socket only its user can reach; TCP is asked
    for, and needs a key unless --insecure-tcp (loopback only)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="server-listen-")
        self.run_dir = Path(self.tmp.name) / "run"
        self.run_dir.mkdir(mode=0o700)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(self.run_dir))
        self.sock_dir = self.run_dir / "pipewire-transcribe"
        self.sock = self.sock_dir / "server.sock"

    def tearDown(self):
        self.tmp.cleanup()

    def refused(self, *argv, env=None, needle):
        s = Server(argv=[SERVER, *argv], env=env or self.env, check_start=False)
        rc = s.wait_exit()
        self.assertEqual(rc, 2, s.log())
        self.assertIn(needle, s.log())

    def test_default_is_a_private_unix_socket(self):
        s = Server(argv=[SERVER], env=self.env)
        try:
            self.assertEqual(s.socket, str(self.sock))
            self.assertEqual(stat.S_IMODE(self.sock_dir.stat().st_mode), 0o700)
            self.assertTrue(stat.S_ISSOCK(self.sock.stat().st_mode))
            self.assertEqual(stat.S_IMODE(self.sock.stat().st_mode), 0o600)
            r = run_client(s, "--wav", wav("goforward.wav"), "--speed", "0",
                           url="ws://localhost/transcribe-websocket")
            self.assertEqual(r.words(), GOFORWARD, r.out)
            s.wait_log("conn=1 accept peer=unix")
        finally:
            self.assertEqual(s.stop(), 0, s.log())
        self.assertFalse(self.sock.exists(), "the socket stays behind")

    def test_socket_directory_open_to_others_is_refused(self):
        self.sock_dir.mkdir(mode=0o755)
        self.sock_dir.chmod(0o755)
        self.refused(needle="chmod 700")

    def test_socket_directory_of_another_user_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the directory away")
        self.sock_dir.mkdir(mode=0o700)
        os.chown(self.sock_dir, 65534, 65534)
        self.refused(needle="belongs to uid 65534")

    def test_no_runtime_dir_is_refused(self):
        env = dict(self.env)
        del env["XDG_RUNTIME_DIR"]
        self.refused(env=env, needle="XDG_RUNTIME_DIR is not set")

    def test_a_live_socket_is_kept_and_a_stale_one_replaced(self):
        s = Server(argv=[SERVER], env=self.env)
        try:
            self.refused(needle="in use")
        finally:
            self.assertEqual(s.stop(), 0, s.log())
        import socket as sk
        stale = sk.socket(sk.AF_UNIX)
        stale.bind(str(self.sock))          # a server that died without cleaning up
        stale.close()
        s = Server(argv=[SERVER], env=self.env)
        self.assertEqual(s.socket, str(self.sock))
        self.assertEqual(s.stop(), 0, s.log())

    def test_explicit_socket_path(self):
        path = Path(self.tmp.name) / "x.sock"
        s = Server(argv=[SERVER, "--socket", str(path)], env=self.env)
        try:
            self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)
            r = run_client(s, "--wav", wav("goforward.wav"), "--speed", "0",
                           url="ws://localhost/transcribe-websocket")
            self.assertEqual(r.words(), GOFORWARD, r.out)
        finally:
            self.assertEqual(s.stop(), 0, s.log())

    def test_tcp_needs_a_key_unless_insecure_on_loopback(self):
        self.refused("--port", "0", needle="give --key-file, or --insecure-tcp")
        self.refused("--address", "0.0.0.0", "--port", "0", "--insecure-tcp",
                     needle="without --key-file would serve anyone")
        self.refused("--socket", "/x", "--port", "0", needle="choose one")
        s = Server("--address", "::1" if socket_has_ipv6() else "127.0.0.1")
        try:
            s.wait_log("warning what=insecure-tcp")
        finally:
            self.assertEqual(s.stop(), 0, s.log())

    def test_systemd_unix_socket_activation(self):
        activate = shutil.which("systemd-socket-activate")
        if not activate:
            self.skipTest("no systemd-socket-activate")
        path = self.run_dir / "activated.sock"
        s = Server(argv=[activate, "-l", str(path), SERVER], env=self.env, check_start=False)
        try:
            s.wait_log("Listening on")
            s.socket = str(path)
            r = run_client(s, "--wav", wav("goforward.wav"), "--speed", "0",
                           url="ws://localhost/transcribe-websocket")
            self.assertEqual(r.words(), GOFORWARD, r.out)
            self.assertEqual(s.listening_line(), "listening socket=%s" % path)
        finally:
            self.assertEqual(s.stop(), 0, s.log())


def socket_has_ipv6():
    import socket
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sk:
            sk.bind(("::1", 0))
        return True
    except OSError:
        return False


def main():
    global WORK
    if not SERVER or not CLIENT:
        print("TRANSCRIBE_SERVER and FAULT_CLIENT must name the binaries; skipping")
        return 77
    if not shutil.which("sox") or not (TESTDATA / "goforward.raw").exists():
        print("needs sox and pocketsphinx-testdata (%s); skipping" % TESTDATA)
        return 77
    with tempfile.TemporaryDirectory(prefix="server-test-") as tmp:
        WORK = Path(tmp)
        make_wavs()
        prog = unittest.main(exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
