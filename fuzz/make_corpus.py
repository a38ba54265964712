#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ (small files: a few
valid inputs and edge cases each). Checkpoint seeds need a built `infomax` CLI, which trains a
tiny model for one step:  fuzz/make_corpus.py [--infomax build/app/infomax]
Deterministic: re-running rewrites the same bytes (except checkpoints, which hold wall times)."""

import argparse
import gzip
import os
import pathlib
import re
import shutil
import struct
import subprocess
import tempfile
import zlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def gz(data):
    return gzip.compress(data, mtime=0)


def idx_images(n, rows, cols, count=None, magic=0x803):
    head = struct.pack(">IIII", magic, n if count is None else count, rows, cols)
    return head + bytes((i * 37) % 256 for i in range(n * rows * cols))


def idx_labels(labels, count=None):
    return struct.pack(">II", 0x801, len(labels) if count is None else count) + bytes(labels)


def idx():
    t = "idx"
    put(t, "raw-3x4x4", idx_images(3, 4, 4))
    put(t, "raw-labels", idx_images(3, 4, 4) + b"#LABELS#" + idx_labels([0, 5, 9]))
    put(t, "fashion-labels", idx_images(2, 5, 3) + b"#FLABEL#" + idx_labels([1, 7]))
    put(t, "fashion-label-10", idx_images(2, 2, 2) + b"#FLABEL#" + idx_labels([1, 10]))
    put(t, "gz-labels", gz(idx_images(3, 4, 4)) + b"#LABELS#" + gz(idx_labels([2, 3, 4])))
    put(t, "gz-truncated", gz(idx_images(3, 8, 8))[:-9])
    put(t, "label-count-mismatch", idx_images(2, 2, 2) + b"#LABELS#" + idx_labels([1], count=3))
    put(t, "zero-images", idx_images(0, 4, 4))
    put(t, "lying-header", idx_images(1, 4, 4, count=0x7fffffff))
    put(t, "absurd-side", struct.pack(">IIII", 0x803, 1, 60000, 60000) + b"\0" * 16)
    put(t, "wrong-magic", idx_images(1, 2, 2, magic=0x801))
    put(t, "header-only", struct.pack(">II", 0x803, 1))
    # A slice of the real thing (Fashion-MNIST, 4 images), when the package is installed.
    real = pathlib.Path("/usr/share/datasets/fashion-mnist")
    if (real / "train-images-idx3-ubyte.gz").exists():
        imgs = gzip.decompress((real / "train-images-idx3-ubyte.gz").read_bytes())
        labs = gzip.decompress((real / "train-labels-idx1-ubyte.gz").read_bytes())
        n = 4
        images = struct.pack(">IIII", 0x803, n, 28, 28) + imgs[16:16 + n * 784]
        labels = struct.pack(">II", 0x801, n) + labs[8:8 + n]
        put(t, "fashion-mnist-4", gz(images) + b"#FLABEL#" + gz(labels))


def cifar():
    t = "cifar"
    rec10 = lambda label, seed: bytes([label]) + bytes((seed + i) % 256 for i in range(3072))
    rec100 = lambda coarse, fine, seed: bytes([coarse, fine]) + bytes((seed * 3 + i) % 256 for i in range(3072))
    put(t, "cifar10-2", b"\0" + rec10(3, 1) + rec10(9, 2))
    put(t, "cifar10-bad-label", b"\0" + rec10(10, 1))
    put(t, "cifar10-short", b"\0" + rec10(1, 1)[:-1])
    put(t, "cifar100-2", b"\1" + rec100(4, 99, 1) + rec100(0, 0, 2))
    names = "".join(f"class_{i}\n" for i in range(100))
    put(t, "cifar100-names", b"\1" + rec100(1, 42, 3) + b"#NAMES#" + names.encode())
    put(t, "cifar100-bad-label", b"\1" + rec100(1, 100, 3))
    put(t, "empty-cifar10", b"\0")


def stl10():
    t = "stl10"
    img = bytes((i * 7) % 256 for i in range(3 * 96 * 96))
    put(t, "one-labelled", img + b"#LABELS#" + bytes([10]))
    put(t, "label-zero", img + b"#LABELS#" + bytes([0]))
    put(t, "label-count-mismatch", img + b"#LABELS#" + bytes([1, 2]))
    put(t, "short", img[:1000])


def png(width, height, gray, bitdepth=8):
    channels = 1 if gray else 3
    raw = b"".join(b"\0" + bytes((x * 9 + y * 5 + c) % 256 for x in range(width) for c in range(channels))
                   for y in range(height))
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, bitdepth, 0 if gray else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def bmp(width, height):
    row = (width * 3 + 3) & ~3
    pixels = b"".join(bytes((x + y * 3 + c) % 256 for x in range(width) for c in range(3)) + b"\0" * (row - width * 3)
                      for y in range(height))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def image_folder():
    t = "image_folder"
    # First byte: extension index (0 png, 1 jpg, 2 bmp, 3 pgm, 4 ppm, 5 tif, 6 webp, 7 pnm),
    # +0x80 to resize to 8x8.
    put(t, "png-gray", b"\0" + png(6, 5, True))
    put(t, "png-rgb-resize", b"\x80" + png(7, 7, False))
    put(t, "png-two-sizes", b"\0" + png(4, 4, True) + b"#NEXT#" + png(5, 4, True))
    put(t, "png-16bit", b"\0" + png(3, 3, True, 16))
    put(t, "png-lying-size", b"\0" + png(4, 4, True)[:16] + struct.pack(">II", 100000, 100000) + png(4, 4, True)[24:])
    put(t, "bmp-rgb", b"\2" + bmp(5, 3))
    put(t, "pgm", b"\3" + b"P5\n4 3\n255\n" + bytes(range(12)))
    put(t, "ppm-two", b"\4" + b"P6\n2 2\n255\n" + bytes(range(12)) + b"#NEXT#" + b"P6\n2 2\n255\n" + bytes(range(12, 24)))
    put(t, "pgm-ascii", b"\3" + b"P2\n2 2\n15\n0 5 10 15\n")
    put(t, "not-an-image", b"\1" + b"hello")
    convert = shutil.which("convert")
    if convert:  # ImageMagick, for formats that are tedious to write by hand
        with tempfile.TemporaryDirectory() as tmp:
            src = pathlib.Path(tmp) / "in.png"
            src.write_bytes(png(8, 6, False))
            for ext, index in (("jpg", 1), ("tif", 5), ("webp", 6)):
                out = pathlib.Path(tmp) / f"out.{ext}"
                if subprocess.run([convert, str(src), "-strip", str(out)], capture_output=True).returncode == 0:
                    put(t, ext, bytes([index]) + out.read_bytes())


def config():
    t = "config"
    put(t, "empty-object", "{}")
    put(t, "typical", """{"data": "", "format": "auto", "split": "train", "arch": "dcgan28",
 "mode": "local", "estimator": "jsd", "batch": 64, "lr": 0.0001, "epochs": 1, "seed": 3,
 "head_units": 2048, "local_fraction": 0.5, "out": "runs/x"}""")
    put(t, "bad-type", '{"batch": "sixty-four"}')
    put(t, "unknown-key", '{"batsh": 64}')
    put(t, "absurd", '{"batch": 0, "lr": -1, "threads": 100000, "steps": -5, "epochs": 1e308}')
    put(t, "huge-ints", '{"batch": 1e20, "seed": -1, "steps": 99999999999999999999}')
    put(t, "not-json", "{batch: 64")
    put(t, "nested", '{"arch_json": {"layers": []}, "mode": "local+global", "estimator": "nce"}')


def architecture():
    t = "architecture"
    src = (ROOT / "core" / "src" / "presets.cpp").read_text()
    for name, body in re.findall(r'\{"(\w+)", R"\((\{.*?\})\)"\}', src, re.S):
        put(t, f"preset-{name}", body)
    for f in sorted((ROOT / "tests" / "data").glob("*.json")):
        put(t, f"test-{f.stem}", f.read_bytes())
    put(t, "tiny", """{"name": "tiny", "input": {"height": 8, "width": 8}, "layers": [
 {"type": "conv", "out": 4, "kernel": 3, "stride": 2, "padding": 1, "name": "local"},
 {"type": "flatten"}, {"type": "linear", "out": 8, "name": "y"}],
 "outputs": {"local": "local", "y": "y"}}""")
    put(t, "residual-pools", """{"input": {"height": 16, "width": 16}, "layers": [
 {"type": "residual", "out": 8, "kernel": 3, "stride": 2}, {"type": "leakyrelu", "slope": 0.1},
 {"type": "maxpool", "kernel": 2}, {"type": "avgpool", "kernel": 2, "padding": 1, "name": "local"},
 {"type": "flatten"}, {"type": "batchnorm"}, {"type": "linear", "out": 4}]}""")
    put(t, "shrinks", '{"layers": [{"type": "conv", "out": 4, "kernel": 64}]}')
    put(t, "absurd", '{"layers": [{"type": "conv", "out": 2000000000, "kernel": 3, "stride": 0}]}')
    put(t, "unknown-type", '{"layers": [{"type": "lstm", "out": 4}]}')
    put(t, "bad-outputs", '{"layers": [{"type": "conv", "out": 4, "kernel": 3}], "outputs": {"local": "nope"}}')


def metrics_csv():
    t = "metrics_csv"
    cols = ("step,epoch,wall_s,lr,loss,local_loss,local_mi_nats,local_pos,local_neg,local_acc,"
            "global_loss,global_mi_nats,global_pos,global_neg,global_acc,prior_loss,prior_disc_loss,"
            "img_per_s,data_wait_ms,step_ms")
    row = lambda s: f"{s},{s / 100:.4f},{s * 0.5},0.0001,-0.5,-0.5,0.31,1.2,-0.8,0.9,,,,,,0.69,1.38,350.2,0.1,180"
    put(t, "three-rows", cols + "\n" + "".join(row(s) + "\n" for s in (10, 20, 30)))
    put(t, "torn-last-line", cols + "\n" + row(10) + "\n" + row(20)[:17])
    put(t, "growing", cols + "\n" + row(10) + "\n" + row(20)[:9] + "#MORE#" + row(20)[9:] + "\n" + row(30) + "\n")
    put(t, "reordered-subset", "loss,step\n-0.5,10\ninf,20\n-inf,30\nnan,40\n")
    put(t, "not-a-number", "step,loss\n10,abc\n")
    put(t, "no-step", "loss,epoch\n1,2\n")
    put(t, "wrong-count", "step,loss\n1,2,3\n")
    put(t, "huge-step", "step,loss\n1e300,1\n-1e300,2\n9223372036854775807,3\n")
    put(t, "empty", "")
    put(t, "crlf", "step,loss\r\n1,2\r\n")


def checkpoints(infomax):
    """A real checkpoint of a tiny model (one step on 8 synthetic 8x8 images)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "train-images-idx3-ubyte").write_bytes(idx_images(8, 8, 8))
        (tmp / "arch.json").write_text((CORPUS / "architecture" / "tiny").read_text())
        subprocess.run([infomax, "train", "--data", str(tmp / "train-images-idx3-ubyte"), "--arch",
                        str(tmp / "arch.json"), "--head-units", "4", "--gamma", "0", "--batch", "4", "--steps", "1",
                        "--threads", "1", "--quiet", "--out", str(tmp / "run")], check=True)
        ckpt = sorted((tmp / "run" / "checkpoints").glob("step-*.imx"))[-1].read_bytes()
        put("config", "run-config", (tmp / "run" / "config.json").read_bytes())
    put("checkpoint", "tiny", ckpt)
    put("checkpoint", "truncated", ckpt[:2000])
    put("checkpoint", "magic-only", b"IMXCKPT1")
    put("checkpoint", "huge-meta-length", b"IMXCKPT1" + struct.pack("<Q", 2**63) + b"\0" * 16)
    # The archive target: metadata JSON, "#ARCHIVE#", archive bytes (it adds lengths and CRC).
    meta_len = struct.unpack("<Q", ckpt[8:16])[0]
    meta = ckpt[16:16 + meta_len]
    archive = ckpt[16 + meta_len + 8:-4]
    put("checkpoint_archive", "tiny", meta + b"#ARCHIVE#" + archive)
    put("checkpoint_archive", "truncated-zip", b"{}#ARCHIVE#" + archive[:4000])
    put("checkpoint_archive", "not-a-zip", b"{}#ARCHIVE#" + b"PK\x03\x04" + b"\0" * 40)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--infomax", help="built infomax CLI, to (re)make the checkpoint seeds")
    args = ap.parse_args()
    for gen in (idx, cifar, stl10, image_folder, config, architecture, metrics_csv):
        shutil.rmtree(CORPUS / gen.__name__, ignore_errors=True)
        gen()
    if args.infomax:
        for t in ("checkpoint", "checkpoint_archive"):
            shutil.rmtree(CORPUS / t, ignore_errors=True)
        checkpoints(args.infomax)
    for d in sorted(CORPUS.iterdir()):
        size = sum(f.stat().st_size for f in d.iterdir())
        print(f"{d.name}: {len(list(d.iterdir()))} files, {size} bytes")


if __name__ == "__main__":
    main()
