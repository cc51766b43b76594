#!/usr/bin/env python3
"""Benchmarks for the PSPF format and the launcher, against baselines measured in the same run.

    python3 benches/pspf.py build      # pandora build vs tar czf + flavor-rs-builder (50 MB tree)
    python3 benches/pspf.py launcher   # warm/cold starts and peak RSS vs FlavorPack and direct exec

Everything runs on one filesystem (a temporary directory under target/), except cold starts,
which extract into tmpfs (/dev/shm) as the target says. Figures are medians; ratios are what to
compare, since machines here are noisy. Needs release binaries (built here) and FlavorPack 0.5.4
(installed from PyPI into target/ on first use, as the tests do).
"""

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"


def scratch():
    """A temporary directory under target/ whose subdirectories ext4 spreads over fresh groups.

    On ext4 without a journal, allocating an inode skips every inode freed in the last one to
    six minutes, one buffer lookup each: right after a build or an earlier bench deleted
    thousands of files, each file a bench creates costs several times more, and runs minutes
    apart differ by 2x. The "top of directory hierarchy" flag (chattr +T) makes the allocator
    place each subdirectory in a group with many free inodes instead of its parent's. Best
    effort: without chattr, or on other filesystems, the directory is just a directory.
    """
    directory = tempfile.TemporaryDirectory(dir=ROOT / "target")
    subprocess.run(["chattr", "+T", directory.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return directory


def release_binaries():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=ROOT, check=True)
    return RELEASE / "pandora", RELEASE / "pandora-launcher"


def flavorpack():
    root = ROOT / "target" / "flavorpack-0.5.4"
    marker = root / "helpers-bin"
    if not marker.exists():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
        subprocess.run([str(root / "venv/bin/pip"), "install", "--quiet", "--no-deps", "flavorpack==0.5.4"], check=True)
        found = next((root / "venv").rglob("flavor-rs-launcher-0.5.4-linux_amd64"))
        marker.write_text(str(found.parent))
    bin_dir = Path(marker.read_text())
    tools = {name: bin_dir / f"flavor-{name}-0.5.4-linux_amd64" for name in ["rs-builder", "rs-launcher", "go-builder", "go-launcher"]}
    for path in tools.values():
        path.chmod(0o755)
    return tools


def mixed_tree(directory: Path, megabytes: int = 50):
    """Random (40 %), text (40 %) and 2,000 small files (20 %): about `megabytes` MB."""
    rng = random.Random(42)
    files = directory / "files"
    (files / "bin").mkdir(parents=True)
    shutil.copy("/bin/true", files / "bin" / "app")
    (files / "lib").mkdir()
    for index in range(4):
        (files / "lib" / f"blob{index}.bin").write_bytes(rng.randbytes(megabytes * 100_000))
    words = "pandora package manager launcher verify extract slot metadata signature index".split()
    (files / "share" / "doc").mkdir(parents=True)
    for index in range(4):
        lines = (f"{index}:{n} " + " ".join(rng.choice(words) for _ in range(12)) for n in range(megabytes * 1_100))
        (files / "share" / "doc" / f"text{index}.txt").write_text("\n".join(lines))
    for index in range(2000):
        sub = files / "share" / "small" / f"d{index % 40}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{index}.txt").write_text(" ".join(rng.choice(words) for _ in range(megabytes * 10)))
    (directory / "manifest.acl").write_text('manifest { name = "bench"; version = "1.0.0"; command = "bin/app"; }\n')
    return files


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def timed(command, runs, env=None, before=None):
    """Median wall time (ms) and max peak RSS (KiB) of `command`, measured with wait4."""
    times, peaks = [], []
    environment = dict(os.environ, **(env or {}))
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = (time.perf_counter() - start) * 1000
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"{command} exited {process.returncode}")
        times.append(elapsed)
        peaks.append(usage.ru_maxrss)
    return statistics.median(times), max(peaks)


def peak_rss_mib(command, env=None, before=None):
    """Peak RSS of `command` (MiB), measured by GNU time (a fork of Python would count Python)."""
    if not Path("/usr/bin/time").exists():
        return float("nan")
    if before:
        before()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], env=dict(os.environ, **(env or {})),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    return int(result.stderr.strip().splitlines()[-1]) / 1024


def flavorpack_package(tools, files: Path, work: Path, launcher: str, name: str) -> Path:
    archive = work / f"{name}.tgz"
    subprocess.run(["tar", "czf", str(archive), "-C", str(files), "."], check=True)
    manifest = work / f"{name}.json"
    manifest.write_text(json.dumps({
        "package": {"name": "bench", "version": "1.0.0"},
        "execution": {"command": "{workenv}/bin/app"},
        "slots": [{"id": "payload", "source": str(archive), "operations": "tgz", "purpose": "payload", "lifecycle": "runtime", "target": "{workenv}"}],
    }))
    output = work / f"{name}.psp"
    builder = tools["rs-builder"] if launcher == "rs-launcher" else tools["go-builder"]
    subprocess.run([str(builder), "-m", str(manifest), "-o", str(output), "--launcher-bin", str(tools[launcher]), "--key-seed", "bench", "--log-level", "error"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return output


def bench_build():
    pandora, _ = release_binaries()
    tools = flavorpack()
    with scratch() as work_directory:
        work = Path(work_directory)
        files = mixed_tree(work / "src")
        size = tree_bytes(files)
        ours = work / "ours.psp"
        fp_out = work / "fp.psp"
        fp_manifest = work / "fp.json"
        fp_manifest.write_text(json.dumps({
            "package": {"name": "bench", "version": "1.0.0"},
            "execution": {"command": "{workenv}/bin/app"},
            "slots": [{"id": "payload", "source": str(work / "fp.tgz"), "operations": "tgz", "purpose": "payload", "lifecycle": "runtime", "target": "{workenv}"}],
        }))
        flavor = ["sh", "-c", f'tar czf {work}/fp.tgz -C {files} . && {tools["rs-builder"]} -m {fp_manifest} -o {fp_out} '
                              f'--launcher-bin {tools["rs-launcher"]} --key-seed bench --log-level error']
        runs = 5
        base, _ = timed(flavor, runs)
        results = {}
        for compression in ["zstd", "gzip"]:
            command = [str(pandora), "build", str(work / "src"), "-o", str(ours), "--key-seed", "bench", "--compression", compression]
            results[compression] = (timed(command, runs)[0], ours.stat().st_size)
        count = sum(1 for path in files.rglob("*") if path.is_file())
        print(f"input: {size / 1e6:.1f} MB in {count} files; {os.cpu_count()} cores; median of {runs}")
        print(f"  tar czf + flavor-rs-builder   {base:8.1f} ms   output {fp_out.stat().st_size / 1e6:6.1f} MB   (baseline)")
        for compression, (elapsed, output) in results.items():
            print(f"  pandora build ({compression:4})        {elapsed:8.1f} ms   output {output / 1e6:6.1f} MB   ratio {elapsed / base:.2f}x")


def bench_launcher():
    pandora, launcher = release_binaries()
    tools = flavorpack()
    with scratch() as work_directory:
        work = Path(work_directory)
        env = {"HOME": str(work / "home"), "XDG_CACHE_HOME": str(work / "cache"), "FLAVOR_LOG_LEVEL": "error", "PANDORA_HOME": str(work / "home/pandora")}
        # A trusted key, so starts take the normal path (no untrusted-key warning).
        subprocess.run([str(pandora), "key", "generate", "bench", "--trust"], env=dict(os.environ, **env), check=True, capture_output=True)
        build = lambda source, output: subprocess.run(
            [str(pandora), "build", str(source), "-o", str(output), "--key", "bench", "--launcher-bin", str(launcher)],
            env=dict(os.environ, **env), check=True, capture_output=True)

        tiny = work / "tiny"
        (tiny / "files/bin").mkdir(parents=True)
        shutil.copy("/bin/true", tiny / "files/bin/app")
        (tiny / "manifest.acl").write_text('manifest { name = "tiny"; version = "1.0.0"; command = "bin/app"; }\n')
        tiny_psp = work / "tiny.psp"
        build(tiny, tiny_psp)
        runs = 300
        timed([str(tiny_psp)], 3, env)
        workenv = next(p for p in (work / "cache/pandora/workenv").iterdir() if p.is_dir() and p.name != "files")
        direct, _ = timed([str(workenv / "bin/app")], runs, env)
        ours, _ = timed([str(tiny_psp)], runs, env)
        fp_times = {}
        for name in ["rs-launcher", "go-launcher"]:
            package = flavorpack_package(tools, tiny / "files", work, name, f"tiny-{name}")
            timed([str(package)], 2, env)
            fp_times[name] = timed([str(package)], runs // 3, env)[0]
        print(f"warm start, tiny package (median of {runs}):")
        print(f"  exec the entry point directly   {direct:7.2f} ms   (baseline)")
        print(f"  pandora-launcher                {ours:7.2f} ms   +{ours - direct:.2f} ms over direct ({ours / direct:.2f}x)")
        for name, elapsed in fp_times.items():
            print(f"  flavor-{name:<21}   {elapsed:7.2f} ms   +{elapsed - direct:.2f} ms over direct ({elapsed / direct:.2f}x)")

        big = work / "big"
        files = mixed_tree(big)
        big_psp = work / "big.psp"
        build(big, big_psp)
        megabytes = tree_bytes(files) / 1e6
        timed([str(big_psp)], 1, env)
        warm_big, _ = timed([str(big_psp)], 100, env)
        warm_rss = peak_rss_mib([str(big_psp)], env)
        fp_big = flavorpack_package(tools, files, work, "rs-launcher", "big-rs")
        timed([str(fp_big)], 1, env)
        fp_warm_big, _ = timed([str(fp_big)], 10, env)
        fp_rss = peak_rss_mib([str(fp_big)], env)
        print(f"warm start, {megabytes:.0f} MB package:")
        print(f"  pandora-launcher                {warm_big:7.2f} ms   ({warm_big / ours:.2f}x the tiny package)   peak RSS {warm_rss:.1f} MiB")
        print(f"  flavor-rs-launcher              {fp_warm_big:7.2f} ms   ({fp_warm_big / warm_big:.1f}x pandora)   peak RSS {fp_rss:.1f} MiB")

        shm = Path("/dev/shm")
        if not shm.is_dir():
            print("cold start: no /dev/shm tmpfs here; skipped")
            return
        cold_root = Path(tempfile.mkdtemp(dir=shm))
        try:
            cold_env = dict(env, XDG_CACHE_HOME=str(cold_root / "cache"))
            reference = work / "tree.tar.zst"
            subprocess.run(["sh", "-c", f"tar cf - -C {files} . | zstd -q -3 -o {reference}"], check=True)
            target = cold_root / "ref"

            def clear():
                shutil.rmtree(cold_root / "cache", ignore_errors=True)
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir()

            base, _ = timed(["sh", "-c", f"zstd -d -c {reference} | tar -x -C {target}"], 10, before=clear)
            cold, _ = timed([str(big_psp)], 10, cold_env, before=clear)
            cold_rss = peak_rss_mib([str(big_psp)], cold_env, before=clear)
            fp_cold_env = dict(env, HOME=str(cold_root / "fphome"))
            fp_cold_rss = peak_rss_mib([str(fp_big)], fp_cold_env, before=lambda: shutil.rmtree(cold_root / "fphome", ignore_errors=True))
            print(f"cold start on tmpfs, {megabytes:.0f} MB package (median of 10):")
            print(f"  zstd -d | tar -x                {base:7.1f} ms   (baseline)")
            print(f"  pandora-launcher (verify+run)   {cold:7.1f} ms   ratio {cold / base:.2f}x   peak RSS {cold_rss:.1f} MiB")
            print(f"  flavor-rs-launcher peak RSS on a cold start: {fp_cold_rss:.1f} MiB")
        finally:
            shutil.rmtree(cold_root, ignore_errors=True)
        size = launcher.stat().st_size
        print(f"launcher stub: {size} bytes ({size / 1048576:.3f} MiB) stripped")


if __name__ == "__main__":
    {"build": bench_build, "launcher": bench_launcher}.get(sys.argv[1] if len(sys.argv) > 1 else "", lambda: sys.exit(__doc__))()
