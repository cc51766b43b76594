#!/usr/bin/env python3
"""Install benchmarks against a loopback registry, with baselines measured in the same run.

    python3 benches/install.py small    # 20 small packages into an empty home, activated, vs curl of the same files (fixture server and nginx)
    python3 benches/install.py big      # ~700 MB in 10,000 files vs curl | zstd -d | tar -x, and peak RSS

Release binaries are built here; the registry is served by `fixture-registry serve` on
127.0.0.1 (and, for `small`, also by nginx, started here when `nginx` is on PATH); everything
lives under target/ on one filesystem.
"""

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pspf import ROOT, RELEASE, peak_rss_mib, scratch, timed  # noqa: E402


def binaries():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--workspace", "--bins"], cwd=ROOT, check=True)
    return RELEASE / "pandora", RELEASE / "pandora-launcher", RELEASE / "fixture-registry", RELEASE / "acl"


class Registry:
    """A registry directory served over loopback until closed."""

    def __init__(self, server_binary: Path, directory: Path):
        self.process = subprocess.Popen([str(server_binary), "serve", str(directory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


class Nginx:
    """nginx serving a directory on 127.0.0.1, in the foreground, with its state in `work`."""

    def __init__(self, directory: Path, work: Path):
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        state = work / "nginx-state"
        state.mkdir()
        temp = "".join(f"{kind}_temp_path {state}/{kind};\n" for kind in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"])
        (state / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off; worker_processes 1; pid {state}/nginx.pid; error_log {state}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000;
    types {{ application/octet-stream psp; text/plain acl sig; }}
    {temp}
    server {{ listen 127.0.0.1:{port}; root {directory}; }}
}}
""")
        self.process = subprocess.Popen(["nginx", "-c", str(state / "nginx.conf"), "-p", str(state)], stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{port}/"
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(f"nginx did not start: {self.process.stderr.read().decode()}")
                time.sleep(0.02)
        raise SystemExit("nginx did not start listening")

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def configured_home(pandora: Path, acl: Path, work: Path, registry: Path, url: str) -> dict:
    key = subprocess.run([str(acl), "get", str(registry / "index.acl.sig"), "Signature.key"], capture_output=True, text=True, check=True).stdout.strip()
    template = work / "template-home"
    env = {"PANDORA_HOME": str(template), "HOME": str(work)}
    subprocess.run([str(pandora), "--quiet", "registry", "add", "bench", url, "--key", key, "--require-signatures"], env=dict(os.environ, **env), check=True)
    return env


def fresh_home(work: Path, name: str) -> dict:
    home = work / name
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(work / "template-home", home)
    # HOME too: activation links ~/bin and friends, which must be the bench's, not the user's.
    (home / "user").mkdir(exist_ok=True)
    return {"PANDORA_HOME": str(home), "HOME": str(home / "user")}


def publish(pandora: Path, launcher: Path, source: Path, registry: Path, name: str):
    subprocess.run([str(pandora), "--quiet", "build", str(source), "-o", str(registry / "pkgs" / f"{name}.psp"), "--key-seed", "bench", "--launcher-bin", str(launcher)], check=True, stdout=subprocess.DEVNULL)


def bench_small():
    pandora, launcher, server_binary, acl = binaries()
    with scratch() as work_directory:
        work = Path(work_directory)
        registry = work / "registry"
        names = [f"small{n:02d}" for n in range(20)]
        for name in names:
            source = work / "src" / name
            (source / "files" / "bin").mkdir(parents=True)
            (source / "files" / "bin" / name).write_text(f"#!/bin/sh\necho {name}\n")
            (source / "files" / "bin" / name).chmod(0o755)
            (source / "files" / "share" / name).mkdir(parents=True)
            (source / "files" / "share" / name / "README").write_text(f"{name} documentation\n" * 50)
            (source / "manifest.acl").write_text(f'manifest {{ name = "{name}"; version = "1.0.0"; command = "bin/{name}"; }}\n')
            publish(pandora, launcher, source, registry, name)
        subprocess.run([str(pandora), "--quiet", "registry", "index", str(registry), "--key-seed", "bench"], check=True, stdout=subprocess.DEVNULL)
        servers = [("fixture server", Registry(server_binary, registry))]
        if shutil.which("nginx"):
            servers.append(("nginx", Nginx(registry, work)))
        else:
            print("nginx is not installed (apt-get install nginx): measuring the fixture server only")
        size = sum((registry / "pkgs" / f"{name}.psp").stat().st_size for name in names) / 1e6
        print(f"20 small packages ({size:.1f} MB with their launcher stubs) into an empty home, activation included, median of 15:")
        try:
            for label, server in servers:
                small_against(pandora, acl, work / label.replace(" ", "-"), registry, server.url, names, label)
        finally:
            for _, server in servers:
                server.close()


def small_against(pandora, acl, work, registry, url, names, label):
    work.mkdir()
    configured_home(pandora, acl, work, registry, url)
    runs = 15
    urls = [f"{url}pkgs/{name}.psp" for name in names]
    # Every home and download directory is made before the clock starts and removed after the
    # last run. ext4 skips inodes freed in the last half minute or so when it allocates new
    # ones, so deleting the previous run's tree right before the next one makes each file
    # that run creates cost several times more: the bench would time its own clean-up.
    curl_targets = iter([work / f"curl-{run}" for run in range(runs)])

    def next_curl_target():
        target = next(curl_targets)
        target.mkdir()
        os.sync()
        return target

    def curl():
        times = []
        for _ in range(runs):
            target = next_curl_target()
            start = time.perf_counter()
            subprocess.run(["curl", "-s", "--parallel", "--output-dir", str(target), *sum((["-O", u] for u in urls), [])], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        return times[len(times) // 2]

    def install(kind, prepare=None):
        homes = [fresh_home(work, f"{kind}-{run}") for run in range(runs)]
        for env in homes:
            if prepare:
                prepare(env)
        times = []
        for env in homes:
            # What the copies of the homes left dirty is theirs to flush, not the run's: each
            # install flushes its filesystem before its new generation becomes visible.
            os.sync()
            start = time.perf_counter()
            # stderr kept from the terminal: the packages' signer is not trusted in a fresh home,
            # which each run warns about.
            subprocess.run([str(pandora), "--quiet", "install", "--yes", *names], env=dict(os.environ, **env), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        return times[len(times) // 2]

    def holds_launcher(env):
        # A home that installed something before: the launcher stub is already in blobs/.
        subprocess.run([str(pandora), "--quiet", "install", "--no-activate", "--yes", f"{registry}/pkgs/{names[0]}.psp"], env=dict(os.environ, **env), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        subprocess.run([str(pandora), "--quiet", "remove", "--yes", f"{names[0]}@1.0.0"], env=dict(os.environ, **env), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    base = curl()
    cold = install("new")
    warm = install("holds-launcher", holds_launcher)
    print(f"  served by {label}:")
    print(f"    curl --parallel of the same 20 files                  {base:7.1f} ms   (baseline: transfer only)")
    print(f"    pandora install --yes (index .. activation), new home  {cold:7.1f} ms   ratio {cold / base:.2f}x")
    print(f"    ... in a home that holds the launcher stub already    {warm:7.1f} ms   ratio {warm / base:.2f}x")


def big_tree(files: Path, files_count: int = 10_000, megabytes: int = 700):
    rng = random.Random(7)
    per_file = megabytes * 1_000_000 // files_count
    words = b"pandora package store verify install registry index signature slot ".split()
    for index in range(files_count):
        directory = files / ("lib" if index % 2 else "share") / f"d{index % 100:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        if index % 2:
            data = rng.randbytes(per_file)
        else:
            data = b" ".join(rng.choice(words) for _ in range(per_file // 8))[:per_file]
        (directory / f"f{index:05d}").write_bytes(data)
    (files / "bin").mkdir(exist_ok=True)
    shutil.copy("/bin/true", files / "bin" / "big")


def bench_big():
    pandora, launcher, server_binary, acl = binaries()
    with scratch() as work_directory:
        work = Path(work_directory)
        source = work / "src"
        big_tree(source / "files")
        (source / "manifest.acl").write_text('manifest { name = "big"; version = "1.0.0"; command = "bin/big"; }\n')
        registry = work / "registry"
        publish(pandora, launcher, source, registry, "big")
        subprocess.run([str(pandora), "--quiet", "registry", "index", str(registry), "--key-seed", "bench"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["sh", "-c", f"tar cf - -C {source / 'files'} . | zstd -q -3 -T2 -o {registry / 'tree.tar.zst'}"], check=True)
        tree_mb = sum(f.stat().st_size for f in (source / "files").rglob("*") if f.is_file()) / 1e6
        server = Registry(server_binary, registry)
        try:
            configured_home(pandora, acl, work, registry, server.url)
            target = work / "reference"
            counter = iter(range(100))
            homes = {}

            def clear_reference():
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir()

            def reset():
                for old in work.glob("home-*"):
                    shutil.rmtree(old, ignore_errors=True)
                homes["env"] = fresh_home(work, f"home-{next(counter)}")

            runs = 3
            base, _ = timed(["sh", "-c", f"curl -s {server.url}tree.tar.zst | zstd -q -d | tar -x -C {target}"], runs, before=clear_reference)
            times = []
            for _ in range(runs):
                reset()
                start = time.perf_counter()
                subprocess.run([str(pandora), "--quiet", "install", "--no-activate", "big"], env=dict(os.environ, **homes["env"]), check=True, stdout=subprocess.DEVNULL)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            ours = times[len(times) // 2]
            reset()
            rss = peak_rss_mib([str(pandora), "--quiet", "install", "--no-activate", "big"], homes["env"])
            print(f"one package, {tree_mb:.0f} MB in 10,000 files, median of {runs}:")
            print(f"  curl | zstd -d | tar -x   {base:8.0f} ms   (baseline)")
            print(f"  pandora install           {ours:8.0f} ms   ratio {ours / base:.2f}x   peak RSS {rss:.1f} MiB")
        finally:
            server.close()


if __name__ == "__main__":
    {"small": bench_small, "big": bench_big}.get(sys.argv[1] if len(sys.argv) > 1 else "", lambda: sys.exit(__doc__))()
