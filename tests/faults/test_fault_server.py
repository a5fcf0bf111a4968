#!/usr/bin/env python3
"""Tests of fault-server (the scriptable Soniox-style test server) through
fault-client and, where the TCP details matter (reset vs FIN), a minimal
stdlib WebSocket client.

    FAULT_SERVER=build/tests/faults/fault-server \\
    FAULT_CLIENT=build/tests/faults/fault-client \\
    python3 tests/faults/test_fault_server.py -v

Every wait has a deadline (no sleeps to synchronise): the server is read
line by line by a thread, the client runs to completion under a timeout.
Exits 77 (meson: skipped) when the binaries are not given.
"""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import hostile_client  # noqa: E402  (its raw WebSocket client)
from serverproc import ServerProcess  # noqa: E402
from testca import make_test_ca  # noqa: E402
FAULT_SERVER = os.environ.get("FAULT_SERVER", "")
FAULT_CLIENT = os.environ.get("FAULT_CLIENT", "")
START_TIMEOUT = 10.0
CLIENT_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
TIME_TOLERANCE_MS = 20
TONES = [300, 500, 700, 900]
EXPECTED = [("w300", 500, 750), ("w500", 1050, 1300), ("w700", 1600, 1850), ("w900", 2150, 2400)]


class Server(ServerProcess):
    """A running fault-server; stdout is its event log, stdin its control."""

    def __init__(self, *args):
        super().__init__([FAULT_SERVER, *args], stdin="--no-stdin" not in args)

    def url(self, path="/transcribe-websocket", scheme="ws", host=None):
        return self.url_for(path, scheme, host)


class ClientResult:
    def __init__(self, proc_out, rc, elapsed):
        self.lines = proc_out.splitlines()
        self.rc = rc
        self.elapsed = elapsed

    def messages(self):
        """Received text messages that parse as JSON."""
        out = []
        for l in self.lines:
            m = re.match(r"^recv text len=\d+ json=ok data=(.*)$", l)
            if m and m.group(1) != "-":
                out.append(json.loads(m.group(1)))
        return out

    def finals(self):
        return [(t["text"].strip(), t["start_ms"], t["end_ms"])
                for msg in self.messages() for t in msg.get("tokens", [])
                if t["is_final"] and not t["text"].startswith("<")]

    def value(self, pattern):
        for l in self.lines:
            m = re.search(pattern, l)
            if m:
                return m
        return None

    def count(self, pattern):
        return sum(1 for l in self.lines if re.search(pattern, l))

    def text(self):
        return "\n".join(self.lines)


def run_client(url, *args, timeout=CLIENT_TIMEOUT):
    t0 = time.monotonic()
    p = subprocess.run([FAULT_CLIENT, "--url", url, "--timeout-s", str(int(timeout) - 2), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    res = ClientResult(p.stdout, p.returncode, time.monotonic() - t0)
    res.stderr = p.stderr
    return res


def start_client(url, *args, timeout=CLIENT_TIMEOUT):
    return subprocess.Popen([FAULT_CLIENT, "--url", url, "--timeout-s", str(int(timeout) - 2), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_client(proc, timeout=CLIENT_TIMEOUT):
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=timeout)
    res = ClientResult(out, proc.returncode, time.monotonic() - t0)
    res.stderr = err
    return res


class RawWs(hostile_client.Ws):
    """Just enough WebSocket (RFC 6455) to see how a connection ends."""

    def __init__(self, port, host="127.0.0.1", path="/raw"):
        super().__init__("%s:%d" % (host, port), path)

    def read_until_end(self, timeout=10.0):
        """Frames until the connection ends: (opcodes, how) with how in
        "reset" (RST), "eof" (FIN), "closed" or "timeout"."""
        frames, how = self.frames(timeout)
        return [op for op, _ in frames], how

    def read_frames(self, timeout=10.0):
        """The same with payloads; a close frame is answered."""
        return self.frames(timeout)


OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING = 1, 2, 8, 9
CONFIG = b'{"audio_format":"pcm_s16le","sample_rate":16000,"num_channels":1}'


def make_tones(path, *args):
    subprocess.run([sys.executable, str(HERE / "make-tones.py"), str(path), *args],
                   check=True, timeout=60)


class FaultServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="fault-server-test-"))
        cls.tones = cls.tmp / "tones.wav"
        make_tones(cls.tones)
        cls.long = cls.tmp / "long.wav"      # 20 bursts, ~11 s
        make_tones(cls.long, "--repeat", "5")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            rc = s.stop()
            self.assertEqual(rc, 0, "fault-server exit status %d\n%s\n%s" % (rc, s.log(), s.stderr))

    def server(self, *args):
        s = Server(*args)
        self.servers.append(s)
        return s

    def assert_words(self, finals, expected=EXPECTED):
        self.assertEqual([f[0] for f in finals], [e[0] for e in expected], finals)
        for (w, s, e), (_, es, ee) in zip(finals, expected):
            self.assertLessEqual(abs(s - es), TIME_TOLERANCE_MS, (w, s, es))
            self.assertLessEqual(abs(e - ee), TIME_TOLERANCE_MS, (w, e, ee))

    # --- normal operation -------------------------------------------------

    def test_tone_bursts_come_back_as_words_in_order_with_times(self):
        srv = self.server()
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.rc, 0, res.text())
        self.assert_words(res.finals())
        self.assertTrue(res.messages()[-1].get("finished"))
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1000")
        logged = [(m.group(1), int(m.group(2)), int(m.group(3))) for m in
                  srv.grep(r"^conn=1 final text=(\S+) start_ms=(\d+) end_ms=(\d+)")]
        self.assert_words(logged)
        srv.wait(r"^conn=1 closed code=1000 by=server")

    def test_partials_precede_finals_and_progress_is_monotonic(self):
        srv = self.server()
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "8")
        self.assertEqual(res.rc, 0, res.text())
        msgs = [m for m in res.messages() if not m.get("finished")]
        partial_words = {t["text"].strip() for m in msgs for t in m["tokens"] if not t["is_final"]}
        self.assertEqual(partial_words, {"w300", "w500", "w700", "w900"})
        prev_final = prev_total = -1
        for m in msgs:
            self.assertGreaterEqual(m["final_audio_proc_ms"], prev_final)
            self.assertGreater(m["total_audio_proc_ms"], prev_total)
            self.assertLessEqual(m["final_audio_proc_ms"], m["total_audio_proc_ms"])
            finals_first = [t["is_final"] for t in m["tokens"]]
            self.assertEqual(finals_first, sorted(finals_first, reverse=True))
            prev_final, prev_total = m["final_audio_proc_ms"], m["total_audio_proc_ms"]
        totals = [0] + [m["total_audio_proc_ms"] for m in msgs]
        self.assertLessEqual(max(b - a for a, b in zip(totals, totals[1:])), 200)

    def test_finalize_makes_the_word_final_and_adds_fin(self):
        srv = self.server()
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0",
                         "--send-at", '1700:{"type":"finalize"}',
                         "--send-at", '100:{"type":"keepalive"}')
        self.assertEqual(res.rc, 0, res.text())
        toks = [t for m in res.messages() for t in m["tokens"] if t["is_final"]]
        texts = [t["text"].strip() for t in toks]
        self.assertEqual(texts, ["w300", "w500", "w700", "<fin>", "w700", "w900"])
        self.assertEqual(toks[2]["end_ms"], 1700)
        srv.wait(r"^conn=1 keepalive")
        srv.wait(r"^conn=1 finalize audio_ms=1700")

    def test_stereo_48k_is_averaged_to_mono_with_the_same_times(self):
        wav = self.tmp / "st48.wav"
        make_tones(wav, "--rate", "48000", "--channels", "2")
        srv = self.server()
        res = run_client(srv.url(), "--wav", str(wav), "--speed", "0")
        self.assertEqual(res.rc, 0, res.text())
        self.assert_words(res.finals())
        srv.wait(r"^conn=1 config rate=48000 channels=2")

    def test_empty_binary_message_ends_the_stream(self):
        srv = self.server()
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0", "--end", "binary")
        self.assertEqual(res.rc, 0, res.text())
        self.assert_words(res.finals())

    def test_concurrent_connections_are_independent(self):
        srv = self.server()
        procs = [start_client(srv.url(), "--wav", str(self.tones), "--speed", "4") for _ in range(4)]
        results = [finish_client(p) for p in procs]
        for res in results:
            self.assertEqual(res.rc, 0, res.text())
            self.assert_words(res.finals())
        opens = [int(m.group(1)) for m in srv.grep(r"^connections open=(\d+)")]
        self.assertGreaterEqual(max(opens), 2)
        srv.wait(r"^connections open=0$")

    def test_bad_configs_get_error_400_then_close(self):
        srv = self.server()
        configs = ['{"audio_format":"mp3","sample_rate":16000,"num_channels":1}',
                   '{"audio_format":"pcm_s16le","sample_rate":4000,"num_channels":1}',
                   '{"audio_format":"pcm_s16le","sample_rate":16000,"num_channels":3}',
                   '{"audio_format":"pcm_s16le","num_channels":1}',
                   'not json']
        for cfg in configs:
            res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0", "--config", cfg)
            msgs = res.messages()
            self.assertEqual(msgs[0].get("error_code"), 400, res.text())
            self.assertIn("error_message", msgs[0])
            self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1000")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0", "--no-config")
        self.assertEqual(res.messages()[0].get("error_code"), 400, res.text())

    def test_key_in_header_or_config_is_accepted_and_a_bad_one_gets_401(self):
        srv = self.server("--key", "sekrit")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0", "--key", "sekrit")
        self.assertEqual(res.rc, 0, res.text())
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0", "--api-key", "sekrit")
        self.assertEqual(res.rc, 0, res.text())
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0", "--key", "wrong")
        self.assertEqual(res.messages()[0].get("error_code"), 401, res.text())
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.messages()[0].get("error_code"), 401, res.text())
        self.assertEqual([m.group(1) for m in srv.grep(r"^conn=\d+ upgrade .* auth=(\S+)")],
                         ["ok", "missing", "bad", "missing"])
        self.assertNotIn("sekrit", srv.log())

    def test_auth_mode_http_rejects_the_upgrade_with_401(self):
        srv = self.server("--key", "sekrit", "--auth-mode", "http")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.rc, 3, res.text())
        self.assertEqual(res.value(r"^http status=(\d+)").group(1), "401")

    # --- faults -----------------------------------------------------------

    def test_http_401_is_seen_by_the_client(self):
        srv = self.server("--fault", "1:http=401")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.rc, 3, res.text())
        self.assertEqual(res.value(r"^http status=(\d+)").group(1), "401")
        self.assertIsNotNone(res.value(r"^connect-error reason=HS: ws upgrade unauthorized"))
        srv.wait(r"^conn=1 closed code=0 by=server http=401")

    def test_http_503_carries_retry_after(self):
        srv = self.server("--fault", "1:http=503;retry_after=2", "--fault", "2:http=429;retry_after=30")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        m = res.value(r"^http status=(\d+) retry_after=(\S+)")
        self.assertEqual((m.group(1), m.group(2)), ("503", "2"), res.text())
        self.assertIsNotNone(res.value(r"^connect-error reason=HS: ws upgrade response not 101"))
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        m = res.value(r"^http status=(\d+) retry_after=(\S+)")
        self.assertEqual((m.group(1), m.group(2)), ("429", "30"), res.text())

    def test_rst_is_an_abnormal_close_and_a_tcp_reset(self):
        srv = self.server("--fault", "1:rst@1000", "--fault", "2:rst@500")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "4")
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1006", res.text())
        self.assertIsNone(res.value(r"^peer-close"))
        self.assertLessEqual(max(m["total_audio_proc_ms"] for m in res.messages()), 1000)
        srv.wait(r"^conn=1 closed code=1006 by=server")
        raw = RawWs(srv.port)
        raw.send(OP_TEXT, b'{"audio_format":"pcm_s16le","sample_rate":16000,"num_channels":1}')
        raw.send(OP_BINARY, bytes(32000))       # 1 s of silence
        opcodes, how = raw.read_until_end()
        raw.close()
        self.assertEqual(how, "reset")
        self.assertNotIn(OP_CLOSE, opcodes)

    def test_fin_is_an_abnormal_close_without_close_frame(self):
        srv = self.server("--fault", "1:fin@1000", "--fault", "2:fin@500")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "4")
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1006", res.text())
        self.assertIsNone(res.value(r"^peer-close"))
        raw = RawWs(srv.port)
        raw.send(OP_TEXT, b'{"audio_format":"pcm_s16le","sample_rate":16000,"num_channels":1}')
        raw.send(OP_BINARY, bytes(32000))
        opcodes, how = raw.read_until_end()
        raw.close()
        self.assertEqual(how, "eof")
        self.assertNotIn(OP_CLOSE, opcodes)

    def test_close_codes_reach_the_client(self):
        srv = self.server("--fault", "1:close=1011@1000", "--fault", "2:close=4001@0",
                          "--fault", "3:close=1012@500")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.value(r"^peer-close code=(\d+)").group(1), "1011", res.text())
        self.assertEqual(res.finals()[:1], [("w300", 500, 750)])
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "4001", res.text())
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        # lws 4.1 clients rewrite 1012..1014 to 1002 (PROTOCOLS.md E); the server did send 1012
        self.assertEqual(res.value(r"^peer-close code=(\d+)").group(1), "1002", res.text())
        srv.wait(r"^conn=3 closed code=1012 by=server")

    def test_error_json_then_close(self):
        srv = self.server("--fault", "1:error=503@1000", "--fault", "2:error=408@500;close=1011")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        msgs = res.messages()
        self.assertEqual(msgs[-1].get("error_code"), 503, res.text())
        self.assertEqual(res.finals(), [("w300", 500, 750)])
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1000")
        self.assertEqual(res.rc, 1)
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.messages()[-1].get("error_code"), 408, res.text())
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1011")

    def test_limit_ends_the_session_with_error_503(self):
        srv = self.server("--fault", "all:limit=1500")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        last = res.messages()[-1]
        self.assertEqual(last.get("error_code"), 503, res.text())
        self.assertIn("session limit", last["error_message"])
        self.assert_words(res.finals(), EXPECTED[:2])
        srv.wait(r"^conn=1 fault limit=503 audio_ms=1500")

    def test_stall_at_open_gives_no_data_and_no_pong(self):
        srv = self.server("--fault", "1:stall@0")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "1",
                         "--ping-s", "1", "--pong-timeout-s", "1")
        self.assertEqual(res.count(r"^recv "), 0, res.text())
        self.assertEqual(res.count(r"^pong"), 0, res.text())
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1006")
        self.assertLess(res.elapsed, 6.0)       # the validity timeout, not --timeout-s
        srv.wait(r"^conn=1 stall peer-gone")
        srv.wait(r"^conn=1 closed code=1006 by=peer")

    def test_stall_mid_stream_stops_responses(self):
        srv = self.server("--fault", "1:stall@1000")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "2",
                         "--ping-s", "1", "--pong-timeout-s", "1")
        self.assertLessEqual(max(m["total_audio_proc_ms"] for m in res.messages()), 1000)
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1006", res.text())
        srv.wait(r"^conn=1 closed code=1006")

    def test_stall_with_for_resumes_and_the_session_completes(self):
        srv = self.server("--fault", "1:stall@1000;for=1000")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "2",
                         "--ping-s", "1", "--pong-timeout-s", "4")
        self.assertEqual(res.rc, 0, res.text())
        self.assert_words(res.finals())
        srv.wait(r"^conn=1 stall end")

    def test_mute_keeps_pongs_but_sends_nothing(self):
        srv = self.server("--fault", "1:mute@0")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "1",
                         "--ping-s", "1", "--timeout-s", "5", timeout=10)
        self.assertEqual(res.rc, 4, res.text())          # gave up waiting
        self.assertEqual(res.count(r"^recv "), 0)
        self.assertGreater(res.count(r"^pong"), 0)

    def test_garbage_and_oversized_frames_then_the_session_goes_on(self):
        srv = self.server("--fault", "1:garbage@500;bytes=200000",
                          "--fault", "2:oversized@500;bytes=3000000")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertIsNotNone(res.value(r"^recv text len=\d+ json=bad "), res.text())
        self.assertIsNotNone(res.value(r"^recv binary len=200000$"))
        self.assertEqual(res.rc, 0)
        self.assert_words(res.finals())
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertIsNotNone(res.value(r"^recv text len=3000000 json=ok data=-$"), res.text())
        self.assertEqual(res.rc, 0)
        self.assert_words(res.finals())

    def test_idle_session_gets_error_408(self):
        srv = self.server("--fault", "all:idle=700")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0", "--hold-ms", "300")
        self.assertEqual(res.rc, 0, res.text())
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0", "--hold-ms", "2000")
        self.assertEqual(res.messages()[-1].get("error_code"), 408, res.text())
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1000")
        srv.wait(r"^conn=2 fault idle=700")

    def test_delay_accept_holds_the_upgrade(self):
        srv = self.server("--fault", "1:delay_accept=1500", "--fault", "2:delay_accept=4000")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.rc, 0, res.text())
        self.assertGreaterEqual(res.elapsed, 1.5)
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0",
                         "--connect-timeout-s", "1")
        self.assertEqual(res.rc, 3, res.text())
        self.assertLess(res.elapsed, 4.0)
        self.assertIsNone(res.value(r"^open$"))

    def test_runtime_faults_from_stdin(self):
        srv = self.server()
        self.assertEqual(srv.command("fault next:close=4002@500").group(0),
                         "ok fault 1:close=4002@500")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "4002", res.text())
        # a live connection: reset it now
        proc = start_client(srv.url(), "--wav", str(self.long), "--speed", "1")
        srv.wait(r"^conn=2 audio_ms=1000")
        self.assertTrue(srv.command("fault 2:rst@0").group(0).startswith("ok fault 2:"))
        res = finish_client(proc)
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1006", res.text())
        self.assertLess(res.elapsed, 8.0)
        self.assertTrue(srv.command("fault 3:bogus@1").group(0).startswith("error "))
        self.assertEqual(srv.command("status").group(0), "status open=0 accepted=2")

    def test_server_keeps_serving_after_every_fault(self):
        specs = ["http=401", "http=503;retry_after=1", "rst@300", "fin@300", "close=1011@300",
                 "error=500@300", "limit=300", "stall@300", "garbage@300;bytes=70000",
                 "oversized@300;bytes=70000", "delay_accept=200", "mute@300"]
        srv = self.server(*[a for i, s in enumerate(specs) for a in ("--fault", "%d:%s" % (i + 1, s))])
        for s in specs:
            run_client(srv.url(), "--wav", str(self.tones), "--speed", "4",
                       "--ping-s", "1", "--pong-timeout-s", "1", "--timeout-s", "6", timeout=10)
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.rc, 0, res.text())
        self.assert_words(res.finals())
        srv.wait(r"^conn=%d closed code=1000" % (len(specs) + 1))
        srv.wait(r"^connections open=0$", start=len(srv.lines) - 2)

    def test_quit_after_idle_exits_by_itself(self):
        srv = Server("--quit-after-idle", "1", "--no-stdin")
        srv.wait(r"^exit reason=idle", 5.0)
        self.assertEqual(srv.stop(), 0)

    def test_wss_with_a_test_ca(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        d = make_test_ca(self.tmp / "ca")
        srv = self.server("--tls-cert", str(d / "server.pem"), "--tls-key", str(d / "server.key"),
                          "--fault", "2:rst@500")
        url = srv.url(scheme="wss", host="localhost")
        res = run_client(url, "--wav", str(self.tones), "--speed", "0", "--ca", str(d / "ca.pem"))
        self.assertEqual(res.rc, 0, res.text())
        self.assert_words(res.finals())
        res = run_client(url, "--wav", str(self.tones), "--speed", "0", "--ca", str(d / "ca.pem"))
        self.assertEqual(res.value(r"^closed code=(\d+)").group(1), "1006", res.text())
        res = run_client(url, "--wav", str(self.tones), "--speed", "0")     # no CA: refused
        self.assertEqual(res.rc, 3, res.text())

    def test_unix_socket(self):
        path = self.tmp / "fault.sock"
        srv = self.server("--socket", str(path))
        self.assertEqual(srv.socket, str(path))
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        res = run_client("ws://localhost/transcribe-websocket", "--unix", str(path),
                         "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.rc, 0, res.text())
        self.assert_words(res.finals())
        srv.wait(r"^conn=1 accept peer=unix ")
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(path.exists())

    def test_ipv6_loopback(self):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback")
        srv = self.server("--address", "::1")
        res = run_client(srv.url(), "--wav", str(self.tones), "--speed", "0")
        self.assertEqual(res.rc, 0, res.text())
        self.assert_words(res.finals())

    # --- hostile service (issue 18) -----------------------------------------

    def hostile_frames(self, spec, audio_ms=1000, timeout=20.0):
        """Frames a raw client gets from connection 1 with spec, after
        sending the config and audio_ms of silence."""
        srv = self.server("--fault", "1:" + spec)
        raw = RawWs(srv.port)
        raw.send(OP_TEXT, CONFIG)
        raw.send(OP_BINARY, bytes(32 * audio_ms))
        raw.send(OP_TEXT, b"")          # end of stream: "finished" and close after the fault
        frames, how = raw.read_frames(timeout)
        raw.close()
        return frames, srv

    def texts(self, frames):
        return [json.loads(p) for op, p in frames if op == OP_TEXT]

    def test_hostile_big_binary_and_text_messages(self):
        frames, _ = self.hostile_frames("bigbinary@500;bytes=3000000,oversized@500;bytes=1500000")
        sizes = [(op, len(p)) for op, p in frames if len(p) > 100000]
        self.assertEqual(sizes, [(OP_BINARY, 3000000), (OP_TEXT, 1500000)])

    def test_hostile_many_tokens_in_one_message(self):
        frames, _ = self.hostile_frames("tokens@500;count=100000")
        big = [m for m in self.texts(frames) if len(m["tokens"]) > 1]
        self.assertEqual(len(big), 1)
        toks = big[0]["tokens"]
        self.assertEqual(len(toks), 100000)
        self.assertTrue(all(t["is_final"] for t in toks))
        self.assertEqual([t["text"] for t in toks[:2]], [" t0", " t1"])
        self.assertLessEqual(toks[-1]["end_ms"], big[0]["total_audio_proc_ms"])

    def test_hostile_token_times(self):
        want = {"huge": (1099511627774, 1099511627775), "negative": (-5000, -4000),
                "reversed": (5000, 100), "float": (1.5e300, 1.6e300), "string": ("abc", "def")}
        for v, (a, b) in want.items():
            with self.subTest(times=v):
                frames, _ = self.hostile_frames("times=%s@500" % v)
                toks = [t for m in self.texts(frames) for t in m.get("tokens", [])
                        if t["text"] == " absurd"]
                self.assertEqual([(t["start_ms"], t["end_ms"]) for t in toks], [(a, b)])
        frames, _ = self.hostile_frames("times=beyond@500")
        tok = [t for m in self.texts(frames) for t in m["tokens"] if t["text"] == " beyond"][0]
        self.assertEqual(tok["start_ms"], 1000 + 600000)    # past the 1 s received
        frames, _ = self.hostile_frames("times=decreasing@1500", audio_ms=2000)
        toks = [t for m in self.texts(frames) for t in m["tokens"] if t["text"] in (" late", " early")]
        self.assertEqual([(t["text"], t["start_ms"]) for t in toks], [(" late", 1800), (" early", 800)])
        frames, srv = self.hostile_frames("times=progress@500")
        self.assertIn(1099511627775, [m["final_audio_proc_ms"] for m in self.texts(frames)])
        srv.wait(r"^conn=1 fault times=progress audio_ms=")

    def test_hostile_text_that_is_not_utf8(self):
        frames, _ = self.hostile_frames("badutf8@500")
        bad = [p for op, p in frames if op == OP_TEXT and b"\xff\xfe\xc0" in p]
        self.assertEqual(len(bad), 1)
        with self.assertRaises(UnicodeDecodeError):
            bad[0].decode("utf-8")

    def test_hostile_floods_of_partials_finals_and_pings(self):
        frames, _ = self.hostile_frames("partials@500;count=3000")
        partials = [t["text"] for m in self.texts(frames) for t in m["tokens"]
                    if t["text"].startswith(" p")]
        self.assertEqual(partials, [" p%d" % i for i in range(3000)])
        frames, _ = self.hostile_frames("finals@1000;count=20000")
        finals = [t for m in self.texts(frames) for t in m["tokens"] if t["text"].startswith(" f")]
        self.assertEqual(len(finals), 20000)
        self.assertTrue(all(t["is_final"] and 0 <= t["start_ms"] <= t["end_ms"] <= 1000
                            for t in finals))
        frames, _ = self.hostile_frames("finals@1000;count=3;step=250")
        self.assertEqual([(t["start_ms"], t["end_ms"]) for m in self.texts(frames)
                          for t in m["tokens"] if t["text"].startswith(" f")],
                         [(1000, 1250), (1250, 1500), (1500, 1750)])
        frames, _ = self.hostile_frames("pings@500;count=500")
        self.assertEqual(sum(1 for op, _ in frames if op == OP_PING), 500)

    def test_hostile_close_codes_go_out_as_given(self):
        for code, payload in (("5000", struct.pack("!H", 5000) + b"fault-server"),
                              ("1005", struct.pack("!H", 1005) + b"fault-server"),
                              ("short", b"\x03"), ("empty", b"")):
            with self.subTest(code=code):
                frames, srv = self.hostile_frames("rawclose=%s@500" % code)
                self.assertEqual([p for op, p in frames if op == OP_CLOSE], [payload])
                srv.wait(r"^conn=1 fault rawclose=%s audio_ms=" % code)

    def test_hostile_rows_are_valid_specs_and_documented(self):
        import hostile_services
        readme = (HERE / "README.md").read_text()
        for i, row in enumerate(hostile_services.ROWS):
            self.assertIn("`%s`" % row.spec.split("@")[0].split(";")[0], readme, row)
        args = [a for i, row in enumerate(hostile_services.ROWS)
                for a in ("--fault", "%d:%s" % (i + 1, row.spec))]
        srv = self.server(*args)
        self.assertEqual(srv.command("status").group(0), "status open=0 accepted=0")


if __name__ == "__main__":
    if not (FAULT_SERVER and FAULT_CLIENT and os.access(FAULT_SERVER, os.X_OK)
            and os.access(FAULT_CLIENT, os.X_OK)):
        print("FAULT_SERVER / FAULT_CLIENT not set to executables: skipping")
        sys.exit(77)
    unittest.main()
