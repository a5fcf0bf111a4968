#!/usr/bin/env python3
"""The hostile-client rows against pw-transcribe-server (issue 18): each row
runs tests/faults/hostile_client.py in one mode against a fresh server,
measures what the row is about (memory, log lines, CPU, what came back)
and prints a table: row, expected outcome, measured figure, pass.

    TRANSCRIBE_SERVER=build/tools/server/pw-transcribe-server \\
    FAULT_CLIENT=build/tests/faults/fault-client \\
    python3 tests/faults/test_hostile.py -v

The server's log lines are counted per row; its RSS is sampled every
50 ms; its CPU time comes from /proc. Under ASan the server gets a small
quarantine (ASAN_OPTIONS quarantine_size_mb), so the memory bound measures
our buffers rather than ASan's delayed frees. Every loop here ends by
itself (time and count bounds in hostile_client.py). Exits 77 (meson:
skipped) without the binaries.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import wave

from serverproc import ServerProcess
from pathlib import Path


HERE = Path(__file__).resolve().parent
SERVER = os.environ.get("TRANSCRIBE_SERVER", "")
CLIENT = os.environ.get("FAULT_CLIENT", "")
HOSTILE = [sys.executable, str(HERE / "hostile_client.py")]
START_TIMEOUT = 60.0
KEY = "hostile-test-key-0123456789"
MB = 1024 * 1024

TABLE = []      # (row, expected, measured, passed)


def proc_status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server(ServerProcess):
    """pw-transcribe-server on a free loopback port; stderr is its log."""

    def __init__(self, *args, nofile=None, env=None):
        e = dict(os.environ)
        e["ASAN_OPTIONS"] = e.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"
        e.update(env or {})

        def limits():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        super().__init__([SERVER, "--port", "0", "--insecure-tcp", *args], log="stderr", env=e,
                         preexec_fn=limits, start_timeout=START_TIMEOUT, stop_timeout=30)
        self.target = "127.0.0.1:%d" % self.port

    def rss_mb(self):
        return proc_status_kb(self.proc.pid, "VmRSS") / 1024.0


class Sampler:
    """Peak RSS of a process, sampled every 50 ms until stopped."""

    def __init__(self, server):
        self.server, self.peak, self.run = server, 0.0, True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.run:
            try:
                self.peak = max(self.peak, self.server.rss_mb())
            except (OSError, ValueError):
                return
            time.sleep(0.05)    # sampling period, not synchronisation

    def stop(self):
        self.run = False
        self.thread.join(5)
        return self.peak


def hostile(mode, server, *args, timeout=120):
    p = subprocess.run([*HOSTILE, mode, "--target", server.target, *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    out = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not out:
        raise AssertionError("hostile_client %s failed (%d): %s %s" % (mode, p.returncode,
                                                                     p.stdout, p.stderr))
    return json.loads(out[-1])


class HostileClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="hostile-")
        d = Path(cls.tmp.name)
        cls.keyfile = d / "key"
        cls.keyfile.write_text(KEY + "\n")
        cls.keyfile.chmod(0o600)
        cls.wav = d / "silence.wav"
        with wave.open(str(cls.wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(bytes(32000))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        if TABLE:
            w = [max(len(r[i]) for r in TABLE + [("row", "expected", "measured", "")])
                 for i in range(3)]
            print("\n%-*s  %-*s  %-*s  pass" % (w[0], "row", w[1], "expected", w[2], "measured"))
            for r in TABLE:
                print("%-*s  %-*s  %-*s  %s" % (w[0], r[0], w[1], r[1], w[2], r[2],
                                               "yes" if r[3] else "NO"))

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            rc = s.stop()
            log = s.log()
            self.assertEqual(rc, 0, "server exit status %s:\n%s" % (rc, log[-4000:]))
            for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                self.assertNotIn(bad, log, log[-4000:])

    def server(self, *args, **kw):
        s = Server(*args, **kw)
        self.servers.append(s)
        return s

    def row(self, name, expected, measured, passed, detail=""):
        TABLE.append((name, expected, measured, passed))
        self.assertTrue(passed, "%s: expected %s, measured %s\n%s" % (name, expected, measured,
                                                                      detail))

    def serves(self, s):
        """A client with the key streams 1 s of audio to the end."""
        args = ["--key", KEY] if "--key-file" in s.proc.args else []
        p = subprocess.run([CLIENT, "--url", "ws://%s/transcribe-websocket" % s.target,
                            "--wav", str(self.wav), "--speed", "0", "--timeout-s", "60",
                            *args], capture_output=True, text=True, timeout=90)
        return p.returncode == 0, p.stdout

    # --- memory -----------------------------------------------------------

    def test_text_flood_memory_is_bounded(self):
        s = self.server()
        idle = s.rss_mb()
        lines0 = s.count()
        sampler = Sampler(s)
        res = hostile("text-flood", s, "--seconds", 3, "--size", 1000000, "--count", 100000)
        peak = sampler.stop()
        bound = 2 * idle + 8
        lines = s.count() - lines0
        ok, _ = self.serves(s)
        self.row("text flood: 1 MB keepalives, 3 s", "RSS < 2 x idle + 8 MB",
                 "idle %.0f MB, peak %.0f MB (%d msgs)" % (idle, peak, res["sent"]),
                 peak < bound and res["sent"] > 0 and ok, json.dumps(res))
        self.row("text flood: log lines", "bounded (< 20)", "%d lines" % lines, lines < 20,
                 s.log())

    # --- connections ------------------------------------------------------

    def test_slowloris_upgrades_are_capped_and_timed_out(self):
        s = self.server("--upgrade-timeout", 2)
        res = hostile("slowloris", s, "--count", 100, "--seconds", 4)
        longest = res["max_lifetime_s"] or 0
        self.row("slowloris: 100 upgrades at 1 byte/s", "<= 32 held, each <= 3.5 s",
                 "%d closed at accept, %d timed out, longest %.1f s, %d left" %
                 (res["closed_by_server"] - min(res["closed_by_server"], 32),
                  min(res["closed_by_server"], 32), longest, res["still_open"]),
                 res["still_open"] == 0 and longest <= 3.5, json.dumps(res) + "\n" + s.log())
        ok, out = self.serves(s)
        self.row("slowloris: a real client after it", "served", "served" if ok else "not served",
                 ok, out)

    def test_out_of_descriptors_backs_off(self):
        s = self.server("--max-pending", 1000, "--max-connections", 256, nofile=40)
        lines0, cpu0, t0 = s.count(), cpu_seconds(s.proc.pid), time.monotonic()
        res = hostile("hold-tcp", s, "--count", 90, "--seconds", 3)
        cpu = (cpu_seconds(s.proc.pid) - cpu0) / (time.monotonic() - t0)
        lines = s.count() - lines0
        emfile = sum(1 for l in s.log().splitlines() if "errno=24" in l)
        self.row("fd exhaustion: 90 conns, ulimit -n 40", "no spin (< 25 % CPU), < 100 lines",
                 "%.0f %% CPU, %d lines (%d about EMFILE)" % (cpu * 100, lines, emfile),
                 cpu < 0.25 and lines < 100 and emfile > 0, json.dumps(res) + "\n" + s.log())
        ok, out = self.serves(s)
        self.row("fd exhaustion: a real client after it", "served", "served" if ok else "not served",
                 ok, out)

    def test_idle_upgraded_sockets_hold_no_stream_slot(self):
        s = self.server("--key-file", self.keyfile, "--max-connections", 2)
        holder = subprocess.Popen([*HOSTILE, "idle-upgraded", "--target", s.target,
                                   "--count", "8", "--seconds", "3"], stdout=subprocess.PIPE,
                                  text=True)
        try:
            first = holder.stdout.readline()
            held = json.loads(first)["holding"]
            ok, out = self.serves(s)
        finally:
            holder.communicate(timeout=30)
        self.row("8 upgraded sockets, no key, 2 slots", "a keyed client is served",
                 "%d held; keyed client %s" % (held, "served" if ok else "refused"),
                 ok and held == 8, out + "\n" + s.log())

    # --- messages ---------------------------------------------------------

    def test_garbage_after_the_config_is_refused(self):
        s = self.server()
        res = hostile("garbage-config", s)
        self.row("config JSON + trailing garbage", "error 400, close 1000, no decoder",
                 "errors %s, close %s" % (res["errors"], res["close"]),
                 res["errors"] == [400] and res["close"] == 1000 and
                 "decoder ready" not in s.log() and "config rate" not in s.log(), s.log())

    def test_invalid_close_codes_get_1002(self):
        s = self.server()
        res = hostile("close-codes", s)["answers"]
        want = {k: (int(k) if k in ("1000", "4000") else None if k == "empty" else 1002)
                for k in res}
        self.row("client close codes 999..65535, 1 byte", "1002 unless valid",
                 " ".join("%s>%s" % (k, v) for k, v in res.items()), res == want, str(res))

    def test_finalize_flood_logs_nothing_per_finalize(self):
        s = self.server()
        lines0 = s.count()
        res = hostile("finalize-flood", s, "--count", 5000, "--seconds", 20)
        lines = s.count() - lines0
        self.row("finalize flood: 5000 in one stream", "answered, < 15 log lines",
                 "%d sent, finished %s, %d lines" % (res["sent"], res["finished"], lines),
                 res["finished"] and lines < 15, s.log())

    def test_oversized_binary_is_refused_before_decoding(self):
        s = self.server()
        for size in (1100000, 3000000, 50000000):
            res = hostile("big-binary", s, "--size", size)
            s.wait_log("stats audio_ms=", 30)
            self.row("binary message of %.2f MB" % (size / 1e6), "400 + 1009, 0 ms decoded",
                     "errors %s, close %s, %s" % (res["errors"], res["close"],
                                                  "0 ms decoded" if "stats audio_ms=0 " in s.log()
                                                  else "decoded"),
                     res["errors"] == [400] and res["close"] == 1009 and
                     all(" audio_ms=0 " in l for l in s.log().splitlines() if " stats " in l),
                     s.log())

    def test_text_that_is_not_utf8_is_closed_1007(self):
        s = self.server()
        res = hostile("not-utf8", s)
        self.row("text message not UTF-8", "close 1007", "close %s" % res["close"],
                 res["close"] == 1007, s.log())

    def test_garbage_instead_of_http_is_dropped(self):
        s = self.server()
        res = hostile("not-http", s, "--size", 65536)
        ok, out = self.serves(s)
        self.row("64 KB of garbage instead of HTTP", "dropped, server serves on",
                 "%s, then %s" % (res["ended"], "served" if ok else "not served"), ok, out)


if __name__ == "__main__":
    if not (SERVER and CLIENT and os.access(SERVER, os.X_OK)):
        print("TRANSCRIBE_SERVER / FAULT_CLIENT not set to executables: skipping")
        sys.exit(77)
    unittest.main()
