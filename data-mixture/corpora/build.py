#!/usr/bin/env python3
"""Build web / code / math text corpora from installed Debian packages.

Every document is one line of JSONL:

    {"text": "...", "source": "<debian-package>/<path in the package>", "license": "<SPDX>"}

Sources and the Debian (bookworm) packages they are read from:

    web   python3.11-doc (Python docs, reStructuredText), linux-doc-6.1 (kernel Documentation/, .rst/.txt)
    code  libpython3.11-minimal + libpython3.11-stdlib (the .py standard library),
          openjdk-17-source (the .java files in src.zip)
    math  metamath-databases (set.mm and friends), libcoq-stdlib (.v), hol-light (.ml/.hl)

Full build:   python3 build.py [--install] [--out DIR]      -> DIR/<source>/part-NNNN.jsonl + DIR/manifest.json
Sample build: python3 build.py [--install] --sample         -> <this folder>/sample/<source>/part-0000.jsonl
              (+ sample/manifest.json and sample/licenses/: the packages' copyright files and license texts)

The output depends only on the installed package versions: file lists are sorted, nothing reads the clock,
and no network is used except by `apt-get` under --install.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable, Iterator

SOURCES = ("web", "code", "math")

MAX_DOC_BYTES = 256 * 1024  # a file larger than this is split (where its collection has a splitter)
MIN_DOC_BYTES = 16 * 1024  # a split piece is not cut at a natural boundary before it reaches this size
PART_BYTES = 128 * 1024 * 1024  # the full build starts a new part file past this size

SAMPLE_TEXT_BYTES = 1_500_000  # text (UTF-8 bytes of "text") per source in the sample
SAMPLE_DOC_BYTES = 64 * 1024  # sample documents larger than this are truncated at a line boundary
SAMPLE_MAX_TOTAL_BYTES = 6_000_000  # the three sample files together never exceed this
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


@dataclasses.dataclass(frozen=True)
class Document:
    """One corpus document: its text, where it came from, and its license."""

    text: str
    source: str
    license: str


@dataclasses.dataclass
class Stats:
    """Counts of files read and skipped for one collection."""

    files: int = 0
    skipped_binary: int = 0
    skipped_non_utf8: int = 0
    skipped_empty: int = 0
    skipped_files: list[str] = dataclasses.field(default_factory=list)

    def skipped(self) -> str:
        """Say what was skipped, for the log: the counts, then the first 20 files by name."""
        counts = (f"skipped {self.skipped_binary} binary, {self.skipped_non_utf8} not UTF-8, "
                  f"{self.skipped_empty} empty")
        shown = self.skipped_files[:20] + (["..."] if len(self.skipped_files) > 20 else [])
        return counts + "".join(f"\n    skipped {name}" for name in shown)


@dataclasses.dataclass(frozen=True)
class Collection:
    """A named set of files from one or more packages that feeds one source (web, code or math)."""

    name: str
    source: str
    packages: tuple[str, ...]
    documents: Callable[["Collection", Stats], Iterator[Document]]
    description: str


# ---------------------------------------------------------------------------------------------------------------
# Debian package helpers
# ---------------------------------------------------------------------------------------------------------------

def package_version(package: str) -> str | None:
    """Return the installed version of a Debian package, or None if it is not installed."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", package],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None
    status, _, version = result.stdout.partition(" ")
    return version if status == "installed" else None


def package_files(package: str) -> list[str]:
    """Return the regular files (no symlinks, no folders) a package installed, as sorted absolute paths."""
    result = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"build.py: cannot list the files of {package}: {result.stderr.strip()}")
    paths = {line for line in result.stdout.splitlines() if line.startswith("/")}
    return sorted(p for p in paths if os.path.isfile(p) and not os.path.islink(p))


def source_id(package: str, path: str, member: str = "", lines: tuple[int, int] | None = None) -> str:
    """Name a document: package, path in the package, an optional archive member and an optional line range."""
    sid = f"{package}/{path.lstrip('/')}"
    if member:
        sid += f"!/{member}"
    if lines:
        sid += f"#L{lines[0]}-L{lines[1]}"
    return sid


def install(packages: list[str]) -> None:
    """Install the packages with apt-get (after apt-get update), using sudo when not root."""
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    if prefix and not shutil.which("sudo"):
        raise SystemExit("build.py: --install needs root (or sudo) to run apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    commands = [prefix + ["apt-get", "update"],
                prefix + ["apt-get", "install", "-y", "--no-install-recommends", *packages]]
    for command in commands:
        log("+ " + " ".join(command))
        if subprocess.run(command, env=env).returncode != 0:
            raise SystemExit(f"build.py: `{' '.join(command)}` failed")


def check_installed(packages: list[str]) -> dict[str, str]:
    """Return {package: version}, or exit naming every package that is missing and how to install it."""
    versions = {p: package_version(p) for p in packages}
    missing = [p for p, v in versions.items() if v is None]
    if missing:
        raise SystemExit(
            "build.py: missing Debian package(s): " + ", ".join(missing) + "\n"
            "  install them with: apt-get install -y --no-install-recommends " + " ".join(missing) + "\n"
            "  or rerun build.py with --install")
    return versions  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------------------------

def decode(data: bytes, name: str, stats: Stats) -> str | None:
    """Decode file bytes as UTF-8 text; return None (and count why) for binary, non-UTF-8 or blank files."""
    text = None
    if b"\0" in data:
        stats.skipped_binary += 1
    else:
        try:
            text = data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            stats.skipped_non_utf8 += 1
        else:
            if not text.strip():
                stats.skipped_empty += 1
                text = None
    if text is None:
        stats.skipped_files.append(name)
    return text


def read_file(path: str) -> bytes:
    """Read a file, decompressing it when Debian shipped it gzipped (name ending in .gz)."""
    data = Path(path).read_bytes()
    return gzip.decompress(data) if path.endswith(".gz") else data


def split_lines(text: str) -> list[str]:
    """Split text into lines that keep their '\\n' (only '\\n' ends a line, unlike str.splitlines)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    return lines


def split_document(text: str, is_boundary: Callable[[list[str], int], bool],
                   max_bytes: int = MAX_DOC_BYTES, min_bytes: int = MIN_DOC_BYTES
                   ) -> list[tuple[int, int, str]]:
    """Split a large text into (first line, last line, text) pieces of at most max_bytes.

    A piece ends before a natural boundary line (a section header, say) once it holds min_bytes; a piece that
    would grow past max_bytes ends at its last blank line instead (or at a line end if it has none).
    """
    lines = split_lines(text)
    pieces: list[tuple[int, int, str]] = []
    start, size, last_blank = 0, 0, -1  # the current piece is lines[start:i]

    def flush(end: int) -> None:
        pieces.append((start + 1, end, "".join(lines[start:end])))

    for i, line in enumerate(lines):
        n = len(line.encode("utf-8"))
        if i > start and size >= min_bytes and is_boundary(lines, i):
            flush(i)
            start, size, last_blank = i, 0, -1
        if i > start and size + n > max_bytes:
            cut = last_blank + 1 if last_blank > start else i
            flush(cut)
            size = sum(len(x.encode("utf-8")) for x in lines[cut:i])
            start, last_blank = cut, -1
        if not line.strip():
            last_blank = i
        size += n
    if start < len(lines):
        flush(len(lines))
    # A small tail joins the piece before it when the two fit together.
    if len(pieces) >= 2:
        (a, _, t1), (_, d, t2) = pieces[-2], pieces[-1]
        if len(t2.encode("utf-8")) < min_bytes and len((t1 + t2).encode("utf-8")) <= max_bytes:
            pieces[-2:] = [(a, d, t1 + t2)]
    return pieces


def metamath_boundary(lines: list[str], i: int) -> bool:
    """A metamath section header: a '$(' line followed by a line of ####, #*#*, =-=- or -.-. markers."""
    return (lines[i].strip() == "$(" and i + 1 < len(lines)
            and lines[i + 1].lstrip().startswith(("####", "#*#*", "=-=-", "-.-.")))


def ocaml_boundary(lines: list[str], i: int) -> bool:
    """A HOL Light section header: a '(* -----' comment rule at column 0 after a blank line."""
    return lines[i].startswith("(* ----") and (i == 0 or not lines[i - 1].strip())


SPDX_RE = re.compile(r"SPDX-License-Identifier:\s*(.+?)\s*(?:\*/|-->|\*\))?\s*$", re.MULTILINE)


# Deprecated SPDX ids that the kernel still writes, and their current names (the kernel's LICENSES/ folder reads
# GPL-2.0 as GPL-2.0-only and GPL-2.0+ as GPL-2.0-or-later).
SPDX_DEPRECATED = re.compile(r"(?<![\w.+-])(GPL-2\.0|LGPL-2\.0|LGPL-2\.1)(\+?)(?![\w.+-])")


def spdx_in_header(text: str) -> str | None:
    """Return the SPDX-License-Identifier expression in the first lines of a file, if it has one.

    Deprecated ids become their current names, and parentheses around the whole expression are dropped.
    """
    match = SPDX_RE.search("\n".join(text.split("\n", 10)[:10]))
    if not match:
        return None
    expression = SPDX_DEPRECATED.sub(lambda m: m.group(1) + ("-or-later" if m.group(2) else "-only"),
                                     match.group(1))
    if expression.startswith("(") and expression.endswith(")") and expression.count("(") == 1:
        expression = expression[1:-1]
    return expression


def file_documents(collection: Collection, stats: Stats, keep: Callable[[str], bool],
                   license_of: Callable[[str, str], str],
                   boundary: Callable[[list[str], int], bool] | None = None) -> Iterator[Document]:
    """Yield the documents of the collection's packages' files that `keep` accepts (by path without '/').

    license_of(path, text) names the license. Files larger than MAX_DOC_BYTES are split when `boundary`
    is given.
    """
    for package in collection.packages:
        for path in package_files(package):
            rel = path.lstrip("/")
            if not keep(rel):
                continue
            stats.files += 1
            text = decode(read_file(path), source_id(package, rel), stats)
            if text is None:
                continue
            license_id = license_of(rel, text)
            if boundary is not None and len(text.encode("utf-8")) > MAX_DOC_BYTES:
                for first, last, piece in split_document(text, boundary):
                    yield Document(piece, source_id(package, rel, lines=(first, last)), license_id)
            else:
                yield Document(text, source_id(package, rel), license_id)


# ---------------------------------------------------------------------------------------------------------------
# The collections
# ---------------------------------------------------------------------------------------------------------------

def python_docs(c: Collection, stats: Stats) -> Iterator[Document]:
    """The Python 3.11 documentation sources (reStructuredText copies under html/_sources)."""
    return file_documents(
        c, stats,
        keep=lambda p: p.startswith("usr/share/doc/python3.11/html/_sources/") and p.endswith(".rst.txt"),
        license_of=lambda p, t: "PSF-2.0")


def linux_docs(c: Collection, stats: Stats) -> Iterator[Document]:
    """The kernel's Documentation/ tree: .rst and .txt files, without the device-tree binding specs."""
    root = "usr/share/doc/linux-doc-6.1/Documentation/"
    return file_documents(
        c, stats,
        keep=lambda p: (p.startswith(root) and not p.startswith(root + "devicetree/bindings/")
                        and p.endswith((".rst", ".rst.gz", ".txt", ".txt.gz"))),
        license_of=lambda p, t: spdx_in_header(t) or "GPL-2.0-only")


# Files of the Python standard library that debian/copyright gives a license other than the PSF's.
PYTHON_LICENSES = (
    ("logging/", "HPND"),
    ("multiprocessing/", "BSD-3-Clause"),
    ("sqlite3/", "Zlib"),
    ("asyncore.py", "HPND"),
    ("asynchat.py", "HPND"),
    ("tarfile.py", "MIT"),
    ("turtle.py", "Zlib"),
)


def python_license(path: str, text: str) -> str:
    """License of a standard-library file, following /usr/share/doc/libpython3.11-stdlib/copyright."""
    rel = path.removeprefix("usr/lib/python3.11/")
    for prefix, license_id in PYTHON_LICENSES:
        if rel.startswith(prefix):
            return license_id
    return "PSF-2.0"


def python_stdlib(c: Collection, stats: Stats) -> Iterator[Document]:
    """The .py files of the Python 3.11 standard library (generated _sysconfigdata excluded)."""
    return file_documents(
        c, stats,
        keep=lambda p: (p.startswith("usr/lib/python3.11/") and p.endswith(".py")
                        and "/_sysconfigdata_" not in p),
        license_of=python_license)


JDK_EXCLUDED_MODULES = ("jdk.localedata/", "jdk.charsets/")  # generated locale and charset tables


def jdk_license(header: str) -> str:
    """License of an OpenJDK source file, from the notice in its header."""
    cpe = "GPL-2.0-only WITH Classpath-exception-2.0"
    if "Apache License" in header or "Apache Software Foundation" in header:
        return "Apache-2.0"
    if "Classpath" in header:
        if "Redistribution and use in source and binary forms" in header:
            return f"{cpe} AND BSD-3-Clause"
        if "Permission is hereby granted, free of charge" in header:
            return f"{cpe} AND MIT"
        return cpe
    if "GNU General Public License version 2" in header:
        return "GPL-2.0-only"
    if "BSD-3-Clause" in header or "BSD license" in header:
        return "BSD-3-Clause"
    return cpe  # files without a notice (generated ones) fall under the package's main license


def openjdk_sources(c: Collection, stats: Stats) -> Iterator[Document]:
    """The .java files in OpenJDK 17's src.zip, module by module, without generated data tables."""
    for package in c.packages:
        zips = [p for p in package_files(package) if p.endswith("/lib/src.zip")]
        if not zips:
            raise SystemExit(f"build.py: {package} has no lib/src.zip")
        for path in zips:
            with zipfile.ZipFile(path) as archive:
                for member in sorted(archive.namelist()):
                    if not member.endswith(".java") or member.startswith(JDK_EXCLUDED_MODULES):
                        continue
                    stats.files += 1
                    text = decode(archive.read(member), source_id(package, path, member=member), stats)
                    if text is None:
                        continue
                    yield Document(text, source_id(package, path, member=member), jdk_license(text[:4000]))


def metamath(c: Collection, stats: Stats) -> Iterator[Document]:
    """The Metamath databases (.mm); large ones are split at section headers."""
    return file_documents(
        c, stats,
        keep=lambda p: p.startswith("usr/share/metamath/databases/") and p.endswith(".mm"),
        license_of=lambda p, t: "GPL-1.0-or-later" if p.endswith("/peano.mm") else "CC0-1.0",
        boundary=metamath_boundary)


def coq_stdlib(c: Collection, stats: Stats) -> Iterator[Document]:
    """The Coq 8.16 standard library sources (.v)."""
    return file_documents(
        c, stats,
        keep=lambda p: p.startswith("usr/lib/ocaml/coq/") and p.endswith(".v"),
        license_of=lambda p, t: "LGPL-2.1-only")


HOL_EXCLUDED = re.compile(r"(^|/)pa_j_[^/]*\.ml$|_database[^/]*\.ml$|(^|/)update_database[^/]*\.ml$|-compiled\.hl$")


def hol_light(c: Collection, stats: Stats) -> Iterator[Document]:
    """HOL Light's theories (.ml/.hl), without its camlp5 parser patches and generated theorem databases."""
    return file_documents(
        c, stats,
        keep=lambda p: (p.startswith("usr/share/hol-light/") and p.endswith((".ml", ".hl"))
                        and not HOL_EXCLUDED.search(p)),
        license_of=lambda p, t: "GPL-3.0-or-later" if p.endswith("/Jordan/float.ml") else "BSD-2-Clause",
        boundary=ocaml_boundary)


COLLECTIONS = (
    Collection("python-docs", "web", ("python3.11-doc",), python_docs,
               "Python 3.11 documentation, reStructuredText sources"),
    Collection("linux-docs", "web", ("linux-doc-6.1",), linux_docs,
               "Linux 6.1 kernel Documentation/ (.rst, .txt), without device-tree bindings"),
    Collection("python-stdlib", "code", ("libpython3.11-minimal", "libpython3.11-stdlib"), python_stdlib,
               "Python 3.11 standard library (.py)"),
    Collection("openjdk-17", "code", ("openjdk-17-source",), openjdk_sources,
               "OpenJDK 17 class library (.java from src.zip), without jdk.localedata and jdk.charsets"),
    Collection("metamath", "math", ("metamath-databases",), metamath,
               "Metamath databases (set.mm, iset.mm, nf.mm, ...), split at section headers"),
    Collection("coq-stdlib", "math", ("libcoq-stdlib",), coq_stdlib,
               "Coq 8.16 standard library (.v)"),
    Collection("hol-light", "math", ("hol-light",), hol_light,
               "HOL Light theories (.ml, .hl), large files split at section comments"),
)


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------

def jsonl_line(doc: Document) -> bytes:
    """Serialise a document as one JSONL line (UTF-8, no raw line or paragraph separators)."""
    line = json.dumps({"text": doc.text, "source": doc.source, "license": doc.license},
                      ensure_ascii=False, separators=(", ", ": "))
    # JSON allows these raw inside strings, but some line readers split on them: escape them.
    line = line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")
    return (line + "\n").encode("utf-8")


def text_bytes(text: str) -> int:
    """Size of a text in UTF-8 bytes."""
    return len(text.encode("utf-8"))


class PartWriter:
    """Writes DIR/<source>/part-NNNN.jsonl files, starting a new part past a size limit."""

    def __init__(self, folder: Path, part_bytes: int):
        """Clear old part files in folder and get ready to write the first part."""
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.jsonl"):
            old.unlink()
        self.folder, self.part_bytes = folder, part_bytes
        self.parts: list[dict] = []
        self.handle = None
        self.documents = self.text_bytes = 0

    def write(self, doc: Document) -> None:
        """Append one document, opening a new part when the current one is full."""
        if self.handle is None or self.parts[-1]["bytes"] >= self.part_bytes:
            self._open()
        line = jsonl_line(doc)
        self.handle.write(line)
        self.parts[-1]["bytes"] += len(line)
        self.parts[-1]["documents"] += 1
        self.parts[-1]["_sha"].update(line)
        self.documents += 1
        self.text_bytes += text_bytes(doc.text)

    def _open(self) -> None:
        """Close the current part and start the next one."""
        self._close()
        name = f"part-{len(self.parts):04d}.jsonl"
        self.parts.append({"file": name, "documents": 0, "bytes": 0, "_sha": hashlib.sha256()})
        self.handle = open(self.folder / name, "wb")

    def _close(self) -> None:
        """Close the current part, if any."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def finish(self) -> dict:
        """Close the last part and return this source's manifest entry."""
        self._close()
        parts = [{"file": p["file"], "documents": p["documents"], "bytes": p["bytes"],
                  "sha256": p["_sha"].hexdigest()} for p in self.parts]
        return {"documents": self.documents, "text_bytes": self.text_bytes, "parts": parts}


def write_manifest(out: Path, kind: str, versions: dict[str, str], counts: dict[str, dict], sources: dict,
                   extra: dict) -> None:
    """Write DIR/manifest.json: packages and versions, per collection its counts, per source its parts."""
    manifest = {"kind": kind,
                "packages": dict(sorted(versions.items())),
                "collections": {c.name: {"source": c.source, "packages": list(c.packages),
                                         "description": c.description, **counts[c.name]}
                                for c in COLLECTIONS if c.name in counts},
                "sources": sources, **extra}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")


def log(message: str) -> None:
    """Print progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def build_full(out: Path, sources: list[str], versions: dict[str, str]) -> None:
    """Write every document of every collection of the chosen sources to out/<source>/part-NNNN.jsonl."""
    manifest_sources, counts = {}, {}
    for source in sources:
        writer = PartWriter(out / source, PART_BYTES)
        for c in (c for c in COLLECTIONS if c.source == source):
            stats = Stats()
            before = (writer.documents, writer.text_bytes)
            for doc in c.documents(c, stats):
                writer.write(doc)
            counts[c.name] = {"files": stats.files, "documents": writer.documents - before[0],
                              "text_bytes": writer.text_bytes - before[1]}
            log(f"{source}/{c.name}: {stats.files} files -> {counts[c.name]['documents']} documents, "
                f"{counts[c.name]['text_bytes'] / 1e6:.1f} MB of text; {stats.skipped()}")
        manifest_sources[source] = writer.finish()
        log(f"{source}: {manifest_sources[source]['documents']} documents, "
            f"{manifest_sources[source]['text_bytes'] / 1e6:.1f} MB of text")
    write_manifest(out, "full", versions, counts, manifest_sources, {"max_document_bytes": MAX_DOC_BYTES})


# ---------------------------------------------------------------------------------------------------------------
# Sample
# ---------------------------------------------------------------------------------------------------------------

def truncate_at_line(text: str, limit: int) -> str | None:
    """Cut text to at most `limit` UTF-8 bytes at a line end; None if its first line alone is longer."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data.rfind(b"\n", 0, limit)
    return data[:cut + 1].decode("utf-8") if cut > 0 else None


def evenly_spaced(count: int, fraction: float) -> list[int]:
    """Indices of about fraction*count of `count` items, evenly spaced: i is picked when floor(i*f) steps up."""
    return [i for i in range(count) if int((i + 1) * fraction) > int(i * fraction)]


def spread_selection(sizes: list[int], budget: int) -> list[int]:
    """Pick documents evenly spread over the list, filling as much of `budget` bytes as a fixed grid allows.

    Fractions from budget/sum(sizes) up to three times that are tried in 41 fixed steps; the evenly spaced
    pick with the largest total that fits is kept, so every part of the sorted list is represented. When
    none fits (a few huge documents), the first fraction is walked again, skipping picks that overflow.
    """
    total = sum(sizes)
    if total <= budget:
        return list(range(len(sizes)))
    base = budget / total
    best, best_used = [], 0
    for step in range(41):
        picked = evenly_spaced(len(sizes), min(1.0, base * (1 + step / 20)))
        used = sum(sizes[i] for i in picked)
        if best_used < used <= budget:
            best, best_used = picked, used
    if not best:
        for i in evenly_spaced(len(sizes), base):
            if best_used + sizes[i] <= budget:
                best.append(i)
                best_used += sizes[i]
    return best


def sample_documents(c: Collection, stats: Stats) -> Iterator[tuple[Document, bool]]:
    """The collection's documents as the sample has them, each truncated to SAMPLE_DOC_BYTES at a line end.

    Yields (document, whether it was truncated); a document whose first line alone is too long is left out.
    """
    for doc in c.documents(c, stats):
        text = truncate_at_line(doc.text, SAMPLE_DOC_BYTES)
        if text is not None:
            yield dataclasses.replace(doc, text=text), len(text) != len(doc.text)


def sample_shares(sizes: dict[str, list[int]]) -> dict[str, int]:
    """Split SAMPLE_TEXT_BYTES equally between collections; one smaller than its share leaves the rest to others."""
    shares, left = {}, SAMPLE_TEXT_BYTES
    ordered = sorted(sizes, key=lambda name: (sum(sizes[name]), name))
    for k, name in enumerate(ordered):
        shares[name] = min(sum(sizes[name]), left // (len(ordered) - k))
        left -= shares[name]
    return shares


# License texts that Debian ships in /usr/share/common-licenses, by SPDX id prefix. GFDL-1.1-...-or-later documents
# are passed on under GFDL-1.3 (Debian does not ship 1.1). Permissive licenses (BSD, MIT, Zlib, HPND, PSF) and the
# Classpath exception are quoted in the packages' copyright files, which the sample carries too.
COMMON_LICENSES = (("GPL-1.0", "GPL-1"), ("GPL-2.0", "GPL-2"), ("GPL-3.0", "GPL-3"), ("LGPL-2.0", "LGPL-2"),
                   ("LGPL-2.1", "LGPL-2.1"), ("Apache-2.0", "Apache-2.0"), ("CC0-1.0", "CC0-1.0"),
                   ("GFDL-1.1", "GFDL-1.3"), ("GFDL-1.2", "GFDL-1.2"), ("GFDL-1.3", "GFDL-1.3"))


def copy_license_texts(out: Path, packages: list[str], license_ids: set[str]) -> dict:
    """Copy the packages' copyright files and the common license texts that the sample names to out/licenses.

    Byte-identical copyright files (the three python3.11 packages share one) are copied once, under the first
    package's name in sorted order. Returns {"copyright": {package: file}, "common": [files]}, paths relative
    to out.
    """
    folder = out / "licenses"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "common-licenses").mkdir(parents=True)
    by_content: dict[bytes, str] = {}
    copyright_files = {}
    for package in sorted(packages):
        origin = Path("/usr/share/doc") / package / "copyright"
        if not origin.is_file():
            raise SystemExit(f"build.py: cannot find {origin} (the sample carries it in licenses/)")
        data = origin.read_bytes()
        if data not in by_content:
            by_content[data] = f"licenses/{package}.copyright"
            (out / by_content[data]).write_bytes(data)
        copyright_files[package] = by_content[data]
    tokens = {t for expression in license_ids for t in re.findall(r"[\w.+-]+", expression)}
    common = []
    for prefix, name in COMMON_LICENSES:
        if any(t.startswith(prefix) for t in tokens):
            origin = Path("/usr/share/common-licenses") / name
            if not origin.is_file():
                raise SystemExit(f"build.py: cannot find {origin} (the sample carries it in licenses/)")
            shutil.copyfile(origin, folder / "common-licenses" / name)
            common.append(f"licenses/common-licenses/{name}")
    return {"copyright": copyright_files, "common": sorted(set(common))}


def build_sample(out: Path, sources: list[str], versions: dict[str, str]) -> None:
    """Write a deterministic sample of about SAMPLE_TEXT_BYTES of text per source to out/<source>/part-0000.jsonl.

    Documents are picked evenly over each collection's sorted list (two passes: sizes, then texts), and the
    collections' picks are interleaved in the file so that every stretch of it mixes the packages.
    """
    manifest_sources, counts, truncated, license_ids = {}, {}, [], set()
    for source in sources:
        collections = [c for c in COLLECTIONS if c.source == source]
        sizes = {c.name: [text_bytes(d.text) for d, _ in sample_documents(c, Stats())] for c in collections}
        shares = sample_shares(sizes)
        queues = []
        for c in collections:
            chosen = set(spread_selection(sizes[c.name], shares[c.name]))
            picked = [(d, cut) for i, (d, cut) in enumerate(sample_documents(c, Stats())) if i in chosen]
            truncated += [d.source for d, cut in picked if cut]
            license_ids |= {d.license for d, _ in picked}
            queues.append([d for d, _ in picked])
            counts[c.name] = {"documents": len(picked), "of_documents": len(sizes[c.name]),
                              "text_bytes": sum(text_bytes(d.text) for d, _ in picked)}
            log(f"{source}/{c.name}: {len(picked)} of {len(sizes[c.name])} documents, "
                f"{counts[c.name]['text_bytes'] / 1e6:.2f} MB of text")
        writer = PartWriter(out / source, part_bytes=SAMPLE_MAX_TOTAL_BYTES)
        for i in range(max(len(q) for q in queues)):
            for q in queues:
                if i < len(q):
                    writer.write(q[i])
        manifest_sources[source] = writer.finish()
    total = sum(p["bytes"] for s in manifest_sources.values() for p in s["parts"])
    if total > SAMPLE_MAX_TOTAL_BYTES:
        raise SystemExit(f"build.py: the sample is {total} bytes, over the {SAMPLE_MAX_TOTAL_BYTES} limit")
    license_files = copy_license_texts(out, list(versions), license_ids)
    write_manifest(out, "sample", versions, counts, manifest_sources,
                   {"license_files": license_files,
                    "sample_text_bytes_per_source": SAMPLE_TEXT_BYTES,
                    "truncated_at_bytes": SAMPLE_DOC_BYTES,
                    "truncated_documents": sorted(truncated)})
    log(f"sample: {total / 1e6:.2f} MB in {len(manifest_sources)} files under {out}")


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Build web / code / math JSONL corpora from installed Debian packages.")
    parser.add_argument("--out", type=Path,
                        help="output folder (default ./build; with --sample, the bundled sample/ folder)")
    parser.add_argument("--sample", action="store_true",
                        help=f"write the small deterministic sample (about {SAMPLE_TEXT_BYTES / 1e6:.1f} MB of "
                             "text per source) instead of the full corpora")
    parser.add_argument("--install", action="store_true",
                        help="first run apt-get update and apt-get install -y --no-install-recommends PACKAGES")
    parser.add_argument("--source", action="append", choices=SOURCES,
                        help="build only this source (repeatable; default: all)")
    parser.add_argument("--list-packages", action="store_true",
                        help="print the Debian packages the chosen sources need, one per line, and exit")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Check or install the packages, then build the full corpora or the sample."""
    args = parse_args(argv)
    sources = [s for s in SOURCES if s in (args.source or SOURCES)]
    packages = [p for c in COLLECTIONS if c.source in sources for p in c.packages]
    if args.list_packages:
        print("\n".join(packages))
        return 0
    if args.install:
        install(packages)
    versions = check_installed(packages)
    out = args.out or (SAMPLE_DIR if args.sample else Path("build"))
    out.mkdir(parents=True, exist_ok=True)
    log("packages: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    (build_sample if args.sample else build_full)(out, sources, versions)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
