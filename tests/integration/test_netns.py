#!/usr/bin/env python3
"""Network awareness for real: the module host runs in one private network
namespace, fault-server in another, joined by a veth pair that the test
owns (10.231.x.0/24, never routed anywhere). Taking the link down and up
must bring the session back to `streaming` quickly; the time from link up
to `streaming` is printed (tests/bench/bench_netns.py compares it with
network awareness switched off).

Needs root (CI runs as root); skipped otherwise."""

import unittest

import fixture
from fixture import PipeWireTestCase
from netpair import link_flap

@unittest.skipUnless(fixture.can_use_netns(), "needs root and ip netns")
class NetnsTest(PipeWireTestCase):

    def test_link_down_then_up_reconnects_quickly(self):
        ms = link_flap(self.fx)
        print("link up -> streaming: %.0f ms (network awareness on)" % ms)
        # The module saw the link come back (then either retried at once or,
        # if a backoff timer won the race, checked the new socket's path).
        # Timings: tests/bench/bench_netns.py.
        seen = fixture.log_stamps(self.fx.last_host_log, r"network changed")
        self.assertTrue(any(t >= self.fx.last_link_up for t in seen), seen)


if __name__ == "__main__":
    fixture.main()
