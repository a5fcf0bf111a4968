#!/usr/bin/env python3
"""Graph xruns at quantum 64 while a clip plays, without and with a tap.

    bench_xruns.py [--short]     full: 60 s per run; --short: 3 s (CI)

Prints numbers only; timing never fails the run. Each scenario gets its
own private PipeWire (fixture.py) so one cannot disturb the other.
"""
import os
import subprocess
import sys

import fixture

QUANTUM = 64
CLOCK = {"default.clock.quantum": QUANTUM, "default.clock.min-quantum": QUANTUM,
         "default.clock.max-quantum": QUANTUM}


def run(seconds, with_tap):
    with fixture.PipeWireFixture(clock=CLOCK) as fx:
        fx.run(["sox", "-R", "-D", "-n", "-r", "48000", "-c", "2", "-b", "16",
                fx.path("tone.wav"), "synth", seconds + 2, "sine", "440"])
        host = None
        if with_tap:
            host = fx.start_module_host("libpipewire-module-transcribe",
                                        "{ service.url = \"\" taps = [ { name = x mode = tap target = %s } ] }"
                                        % fixture.PLAYER)
            fx.wait_for_ports("transcribe.x", "in", 2)
        player = fx.play(fx.path("tone.wav"))
        fx.link(fixture.PLAYER + ":output_FL", fixture.SINK + ":playback_FL")
        fx.link(fixture.PLAYER + ":output_FR", fixture.SINK + ":playback_FR")
        if with_tap:
            fx.wait_for(lambda: any(i and i.startswith("transcribe.x:") for o, i in fx.links()),
                        what="tap linked")
        out = subprocess.run([os.environ["XRUN_COUNTER"], str(seconds)], env=fx.env,
                             capture_output=True, text=True, timeout=seconds + 30, check=True)
        quantum = fx.settings().get("clock.quantum")
        player.terminate()
        if host:
            host.terminate()
        m = dict(kv.split("=") for kv in out.stdout.split())
        m["quantum"] = quantum
        return m


def main():
    seconds = 3 if "--short" in sys.argv else 60
    for label, tap in (("without_tap", False), ("with_tap", True)):
        m = run(seconds, tap)
        print("xruns.%s seconds=%d quantum=%s cycles=%s xruns=%s"
              % (label, seconds, m["quantum"], m["cycles"], m["xruns"]))


if __name__ == "__main__":
    main()
