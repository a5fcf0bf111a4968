#!/usr/bin/env python3
"""The module on a desktop, the way users run it: the managed graph
(WirePlumber, pipewire-pulse, the module loaded into the daemon from a
conf.d fragment, paplay as the app), next to the bare graph where the tests
that touch the graph run too. The desktop's own audio must keep playing,
the default output stays the user's, and what the module links survives a
session manager: its ports, its levels, its nodes."""

import array
import errno
import json
import math
import os
import re
import signal
import sys
import unittest
import wave
from pathlib import Path

import fixture
import speech
from fixture import PipeWireFixture
from faultserver import FaultServer, SECRET, TONES

MODULE = "libpipewire-module-transcribe"
FINAL_RE = re.compile(r' final start_ms=(-?\d+) end_ms=(-?\d+) text=" ?(w\d+)"')
FINAL_TEXT_RE = re.compile(r' final start_ms=-?\d+ end_ms=-?\d+ text="([^"]*)"')
CONF = Path(__file__).resolve().parent.parent.parent / "conf"
CLI = os.environ.get("CLI", "pw-transcribe")
APP = "test-app"                # paplay's application.name in the managed graph
MINUS_1_DBFS = 10 ** (-1 / 20)


def levels(path):
    """(peak, rms) of a WAV, as fractions of full scale; rms over the 10 ms
    blocks that carry sound (a tap records silence between apps)."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2, path
        block = w.getframerate() * w.getnchannels() // 100
        a = array.array("h", w.readframes(w.getnframes()))
    if not a:
        return 0.0, 0.0
    peak = max(abs(x) for x in a) / 32768
    sums = [sum(x * x for x in a[i:i + block]) for i in range(0, len(a) - block + 1, block)]
    loud = [v for v in sums if v > block * 328 ** 2]      # above -40 dBFS
    rms = math.sqrt(sum(loud) / (block * len(loud))) / 32768 if loud else 0.0
    return peak, rms


def db(ratio):
    return 20 * math.log10(ratio)


class Graph:
    """What differs between the two graphs for a test: how an app plays
    and how a tap finds it."""

    def __init__(self, fx):
        self.fx = fx

    def match(self):
        if self.fx.managed:
            return {"application.name": APP}
        return {"node.name": fixture.PLAYER}

    def play(self, wav, name="app"):
        """Plays wav as an app would and returns its process; in the bare
        graph the test does the session manager's part (links it to the
        speakers)."""
        fx = self.fx
        if fx.managed:
            return fx.paplay(wav, device=fixture.SINK, client_name=APP, name=name)
        with wave.open(str(wav)) as w:
            channels = w.getnchannels()
        proc = fx.play(wav, channels=channels)
        ports = ["FL", "FR"] if channels == 2 else ["MONO"]
        for p, q in zip(ports, ["FL", "FR"]):
            fx.link("%s:output_%s" % (fixture.PLAYER, p), "%s:playback_%s" % (fixture.SINK, q))
        return proc


class DesktopTestCase(unittest.TestCase):
    managed = True
    daemon_module = None

    def setUp(self):
        self.fx = PipeWireFixture(managed=self.managed, daemon_module=self.daemon_module,
                                  debug="mod.transcribe:4")
        self.addCleanup(self.fx.stop)
        self.fx.start()
        self.graph = Graph(self.fx)

    def module_log(self, host=None):
        return (host or self.fx.daemon).log

    def make_tones(self, repeat=1, freqs="300,500,700,900,1100"):
        wav = self.fx.path("tones.wav")
        self.fx.run([sys.executable, str(TONES), str(wav), "--freqs", freqs,
                     "--repeat", str(repeat)])
        return wav

    def stereo_tone(self, seconds=1.0):
        """Full scale minus 1 dB on both channels, different pitches, so a
        sum of the two clips and only a proper downmix stays in range."""
        wav = self.fx.path("stereo.wav")
        self.fx.run(["sox", "-R", "-n", "-r", "48000", "-c", "2", "-b", "16", wav, "synth",
                     str(seconds), "sine", "440", "sine", "554", "gain", "-1"])
        ref = self.fx.path("stereo-downmix.wav")
        self.fx.run(["sox", "-R", "-D", wav, "-b", "16", ref, "remix", "1v0.5,2v0.5",
                     "rate", "16000"])
        return wav, ref


class DefaultConfigTest(DesktopTestCase):
    """The README's fragment (one sink tap) in the daemon of a desktop."""

    def setUp(self):
        # The module loads with the daemon: the service comes first.
        fx = self.fx = PipeWireFixture(managed=True, debug="mod.transcribe:4")
        self.addCleanup(fx.stop)
        fx.start(graph=False)
        self.server = FaultServer(fx, "--key", SECRET)
        fx.env["TRANSCRIBE_TEST_KEY"] = SECRET
        fx.daemon_module = (MODULE, {
            "service": {"url": self.server.url, "api-key.env": "TRANSCRIBE_TEST_KEY"},
            "audio": {"rate": 16000, "channels": 1},
            "taps": [{"name": "captions", "mode": "sink",
                      "description": "Live transcription",
                      "debug.record-file": str(fx.path("captions.wav"))}]})
        fx.start_graph()
        self.graph = Graph(fx)

    def test_desktop_audio_plays_and_the_sink_captions(self):
        fx = self.fx
        fx.wait_for_node("transcribe.captions")
        fx.wait_for(lambda: "-> streaming" in fx.daemon.log, timeout=15, what="streaming")
        # The user's own audio still plays, to the speakers.
        heard = fx.path("heard.wav")
        rec = fx.spawn("recorder", ["pw-record", "--target", fixture.SINK, "-P",
                                    "{ stream.capture.sink = true node.name = test-recorder }",
                                    "--rate", "16000", "--channels", "1", heard])
        fx.wait_for(lambda: any(i and i.startswith("test-recorder:") for o, i in fx.links()),
                    what="WirePlumber links a recorder to the speakers' monitor")
        tones = self.make_tones()
        app = fx.paplay(tones, device=fixture.SINK, client_name="desktop", name="desktop-app")
        self.assertEqual(app.wait_exit(timeout=20), 0, app.describe())
        self.assertEqual(fx.default_node("default.audio.sink"), fixture.SINK)
        # Played into the caption sink: heard on the speakers and captioned.
        app = fx.paplay(tones, device="transcribe.captions", client_name="captioned",
                        name="captioned-app")
        self.assertEqual(app.wait_exit(timeout=20), 0, app.describe())
        fx.wait_for(lambda: len(FINAL_RE.findall(fx.daemon.log)) >= 5, timeout=20,
                    what="five captions")
        words = [w for _, _, w in FINAL_RE.findall(fx.daemon.log)]
        self.assertEqual(words[:5], ["w300", "w500", "w700", "w900", "w1100"])
        rec.terminate()
        peak, _ = levels(heard)
        self.assertGreater(peak, 0.05, "nothing reached the speakers")
        self.assertEqual(fx.default_node("default.audio.sink"), fixture.SINK)
        self.assertNotIn(SECRET, fx.daemon.log)
        self.assertNotIn("pending linkable", fx.wireplumber.log)


class DefaultServiceTest(unittest.TestCase):
    """The README's fragment, as shipped (conf/transcribe.conf), in the
    daemon of a desktop, with the default service: pw-transcribe-server on
    its private Unix socket, no key, no service block."""

    def setUp(self):
        fx = self.fx = PipeWireFixture(managed=True, debug="mod.transcribe:4",
                                       daemon_fragment=CONF / "transcribe.conf")
        self.addCleanup(fx.stop)
        fx.start(graph=False)
        self.server = speech.Server(fx, os.environ["TRANSCRIBE_SERVER"])
        fx.start_graph()

    def test_speech_played_into_the_sink_is_captioned(self):
        fx = self.fx
        fx.wait_for(lambda: "-> streaming" in fx.daemon.log, timeout=15, what="streaming")
        wav, words = speech.librivox_sentences()[0]
        app = fx.paplay(wav, device="transcribe.captions", client_name="reader")
        self.assertEqual(app.wait_exit(timeout=60), 0, app.describe())
        fx.wait_for(lambda: FINAL_TEXT_RE.search(fx.daemon.log), timeout=30, what="a caption")
        heard = " ".join(FINAL_TEXT_RE.findall(fx.daemon.log)).lower().split()
        print("reference: %s\ncaptioned: %s" % (" ".join(words), " ".join(heard)))
        self.assertGreaterEqual(len(set(heard) & set(words)), len(set(words)) // 2)
        self.assertEqual(fx.default_node("default.audio.sink"), fixture.SINK)
        self.assertIn("ws+unix://", fx.daemon.log)

    def test_the_play_through_follows_the_default_output(self):
        fx = self.fx
        played = lambda: {i.split(":")[0] for o, i in fx.links()
                          if o and o.startswith("transcribe.captions.playback:")}
        fx.wait_for(lambda: played() == {fixture.SINK}, what="play-through to the speakers")
        fx.run(["pw-cli", "create-node", "adapter",
                "{ factory.name=support.null-audio-sink node.name=headphones "
                "media.class=Audio/Sink object.linger=1 audio.position=[FL FR] }"])
        fx.wait_for_node("headphones")
        fx.run(["pactl", "set-default-sink", "headphones"])
        fx.wait_for(lambda: played() == {"headphones"}, what="play-through moved to headphones")
        self.assertEqual(fx.default_node("default.audio.sink"), "headphones")

    def test_another_users_module_cannot_reach_this_server(self):
        # Another user: another XDG_RUNTIME_DIR, the same default config.
        other = PipeWireFixture(debug="mod.transcribe:4")
        self.addCleanup(other.stop)
        other.start()
        host = other.start_module_host(MODULE, "{ taps = [ { name = t mode = sink } ] }")
        other.wait_for(lambda: "failure" in host.log, timeout=15, what="its first attempt")
        self.assertIn(str(other.runtime_dir), host.log)
        self.assertNotIn("accept", self.server.out())
        # And the socket itself admits nobody else (not even by its path).
        sock = self.server.socket
        self.assertEqual(os.stat(os.path.dirname(sock)).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(sock).st_mode & 0o777, 0o600)
        probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
                 "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n"
                 "    print(e.errno)\nelse:\n    print('connected')")
        res = self.fx.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           sys.executable, "-c", probe, sock], check=False)
        self.assertEqual(res.stdout.strip(), str(errno.EACCES), res.stderr)


class TapTest(DesktopTestCase):
    """A tap by match rule, in both graphs."""

    def start_host(self, extra=""):
        fx = self.fx
        self.rec = fx.path("tap.wav")
        args = ("{ service.url = \"\" taps = [ { name = t mode = tap match = %s "
                "debug.record-file = \"%s\" } ] %s }"
                % (fixture.spa_json(self.graph.match()), self.rec, extra))
        self.host = fx.start_module_host(MODULE, args)
        fx.wait_for_ports("transcribe.t", "in", 2)
        return self.host

    def test_an_app_restarted_is_relinked_and_downmixed_without_clipping(self):
        fx = self.fx
        self.start_host()
        wav, ref = self.stereo_tone(0.6)
        for i in range(5):
            app = self.graph.play(wav, name="app%d" % i)
            fx.wait_for(lambda: sum(1 for o, t in fx.links() if t and t.startswith("transcribe.t:")) == 2,
                        what="the app linked into the tap (round %d)" % (i + 1))
            ports = sorted(t for o, t in fx.links() if t and t.startswith("transcribe.t:"))
            self.assertEqual(ports, ["transcribe.t:input_FL", "transcribe.t:input_FR"])
            self.assertEqual(app.wait_exit(timeout=20), 0, app.describe())
            fx.wait_for(lambda: not any(t and t.startswith("transcribe.t:") for o, t in fx.links()),
                        what="the app gone from the tap (round %d)" % (i + 1))
        self.host.terminate()
        self.assertEqual(self.host.returncode, 0, self.host.describe())
        peak, rms = levels(self.rec)
        _, want = levels(ref)
        print("%s graph: tap peak %.2f dBFS, level %.2f dB against a correct downmix"
              % (fx.graph, db(peak), db(rms / want) if rms else -99))
        self.assertLessEqual(peak, MINUS_1_DBFS * 10 ** (0.3 / 20), "clipped or summed")
        self.assertLess(abs(db(rms / want)), 1.0)


    def status(self):
        """pw-transcribe status --json of the tap (the user's view)."""
        res = self.fx.run([CLI, "status", "t", "--json"], check=False)
        return json.loads(res.stdout) if res.returncode == 0 else {}

    def test_a_tap_whose_nodes_are_destroyed_comes_back_and_says_so_meanwhile(self):
        fx = self.fx
        self.start_host()
        app = self.graph.play(self.make_tones(repeat=20), name="long-app")
        fx.wait_for(lambda: self.status().get("source"), what="the tap hearing the app")
        first = fx.nodes()["transcribe.t"]["object.id"]
        fx.run(["pw-cli", "destroy", str(first)])
        fx.wait_for(lambda: "destroyed" in self.status().get("last_error", ""),
                    what="the tap saying its node was destroyed")
        self.assertEqual(self.status()["state"], "failed")
        fx.wait_for(lambda: fx.nodes().get("transcribe.t", {}).get("object.id", first) != first,
                    what="the tap's node made again")
        fx.wait_for(lambda: self.status().get("state") == "capture-only" and
                    self.status().get("source"), what="the tap back, hearing the app again")
        self.assertEqual(self.status()["last_error"], "")
        app.terminate()

    def test_a_source_tap_follows_its_source_away_and_back(self):
        fx = self.fx
        mic = ("{ factory.name=support.null-audio-sink node.name=test-mic "
               "media.class=Audio/Source/Virtual object.linger=1 audio.position=[FL FR] "
               "adapter.auto-port-config={ mode=dsp monitor=true position=preserve } }")
        fx.run(["pw-cli", "create-node", "adapter", mic])
        args = "{ service.url = \"\" taps = [ { name = t mode = source target = test-mic } ] }"
        self.host = fx.start_module_host(MODULE, args)
        fx.wait_for(lambda: self.status().get("source") == "test-mic", what="the tap on test-mic")
        fx.run(["pw-cli", "destroy", fx.nodes()["test-mic"]["object.id"]])
        fx.wait_for(lambda: self.status().get("source") == "", what="status: hears nothing")
        out = fx.run([CLI, "status", "t"]).stdout
        self.assertIn("hears: nothing", out)
        fx.run(["pw-cli", "create-node", "adapter", mic])
        fx.wait_for(lambda: self.status().get("source") == "test-mic",
                    what="the tap on test-mic again")


    def test_a_source_tap_without_target_follows_the_default_source(self):
        fx = self.fx
        if not fx.managed:
            self.skipTest("the default source is a session manager's")
        for mic in ("mic-a", "mic-b"):
            fx.run(["pw-cli", "create-node", "adapter",
                    "{ factory.name=support.null-audio-sink node.name=%s "
                    "media.class=Audio/Source/Virtual object.linger=1 "
                    "audio.position=[FL FR] }" % mic])
        fx.wait_for(lambda: {"mic-a", "mic-b"} <= set(fx.nodes()), what="two microphones")
        fx.run(["pactl", "set-default-source", "mic-a"])
        fx.wait_for(lambda: fx.default_node("default.configured.audio.source") == "mic-a",
                    what="mic-a the default source")
        self.host = fx.start_module_host(MODULE, "{ service.url = \"\" taps = [ { name = t mode = source } ] }")
        fx.wait_for(lambda: self.status().get("source") == "mic-a", what="the tap on mic-a")
        fx.run(["pactl", "set-default-source", "mic-b"])
        fx.wait_for(lambda: self.status().get("source") == "mic-b",
                    what="the tap following the default to mic-b")


class BareTapTest(TapTest):
    managed = False


class SecondInstanceTest(DesktopTestCase):
    managed = False

    def test_a_second_instance_with_the_same_names_fails_loudly(self):
        fx = self.fx
        first = fx.start_module_host(MODULE, "{ service.url = \"\" taps = [ { name = a mode = sink } ] }",
                                     debug="mod.transcribe:3")
        fx.wait_for(lambda: "dbus: name=" in first.log, what="the first instance on the bus")
        second = fx.start_module_host(MODULE, "{ service.url = \"\" taps = [ { name = b mode = sink } ] }",
                                      debug="mod.transcribe:3")
        fx.wait_for(lambda: "unloading this instance" in second.log, what="the second one to say so")
        fx.wait_for(lambda: not fx.node_exists("transcribe.b"), what="the second one's nodes gone")
        errors = [l for l in second.log.splitlines() if "unloading this instance" in l]
        self.assertEqual(len(errors), 1, second.log)
        self.assertRegex(errors[0], r"publish\.(dbus|metadata)-name")
        self.assertTrue(fx.node_exists("transcribe.a"))
        listed = fx.run([CLI, "list"]).stdout
        self.assertIn("a ", listed)
        self.assertNotIn("b ", listed)


class HostProcessTest(DesktopTestCase):
    """The module in its own `pipewire -c` process, as pw-transcribe.service
    runs it."""

    managed = False

    def test_the_host_ends_cleanly_when_the_daemon_goes(self):
        fx = self.fx
        server = FaultServer(fx, "--key", SECRET)
        args = ("{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } "
                "taps = [ { name = t mode = tap target = %s } ] }" % (server.url, fixture.PLAYER))
        host = fx.start_module_host(MODULE, args, env={"TRANSCRIBE_TEST_KEY": SECRET},
                                    debug="mod.transcribe:4")
        fx.wait_for(lambda: "-> streaming" in host.log, what="streaming")
        fx.wait_for_ports("transcribe.t", "in", 2)
        player = self.graph.play(self.make_tones(repeat=3))
        fx.wait_for(lambda: len(FINAL_RE.findall(host.log)) >= 3, timeout=20, what="3 finals")
        fx.daemon.send_signal(signal.SIGKILL)
        rc = host.wait_exit(timeout=5)
        player.terminate()
        self.assertEqual(rc, 0, host.describe())
        self.assertIn("the PipeWire daemon is gone", host.log)
        self.assertNotIn("AddressSanitizer", host.log)
        self.assertNotIn("leaked proxy", host.log)
        # Every final the module logged is in the journal.
        journal = next((fx.home / ".local/state/pipewire-transcribe").glob("t-*.jsonl"))
        lines = [l for l in journal.read_text().splitlines() if '"text"' in l]
        logged = [w for _, _, w in FINAL_RE.findall(host.log)]
        self.assertEqual(len(lines), len(logged), journal.read_text())


if __name__ == "__main__":
    fixture.main()
