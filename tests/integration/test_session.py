#!/usr/bin/env python3
"""The resilient session end to end: the module in a private PipeWire streams
a tap to tests/faults/fault-server on 127.0.0.1, and scripted faults must
each lead back to `streaming` with one socket at a time, or to a clear
`failed` for what retrying cannot fix."""

import re
import sys
import time

import bus
import fixture
from faultserver import FaultServer, SECRET, TONES, WORDS
from fixture import PipeWireTestCase
from testca import make_test_ca

MODULE = "libpipewire-module-transcribe"


class SessionTest(PipeWireTestCase):

    def start(self, *server_args, service="", player=True, scheme="ws", host="127.0.0.1"):
        fx = self.fx
        self.server = FaultServer(fx, "--key", SECRET, *server_args)
        url = "%s://%s:%d/transcribe-websocket" % (scheme, host, self.server.port)
        args = ("{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY %s } "
                "reconnect = { base-ms = 200 cap-ms = 1000 } "
                "taps = [ { name = s mode = tap target = %s } ] }"
                % (url, service, fixture.PLAYER))
        self.host = fx.start_module_host(MODULE, args, debug="mod.transcribe:4",
                                         env={"TRANSCRIBE_TEST_KEY": SECRET})
        fx.wait_for_ports("transcribe.s", "in", 2)
        if player:
            self.play_tones()

    def play_tones(self, repeat=6):
        fx = self.fx
        tones = fx.path("tones.wav")
        fx.run([sys.executable, str(TONES), tones, "--repeat", str(repeat)])
        self.player = fx.play(tones, channels=1)
        fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")

    def log(self):
        return self.host.log

    def states(self):
        return re.findall(r"state \w+ -> (\w+)", self.log())

    def max_live_sockets(self):
        """Most sockets this tap ever had at once, from our own log."""
        live, most = set(), 0
        for conn, what in re.findall(r"conn=(\d+) socket (opened|gone)", self.log()):
            (live.add if what == "opened" else live.discard)(conn)
            most = max(most, len(live))
        return most

    def wait_state(self, state, count=1, timeout=15):
        self.fx.wait_for(lambda: self.states().count(state) >= count, timeout=timeout,
                         what="%d× state %s (seen %s)" % (count, state, self.states()))

    def test_streaming_delivers_words_in_order(self):
        self.start()
        self.wait_state("streaming")
        self.fx.wait_for(lambda: len(self.server.finals()) >= 4, timeout=20, what="4 words")
        self.assertEqual(self.server.finals()[:4], WORDS)
        self.fx.wait_for(lambda: len(re.findall(r' final .*text=" ?w\d+"', self.log())) >= 4,
                         what="finals reach the module")
        self.assertEqual(self.server.max_open(), 1)
        self.assertEqual(self.max_live_sockets(), 1)

    def check_recovers(self, fault):
        self.start("--fault", "1:" + fault)
        self.wait_state("streaming", count=2, timeout=20)
        self.fx.wait_for(lambda: self.server.accepted() >= 2, what="second connection")
        # Our own log is the exact witness: the old socket is closed before
        # the new one connects. The server's count is not, after an abort:
        # its poll loop may take the new accept before the old socket's
        # FIN (seen under ASan), and a stalled server polls every 50 ms.
        self.assertEqual(self.max_live_sockets(), 1, self.log())
        try:
            self.fx.wait_for(lambda: re.search(r"^conn=2 final ", self.server.out(), re.M),
                             timeout=20, what="words on the new connection")
        except AssertionError as e:
            raise AssertionError("%s\n--- server:\n%s\n--- module:\n%s" % (
                e, self.server.out()[-3000:], "\n".join(
                    l for l in self.log().splitlines() if "session=" in l or "socket" in l)[-4000:]))

    def test_rst_reconnects(self):
        self.check_recovers("rst@1500")

    def test_close_1011_reconnects(self):
        self.check_recovers("close=1011@1500")

    def test_error_503_reconnects_at_once(self):
        self.check_recovers("error=503@1500")

    def test_stall_is_noticed_and_reconnects(self):
        self.check_recovers("stall@1500")
        self.assertRegex(self.log(), r"no pong|no progress|closed \(code 1006")

    def test_503_on_upgrade_retries_after_retry_after(self):
        self.start("--fault", "1:http=503;retry_after=1")
        self.wait_state("streaming", timeout=20)
        self.assertEqual(self.server.accepted(), 2)
        self.assertIn("Retry-After", self.log())

    def test_401_on_upgrade_fails_after_exactly_two_attempts(self):
        self.start("--fault", "all:http=401")
        self.wait_state("failed", timeout=20)
        self.assertEqual(self.server.accepted(), 2)
        self.assertIn("credentials refused again", self.log())
        # Failed stays failed: no third attempt.
        self.fx.wait_for(lambda: self.server.accepted() == 2 and "failed" in self.states(),
                         what="still failed")

    def test_wss_with_the_test_ca_streams(self):
        d = make_test_ca(self.fx.path("tls"))
        self.start("--tls-cert", str(d / "server.pem"), "--tls-key", str(d / "server.key"),
                   scheme="wss", host="localhost",
                   service="tls.ca-file = \"%s\"" % (d / "ca.pem"))
        self.wait_state("streaming")
        self.fx.wait_for(lambda: len(self.server.finals()) >= 2, timeout=20, what="words over TLS")

    def test_wss_with_an_unknown_ca_fails_without_retrying(self):
        d = make_test_ca(self.fx.path("tls"))
        self.start("--tls-cert", str(d / "server.pem"), "--tls-key", str(d / "server.key"),
                   scheme="wss", host="localhost", player=False)
        self.wait_state("failed", timeout=20)
        self.assertRegex(self.log(), r"(?i)cert")
        self.assertEqual(self.server.accepted(), 1)

    def test_stop_during_a_slow_upgrade_leaves_no_socket(self):
        self.start("--fault", "1:delay_accept=5000", player=False)
        self.fx.wait_for(lambda: self.server.accepted() == 1, what="connect in flight")
        self.host.terminate()
        self.assertEqual(self.host.returncode, 0, self.host.describe())
        self.assertEqual(self.max_live_sockets(), 1)
        self.assertRegex(self.log(), r"conn=1 socket gone")
        self.fx.wait_for(lambda: "connections open=0" in self.server.out().splitlines()[-1]
                         or self.server.out().rstrip().endswith("open=0"),
                         what="server sees the socket closed")

    def test_upgrade_unanswered_past_the_lws_timeout_is_retried(self):
        """lws 4.1 reports this case only with CLOSED_CLIENT_HTTP."""
        self.start("--fault", "1:delay_accept=7000")
        self.wait_state("streaming", timeout=25)
        self.assertRegex(self.log(), r"conn=1 socket gone \(connect failed\)")
        self.assertEqual(self.max_live_sockets(), 1)

    # What the service says right after the upgrade (the config accepted, so
    # the tap was `streaming`), on every connection, and how the tap ends:
    # fatal codes fail after one attempt (401 and close 1008: one credentials
    # refresh first) with the server's message; the others climb the backoff
    # and go offline after reconnect.fast-attempts (6). README, "The session",
    # has the same table with the default backoff (offline after ~31 s).
    # A fast backoff here, and every row at once, each its own module host.
    ERROR_TABLE = (
        ("error=400@0", "failed", 1), ("error=401@0", "failed", 2),
        ("error=402@0", "failed", 1), ("error=404@0", "failed", 1),
        ("error=408@0", "offline", 6), ("error=429@0", "offline", 6),
        ("error=500@0", "offline", 6), ("error=503@0", "offline", 6),
        ("close=1008@0", "failed", 2),
    )

    def test_each_error_after_the_upgrade_ends_as_the_table_says(self):
        fx, rows = self.fx, []
        for i, (fault, _, _) in enumerate(self.ERROR_TABLE):
            server = FaultServer(fx, "--key", SECRET, "--fault", "all:" + fault)
            # One host keeps the D-Bus name, to read LastError as a user would.
            names = "publish.dbus-name = \"\"" if i else ""
            args = ("{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } "
                    "reconnect = { base-ms = 100 cap-ms = 400 offline-probe-ms = 600000 } "
                    "publish.metadata-name = \"\" %s taps = [ { name = e%d mode = source } ] }"
                    % (server.url, names, i))
            host = fx.start_module_host(MODULE, args, debug="mod.transcribe:4",
                                        env={"TRANSCRIBE_TEST_KEY": SECRET})
            rows.append((fault, server, host))
        ended = lambda h: re.search(r"-> (failed|offline) ", h.log)
        fx.wait_for(lambda: all(ended(h) for _, _, h in rows), timeout=40,
                    what="every tap failed or offline")
        # Nothing more comes (the next offline probe is 5 min away): look a
        # while longer before counting.
        time.sleep(2)
        table = []
        for (fault, want_state, want_conns), (_, server, host) in zip(self.ERROR_TABLE, rows):
            state = ended(host).group(1)
            table.append((fault, state, server.accepted()))
            self.assertEqual((state, server.accepted()), (want_state, want_conns),
                             "%s\n%s" % (fault, host.log[-3000:]))
            if state == "failed":
                code = fault.split("=")[1].split("@")[0]
                want = ("Fault injected by fault-server (error=%s)" % code
                        if fault.startswith("error") else "code 1008")
                self.assertRegex(host.log, r"-> failed reason=\".*%s" % re.escape(want))
        print("\n".join("%-13s %-8s connections=%d" % row for row in table))
        error = bus.get_property(fx, "e0", "LastError")
        self.assertIn("Fault injected by fault-server (error=400)", error)

    def test_invalid_url_fails_the_load_with_a_clear_message(self):
        host = self.fx.start_module_host(MODULE, "{ service.url = \"https://x\" }")
        self.assertNotEqual(host.wait_exit(timeout=10), 0)
        self.assertRegex(host.log, r"invalid argument service\.url: .*ws://")
        self.server = None

    def setUp(self):
        super().setUp()
        self.server = None
        self.host = None

    def tearDown(self):
        """The key never reaches a log line, ours or the server's."""
        texts = []
        if self.host is not None:
            texts.append(self.host.log)
        if self.server is not None:
            texts.append(self.server.out())
        for text in texts:
            self.assertNotIn(SECRET, text)
        if self.server is not None:
            # Every connection carries the key, also one whose open had to
            # wait for the previous socket to go (that once went out bare).
            self.assertNotRegex(self.server.out(), r"auth=(missing|bad)")


if __name__ == "__main__":
    fixture.main()
