#!/usr/bin/env python3
"""Zero to first caption on a desktop, with the README's default config.

    bench_desktop.py [--short]

Each run starts a managed graph from nothing, as a login does: the
distribution's pipewire.conf with conf/transcribe.conf as shipped in
pipewire.conf.d (the module in the daemon, its default service), then
WirePlumber and pipewire-pulse; pw-transcribe-server is already listening
on its private Unix socket (as its socket unit would be). As soon as the
"Live transcription" sink exists, paplay plays a LibriVox sentence into it.
Printed, in seconds from the daemon's start: the daemon answering, the
desktop ready (WirePlumber chose the default sink), the tap streaming, the
sentence starting to play, the first caption (a partial) and the first
final; 5 runs (--short: 1). Timing never fails the bench.
"""
import os
import statistics
import sys
from pathlib import Path

import fixture
import speech

CONF = Path(__file__).resolve().parent.parent.parent / "conf" / "transcribe.conf"
MARKS = ("daemon_up", "desktop_ready", "streaming", "play", "first_caption", "first_final")


def first_stamp(log, pattern):
    """log_clock() seconds of the first PipeWire log line matching pattern."""
    stamps = fixture.log_stamps(log, pattern)
    return stamps[0] if stamps else None


def one_run():
    fx = fixture.PipeWireFixture(managed=True, debug="mod.transcribe:4",
                                 daemon_fragment=CONF)
    try:
        fx.start(graph=False)
        speech.Server(fx, os.environ["TRANSCRIBE_SERVER"])
        wav, _ = speech.librivox_sentences()[0]
        t0 = fixture.log_clock()
        fx.start_graph()
        t = {"desktop_ready": fixture.log_clock()}
        fx.wait_for_node("transcribe.captions")
        t["play"] = fixture.log_clock()
        app = fx.paplay(wav, device="transcribe.captions", client_name="reader")
        fx.wait_for(lambda: " final start_ms=" in fx.daemon.log, timeout=60,
                    what="the first final")
        app.wait_exit(timeout=60)
        log = fx.daemon.log
        t["daemon_up"] = first_stamp(log, r"pipewire-transcribe \S+ \(libpipewire")
        t["streaming"] = first_stamp(log, r"-> streaming")
        t["first_caption"] = first_stamp(log, r" (partial text|final start_ms)=")
        t["first_final"] = first_stamp(log, r" final start_ms=")
        return {k: (v - t0 if v is not None else float("nan")) for k, v in t.items()}
    finally:
        fx.stop()


def main():
    runs = 1 if "--short" in sys.argv else 5
    results = [one_run() for _ in range(runs)]
    print("desktop zero to first caption, s from the daemon's start (%d run%s):"
          % (runs, "s" if runs > 1 else ""))
    for mark in MARKS:
        values = [r[mark] for r in results]
        print("  %-14s median %.2f  min %.2f  max %.2f" % (mark, statistics.median(values),
                                                          min(values), max(values)))


if __name__ == "__main__":
    main()
