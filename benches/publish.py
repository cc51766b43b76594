#!/usr/bin/env python3
"""Publishing and large-registry install benchmarks, with baselines measured in the same run.

    python3 benches/publish.py [PACKAGES] [REGISTRY_SIZE]    # default: 100 10000

- publish: PACKAGES small packages published one `pandora publish` each (as separate CI jobs
  would), into a directory (file://) and into S3 (a `moto_server` started here on 127.0.0.1),
  against `cp` of the same files into a directory (the transfer alone);
- install: one package from a registry of REGISTRY_SIZE packages x 3 versions served over HTTP
  (fixture server) into an empty home: index fetch + verify + resolve + download + store,
  against the bare start of the binary (`pandora --version`); the index bytes transferred.

Release binaries are built here; everything lives under target/bench-publish.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pspf import ROOT, RELEASE, timed  # noqa: E402
from large_index import generate, publisher_key  # noqa: E402


def run(env, *args):
    subprocess.run([str(RELEASE / "pandora"), "--quiet", *args], env=dict(os.environ, **env), check=True,
                   stdout=subprocess.DEVNULL)


def key_of(seed: str) -> str:
    import hashlib
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())
    return "ed25519:" + key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def publish_each(env, files, registry) -> float:
    start = time.perf_counter()
    for file in files:
        run(env, "publish", str(file), "--registry", registry, "--key-seed", "registry")
    return (time.perf_counter() - start) * 1000


def bench_publish(work: Path, count: int):
    stub = work / "stub"
    stub.write_bytes(b"#!/bin/sh\nexit 0\n")
    files = []
    for number in range(count):
        name = f"pkg{number:03}"
        source = work / "src" / name
        (source / "files" / "bin").mkdir(parents=True)
        (source / "files" / "bin" / name).write_text(f"#!/bin/sh\necho {name}\n")
        (source / "manifest.acl").write_text(f'manifest {{ name = "{name}"; version = "1.0.0"; command = "bin/{name}"; }}\n')
        output = work / "packages" / f"{name}.psp"
        run({}, "build", str(source), "-o", str(output), "--key-seed", "publisher", "--launcher-bin", str(stub))
        files.append(output)
    size = sum(file.stat().st_size for file in files)

    copied = work / "copied"

    def copy_all():
        copied.mkdir()
        for file in files:
            shutil.copy(file, copied / file.name)
    start = time.perf_counter()
    copy_all()
    base = (time.perf_counter() - start) * 1000

    env = {"PANDORA_HOME": str(work / "home"), "HOME": str(work / "user")}
    Path(env["HOME"]).mkdir()
    directory = work / "registry-dir"
    directory.mkdir()
    run(env, "registry", "add", "dir", directory.as_uri(), "--key", key_of("registry"), "--key", key_of("publisher"))
    run(env, "registry", "set", "dir", "--allow-publish", "--publish-url", directory.as_uri())
    to_directory = publish_each(env, files, "dir")

    to_s3 = None
    moto = shutil.which("moto_server")
    if moto:
        port = free_port()
        server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            endpoint = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    urllib.request.urlopen(endpoint + "/", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            urllib.request.urlopen(urllib.request.Request(endpoint + "/bench", method="PUT"), timeout=10)
            s3_env = dict(env, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
            run(s3_env, "registry", "add", "s3", f"{endpoint}/bench/reg/", "--key", key_of("registry"),
                "--key", key_of("publisher"))
            run(s3_env, "registry", "set", "s3", "--allow-publish", "--publish-url", "s3://bench/reg",
                "--s3-endpoint", endpoint, "--s3-region", "us-east-1")
            to_s3 = publish_each(s3_env, files, "s3")
        finally:
            server.terminate()
            server.wait(timeout=10)
    else:
        print("moto_server is not installed (pip install 'moto[server]'): the S3 figure is left out")

    print(f"publish {count} packages ({size / 1e6:.1f} MB), one `pandora publish` each:")
    print(f"  cp of the same files into a directory   {base:8.1f} ms   (baseline: the bytes alone)")
    print(f"  into a directory (file://)               {to_directory:8.1f} ms   {to_directory / count:6.1f} ms each")
    if to_s3 is not None:
        print(f"  into S3 (moto_server on 127.0.0.1)       {to_s3:8.1f} ms   {to_s3 / count:6.1f} ms each")
    index = (directory / "index.acl").stat().st_size
    print(f"  index after {count}: {index} bytes ({index / count:.0f} per package)")


def bench_install(work: Path, size: int):
    stub = work / "stub"
    source = work / "hello-src"
    (source / "files" / "bin").mkdir(parents=True)
    (source / "files" / "bin" / "hello").write_text("#!/bin/sh\necho hello\n")
    (source / "manifest.acl").write_text('manifest { name = "hello"; version = "1.0.0"; command = "bin/hello"; }\n')
    hello = work / "hello.psp"
    run({}, "build", str(source), "-o", str(hello), "--key-seed", "bench", "--launcher-bin", str(stub))
    registry = work / f"registry-{size}"
    registry.mkdir()
    key, index_bytes = generate(registry, size, hello)
    signature_bytes = (registry / "index.acl.sig").stat().st_size
    server = subprocess.Popen([str(RELEASE / "fixture-registry"), "serve", str(registry)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    try:
        template = work / "install-template"
        env = {"PANDORA_HOME": str(template), "HOME": str(work / "install-user")}
        Path(env["HOME"]).mkdir()
        run(env, "registry", "add", "bench", url, "--key", key, "--key", publisher_key(), "--require-signatures")
        counter = iter(range(10_000))
        homes = {}

        def fresh():
            home = work / f"install-{next(counter)}"
            shutil.copytree(template, home)
            homes["env"] = {"PANDORA_HOME": str(home), "HOME": env["HOME"]}
            return homes["env"]

        runs = 11
        start, _ = timed([str(RELEASE / "pandora"), "--version"], runs, env)
        times = []
        for _ in range(runs):
            home_env = fresh()
            began = time.perf_counter()
            run(home_env, "install", "--yes", "--no-activate", "hello")
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        install = times[len(times) // 2]
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    print(f"install one package from a registry of {size} packages x 3 versions, empty home, median of {runs}:")
    print(f"  pandora --version                        {start:8.1f} ms   (baseline: a bare start)")
    print(f"  pandora install --yes --no-activate      {install:8.1f} ms   +{install - start:.1f} ms over the start")
    print(f"  index bytes transferred: {index_bytes + signature_bytes} ({index_bytes} index.acl + {signature_bytes} index.acl.sig; "
          f"{index_bytes / (size * 3):.0f} per version)")


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bins"], cwd=ROOT, check=True)
    work = ROOT / "target" / "bench-publish"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    bench_publish(work, count)
    bench_install(work, size)


if __name__ == "__main__":
    main()
