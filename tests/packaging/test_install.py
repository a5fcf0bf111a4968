"""meson install, both ways README documents it (stdlib only).

One scratch build of this tree (-Dtests=false), built and installed by an
unprivileged user (nobody, when the test runs as root):

- --prefix=/usr into a DESTDIR: the tree is README's /usr list exactly;
- then --prefix=$HOME/.local, installed for real without root: the tree
  is README's ~/.local list, the units name installed files, PipeWire
  loads the module from there with README's PIPEWIRE_MODULE_DIR (the
  module logs its version) and not without it, the installed programs
  answer --version and every installed man page renders;
- `ninja uninstall` with no pkg-config to be found removes every file.

Environment: MESON_SOURCE_ROOT (the tree), PROJECT_VERSION. The build
runs under nice on at most 2 jobs: other suites keep their real time.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layout  # noqa: E402

SOURCE = os.environ.get("MESON_SOURCE_ROOT", str(layout.ROOT))
VERSION = os.environ.get("PROJECT_VERSION", "")
BUILD_TIMEOUT = 600
STEP_TIMEOUT = 60
MODULE = "libpipewire-module-transcribe"
# The module alone, with a tap argument it must refuse: loading gets as far
# as the module's own init (its version line), then fails on the argument.
HOST_CONF = """\
context.properties = { log.level = 3 }
context.spa-libs = { support.* = support/libspa-support }
context.modules = [
    { name = %s args = { taps = [ { name = t mode = loud } ] } }
]
""" % MODULE


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pw-transcribe-install-")
        cls.home = os.path.join(cls.tmp, "home")
        cls.build = os.path.join(cls.tmp, "build")
        cls.destdir = os.path.join(cls.tmp, "destdir")
        os.makedirs(cls.home)
        cls.user = None
        if os.geteuid() == 0:       # install as someone who can not write /usr
            cls.user = pwd.getpwnam("nobody")
            for d in (cls.tmp, cls.home):
                os.chown(d, cls.user.pw_uid, cls.user.pw_gid)
        try:
            cls.meson("setup", cls.build, SOURCE, "--prefix=/usr", "-Dtests=false")
            cls.meson("compile", "-C", cls.build, "-j", "2", timeout=BUILD_TIMEOUT)
            cls.meson("install", "-C", cls.build, "--no-rebuild", "--quiet",
                      "--destdir", cls.destdir)
            cls.usr_tree = layout.tree(cls.destdir)
            cls.local = os.path.join(cls.home, ".local")
            cls.meson("configure", cls.build, "-Dprefix=" + cls.local)
            cls.meson("install", "-C", cls.build, "--quiet", timeout=BUILD_TIMEOUT)
            cls.local_tree = layout.tree(cls.local)
            cls.units = {}
            for name in ("pw-transcribe.service", "pw-transcribe-server.service"):
                with open(os.path.join(cls.local, "share/systemd/user", name)) as f:
                    cls.units[name] = f.read()
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def run_as_user(cls, args, env=None, timeout=STEP_TIMEOUT, check=True):
        base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": cls.home, "LC_ALL": "C.UTF-8"}
        base.update(env or {})
        prefix = ["nice", "-n", "10"]
        if cls.user:
            prefix = ["setpriv", "--reuid=%d" % cls.user.pw_uid,
                      "--regid=%d" % cls.user.pw_gid, "--clear-groups"] + prefix
        r = subprocess.run(prefix + list(args), env=base, cwd=cls.tmp, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s: rc=%d\n%s%s" % (" ".join(args), r.returncode,
                                                        r.stdout[-3000:], r.stderr[-3000:]))
        return r

    @classmethod
    def meson(cls, *args, timeout=STEP_TIMEOUT * 3):
        return cls.run_as_user(["meson", *args], timeout=timeout)

    def local_path(self, documented):
        return documented.replace("~/.local", self.local, 1)

    def test_usr_destdir_tree_is_the_documented_one(self):
        self.assertEqual(self.usr_tree, sorted(layout.documented("/usr")))

    def test_user_prefix_tree_is_the_documented_one(self):
        self.assertEqual(["~/.local" + p for p in self.local_tree],
                         sorted(layout.documented("~/.local")))

    def test_user_prefix_units_name_installed_files(self):
        self.assertIn(" -c %s/share/pipewire/pw-transcribe.conf\n" % self.local,
                      self.units["pw-transcribe.service"])
        self.assertIn("ExecStart=%s/bin/pw-transcribe-server\n" % self.local,
                      self.units["pw-transcribe-server.service"])

    def test_pipewire_loads_the_module_from_the_user_prefix_with_the_documented_setting(self):
        moduledir = self.local_path(os.path.dirname(
            [p for p in layout.documented("~/.local") if p.endswith(MODULE + ".so")][0]))
        conf = os.path.join(self.tmp, "host.conf")
        with open(conf, "w") as f:
            f.write(HOST_CONF)
        os.chmod(conf, 0o644)
        found = self.run_as_user(["pipewire", "-c", conf], check=False, env={
            "PIPEWIRE_MODULE_DIR": "%s:%s" % (moduledir, layout.pipewire_moduledir())})
        self.assertIn("pipewire-transcribe %s (libpipewire" % VERSION, found.stderr)
        self.assertIn('invalid argument taps[0].mode: "loud"', found.stderr)
        if not os.path.exists(os.path.join(layout.pipewire_moduledir(), MODULE + ".so")):
            # (the Debian package, when installed, would be found anyway)
            missing = self.run_as_user(["pipewire", "-c", conf], check=False)
            self.assertIn('could not load mandatory module "%s": No such file' % MODULE,
                          missing.stderr)

    def test_installed_programs_answer_version(self):
        for prog in ("pw-transcribe", "pw-transcribe-server"):
            with self.subTest(prog=prog):
                r = self.run_as_user([os.path.join(self.local, "bin", prog), "--version"])
                self.assertEqual(r.stdout, "%s %s\n" % (prog, VERSION))

    def test_installed_man_pages_render(self):
        pages = [self.local + p for p in self.local_tree if p.startswith("/share/man/")]
        self.assertEqual(len(pages), 3, pages)
        for page in pages:
            with self.subTest(page=os.path.basename(page)):
                r = self.run_as_user(["man", "-l", page],
                                     env={"MANPAGER": "cat", "MANWIDTH": "80"})
                self.assertEqual(r.stderr, "")
                self.assertIn("NAME", r.stdout)
                self.assertIn("pipewire-transcribe %s" % VERSION, r.stdout)

    def test_uninstall_needs_no_pkg_config_and_removes_every_file(self):
        # unittest runs the tests by name: those that use the installed
        # programs (test_installed_*, test_pipewire_*) come before this one
        r = self.run_as_user(["ninja", "-C", self.build, "uninstall"], env={
            "PKG_CONFIG": "/bin/false", "PKG_CONFIG_PATH": "/nonexistent",
            "PKG_CONFIG_LIBDIR": "/nonexistent"})
        self.assertIn("\nFailed: 0\n", r.stdout)
        self.assertEqual(layout.tree(self.local), [])


if __name__ == "__main__":
    if shutil.which("meson") is None or shutil.which("ninja") is None:
        print("SKIP: needs meson and ninja")
        sys.exit(77)
    unittest.main(verbosity=2)
