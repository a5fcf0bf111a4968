#!/usr/bin/env python3
"""The module inside the daemon: how long its main loop stalls (numbers only).

    bench_teardown.py [--short]

The module is loaded into the private daemon from its config (as a user's
pipewire.conf.d fragment does); tests/bench/rtt-probe, another client, runs
core sync round trips every 2 ms and reports the slowest in a window.

- unload_<state>_ms: the window around `pw-cli destroy <module>`;
- stop_<state>_ms: the window around the tap's D-Bus Stop() (tap removal
  as a client asks for it), to 300 ms after its answer;
  in each state:
  streaming  fault-server, tones playing;
  dns        connecting; the name's lookup never answers (the daemon runs in
             a mount namespace whose /etc/resolv.conf names 127.0.0.77, where
             a UDP socket of this script reads queries and drops them);
  keycmd     connecting; service.api-key.command = "sleep 1000";
  tmpkey     connecting; service.temporary-key.url is a socket of this
             script that accepts and never answers.
  Each state is reached for real (a query seen, sleep running, a
  connection accepted) before the window opens.
- idle_wakeups_per_s: context switches per second of the module's threads
  (pw-transcribe*) in a daemon whose graph is suspended (a tap, nothing
  linked, no service), over 10 s (1 s short).
- host_exit_ms: `pipewire -c` with the module, a source tap streaming to
  fault-server; the daemon is SIGKILLed; time until the host process is gone.
5 runs each (--short: 1, and no stop_* rows); max and median printed.
"""
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import bus
import fixture
from faultserver import FaultServer, SECRET, TONES

MODULE = "libpipewire-module-transcribe"
PROBE = Path(os.environ["TRANSCRIBE_BUILD_DIR"]) / "tests/bench/rtt-probe"
DNS_ADDR = "127.0.0.77"
STATES = ("streaming", "dns", "keycmd", "tmpkey")


class Silent:
    """A TCP listener that accepts and never answers (tmpkey), or a UDP
    socket that reads DNS queries and drops them (dns)."""

    def __init__(self, udp=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((DNS_ADDR, 53) if udp else ("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen = 0
        self.kept = []
        self.closed = False
        if not udp:
            self.sock.listen(8)
        threading.Thread(target=self._run, args=(udp,), daemon=True).start()

    def _run(self, udp):
        while not self.closed:
            try:
                if udp:
                    self.sock.recvfrom(4096)
                else:
                    self.kept.append(self.sock.accept()[0])
            except OSError:
                return
            self.seen += 1

    def close(self):
        self.closed = True
        for s in self.kept + [self.sock]:
            s.close()


class Probe:
    def __init__(self, fx):
        self.proc = subprocess.Popen([PROBE], env=fx.env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def reset(self):
        self.proc.stdin.write("reset\n")
        self.proc.stdin.flush()

    def report(self):
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return float(line.split()[0].split("=")[1])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def start_daemon(fx, args, prefix=(), env=None):
    """The bare graph's daemon with the module in its config."""
    line = "    { name = %s args = %s }\n" % (MODULE, fixture.spa_json(args))
    conf = fx.conf_dir / "daemon.conf"
    conf.write_text((fixture.DAEMON_CONF % {"clock": ""}).replace(
        "    { name = libpipewire-module-access }\n",
        "    { name = libpipewire-module-access }\n" + line))
    fx.daemon = fx.spawn("pipewire", [*prefix, fx.bin_dir / fixture.DAEMON_EXE, "-c", conf],
                         env=fx.module_env("mod.transcribe:4", env))
    fixture.wait_for(lambda: fx._daemon_answers(), fixture.START_TIMEOUT, "the daemon to answer",
                     fx.daemon.describe)
    fx.create_sink(fixture.SINK)


def module_id(fx):
    for o in fx.dump():
        if o.get("type") == "PipeWire:Interface:Module" and \
                o.get("info", {}).get("name") == MODULE:
            return o["id"]
    return None


def setup_state(fx, state):
    """Starts the daemon with the module in `state`; returns what to close."""
    tap = {"name": "b", "mode": "tap", "target": fixture.PLAYER}
    env = {"TRANSCRIBE_TEST_KEY": SECRET}
    if state == "streaming":
        server = FaultServer(fx, "--key", SECRET)
        start_daemon(fx, {"service": {"url": server.url, "api-key.env": "TRANSCRIBE_TEST_KEY"},
                          "taps": [tap]}, env=env)
        tones = fx.path("tones.wav")
        fx.run([sys.executable, str(TONES), tones, "--repeat", "40"])
        fx.play(tones, channels=1)
        fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
        fx.wait_for(lambda: bus.get_property(fx, "b", "State") == "streaming",
                    what="streaming")
        return None
    if state == "dns":
        silent = Silent(udp=True)
        resolv = fx.path("resolv.conf")
        resolv.write_text("nameserver %s\noptions timeout:30 attempts:5\n" % DNS_ADDR)
        prefix = ["unshare", "-m", "sh", "-c",
                  'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv]
        start_daemon(fx, {"service": {"url": "ws://stt.bench-never-answers.example:9/ws",
                                      "allow-insecure": True,
                                      "api-key.env": "TRANSCRIBE_TEST_KEY"}, "taps": [tap]},
                     prefix=prefix, env=env)
        fx.wait_for(lambda: silent.seen > 0, what="a DNS query")
        return silent
    if state == "keycmd":
        start_daemon(fx, {"service": {"url": "ws://127.0.0.1:9/ws",
                                      "api-key.command": "exec sleep 1000"}, "taps": [tap]})
        fx.wait_for(lambda: any(Path("/proc/%d/comm" % p).read_text().strip() == "sleep"
                                for p in fx.private_processes() if Path("/proc/%d" % p).exists()),
                    what="the key command running")
        return None
    silent = Silent()
    start_daemon(fx, {"service": {"url": "ws://127.0.0.1:9/ws", "api-key.env": "TRANSCRIBE_TEST_KEY",
                                  "temporary-key.url": "http://127.0.0.1:%d/key" % silent.port},
                      "taps": [tap]}, env=env)
    fx.wait_for(lambda: silent.seen > 0, what="the temporary-key request")
    return silent


def _stall(fx, state, action):
    extra = setup_state(fx, state)
    probe = Probe(fx)
    try:
        time.sleep(0.1)     # a few round trips: the probe is up to speed
        probe.reset()
        if action == "unload":
            mid = module_id(fx)
            fx.run(["pw-cli", "destroy", str(mid)], timeout=60)
            fx.wait_for(lambda: module_id(fx) is None, timeout=60, what="the module gone")
        else:
            ok, err, msg = bus.call(fx, "b", "Stop")
            assert ok, "Stop: %s %s" % (err, msg)
            time.sleep(0.3)
        if not fx.daemon.running:
            raise AssertionError("the daemon died: " + fx.daemon.describe())
        return probe.report()
    finally:
        probe.close()
        if extra is not None:
            extra.close()


class BareFixture(fixture.PipeWireFixture):
    """The bus and dirs only: each measurement starts its own daemon."""

    def start(self, graph=False):
        super().start(graph=False)


def idle_wakeups(seconds):
    with BareFixture() as fx:
        start_daemon(fx, {"service": {"url": ""}, "taps": [{"name": "idle", "mode": "source"}]})
        time.sleep(3)       # past the start and the quiet ticks before the poll rests
        tasks = Path("/proc/%d/task" % fx.daemon.pid)

        def count():
            n = 0
            for t in tasks.iterdir():
                try:
                    if not (t / "comm").read_text().startswith("pw-transcr"):
                        continue
                    for line in (t / "status").read_text().splitlines():
                        if line.startswith("voluntary_ctxt_switches"):
                            n += int(line.split()[1])
                except OSError:
                    pass
            return n
        before = count()
        time.sleep(seconds)
        return (count() - before) / seconds


def host_exit():
    with fixture.PipeWireFixture() as fx:
        server = FaultServer(fx, "--key", SECRET)
        host = fx.start_module_host(MODULE, {"service": {"url": server.url,
                                                         "api-key.env": "TRANSCRIBE_TEST_KEY"},
                                             "taps": [{"name": "h", "mode": "source"}]},
                                    env={"TRANSCRIBE_TEST_KEY": SECRET})
        fx.wait_for(lambda: bus.get_property(fx, "h", "State") == "streaming", what="streaming")
        fx.daemon.send_signal(9)
        t0 = time.monotonic()
        host.wait_exit(10)
        return (time.monotonic() - t0) * 1000


def show(name, values):
    print("%s max=%.1f median=%.1f runs=%s" % (name, max(values), statistics.median(values),
                                                 " ".join("%.1f" % v for v in values)), flush=True)


def main():
    short = "--short" in sys.argv
    runs = 1 if short else 5
    # Short (CI): the unload rows only, once each: they prove the bench runs.
    for action in ("unload",) if short else ("unload", "stop"):
        for state in STATES:
            vals = []
            for _ in range(runs):
                with BareFixture() as fx:
                    vals.append(_stall(fx, state, action))
            show("%s_%s_ms" % (action, state), vals)
    show("idle_wakeups_per_s", [idle_wakeups(1 if short else 10)])
    show("host_exit_ms", [host_exit() for _ in range(runs)])


if __name__ == "__main__":
    main()
