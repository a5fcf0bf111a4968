"""Two private network namespaces joined by a veth pair the test owns
(10.231.x.0/24, never routed anywhere), and a link flap measured through the
module: for tests/integration/test_netns.py and tests/bench/bench_netns.py.
Needs root."""

import os
import re
import subprocess
import sys

import fixture
from faultserver import FaultServer, SECRET, TONES

MODULE = "libpipewire-module-transcribe"


class NetPair:
    """Two namespaces and a veth between them; removed on close()."""

    def __init__(self):
        tag = "%x" % (os.getpid() & 0xffff)
        self.client, self.server = "pwt-c-" + tag, "pwt-s-" + tag
        net = 10 + os.getpid() % 200
        self.client_ip, self.server_ip = "10.231.%d.1" % net, "10.231.%d.2" % net
        self.dev = "pwtv" + tag
        self.close()
        for ns in (self.client, self.server):
            self.ip("netns", "add", ns)
            self.ip("-n", ns, "link", "set", "lo", "up")
        self.ip("link", "add", self.dev, "netns", self.client, "type", "veth",
                "peer", "name", self.dev + "s", "netns", self.server)
        self.ip("-n", self.client, "addr", "add", self.client_ip + "/24", "dev", self.dev)
        self.ip("-n", self.server, "addr", "add", self.server_ip + "/24", "dev", self.dev + "s")
        self.ip("-n", self.client, "link", "set", self.dev, "up")
        self.ip("-n", self.server, "link", "set", self.dev + "s", "up")

    @staticmethod
    def ip(*args, check=True):
        subprocess.run(["ip", *args], check=check, capture_output=True, timeout=10)

    def link(self, up):
        self.ip("-n", self.client, "link", "set", self.dev, "up" if up else "down")

    def close(self):
        for ns in (self.client, self.server):
            self.ip("netns", "del", ns, check=False)


def link_flap(fx, network_events=True):
    """Streams, takes the link down until the module notices, brings it up;
    returns ms from link up to `streaming` again, from the module's log."""
    net = NetPair()
    try:
        server = FaultServer(fx, "--address", net.server_ip, "--key", SECRET,
                             prefix=("ip", "netns", "exec", net.server))
        url = "ws://%s:%d/transcribe-websocket" % (net.server_ip, server.port)
        # The server is not on loopback: a key over plain ws:// needs
        # allow-insecure (here: a private veth pair the test made).
        args = ("{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY "
                "allow-insecure = true } "
                "liveness.network-events = %s "
                "taps = [ { name = n mode = tap target = %s } ] }"
                % (url, "true" if network_events else "false", fixture.PLAYER))
        host = fx.start_module_host(MODULE, args, debug="mod.transcribe:4",
                                    env={"TRANSCRIBE_TEST_KEY": SECRET},
                                    prefix=("ip", "netns", "exec", net.client))
        fx.wait_for_ports("transcribe.n", "in", 2)
        tones = fx.path("tones.wav")
        fx.run([sys.executable, str(TONES), tones, "--repeat", "60"])
        fx.play(tones, channels=1)
        fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
        streaming = lambda: len(re.findall(r"-> streaming", host.log))
        fx.wait_for(lambda: streaming() >= 1, timeout=15, what="streaming")
        fx.wait_for(lambda: "final" in server.out(), timeout=15, what="words")

        net.link(False)
        fx.wait_for(lambda: re.search(r"-> (reconnecting|offline|connecting)", host.log),
                    timeout=30, what="the session notices the link is down")
        # Let an attempt fail against the dead link so backoff is running.
        fx.wait_for(lambda: len(re.findall(r"failure class", host.log)) >= 2, timeout=30,
                    what="a failed attempt while down")
        up = fixture.log_clock()
        net.link(True)
        fx.wait_for(lambda: streaming() >= 2, timeout=60, what="streaming after link up")
        back = fixture.log_stamps(host.log, r"-> streaming")[1]
        if network_events:
            # A backoff timer may win the race with the 300 ms debounce; the
            # network event must come all the same.
            fx.wait_for(lambda: any(t >= up for t in
                                    fixture.log_stamps(host.log, r"network changed")),
                        timeout=10, what="network change noticed after link up")
        host.terminate()
        fx.last_host_log = host.log
        fx.last_link_up = up
        return (back - up) * 1000
    finally:
        net.close()
