#!/usr/bin/env python3
"""The sandbox's cost per build: the same recipe (a C program compiled with the system's cc)
built with its steps in the sandbox and with `--no-sandbox`, in the same run, caches off.

    python3 benches/build_sandbox.py [RUNS]

Target: the sandboxed build costs at most 50 ms more than the unsandboxed one (the recipe has
two steps, so two sandboxes). Release binaries are built here.
"""

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pspf import ROOT, release_binaries, scratch, timed  # noqa: E402

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
MANIFEST = """manifest {
    string name = "hello";
    string version = "1.0.0";
    string command = "bin/hello";
    build {
        string[] sources = { "src" };
        string[] steps = { "mkdir -p $OUT/bin", "cc -O2 -o $OUT/bin/hello src/hello.c" };
    }
}
"""
TARGET_MS = 50.0


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    pandora, launcher = release_binaries()
    if shutil.which("cc") is None:
        sys.exit("no cc on this machine")
    with scratch() as work:
        work = Path(work)
        package = work / "hello"
        (package / "src").mkdir(parents=True)
        (package / "src" / "hello.c").write_text(HELLO_C)
        (package / "manifest.acl").write_text(MANIFEST)
        env = {"PANDORA_HOME": str(work / "home"), "HOME": str(work)}
        base = [str(pandora), "--quiet", "build", str(package), "-o", str(work / "out.psp"), "--key-seed", "bench", "--launcher-bin", str(launcher), "--no-cache"]
        probe = subprocess.run(base, env=dict(env, PATH="/usr/bin:/bin"), capture_output=True, text=True)
        if probe.returncode != 0:
            sys.exit(f"the sandboxed build fails here:\n{probe.stderr}")
        outside, _ = timed(base + ["--no-sandbox"], runs, env=env)
        inside, _ = timed(base, runs, env=env)
        overhead = inside - outside
        print(f"build of a C program, 2 steps, median of {runs}")
        print(f"  steps outside the sandbox (--no-sandbox)  {outside:7.1f} ms")
        print(f"  steps inside the sandbox                  {inside:7.1f} ms   ratio {inside / outside:.2f}x")
        print(f"  sandbox overhead per build                {overhead:7.1f} ms   target <= {TARGET_MS:.0f} ms: {'ok' if overhead <= TARGET_MS else 'OVER'}")


if __name__ == "__main__":
    main()
