"""A private, headless PipeWire graph for integration tests (stdlib only).

Two graphs (DESIGN.md section 11). Bare: no session manager, nothing links
but the test and the module. Managed, the way users run it: the distribution's
pipewire.conf plus conf.d fragments (test-sink with a real card's
priority.session, and optionally our module loaded into the daemon),
WirePlumber and pipewire-pulse; apps are played with paplay.

    with PipeWireFixture() as fx:                  # dbus + pipewire + test-sink
        clip, ref = fx.make_clip()
        rec = fx.record(fx.path("rec.wav"))       # 16 kHz mono S16, no autoconnect
        fx.link("test-sink:monitor_FL", "test-recorder:input_MONO")
        host = fx.start_module_host("libpipewire-module-transcribe",
                                    {"taps": [{"name": "t", "mode": "tap", "target": "test-player"}]})
        fx.wait_for_ports("transcribe.t", "in", 2)

Everything runs inside a fresh temp dir: XDG_RUNTIME_DIR, HOME, the D-Bus
socket, the PipeWire socket, configs, logs.  Every child gets that private
environment and its own process group; stop() kills every group, reaps
stragglers that carry the private environment, and removes the temp dir.
The daemon and module hosts are /usr/bin/pipewire started through symlinks
named pw-it-daemon / pw-it-host, out of reach of a `pkill pipewire` meant for
another PipeWire on the same machine.  The recipe is DESIGN.md section 11 (Debian 12, PipeWire 0.3.65, no session
manager).

Environment knobs: TRANSCRIBE_BUILD_DIR (build tree, for <build>/module),
PIPEWIRE_SYSTEM_MODULEDIR (else pkg-config), TRANSCRIBE_PW_DEBUG
(PIPEWIRE_DEBUG for the daemon and module hosts), TRANSCRIBE_HOST_PRELOAD
(LD_PRELOAD for module hosts: the ASan runtime), TRANSCRIBE_KEEP_TMP=1
(keep the temp dir and print its path).
"""

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

SINK = "test-sink"
PLAYER = "test-player"
RECORDER = "test-recorder"
CMD_TIMEOUT = 10.0      # any short pw-cli/pw-link/sox call
START_TIMEOUT = 10.0    # daemon up, node or ports appearing
STOP_TIMEOUT = 5.0      # SIGTERM grace before SIGKILL
# The daemon and module hosts run /usr/bin/pipewire through these symlinks, so a
# `pkill -x pipewire` (or -f) aimed at some other PipeWire leaves ours alive.
DAEMON_EXE = "pw-it-daemon"
HOST_EXE = "pw-it-host"
WIREPLUMBER_EXE = "pw-it-wireplumber"
STREAM_PORTS = "adapter.auto-port-config = { mode = dsp monitor = false position = preserve }"
SINK_PROPS = ("{ factory.name=support.null-audio-sink node.name=%s media.class=Audio/Sink "
              "object.linger=1 audio.position=[FL FR] "
              "adapter.auto-port-config={ mode=dsp monitor=true position=preserve } }")
PASS_ENV = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH",
            "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS")

DAEMON_CONF = """\
context.properties = {
    core.daemon = true
    core.name = pipewire-0
    link.max-buffers = 16
%(clock)s
}
context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-rt flags = [ ifexists nofail ] }
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-profiler flags = [ ifexists nofail ] }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-spa-device-factory }
    { name = libpipewire-module-spa-node-factory }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-client-device }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-link-factory }
    { name = libpipewire-module-access }
]
context.objects = [
    { factory = metadata args = { metadata.name = default } }
]
"""

# The managed graph's speakers: a null sink with the priority.session a
# real card gets from WirePlumber (ALSA analog outputs: ~1000 and more).
MANAGED_SINK_CONF = """\
context.objects = [
    { factory = adapter
      args = { factory.name = support.null-audio-sink node.name = %s
               node.description = "Test speakers" media.class = Audio/Sink
               object.linger = true audio.position = [ FL FR ]
               priority.session = 1009 priority.driver = 1009 } }
]
"""

# Our module loaded into the daemon, as a user's conf.d fragment does it.
MANAGED_MODULE_CONF = """\
context.modules = [
    { name = %s%s }
]
"""

HOST_CONF = """\
context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-rt flags = [ ifexists nofail ] }
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-metadata }
%(modules)s
]
"""

# No service directories: nothing gets activated on the private bus.
DBUS_CONF = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def spa_json(value):
    """Module args as SPA-JSON: strings are used verbatim, the rest as JSON
    (JSON is valid SPA-JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def wait_for(predicate, timeout=START_TIMEOUT, what="condition", diagnose=None):
    """Poll predicate() until it returns something truthy, which is returned.
    On timeout: AssertionError naming `what` (plus diagnose() text if given)."""
    deadline = time.monotonic() + timeout
    interval = 0.005
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            extra = diagnose() if diagnose else ""
            raise AssertionError("timed out after %.1fs waiting for %s%s"
                                 % (timeout, what, ("\n" + extra) if extra else ""))
        time.sleep(interval)
        interval = min(interval * 2, 0.1)


def _tail(text, lines=30):
    return "\n".join(text.splitlines()[-lines:])


class Proc:
    """A child in its own process group, stdout/stderr captured to files."""

    def __init__(self, name, args, env, log_dir, cwd=None, stdout=None, log_name=None):
        self.name = name
        self.args = [str(a) for a in args]
        self.out_path = Path(log_dir) / ((log_name or name) + ".out")
        self.err_path = Path(log_dir) / ((log_name or name) + ".err")
        with open(self.err_path, "wb") as err:
            out = stdout if stdout is not None else open(self.out_path, "wb")
            try:
                self.popen = subprocess.Popen(self.args, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                              stdout=out, stderr=err, start_new_session=True)
            finally:
                if stdout is None:
                    out.close()
        self.pid = self.popen.pid

    @property
    def returncode(self):
        return self.popen.poll()

    @property
    def running(self):
        return self.popen.poll() is None

    @property
    def log(self):
        parts = []
        for p in (self.out_path, self.err_path):
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "".join(parts)

    def describe(self):
        state = "running" if self.running else "exited rc=%s" % self.returncode
        return "%s (pid %d, %s); log tail:\n%s" % (self.name, self.pid, state, _tail(self.log))

    def wait_exit(self, timeout):
        """Wait for the process to exit by itself; returns its exit code."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit within %.1fs: %s"
                                 % (self.name, timeout, self.describe())) from None

    def send_signal(self, sig):
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def terminate(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the process group, SIGKILL it after timeout; returns the exit code."""
        if self.running:
            self.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.send_signal(signal.SIGKILL)   # the leader or anything left in its group
        return self.popen.wait(timeout)


class PipeWireFixture:
    """Private dbus-daemon + pipewire + test-sink; see the module docstring."""

    def __init__(self, build_dir=None, debug=None, sink=True, clock=None, managed=False,
                 daemon_module=None, daemon_fragment=None):
        """managed: the desktop graph (WirePlumber, pipewire-pulse; see the
        module docstring). daemon_module: (name, args) loaded into the
        managed daemon from a conf.d fragment (args: dict or SPA-JSON str);
        daemon_fragment: a fragment file to use as it is (conf/transcribe.conf)."""
        self.build_dir = Path(build_dir or os.environ.get("TRANSCRIBE_BUILD_DIR", ".")).resolve()
        self.debug = debug if debug is not None else os.environ.get("TRANSCRIBE_PW_DEBUG")
        self.want_sink = sink
        self.clock = clock or {}       # e.g. {"default.clock.quantum": 512}
        self.managed = managed
        self.graph = "managed" if managed else "bare"
        self.daemon_module = daemon_module
        self.daemon_fragment = daemon_fragment
        self.procs = []
        self.tmp = None
        self.leftovers = []
        self._hosts = 0

    # -- lifecycle -------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, graph=True):
        """Temp dirs, environment, the private bus, then the graph.
        graph=False: stop before the graph; start_graph() starts it (for a
        service the daemon-loaded module must find at once)."""
        self.tmp = Path(tempfile.mkdtemp(prefix="pw-transcribe-it-"))
        try:
            self.runtime_dir = self.tmp / "run"
            self.home = self.tmp / "home"
            self.logs = self.tmp / "logs"
            self.conf_dir = self.tmp / "conf"
            self.bin_dir = self.tmp / "bin"
            for d in (self.runtime_dir, self.home / ".local/state", self.home / ".config",
                      self.home / ".local/share", self.home / ".cache", self.logs, self.conf_dir,
                      self.bin_dir):
                d.mkdir(parents=True, mode=0o700)
            for exe in (DAEMON_EXE, HOST_EXE):
                (self.bin_dir / exe).symlink_to(shutil.which("pipewire"))
            if self.managed:
                (self.bin_dir / WIREPLUMBER_EXE).symlink_to(shutil.which("wireplumber"))
            self.env = self._base_env()
            self._start_dbus()
            if graph:
                self.start_graph()
        except BaseException:
            self.stop()
            raise

    def start_graph(self):
        try:
            if self.managed:
                self._start_desktop()
            else:
                self._start_daemon()
                if self.want_sink:
                    self.create_sink(SINK)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        """Kill every process group started here (newest first), then any
        process still carrying the private runtime dir; remove the temp dir.
        Idempotent. Stragglers found are listed in self.leftovers."""
        if self.tmp is None:
            return
        errors = []
        for p in reversed(self.procs):
            try:
                p.terminate()
            except Exception as e:      # go on: everything else must still die
                errors.append("%s: %r" % (p.name, e))
        if getattr(self, "_dbus_stdout", None):
            self._dbus_stdout.close()
            self._dbus_stdout = None
        self.leftovers = self.private_processes()
        for pid in self.leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if os.environ.get("TRANSCRIBE_KEEP_TMP") == "1":
            print("fixture: kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None
        if errors:
            raise AssertionError("teardown: " + "; ".join(errors))

    def private_processes(self):
        """PIDs of live processes whose environment holds our XDG_RUNTIME_DIR."""
        marker = ("XDG_RUNTIME_DIR=%s" % self.runtime_dir).encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % entry, "rb") as f:
                    if marker in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
        return found

    def _base_env(self):
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update({
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "PIPEWIRE_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_STATE_HOME": str(self.home / ".local/state"),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            # module-rt must not reach RTKit on the real system bus
            "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=%s/no-system-bus" % self.runtime_dir,
            "DISABLE_RTKIT": "1",
        })
        return env

    def _start_dbus(self):
        conf = self.conf_dir / "dbus.conf"
        conf.write_text(DBUS_CONF % (self.runtime_dir / "bus"))
        read_fd, write_fd = os.pipe()
        try:
            proc = self.spawn("dbus-daemon", ["dbus-daemon", "--config-file=%s" % conf,
                                              "--print-address", "--nofork"],
                              stdout=write_fd)
        finally:
            os.close(write_fd)
        self._dbus_stdout = os.fdopen(read_fd, "rb")
        ready, _, _ = select.select([read_fd], [], [], START_TIMEOUT)
        line = self._dbus_stdout.readline().decode().strip() if ready else ""
        if not line.startswith("unix:"):
            raise AssertionError("dbus-daemon printed no address: " + proc.describe())
        self.dbus = proc          # tests about losing the bus stop it
        self.dbus_address = line
        self.env["DBUS_SESSION_BUS_ADDRESS"] = line

    def _start_daemon(self):
        clock = "\n".join("    %s = %s" % kv for kv in self.clock.items())
        conf = self.conf_dir / "daemon.conf"
        conf.write_text(DAEMON_CONF % {"clock": clock})
        env = dict(self.env)
        if self.debug:
            env["PIPEWIRE_DEBUG"] = self.debug
        self.daemon = self.spawn("pipewire", [self.bin_dir / DAEMON_EXE, "-c", conf], env=env)
        wait_for(lambda: self._daemon_answers(), START_TIMEOUT, "pipewire to answer pw-cli info 0",
                 self.daemon.describe)

    def _start_desktop(self):
        """The managed graph: the distribution's daemon config with our
        fragments, then WirePlumber and pipewire-pulse, ready once
        WirePlumber has chosen test-sink as the default output and
        pipewire-pulse answers."""
        confd = self.home / ".config/pipewire/pipewire.conf.d"
        confd.mkdir(parents=True)
        if self.want_sink:
            (confd / "10-test-sink.conf").write_text(MANAGED_SINK_CONF % SINK)
        if self.daemon_module:
            mod, margs = self.daemon_module
            a = "" if margs is None else " args = %s" % spa_json(margs)
            (confd / "20-module.conf").write_text(MANAGED_MODULE_CONF % (mod, a))
        if self.daemon_fragment:
            shutil.copy(self.daemon_fragment, confd / "20-module.conf")
        # The daemon loads our module: it needs the module's environment.
        env = self.module_env()
        self.daemon = self.spawn("pipewire", [self.bin_dir / DAEMON_EXE, "-c", "pipewire.conf"],
                                 env=env)
        wait_for(lambda: self._daemon_answers(), START_TIMEOUT, "pipewire to answer pw-cli info 0",
                 self.daemon.describe)
        self.wireplumber = self.spawn("wireplumber", [self.bin_dir / WIREPLUMBER_EXE])
        self.pulse = self.spawn("pipewire-pulse", [self.bin_dir / HOST_EXE, "-c",
                                                   "pipewire-pulse.conf"])
        if self.want_sink:
            self.wait_for(lambda: self.default_node("default.audio.sink") == SINK,
                          what="WirePlumber to choose %s as the default sink" % SINK)
        self.wait_for(lambda: self.run(["pactl", "info"], check=False).returncode == 0,
                      what="pipewire-pulse to answer pactl info")

    def default_node(self, key="default.audio.sink"):
        """The node name WirePlumber keeps under key in the default metadata."""
        for o in self.dump():
            if (o.get("type") == "PipeWire:Interface:Metadata"
                    and o.get("props", {}).get("metadata.name") == "default"):
                for m in o.get("metadata", []):
                    if m.get("key") == key:
                        v = m.get("value")
                        return v.get("name") if isinstance(v, dict) else v
        return None

    def _daemon_answers(self):
        if not self.daemon.running:
            raise AssertionError("pipewire exited: " + self.daemon.describe())
        return self.run(["pw-cli", "info", "0"], check=False).returncode == 0

    # -- processes -------------------------------------------------------

    def path(self, name):
        """A path inside the fixture's temp dir (for recordings, clips)."""
        return self.tmp / name

    def spawn(self, name, args, env=None, stdout=None):
        """Start a long-running child in its own process group; stop() kills it.
        Logs go to <tmp>/logs/<name>.{out,err} (<name>-2, -3... when reused)."""
        used = sum(1 for p in self.procs if p.name == name)
        log_name = name if not used else "%s-%d" % (name, used + 1)
        proc = Proc(name, args, env or self.env, self.logs, cwd=self.tmp, stdout=stdout,
                    log_name=log_name)
        self.procs.append(proc)
        return proc

    def run(self, args, timeout=CMD_TIMEOUT, check=True):
        """Run a short command in the private environment; returns CompletedProcess."""
        try:
            res = subprocess.run([str(a) for a in args], env=self.env, cwd=self.tmp,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s timed out after %.1fs" % (args[0], timeout)) from None
        if check and res.returncode != 0:
            raise AssertionError("%s failed (rc=%d): %s" % (" ".join(map(str, args)),
                                                            res.returncode, res.stderr.strip()))
        return res

    def start_module_host(self, module, args=None, name=None, debug=None, env=None,
                          extra_modules=(), prefix=()):
        """Run `pipewire -c <name>.conf` (as pw-it-host) loading `module` with `args` (dict -> SPA-JSON,
        str verbatim) after rt, protocol-native, client-node, adapter, metadata.
        extra_modules: more (name, args) pairs loaded before it. Modules are
        searched in <build>/module first, then the system module dir.
        prefix: a command to run the host under (e.g. ip netns exec NS)."""
        self._hosts += 1
        name = name or "host%d" % self._hosts
        lines = []
        for mod, margs in list(extra_modules) + [(module, args)]:
            a = "" if margs is None else " args = %s" % spa_json(margs)
            lines.append("    { name = %s%s }" % (mod, a))
        conf = self.conf_dir / ("%s.conf" % name)
        conf.write_text(HOST_CONF % {"modules": "\n".join(lines)})
        return self.spawn(name, [*prefix, self.bin_dir / HOST_EXE, "-c", conf],
                          env=self.module_env(debug, env))

    def module_env(self, debug=None, extra=None):
        """Environment for any process that loads our module (a module host,
        or `pw-cli` doing load-module): the private session plus
        PIPEWIRE_MODULE_DIR=<build>/module:<system dir>, the ASan preload if
        the build is sanitized, and PIPEWIRE_DEBUG."""
        env = dict(self.env)
        env["PIPEWIRE_MODULE_DIR"] = "%s:%s" % (self.build_dir / "module", system_moduledir())
        if os.environ.get("TRANSCRIBE_HOST_PRELOAD"):   # ASan runtime for a sanitized module
            env["LD_PRELOAD"] = os.environ["TRANSCRIBE_HOST_PRELOAD"]
        dbg = debug if debug is not None else self.debug
        if dbg:
            env["PIPEWIRE_DEBUG"] = dbg
        env.update(extra or {})
        return env

    # -- graph -----------------------------------------------------------

    def create_sink(self, name=SINK):
        """The null-audio-sink driver (stereo, with monitor ports), per the recipe."""
        self.run(["pw-cli", "create-node", "adapter", SINK_PROPS % name])
        want = {name + ":" + p for p in ("playback_FL", "playback_FR", "monitor_FL", "monitor_FR")}
        self.wait_for(lambda: want <= set(self.ports(name)), what="ports of " + name)

    def dump(self):
        """pw-dump as a list of objects. pw-dump 0.3.65 can print a broken
        document while objects come and go under it (a session manager at
        work): ask again."""
        for attempt in range(5):
            out = self.run(["pw-dump"]).stdout or "[]"
            try:
                return json.loads(out)
            except json.JSONDecodeError:
                if attempt == 4:
                    raise

    def nodes(self):
        """{node.name: props} of all nodes."""
        return {o["info"]["props"].get("node.name"): o["info"]["props"]
                for o in self.dump() if o.get("type") == "PipeWire:Interface:Node"}

    def settings(self):
        """The daemon's "settings" metadata as {key: value} (clock.rate,
        clock.quantum, clock.max-quantum, ...)."""
        for o in self.dump():
            if (o.get("type") == "PipeWire:Interface:Metadata"
                    and o.get("props", {}).get("metadata.name") == "settings"):
                return {m["key"]: m["value"] for m in o.get("metadata", [])}
        return {}

    def max_quantum_ms(self):
        """Upper bound of one graph cycle in ms (clock.max-quantum / clock.rate)."""
        s = self.settings()
        return 1000.0 * s["clock.max-quantum"] / s["clock.rate"]

    def node_exists(self, name):
        return name in self.nodes()

    def ports(self, node_name=None, direction=None):
        """'node:port' names, optionally of one node and/or direction ('in'/'out')."""
        flags = {"in": ["-i"], "out": ["-o"], None: ["-i", "-o"]}[direction]
        names = []
        for flag in flags:
            names += [l.strip() for l in self.run(["pw-link", flag]).stdout.splitlines() if l.strip()]
        if node_name is not None:
            names = [n for n in names if n.rsplit(":", 1)[0] == node_name]
        return names

    def links(self):
        """Set of ('node:port' out, 'node:port' in) pairs."""
        objs = self.dump()
        nodes = {o["id"]: o["info"]["props"].get("node.name") for o in objs
                 if o.get("type") == "PipeWire:Interface:Node"}
        ports = {o["id"]: "%s:%s" % (nodes.get(o["info"]["props"].get("node.id")),
                                     o["info"]["props"].get("port.name"))
                 for o in objs if o.get("type") == "PipeWire:Interface:Port"}
        return {(ports.get(o["info"]["output-port-id"]), ports.get(o["info"]["input-port-id"]))
                for o in objs if o.get("type") == "PipeWire:Interface:Link"}

    def link(self, out_port, in_port):
        self.run(["pw-link", out_port, in_port])

    def unlink(self, out_port, in_port):
        self.run(["pw-link", "-d", out_port, in_port])

    def daemon_gone(self):
        """'' while the daemon runs, else one line saying how it ended."""
        daemon = getattr(self, "daemon", None)
        if daemon is None or daemon.running:
            return ""
        rc = daemon.returncode
        how = ("rc=0: it was sent SIGTERM/SIGINT from outside the fixture, e.g. by a "
               "`pkill pipewire`" if rc == 0 else
               "killed by signal %d" % -rc if rc < 0 else "exited rc=%d" % rc)
        return "the pipewire daemon is gone (%s)" % how

    def describe(self):
        """State and log tail of every child, for failure messages."""
        return "\n".join([self.daemon_gone()] + [p.describe() for p in self.procs]).strip()

    def wait_for(self, predicate, timeout=START_TIMEOUT, what="condition"):
        """wait_for() that also reports when the daemon died meanwhile."""
        return wait_for(predicate, timeout, what,
                        lambda: self.describe() if self.daemon_gone() else "")

    def wait_for_node(self, name, timeout=START_TIMEOUT):
        """Wait until node `name` exists; returns its properties."""
        return self.wait_for(lambda: self.nodes().get(name), timeout, "node " + name)

    def wait_for_ports(self, node_name, direction=None, count=1, timeout=START_TIMEOUT):
        """Wait until node has at least `count` ports; returns their names."""
        def enough():
            found = self.ports(node_name, direction)
            return found if len(found) >= count else None
        return self.wait_for(enough, timeout,
                             "%d %s port(s) on %s" % (count, direction or "any", node_name))

    # -- streams ---------------------------------------------------------

    def stream_props(self, node_name, extra=""):
        return "{ node.name=%s %s %s }" % (node_name, STREAM_PORTS, extra)

    def play(self, wav, node_name=PLAYER, extra_props="", channels=2):
        """pw-play a file, not linked to anything (--target 0); waits for its
        output ports. Link them, and it starts when the driver pulls."""
        proc = self.spawn(node_name, ["pw-play", "--target", "0",
                                      "-P", self.stream_props(node_name, extra_props), wav])
        self.wait_for_ports(node_name, "out", channels)
        return proc

    def paplay(self, wav, device=None, client_name="test-app", name="paplay"):
        """An app as users run one (managed graph): paplay through
        pipewire-pulse, to device or wherever WirePlumber routes it. Its
        node has application.name = client_name."""
        args = ["paplay", "--client-name", client_name]
        if device:
            args.append("--device=%s" % device)
        return self.spawn(name, args + [wav])

    def record(self, wav, node_name=RECORDER, rate=16000, channels=1, fmt="s16", extra_props=""):
        """pw-record to a WAV file, not linked (--target 0); waits for its input
        ports (mono: '<node>:input_MONO'). Stop it with .terminate()."""
        proc = self.spawn(node_name, ["pw-record", "--target", "0", "--rate", rate,
                                      "--channels", channels, "--format", fmt,
                                      "-P", self.stream_props(node_name, extra_props), wav])
        self.wait_for_ports(node_name, "in", channels)
        return proc

    def make_clip(self, seconds=5):
        """A structured 48 kHz stereo S16 test clip (two sweeps with a tremolo
        envelope plus pink-noise bursts) and its 16 kHz mono reference.
        Returns (clip, ref) paths."""
        clip, tones, bursts, ref = (self.path(n) for n in
                                    ("clip.wav", "tones.wav", "bursts.wav", "ref16k.wav"))
        sox = ["sox", "-R", "-D", "-n", "-r", "48000", "-c", "2", "-b", "16"]
        self.run(sox + [tones, "synth", seconds, "sine", "150-3000", "sine", "250-2000",
                        "tremolo", "1.7", "70"])
        self.run(sox + [bursts, "synth", seconds, "pinknoise", "tremolo", "0.8", "100"])
        self.run(["sox", "-R", "-D", "-m", "-v", "0.3", tones, "-v", "0.2", bursts, clip])
        self.run(["sox", "-R", "-D", clip, "-b", "16", ref, "remix", "1-2", "rate", "16000"])
        return clip, ref


def log_clock():
    """Now, on the clock of PipeWire's log timestamps: 0.3.65 stamps them with
    CLOCK_MONOTONIC_RAW, which drifts from CLOCK_MONOTONIC (time.monotonic())
    by hundreds of ms on a long-running machine."""
    return time.clock_gettime(time.CLOCK_MONOTONIC_RAW)


def log_stamps(log, pattern):
    """log_clock() seconds of the PipeWire log lines matching pattern."""
    import re
    return [float(m.group(1)) for m in
            re.finditer(r"^\[\w\]\[(\d+\.\d+)\].*" + pattern, log, re.M)]


def system_moduledir():
    d = os.environ.get("PIPEWIRE_SYSTEM_MODULEDIR")
    if d:
        return d
    return subprocess.run(["pkg-config", "--variable=moduledir", "libpipewire-0.3"],
                          capture_output=True, text=True, timeout=CMD_TIMEOUT,
                          check=True).stdout.strip()


def wav_compare(ref, test, *extra):
    """Run $WAV_COMPARE; returns its key=value output as {key: float}."""
    tool = os.environ.get("WAV_COMPARE", "wav-compare")
    res = subprocess.run([tool] + [str(a) for a in extra] + [str(ref), str(test)],
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise AssertionError("wav-compare failed (rc=%d): %s" % (res.returncode, res.stderr.strip()))
    return {k: float(v) for k, v in (f.split("=", 1) for f in res.stdout.split())}


def closed_port():
    """A loopback port nothing listens on: connecting to it is refused."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def can_use_netns():
    return os.geteuid() == 0 and subprocess.run(
        ["ip", "netns", "list"], capture_output=True).returncode == 0


class LoopbackNetns:
    """A private network namespace with only its loopback up: the test's own
    127.0.0.1, where the fixed ports of our defaults (7681) are surely free
    and nothing of the machine's is reachable. Needs root; run a process in
    it with prefix=ns.prefix. Removed by close()."""

    def __init__(self):
        self.name = "pwt-lo-%x" % (os.getpid() & 0xffff)
        self.prefix = ("ip", "netns", "exec", self.name)
        self.close()
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=CMD_TIMEOUT)
        subprocess.run([*self.prefix, "ip", "link", "set", "lo", "up"], check=True,
                       timeout=CMD_TIMEOUT)

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=CMD_TIMEOUT)


class PipeWireTestCase(unittest.TestCase):
    """unittest base: self.fx is a started PipeWireFixture, stopped after each
    test whatever happens (addCleanup runs on failure and on errors)."""

    fixture_kwargs = {}

    def setUp(self):
        self.fx = PipeWireFixture(**self.fixture_kwargs)
        self.addCleanup(self.fx.stop)
        self.fx.start()


REQUIRED_TOOLS = ("dbus-daemon", "pipewire", "pw-cli", "pw-link", "pw-dump", "wireplumber", "paplay", "pactl",
                  "pw-play", "pw-record", "sox", "pkg-config")


def main():
    """Entry point for a test file: exit 77 (meson: SKIP) when a tool is
    missing, else run unittest."""
    import sys
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        print("SKIP: missing tools: " + " ".join(missing))
        sys.exit(77)
    unittest.main(verbosity=2)
