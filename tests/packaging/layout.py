"""The installed layout as README documents it (section "Install"), for the
packaging tests: a fenced block after each `<!-- layout: PREFIX -->` line."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# README writes PipeWire's moduledir as Debian's amd64 one.
README_MODULEDIR = "/usr/lib/x86_64-linux-gnu/pipewire-0.3"


def pipewire_moduledir():
    return subprocess.run(["pkg-config", "--variable=moduledir", "libpipewire-0.3"],
                          capture_output=True, text=True, check=True).stdout.strip()


def documented(prefix):
    """The paths listed for prefix ("/usr" or "~/.local"), in README order,
    with README's moduledir and multiarch triplet made this machine's."""
    lines = README.read_text().splitlines()
    marker = "<!-- layout: %s -->" % prefix
    if marker not in lines:
        raise AssertionError("README has no %r" % marker)
    i = lines.index(marker) + 1
    if not lines[i].startswith("```"):
        raise AssertionError("README: a fenced block must follow %r" % marker)
    block = []
    for line in lines[i + 1:]:
        if line.startswith("```"):
            break
        block.append(line.strip())
    here = pipewire_moduledir()
    triplet_readme = README_MODULEDIR.split("/")[3]
    triplet_here = here.split("/")[3] if here.startswith("/usr/lib/") else triplet_readme
    return [p.replace(README_MODULEDIR, here).replace("/%s/" % triplet_readme,
                                                     "/%s/" % triplet_here)
            for p in block if p]


def tree(root):
    """Every file and symlink below root, as absolute paths of the installed
    system (root stripped)."""
    found = []
    for d, dirs, files in os.walk(root):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            found.append("/" + os.path.relpath(os.path.join(d, name), root))
    return sorted(found)
