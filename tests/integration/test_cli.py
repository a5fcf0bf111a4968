#!/usr/bin/env python3
"""pw-transcribe (tools/cli) against the real module: a private PipeWire
and session bus, the module streaming a tap to tests/faults/fault-server
(its tone recognizer makes the words w300, w500, w700, w900), and the CLI
reading and driving it over D-Bus. Usage errors and the no-service case
are in tests/cli/test_cli.py; the exact rendering in tests/unit/."""

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import bus
import fixture
from fixture import PipeWireTestCase
from faultserver import FaultServer, SECRET, WORDS, TONES

MODULE = "libpipewire-module-transcribe"
CLI = os.environ.get("CLI", "pw-transcribe")


class CliTest(PipeWireTestCase):

    def setUp(self):
        super().setUp()
        self.outputs = []
        self.server = self.host = None

    def tearDown(self):
        for text in self.outputs:
            self.assertNotIn(SECRET, text)

    def start(self, *server_args, url=None, taps=("s",), extra="", service=True):
        fx = self.fx
        if url is None and service:
            self.server = FaultServer(fx, "--key", SECRET, *server_args)
            url = self.server.url
        svc = ("service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY }" % url
               if service else "service.url = \"\"")
        tap_list = " ".join("{ name = %s mode = tap target = %s }" % (t, fixture.PLAYER) for t in taps)
        self.host = fx.start_module_host(
            MODULE, "{ %s reconnect = { base-ms = 200 cap-ms = 1000 } %s taps = [ %s ] }"
            % (svc, extra, tap_list), debug="mod.transcribe:4",
            env={"TRANSCRIBE_TEST_KEY": SECRET})
        for t in taps:
            fx.wait_for_ports("transcribe." + t, "in", 2)
        fx.wait_for(lambda: all(bus.get_property(fx, t, "Name") == t for t in taps),
                    what="the taps on the bus")

    def play(self, repeat=1):
        tones = self.fx.path("tones.wav")
        self.fx.run([sys.executable, str(TONES), tones, "--repeat", str(repeat)])
        self.fx.play(tones, channels=1)
        self.fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")

    def cli(self, *args, timeout=30):
        r = subprocess.run([CLI, *args], env=self.fx.env, capture_output=True, text=True,
                           timeout=timeout)
        self.outputs += [r.stdout, r.stderr]
        return r.returncode, r.stdout, r.stderr

    def cli_async(self, *args):
        return subprocess.Popen([CLI, *args], env=self.fx.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def finish(self, p, timeout=30):
        out, err = p.communicate(timeout=timeout)
        self.outputs += [out, err]
        return p.returncode, out, err

    def state_is(self, state, tap="s"):
        self.fx.wait_for(lambda: bus.get_property(self.fx, tap, "State") == state,
                         what="%s %s" % (tap, state), timeout=20)

    def wait_seen_on_bus(self, method):
        self.fx.wait_for(lambda: any(m.get("member") == method for m in self.mon.messages()),
                         what=method + " on the bus")

    # -- list and status -------------------------------------------------

    def test_list_shows_every_tap_with_state_node_mode_and_target(self):
        self.start(taps=("b", "a"))
        self.state_is("streaming", "a")
        self.state_is("streaming", "b")
        code, out, err = self.cli("list")
        self.assertEqual((code, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual([l.split()[0] for l in lines], ["a", "b"])
        for line in lines:
            self.assertRegex(line, r"^\w\s+streaming\s+node=\d+\s+tap\s+%s$" % fixture.PLAYER)

    def test_status_while_streaming_and_as_json(self):
        self.start()
        self.state_is("streaming")
        code, out, err = self.cli("status")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.splitlines()[0], "s: streaming")
        self.assertIn("  last error: none", out)
        self.assertRegex(out, r"session [0-9a-f]{8}, node \d+, mode tap, target %s" % fixture.PLAYER)
        code, out, _ = self.cli("status", "s", "--json")
        st = json.loads(out)
        self.assertEqual((st["name"], st["state"], st["max_attempts"]), ("s", "streaming", 6))
        self.assertEqual(st["node_id"], bus.get_property(self.fx, "s", "NodeId"))

    def test_status_while_reconnecting_then_stopped(self):
        self.start(url="ws://127.0.0.1:%d/" % fixture.closed_port(),
                   extra="reconnect.base-ms = 20000 reconnect.cap-ms = 60000")
        self.fx.wait_for(lambda: re.search(r"next attempt in [1-9]\d{3,} ms", self.host.log),
                         timeout=30, what="a wait of a second or more")
        code, out, _ = self.cli("status")
        self.assertEqual(out.splitlines()[0], "s: reconnecting")
        self.assertRegex(out, r"attempt \d/6, next retry in \d+\.\d s")
        self.assertRegex(out, r"last error: cannot connect")
        self.assertEqual(self.cli("stop", "s")[0], 0)
        self.state_is("stopped")
        self.assertEqual(self.cli("status")[1].splitlines()[0], "s: stopped")

    def test_status_when_failed_says_why(self):
        self.start("--fault", "all:http=401")
        self.state_is("failed")
        code, out, _ = self.cli("status")
        self.assertEqual(out.splitlines()[0], "s: failed")
        self.assertRegex(out, r"last error: credentials refused")

    def test_status_of_a_capture_only_tap(self):
        self.start(service=False)
        self.state_is("capture-only")
        self.assertEqual(self.cli("status")[1].splitlines()[0], "s: capture-only")
        code, out, err = self.cli("finalize")
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^pw-transcribe: s: .*only captures\n$")

    def test_unknown_tap_and_an_unnamed_one_among_several_exit_1(self):
        self.start(taps=("a", "b"), service=False)
        self.assertEqual(self.cli("status", "x"), (1, "", 'pw-transcribe: no tap "x" (taps: a, b)\n'))
        self.assertEqual(self.cli("stop"), (1, "", "pw-transcribe: several taps (a, b): name one\n"))

    # -- control ---------------------------------------------------------

    def test_stop_then_start_wait_streams_again(self):
        self.start()
        self.state_is("streaming")
        self.assertEqual(self.cli("stop"), (0, "", ""))
        self.state_is("stopped")
        self.assertEqual(self.cli("start", "--wait", "10"), (0, "s: streaming\n", ""))
        self.assertEqual(self.server.accepted(), 2)

    def test_finalize_reaches_the_service(self):
        self.start()
        self.state_is("streaming")
        self.play()
        self.assertEqual(self.cli("finalize", "s"), (0, "", ""))
        self.fx.wait_for(lambda: re.search(r"^conn=1 finalize ", self.server.out(), re.M),
                         what="finalize at the server")

    def test_wait_timeout_exits_3(self):
        self.start(url="ws://127.0.0.1:%d/" % fixture.closed_port())
        code, out, err = self.cli("reconnect", "s", "--wait", "0.5")
        self.assertEqual((code, out), (3, ""))
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_wait_on_a_fatal_error_exits_1_with_the_reason(self):
        self.start("--fault", "all:http=401")
        code, out, err = self.cli("start", "--wait", "10")
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^pw-transcribe: s: .*credentials refused.*\n$")

    def test_wait_cancelled_by_stop_exits_4(self):
        self.start(url="ws://127.0.0.1:%d/" % fixture.closed_port())
        self.mon = bus.BusMonitor(self.fx)
        waiting = self.cli_async("start", "--wait", "20")
        self.wait_seen_on_bus("WaitReady")
        self.assertEqual(self.cli("stop")[0], 0)
        code, out, err = self.finish(waiting)
        self.assertEqual((code, out), (4, ""))
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_wait_cancelled_by_unload_exits_4(self):
        self.start(url="ws://127.0.0.1:%d/" % fixture.closed_port())
        self.mon = bus.BusMonitor(self.fx)
        waiting = self.cli_async("reconnect", "--wait", "20")
        self.wait_seen_on_bus("WaitReady")
        self.host.terminate()
        code, out, err = self.finish(waiting)
        self.assertEqual((code, out), (4, ""))

    # -- follow ----------------------------------------------------------

    def test_follow_json_of_a_scripted_session_is_exactly_the_expected_events(self):
        self.start()
        self.assertEqual(self.cli("start", "--wait", "10")[0], 0)
        self.mon = bus.BusMonitor(self.fx)
        follow = self.cli_async("follow", "s", "--json", "--exit-after-final", "4")
        # follow subscribes before it reads the state: its first line proves it is in.
        first = follow.stdout.readline()
        self.play()
        code, out, err = self.finish(follow)
        self.assertEqual((code, err), (0, ""))
        events = [json.loads(first)] + [json.loads(l) for l in out.splitlines()]
        # Expected: the state, then every Partial and Final the module sent,
        # each once and in order, up to the 4th Final (the words in progress
        # are the tone recognizer's running guesses, so they are read off the
        # bus; the finals must be the server's words).
        path = bus.tap_path("s")
        sent = [m for m in self.mon.messages() if m.get("path") == path and
                m.get("member") in ("Partial", "Final")]
        expected = [{"event": "state", "tap": "s", "state": "streaming", "attempt": 0,
                     "max_attempts": 6, "next_retry_ms": -1, "error": ""}]
        for m in sent:
            text, start, end = m["payload"]["data"][:3]
            e = {"event": m["member"].lower(), "tap": "s", "text": text, "start_ms": start,
                 "end_ms": end}
            if m["member"] == "Final":
                extra = {k: v["data"] for k, v in m["payload"]["data"][3].items()}
                e.update(seq=extra["seq"], speaker=extra["speaker"], language=extra["language"])
                if "confidence" in extra:
                    e["confidence"] = extra["confidence"]
                e["session_id"] = extra["session_id"]
            expected.append(e)
            if m["member"] == "Final" and e["seq"] == 4:
                break
        self.assertEqual(events, expected)
        finals = [e for e in events if e["event"] == "final"]
        self.assertEqual([f["text"] for f in finals], WORDS)
        self.assertEqual([f["seq"] for f in finals], [1, 2, 3, 4])
        # One timeline: the module's times are the server's (one connection).
        served = re.findall(r"^conn=1 final text=(w\d+) start_ms=(\d+) end_ms=(\d+)",
                            self.server.out(), re.M)
        self.assertEqual([(f["text"], f["start_ms"], f["end_ms"]) for f in finals],
                         [(t, int(a), int(b)) for t, a, b in served[:4]])
        self.assertTrue(any(e["event"] == "partial" and e["text"] == "" for e in events))

    def test_follow_shows_state_lines_through_a_fault(self):
        self.start("--fault", "1:close=1011@1200")
        self.state_is("streaming")
        follow = self.cli_async("follow", "--exit-after-final", "4")
        self.assertEqual(follow.stdout.readline(), "-- Streaming\n")
        self.play(repeat=2)
        code, out, err = self.finish(follow, timeout=60)
        self.assertEqual((code, err), (0, ""))
        lines = out.splitlines()
        self.assertNotIn("\x1b", out)
        self.assertTrue(any(re.fullmatch(r"-- Reconnecting \(\d/6\)( in \d+\.\d s)?", l)
                            for l in lines), out)
        self.assertEqual(lines.count("-- Streaming"), 1, out)   # the second, after the fault
        self.assertEqual(len([l for l in lines if re.fullmatch(r"\[\d\d:\d\d\.\d\] w\d+", l)]), 4, out)

    def test_follow_of_several_taps_prefixes_each_line(self):
        self.start(taps=("a", "b"))
        self.state_is("streaming", "a")
        self.state_is("streaming", "b")
        follow = self.cli_async("follow", "--exit-after-final", "2")
        got = [follow.stdout.readline(), follow.stdout.readline()]
        self.assertEqual(sorted(got), ["a: -- Streaming\n", "b: -- Streaming\n"])
        self.play()
        code, out, _ = self.finish(follow)
        self.assertEqual(code, 0)
        for line in out.splitlines():
            self.assertRegex(line, r"^[ab]: \[\d\d:\d\d\.\d\] w\d+$")

    def test_follow_ends_with_the_module(self):
        self.start()
        follow = self.cli_async("follow", "--json")
        self.assertEqual(json.loads(follow.stdout.readline())["event"], "state")
        self.host.terminate()
        code, out, err = self.finish(follow)
        self.assertEqual((code, err), (0, ""))
        # The tap goes first (InterfacesRemoved), then the name.
        self.assertIn(json.loads(out.splitlines()[-1]), ({"event": "removed", "tap": "s"},
                                                         {"event": "gone"}))

    def test_follow_exits_0_on_sigterm_and_1_when_the_bus_is_lost(self):
        self.start(service=False)
        follow = self.cli_async("follow", "--json")
        follow.stdout.readline()
        follow.terminate()
        self.assertEqual(self.finish(follow)[::2], (0, ""))
        follow = self.cli_async("follow", "--json")
        follow.stdout.readline()
        self.fx.dbus.send_signal(signal.SIGKILL)   # no goodbyes: the socket just ends
        code, _, err = self.finish(follow)
        self.assertEqual((code, err), (1, "pw-transcribe: lost the connection to the session bus\n"))

    def test_bus_name_before_or_after_the_command_picks_the_instance(self):
        fx = self.fx
        fx.start_module_host(MODULE, "{ service.url = \"\" publish.dbus-name = org.example.Second "
                             "taps = [ { name = second mode = source } ] }")
        fx.wait_for(lambda: bus.has_name(fx, "org.example.Second"), what="the second instance")
        for args in (("--bus-name", "org.example.Second", "list"),
                     ("list", "--bus-name=org.example.Second")):
            code, out, _ = self.cli(*args)
            self.assertEqual((code, out.split()[0]), (0, "second"))
        code, _, err = self.cli("list")
        self.assertEqual(code, 1)
        self.assertIn("no pipewire-transcribe on the session bus", err)

    def test_follow_on_a_terminal_rewrites_the_partial_in_place(self):
        self.start()
        self.state_is("streaming")
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
        p = subprocess.Popen([CLI, "follow", "--exit-after-final", "2"], stdout=slave,
                             stderr=subprocess.PIPE, env=dict(self.fx.env, TERM="xterm"))
        os.close(slave)
        self.addCleanup(os.close, master)
        self.play()
        out, deadline = b"", time.monotonic() + 30
        while p.poll() is None or select.select([master], [], [], 0)[0]:
            if time.monotonic() > deadline:
                p.kill()
                break
            if select.select([master], [], [], 0.5)[0]:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        text = out.decode()
        self.assertEqual(p.wait(5), 0, text)
        p.stderr.close()
        self.assertIn("\r\x1b[Kw300", text)                 # the word while in progress
        self.assertRegex(text, r"\r\x1b\[K\[00:\d\d\.\d\] w300\r\n")   # then final, scrolled


if __name__ == "__main__":
    fixture.main()
