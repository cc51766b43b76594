#!/usr/bin/env python3
"""Profile benchmarks, with baselines measured in the same run on the same filesystem.

    python3 benches/profiles.py

- generation: `pandora activate` of 100 packages holding 10,000 files into an empty profile
  (a whole new generation: records read, forest planned, links written, one syncfs, renames),
  against `cp -rs` building the unfolded symlink farm of the same files (what GNU stow does).
- switch: `pandora profile switch` between two profiles of those 100 packages, against the
  bare start of the same binary (`pandora --version`), which no command can beat; the two
  are run in turn, so that both see the same moments of a noisy machine.
- before: the same activation on the code path taken before install records had summaries
  (every ACL record parsed): each `records/ID.summary` is replaced by a directory, so none is
  read or written.

Release binaries are built here; everything lives in a temporary directory under target/.
"""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pspf import ROOT, RELEASE, scratch, timed  # noqa: E402

PACKAGES = 100
FILES_PER_PACKAGE = 100
RUNS = 21


def pandora(env, *args):
    subprocess.run([str(RELEASE / "pandora"), "--quiet", *args], env=dict(os.environ, **env), check=True, stdout=subprocess.DEVNULL)


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=ROOT, check=True)
    # Nothing is deleted before or between timed runs (see `scratch`): the work directory is
    # new, and removed only at the end.
    with scratch() as work_directory:
        run(Path(work_directory))


def run(work):
    sources, packages = work / "sources", work / "packages"
    packages.mkdir(parents=True)
    env = {"PANDORA_HOME": str(work / "home"), "HOME": str(work / "user")}
    (work / "user").mkdir()
    # A tiny stub keeps 100 packages small; the launcher is irrelevant to profiles.
    stub = work / "stub"
    stub.write_bytes(b"#!/bin/sh\nexit 0\n")
    for index in range(PACKAGES):
        name = f"pkg{index:03}"
        files = sources / name / "files"
        (files / "bin").mkdir(parents=True)
        (files / "bin" / name).write_text("#!/bin/sh\necho hi\n")
        (files / "share" / name).mkdir(parents=True)
        for number in range(FILES_PER_PACKAGE - 1):
            (files / "share" / name / f"f{number:03}").write_text(f"{name} {number}\n")
        (sources / name / "manifest.acl").write_text(f'manifest {{ name = "{name}"; version = "1.0.0"; command = "bin/{name}"; }}\n')
        subprocess.run([str(RELEASE / "pandora"), "--quiet", "build", str(sources / name), "-o", str(packages / f"{name}.psp"), "--key-seed", "bench", "--launcher-bin", str(stub)], check=True, stdout=subprocess.DEVNULL)
    pandora(env, "install", "--no-activate", *[str(p) for p in sorted(packages.glob("*.psp"))])
    ids = [f"pkg{index:03}@1.0.0" for index in range(PACKAGES)]
    store = work / "home" / "store"
    files = sum(1 for _ in store.rglob("*") if _.is_file())
    # Let the writeback of building and installing 100 packages finish first: it is not part of
    # what is measured, and a syncfs during it waits for all of it.
    subprocess.run(["sync"], check=True)

    counter = iter(range(10_000))

    def fresh_profile():
        name = f"g{next(counter)}"
        pandora(env, "profile", "create", name)
        pandora(env, "profile", "switch", name)
        os.sync()

    activations = series([str(RELEASE / "pandora"), "--quiet", "activate", *ids], env, fresh_profile)
    activate = median(activations)
    records = work / "home" / "records"
    for id in ids:
        (records / f"{id}.summary").unlink()
        (records / f"{id}.summary").mkdir()
    befores = series([str(RELEASE / "pandora"), "--quiet", "activate", *ids], env, fresh_profile)
    before = median(befores)
    for id in ids:
        (records / f"{id}.summary").rmdir()
    # Summaries made again on first read.
    pandora(env, "list", "--store")
    links = sum(1 for p in (work / "home" / "vir").rglob("*") if p.is_symlink())

    farms = [work / f"farm-{run}" for run in range(RUNS)]
    for farm in farms:
        farm.mkdir()
    os.sync()
    stow = median([timed(["cp", "-rs", *[str(store / i) + "/." for i in ids], str(farm)], 1)[0] for farm in farms])

    pandora(env, "profile", "create", "a", "--from", "g0")
    pandora(env, "profile", "create", "b", "--from", "g0")
    targets = iter(["a", "b"] * RUNS * 2)

    # Paired: a switch, then a bare start, RUNS times over, so that both see the same moments
    # of a noisy machine.
    switches, starts = [], []
    for _ in range(RUNS * 2):
        switches.append(timed([str(RELEASE / "pandora"), "--quiet", "profile", "switch", next(targets)], 1, env)[0])
        starts.append(timed([str(RELEASE / "pandora"), "--version"], 1, env)[0])
    switch = median(switches)
    start = median(starts)

    print(f"store: {PACKAGES} packages, {files} files; a generation holds {links} links (folded)")
    print(f"new generation (activate {PACKAGES} packages): median {activate:6.2f} ms (best {min(activations):6.2f})   cp -rs symlink farm: {stow:7.2f} ms   ratio {activate / stow:.3f}x")
    print(f"  before (ACL records parsed):           median {before:6.2f} ms (best {min(befores):6.2f})   ratio after/before {activate / before:.2f}x")
    print(f"profile switch:                          median {switch:6.2f} ms (best {min(switches):6.2f})   pandora --version:   {start:7.2f} ms   ratio {switch / start:.2f}x")


def series(command, env, before, extra=lambda: []):
    """Wall times (ms) of RUNS runs of `command` (plus `extra()` arguments), `before` untimed."""
    times = []
    for _ in range(RUNS):
        before()
        arguments = [*command, *extra()]
        median_ms, _ = timed(arguments, 1, env)
        times.append(median_ms)
    return times


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


if __name__ == "__main__":
    main()
