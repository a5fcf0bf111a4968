"""The D-Bus API from the outside, for the integration tests: a monitor of
the private session bus (busctl --json), property reads and method calls
(gdbus, which names the error it got).

    mon = BusMonitor(fx)                 # before the module starts
    ...
    mon.signals("Final")                 # [(path, [args...]), ...] in order
    call(fx, "s", "WaitReady", "5000")   # -> (ok, error_name, message)
"""
import json
import re
import subprocess

NAME = "io.github.pw_transcribe.Transcribe1"
ROOT = "/io/github/pw_transcribe/Transcribe1"
IFACE = "io.github.pw_transcribe.Transcribe1.Tap"
ERROR = "io.github.pw_transcribe.Transcribe1.Error."


def tap_path(name):
    """sd_bus_path_encode(): bytes outside [A-Za-z0-9] become _xx."""
    return ROOT + "/tap/" + "".join(c if c.isalnum() and c.isascii() else "_%02x" % ord(c)
                                    for c in name)


class BusMonitor:
    """Every message on the private bus, as busctl's JSON, from start on."""

    def __init__(self, fx):
        self.fx = fx
        self.proc = fx.spawn("bus-monitor", ["busctl", "--user", "monitor", "--json=short"])
        # It says so on stderr once it is a monitor: nothing after is missed.
        fx.wait_for(lambda: "Monitoring" in self.proc.log, what="busctl monitor running")

    def messages(self):
        out = []
        text = self.proc.out_path.read_text(errors="replace") if self.proc.out_path.exists() else ""
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass        # the line being written
        return out

    def raw(self):
        return self.proc.log

    def signals(self, member, path=None, iface=IFACE):
        return [(m["path"], m["payload"]["data"]) for m in self.messages()
                if m.get("type") == "signal" and m.get("member") == member
                and m.get("interface") == iface and (path is None or m.get("path") == path)]

    def changed(self, path):
        """The changed-properties dicts of the tap's PropertiesChanged, in order
        ({name: value})."""
        return [{k: v["data"] for k, v in data[1].items()}
                for p, data in self.signals("PropertiesChanged", path,
                                            "org.freedesktop.DBus.Properties")
                if data[0] == IFACE]


def call_async(fx, tap, method, *args, timeout=30, name=NAME):
    """gdbus call in the background: a Popen for result_of()."""
    return subprocess.Popen(["gdbus", "call", "--session", "--dest", name, "--object-path",
                             tap_path(tap), "--timeout", str(int(timeout)), "--method",
                             IFACE + "." + method, *args],
                            env=fx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_of(proc, timeout=30):
    """(ok, error_name or None, text) of a call_async()."""
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode == 0:
        return True, None, out.strip()
    m = re.search(r"GDBus\.Error:([\w.]+): (.*)", err)
    return False, (m.group(1) if m else None), (m.group(2) if m else err.strip())


def call(fx, tap, method, *args, timeout=30, name=NAME):
    """gdbus call; returns (ok, error_name or None, text)."""
    return result_of(call_async(fx, tap, method, *args, timeout=timeout, name=name),
                     timeout=timeout + 10)


def get_property(fx, tap, prop, name=NAME):
    res = subprocess.run(["busctl", "--user", "--json=short", "get-property", name, tap_path(tap),
                          IFACE, prop], env=fx.env, capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        return None
    return json.loads(res.stdout)["data"]


def has_name(fx, name=NAME):
    res = subprocess.run(["busctl", "--user", "list", "--acquired", "--no-legend"], env=fx.env,
                         capture_output=True, text=True, timeout=10)
    return any(line.split()[0] == name for line in res.stdout.splitlines() if line.split())
