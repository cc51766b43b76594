#!/usr/bin/env python3
"""What an installed package's entry point costs over exec'ing its program directly.

    python3 benches/entry_points.py [RUNS] [--static]   # default 2000 starts of each

A tiny package (its command is a copy of /bin/true) is built and installed into a scratch home
with the release binaries; then, interleaved in one loop so both see the same machine:
  - direct: the program itself, `store/tiny@1.0.0/bin/app`;
  - entry point: `~/bin/tiny` (-> vir -> profile -> entries/tiny@1.0.0/tiny, the launcher
    hard-linked, which reads its record and execs the program);
  - for reference, the package file `tiny.psp` (the launcher's warm start);
  - the floor: a static C program that only execs the program (what one more exec costs on
    this machine now; no trampoline can cost less).
Each start is posix_spawn + waitpid from this process. Printed: medians, the median of the
per-pair differences (entry - direct), and the target (at most +0.5 ms).

--static also measures the same entry point with the launcher linked statically
(`-C target-feature=+crt-static`, built into target/static-launcher/): an entry point's cost is
the launcher's start, and most of a dynamically linked Rust binary's start is the loader's.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pspf import ROOT, RELEASE, scratch  # noqa: E402


def start(program, environment):
    begin = time.perf_counter_ns()
    pid = os.posix_spawn(program, [program], environment)
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter_ns() - begin) / 1e6
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{program} exited {os.waitstatus_to_exitcode(status)}")
    return elapsed


def static_launcher():
    target = ROOT / "target" / "static-launcher"
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "pandora-launcher", "--target", "x86_64-unknown-linux-gnu"],
        cwd=ROOT, check=True,
        env=dict(os.environ, RUSTFLAGS="-C target-feature=+crt-static", CARGO_TARGET_DIR=str(target)),
    )
    return target / "x86_64-unknown-linux-gnu" / "release" / "pandora-launcher"


def main():
    arguments = [argument for argument in sys.argv[1:] if not argument.startswith("--")]
    runs = int(arguments[0]) if arguments else 2000
    static = "--static" in sys.argv
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=ROOT, check=True)
    pandora = RELEASE / "pandora"
    with scratch() as work_directory:
        work = Path(work_directory)
        home = work / "home"
        home.mkdir()
        environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "PANDORA_HOME": str(home / "pandora"),
            "XDG_CACHE_HOME": str(work / "cache"),
        }
        run = lambda *args: subprocess.run([str(pandora), *args], env=environment, check=True, capture_output=True)
        run("key", "generate", "bench", "--trust")
        source = work / "tiny"
        (source / "files/bin").mkdir(parents=True)
        app = source / "files/bin/app"
        app.write_bytes(Path("/bin/true").read_bytes())
        app.chmod(0o755)
        (source / "manifest.acl").write_text(
            'manifest { name = "tiny"; version = "1.0.0"; command = "bin/app"; env { MODE = "{workenv}/x"; } }\n'
        )
        package = work / "tiny.psp"
        run("build", str(source), "-o", str(package), "--key", "bench")
        run("install", "--yes", str(package))
        direct = str(home / "pandora/store/tiny@1.0.0/bin/app")
        entry = str(home / "bin/tiny")
        psp = str(package)
        contenders = [("entry", entry)]
        # The least any exec trampoline can add: a static C program that only execs the
        # program (no record, no checks), interleaved with the rest, so that the entry point's
        # own cost shows apart from what one more exec costs on this machine today.
        trampoline = work / "trampoline"
        (work / "trampoline.c").write_text(
            "#include <unistd.h>\n"
            f"int main(int argc, char **argv) {{ (void)argc; execv(\"{direct}\", argv); return 127; }}\n"
        )
        built = subprocess.run(["cc", "-O2", "-static", "-o", str(trampoline), str(work / "trampoline.c")], capture_output=True)
        if built.returncode == 0:
            contenders.append(("floor", str(trampoline)))
        if static:
            # The same entry point, its launcher swapped for a static build: a copy beside it
            # with a copy of its record (the directory is sealed; opened for this and closed).
            entries = home / "pandora/entries/tiny@1.0.0"
            entries.chmod(0o755)
            (entries / "tiny-static").write_bytes(static_launcher().read_bytes())
            (entries / "tiny-static").chmod(0o555)
            (entries / ".tiny-static.entry").write_bytes((entries / ".tiny.entry").read_bytes())
            (entries / ".tiny-static.entry").chmod(0o444)
            entries.chmod(0o555)
            contenders.append(("static", str(entries / "tiny-static")))
        for program in [direct, psp] + [program for _, program in contenders]:
            for _ in range(20):
                start(program, environment)
        times = {name: [] for name in ["direct", "psp"] + [name for name, _ in contenders]}
        differences = {name: [] for name, _ in contenders}
        for index in range(runs):
            order = [("direct", direct)] + contenders
            if index % 2:
                order.reverse()
            pair = {}
            for name, program in order:
                pair[name] = start(program, environment)
                times[name].append(pair[name])
            for name, _ in contenders:
                differences[name].append(pair[name] - pair["direct"])
            if index % 4 == 0:
                times["psp"].append(start(psp, environment))
        median = {name: statistics.median(values) for name, values in times.items()}
        overhead = {name: statistics.median(values) for name, values in differences.items()}
        print(f"start of a tiny installed package (median of {runs}, interleaved):")
        print(f"  exec the program directly      {median['direct']:6.3f} ms   (baseline)")
        print(f"  ~/bin/tiny (entry point)       {median['entry']:6.3f} ms   +{overhead['entry']:.3f} ms over direct (median of pairs); target +0.5 ms")
        if static:
            print(f"  the same, static launcher      {median['static']:6.3f} ms   +{overhead['static']:.3f} ms over direct (median of pairs)")
        if "floor" in overhead:
            print(f"  a bare exec trampoline (C)     {median['floor']:6.3f} ms   +{overhead['floor']:.3f} ms over direct: the floor for any trampoline")
            print(f"  the entry point over that floor                +{overhead['entry'] - overhead['floor']:.3f} ms   (its record, its checks, its larger binary)")
        print(f"  ./tiny.psp (launcher, warm)    {median['psp']:6.3f} ms   +{median['psp'] - median['direct']:.3f} ms over direct")
        for name, label in [("entry", "entry point"), ("static", "entry point, static launcher")]:
            if name in overhead:
                print(f"verdict ({label}): " + ("within budget" if overhead[name] <= 0.5 else "OVER BUDGET"))


if __name__ == "__main__":
    main()
