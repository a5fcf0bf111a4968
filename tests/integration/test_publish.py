#!/usr/bin/env python3
"""Publishing end to end: the module in a private PipeWire streams a tap to
tests/faults/fault-server; what it publishes is read back from the private
session bus (busctl monitor, gdbus calls) and with pw-metadata."""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import bus
import fixture
from fixture import PipeWireTestCase
from faultserver import FaultServer, SECRET, WORDS

MODULE = "libpipewire-module-transcribe"
DOC_XML = Path(__file__).resolve().parents[2] / "doc" / "io.github.pw_transcribe.Transcribe1.Tap.xml"


def members(iface):
    """{(kind, name): signature} of an introspected <interface>."""
    out = {}
    for el in iface:
        if el.tag == "property":
            out[("property", el.get("name"))] = el.get("type") + ":" + el.get("access")
        elif el.tag in ("method", "signal"):
            out[(el.tag, el.get("name"))] = ",".join(
                "%s %s %s" % (a.get("name"), a.get("type"), a.get("direction", "out" if el.tag == "signal" else "in"))
                for a in el.findall("arg"))
    return out


class PublishTest(PipeWireTestCase):

    def start(self, *server_args, url=None, tap="s", extra="", player=True, env=None):
        fx = self.fx
        if url is None:
            self.server = FaultServer(fx, "--key", SECRET, *server_args)
            url = self.server.url
        args = ("{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } "
                "reconnect = { base-ms = 200 cap-ms = 1000 } %s "
                "taps = [ { name = %s mode = tap target = %s } ] }" % (url, extra, tap, fixture.PLAYER))
        self.host = fx.start_module_host(MODULE, args, debug="mod.transcribe:4",
                                         env=dict({"TRANSCRIBE_TEST_KEY": SECRET}, **(env or {})))
        fx.wait_for_ports("transcribe." + tap, "in", 2)
        if player:
            self.play()

    def play(self, repeat=6):
        fx = self.fx
        tones = fx.path("tones.wav")
        fx.run(["python3", str(Path(__file__).resolve().parent.parent / "faults" / "make-tones.py"),
                tones, "--repeat", str(repeat)])
        fx.play(tones, channels=1)
        fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")

    def wait_object(self, tap="s"):
        self.fx.wait_for(lambda: bus.has_name(self.fx) and
                         bus.get_property(self.fx, tap, "Name") == tap, what="the tap's D-Bus object")

    def log_states(self):
        return re.findall(r"state \w+ -> (\w+)", self.host.log)

    def setUp(self):
        super().setUp()
        self.server = self.host = None
        self.mon = bus.BusMonitor(self.fx)

    def tearDown(self):
        """No key in anything a client could see: every bus message, the metadata."""
        seen = [self.mon.raw()]
        if self.host is not None and self.host.running:
            seen.append(self.fx.run(["pw-metadata", "-n", "transcribe"], check=False).stdout)
        for text in seen:
            self.assertNotIn(SECRET, text)

    # -- D-Bus ----------------------------------------------------------

    def test_introspection_matches_the_documented_interface(self):
        self.start(player=False)
        self.wait_object()
        xml = self.fx.run(["busctl", "--user", "introspect", "--xml-interface", bus.NAME,
                           bus.tap_path("s")]).stdout
        live = [i for i in ET.fromstring(xml).findall("interface") if i.get("name") == bus.IFACE]
        doc = [i for i in ET.parse(DOC_XML).getroot().findall("interface")
               if i.get("name") == bus.IFACE]
        self.assertEqual(len(live), 1, xml)
        self.assertEqual(members(live[0]), members(doc[0]))
        managed = self.fx.run(["busctl", "--user", "--json=short", "call", bus.NAME, bus.ROOT,
                               "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"]).stdout
        self.assertIn(bus.tap_path("s"), json.loads(managed)["data"][0])

    def test_partial_and_final_signals_carry_the_servers_words_in_order(self):
        self.start()
        path = bus.tap_path("s")
        self.fx.wait_for(lambda: len(self.mon.signals("Final", path)) >= 4, timeout=20,
                         what="4 Final signals")
        finals = [args for _, args in self.mon.signals("Final", path)]
        self.assertEqual([f[0] for f in finals[:4]], WORDS)
        self.assertEqual(self.server.finals()[:4], WORDS)
        self.assertEqual([f[3]["seq"]["data"] for f in finals[:4]], [1, 2, 3, 4])
        starts = [f[1] for f in finals[:4]]
        self.assertEqual(starts, sorted(starts))
        # Each word was in progress before it was final.
        partials = [args[0] for _, args in self.mon.signals("Partial", path)]
        for w in WORDS:
            self.assertIn(w, partials)

    def test_properties_changed_follow_every_state_change_of_a_fault(self):
        self.start("--fault", "1:close=1011@1500")
        path = bus.tap_path("s")
        self.fx.wait_for(lambda: self.log_states().count("streaming") >= 2, timeout=20,
                         what="streaming again after the fault")
        self.fx.wait_for(lambda: [c["State"] for c in self.mon.changed(path) if "State" in c]
                         == self.log_states(), what="every state on the bus",
                         timeout=5)
        states = [c for c in self.mon.changed(path) if "State" in c]
        self.assertEqual([c["State"] for c in states[:5]],
                         ["connecting", "streaming", "reconnecting", "connecting", "streaming"])
        # The retry after the drop is numbered, and says why it happened.
        reconnecting = states[2]
        self.assertIn("1011", reconnecting.get("LastError", ""))
        self.assertIn("Attempt", states[3])

    def test_wait_ready_when_already_streaming_returns_at_once(self):
        self.start()
        self.fx.wait_for(lambda: "streaming" in self.log_states(), what="streaming")
        self.wait_object()
        self.assertEqual(bus.call(self.fx, "s", "WaitReady", "5000")[:2], (True, None))

    def test_wait_ready_returns_once_the_service_answers(self):
        self.start("--fault", "1:delay_accept=1500", player=False)
        self.wait_object()
        ok, err, msg = bus.call(self.fx, "s", "WaitReady", "10000")
        self.assertTrue(ok, (err, msg))
        self.assertIn("streaming", self.log_states())

    def test_wait_ready_on_a_fatal_error_says_why(self):
        self.start("--fault", "all:http=401", player=False)
        self.wait_object()
        ok, err, msg = bus.call(self.fx, "s", "WaitReady", "10000")
        self.assertEqual(err, bus.ERROR + "Fatal", msg)
        self.assertIn("credentials", msg)

    def test_wait_ready_times_out(self):
        self.start(url="ws://127.0.0.1:%d/" % fixture.closed_port(), player=False)
        self.wait_object()
        ok, err, msg = bus.call(self.fx, "s", "WaitReady", "700")
        self.assertEqual(err, bus.ERROR + "Timeout", msg)

    def test_wait_ready_is_cancelled_when_the_tap_stops(self):
        self.start(url="ws://127.0.0.1:%d/" % fixture.closed_port(), player=False)
        self.wait_object()
        waiting = bus.call_async(self.fx, "s", "WaitReady", "20000")
        # Seen on the bus first, so it reaches the module before the Stop.
        self.fx.wait_for(lambda: any(m.get("member") == "WaitReady" for m in self.mon.messages()),
                         what="WaitReady on the bus")
        self.assertEqual(bus.call(self.fx, "s", "Stop")[:2], (True, None))
        ok, err, msg = bus.result_of(waiting)
        self.assertEqual(err, bus.ERROR + "Cancelled", msg)
        self.fx.wait_for(lambda: bus.get_property(self.fx, "s", "State") == "stopped",
                         what="stopped")
        # Start brings it back to trying.
        self.assertEqual(bus.call(self.fx, "s", "Start")[:2], (True, None))
        self.fx.wait_for(lambda: bus.get_property(self.fx, "s", "State") != "stopped",
                         what="started again")

    def test_wait_ready_is_cancelled_when_the_module_unloads(self):
        self.start(url="ws://127.0.0.1:%d/" % fixture.closed_port(), player=False)
        self.wait_object()
        waiting = bus.call_async(self.fx, "s", "WaitReady", "20000")
        self.fx.wait_for(lambda: any(m.get("member") == "WaitReady" for m in self.mon.messages()),
                         what="WaitReady on the bus")
        self.host.terminate()
        ok, err, msg = bus.result_of(waiting)
        self.assertEqual(err, bus.ERROR + "Cancelled", msg)

    def test_finalize_reaches_the_service_and_is_refused_when_not_streaming(self):
        self.start()
        self.fx.wait_for(lambda: "streaming" in self.log_states(), what="streaming")
        self.wait_object()
        self.fx.wait_for(lambda: bus.get_property(self.fx, "s", "State") == "streaming",
                         what="streaming on the bus")
        self.assertEqual(bus.call(self.fx, "s", "Finalize")[:2], (True, None))
        self.fx.wait_for(lambda: re.search(r"^conn=1 finalize ", self.server.out(), re.M),
                         what="the server got the finalize")
        bus.call(self.fx, "s", "Stop")
        self.fx.wait_for(lambda: bus.get_property(self.fx, "s", "State") == "stopped",
                         what="stopped")
        ok, err, msg = bus.call(self.fx, "s", "Finalize")
        self.assertEqual(err, bus.ERROR + "InvalidArgs", msg)

    def test_reconnect_skips_the_backoff_wait(self):
        self.start(url="ws://127.0.0.1:%d/" % fixture.closed_port(), player=False,
                   extra="reconnect.base-ms = 60000 reconnect.cap-ms = 600000")
        self.wait_object()
        # Attempt 1 is immediate, then each waits up to 60 s, 120 s, ...
        waits = lambda: [int(n) for n in re.findall(r"next attempt in (\d+) ms", self.host.log)]
        self.fx.wait_for(lambda: any(w >= 5000 for w in waits()), timeout=60,
                         what="a long backoff wait")
        self.assertEqual(bus.call(self.fx, "s", "Reconnect")[:2], (True, None))
        self.fx.wait_for(lambda: 'reason="reconnect requested"' in self.host.log,
                         what="an attempt because of Reconnect")

    def test_without_a_session_bus_the_module_still_transcribes(self):
        self.start(env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
        self.fx.wait_for(lambda: len(self.server.finals()) >= 2, timeout=20, what="words")
        self.assertEqual(len(re.findall(r"no session bus", self.host.log)), 1, self.host.log)
        self.assertFalse(bus.has_name(self.fx))

    def test_a_second_instance_takes_its_own_name(self):
        self.start(player=False)
        self.wait_object()
        second = self.fx.start_module_host(
            MODULE, "{ service.url = \"\" publish = { dbus-name = \"org.example.Transcribe2\" "
            "metadata-name = transcribe2 } taps = [ { name = t mode = source } ] }")
        self.fx.wait_for(lambda: bus.has_name(self.fx, "org.example.Transcribe2"), what="2nd name")
        self.assertTrue(bus.has_name(self.fx))
        ok, err, msg = bus.call(self.fx, "t", "WaitReady", "100", name="org.example.Transcribe2")
        self.assertEqual(err, bus.ERROR + "InvalidArgs", msg)   # capture only: no service
        second.terminate()

    # -- metadata -------------------------------------------------------

    def node_id(self, name):
        return next(o["id"] for o in self.fx.dump()
                    if o.get("type") == "PipeWire:Interface:Node"
                    and o.get("info", {}).get("props", {}).get("node.name") == name)

    def metadata(self):
        out = self.fx.run(["pw-metadata", "-n", "transcribe"], check=False).stdout
        return {(int(i), k): json.loads(v) for i, k, v in
                re.findall(r"update: id:(\d+) key:'([^']*)' value:'(.*)' type:'Spa:String:JSON'", out)}

    def test_metadata_shows_state_partial_and_final_and_goes_with_the_tap(self):
        self.start()
        nid = self.node_id("transcribe.s")
        self.fx.wait_for(lambda: (nid, "transcribe.final") in self.metadata() and
                         (nid, "transcribe.partial") in self.metadata(), timeout=20,
                         what="final and partial in the metadata")
        md = self.metadata()
        self.assertEqual(md[(nid, "transcribe.state")]["state"], "streaming")
        self.assertEqual(set(md[(nid, "transcribe.state")]),
                         {"state", "attempt", "max_attempts", "next_retry_ms", "error",
                          "session_id", "buffered_ms", "spooled_ms", "dropped_ms", "source"})
        self.assertEqual(md[(nid, "transcribe.state")]["source"], fixture.PLAYER)
        self.assertEqual(set(md[(nid, "transcribe.final")]),
                         {"seq", "text", "start_ms", "end_ms", "speaker", "language"})
        self.assertIn(md[(nid, "transcribe.final")]["text"], WORDS + ["w%d00" % f for f in range(1, 80)])
        self.assertEqual(set(md[(nid, "transcribe.partial")]), {"text", "start_ms", "end_ms"})
        self.host.terminate()
        self.fx.wait_for(lambda: not self.metadata(), what="the entries gone with the tap")


if __name__ == "__main__":
    fixture.main()
