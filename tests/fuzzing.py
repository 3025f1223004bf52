"""Seeded fuzzing of what keras-v2v reads, writes and parses: corrupt and crafted files, hostile paths, bad arguments.

    python tests/fuzzing.py --cases 2000 --seed 1 --out fuzz-report.json

Each case runs in its own subprocess, with a time limit and a memory watch
(peak resident memory from the kernel's accounting; a process that passes the
limit is killed). A case passes when it ends the way keras-v2v promises:
  - a reader returns a valid array or raises DataError/ValueError (one line);
  - a command exits 0, or exits 2 with exactly one line on stderr;
  - a hostile output path is refused and the user's files next to it survive;
  - nothing writes NaN, and nothing runs out of time or memory.
`tests/test_fuzz.py` runs a few hundred cases in CI; this script runs as many
as asked. Decoding limits are lowered for the run (KERAS_V2V_MAX_DECODED_BYTES,
KERAS_V2V_MAX_MEMORY) so that bombs are caught quickly and cheaply.
"""

import argparse
import dataclasses
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DECODE_LIMIT = "256MiB"
MEMORY_LIMIT = "1GiB"
# Peak resident memory a case may reach: Python + numpy + FFmpeg for data cases,
# TensorFlow for cases that run a model.
DATA_RSS_LIMIT = 900 * 2**20
MODEL_RSS_LIMIT = 3 * 2**30
DATA_TIMEOUT_S = 60
MODEL_TIMEOUT_S = 180


@dataclasses.dataclass
class Case:
    name: str
    kind: str  # "read" (a reader call in a worker), "write" (a writer call), "cli" (the command)
    spec: dict
    model: bool = False  # loads TensorFlow: more time and memory
    offline: bool = False  # loads TensorFlow to refuse: left to `python tests/fuzzing.py`, not CI


@dataclasses.dataclass
class Outcome:
    case: str
    result: str  # ok | clean | crash | hang | memory | broken-promise
    detail: str
    seconds: float
    peak_rss_mb: float


# ------------------------------------------------------------------ crafted files


def smooth_video(t=8, h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    tt, yy, xx = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    phase = rng.uniform(0, 6)
    return np.stack([128 + 90 * np.sin(xx / 5 + tt / 3 + phase), 128 + 90 * np.cos(yy / 4 - tt / 4),
                     96 + 0 * xx], -1).astype(np.uint8)


def gif_claiming(width, height, frames=3):
    """A tiny GIF whose headers declare `width` x `height` frames (a decompression bomb)."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 0.1 s
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
        out += b"\x02\x02\x44\x01\x00"  # LZW: clear, one pixel, end
    out += b"\x3b"
    return bytes(out)


def patch_mp4_size(data, width, height):
    """The avc1 sample entry's width and height replaced (what the container declares)."""
    data = bytearray(data)
    at = data.find(b"avc1")
    if at > 0:
        data[at + 28:at + 32] = struct.pack(">HH", width, height)
    return bytes(data)


def nifti_bytes(volume, dims=None):
    """A .nii.gz of `volume` (float32), with the header's dims optionally replaced (a bomb's header)."""
    import nibabel as nib

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "v.nii")
        nib.save(nib.Nifti1Image(np.asarray(volume, np.float32), np.eye(4)), path)
        raw = bytearray(open(path, "rb").read())
    if dims is not None:
        struct.pack_into("<4h", raw, 40, 3, *dims)
    return gzip.compress(bytes(raw))


def dicom_bytes(tmp, transfer_syntax=None):
    """One small CT slice as DICOM; optionally with a made-up transfer syntax UID."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds = FileDataset(tmp, {}, file_meta=meta, preamble=b"\x00" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality, ds.Rows, ds.Columns = "CT", 16, 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept, ds.InstanceNumber = 1, -1024, 1
    ds.PixelData = (np.arange(256, dtype=np.int16).reshape(16, 16) * 8).tobytes()
    ds.save_as(tmp, enforce_file_format=True)
    with open(tmp, "rb") as handle:
        return handle.read()


def _write(folder, name, data):
    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _mutations(rng, data, count):
    """Truncations at random offsets and runs of random bit flips."""
    out = []
    for _ in range(count):
        if rng.random() < 0.5:
            out.append(("truncate", data[: int(rng.integers(1, max(2, len(data))))]))
        else:
            mutated = bytearray(data)
            for _ in range(int(rng.integers(1, 12))):
                at = int(rng.integers(0, len(mutated)))
                mutated[at] ^= 1 << int(rng.integers(0, 8))
            out.append(("bitflip", bytes(mutated)))
    return out


# ------------------------------------------------------------------ cases


def _read_cases(rng, folder, n):
    from keras_v2v.data.video_write import write_video

    cases = []
    clean = {}
    for suffix in (".mp4", ".gif", ".webm"):
        path = write_video(os.path.join(folder, f"clean{suffix}"), smooth_video(seed=int(rng.integers(9))), fps=8)
        clean[suffix] = open(path, "rb").read()
    volume = np.random.default_rng(1).normal(size=(6, 8, 10)).astype(np.float32)
    clean[".nii.gz"] = nifti_bytes(volume)
    clean[".dcm"] = dicom_bytes(os.path.join(folder, "clean.dcm"))
    crafted = [
        ("gif-4000x4000", ".gif", gif_claiming(4000, 4000, 20)),
        ("gif-16000x16000", ".gif", gif_claiming(16000, 16000, 2)),
        ("gif-60000x60000", ".gif", gif_claiming(60000, 60000, 1)),
        ("mp4-claims-8000x8000", ".mp4", patch_mp4_size(clean[".mp4"], 8000, 8000)),
        ("nifti-claims-768cubed", ".nii.gz", nifti_bytes(volume, dims=(768, 768, 768))),
        ("nifti-plus-minus-3e38", ".nii.gz", nifti_bytes(np.where(volume > 0, 3e38, -3e38))),
        ("nifti-nan-inf", ".nii.gz", nifti_bytes(np.where(volume > 1, np.nan, np.where(volume < -1, np.inf, volume)))),
        ("nifti-all-nan", ".nii.gz", nifti_bytes(np.full((4, 4, 4), np.nan))),
        ("dicom-bad-transfer-syntax", ".dcm", dicom_bytes(os.path.join(folder, "bad.dcm"), "1.2.3.4.5.6.7")),
        ("empty", ".mp4", b""),
        ("random-bytes", ".mp4", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        ("random-bytes", ".gif", rng.integers(0, 256, 512, dtype=np.uint8).tobytes()),
        ("random-bytes", ".nii.gz", gzip.compress(rng.integers(0, 256, 600, dtype=np.uint8).tobytes())),
        ("text", ".dcm", b"not a dicom file\n" * 20),
    ]
    for label, suffix, data in crafted:
        cases.append((label, suffix, data))
    kinds = list(clean)
    while len(cases) < n:
        suffix = kinds[int(rng.integers(len(kinds)))]
        for label, data in _mutations(rng, clean[suffix], 1):
            cases.append((f"{label}", suffix, data))
    out = []
    for index, (label, suffix, data) in enumerate(cases[:n]):
        path = _write(folder, f"case{index:05d}{suffix}", data)
        call = "read_volume" if suffix in (".nii.gz", ".dcm") else "read_video"
        out.append(Case(f"{call}:{label}{suffix}#{index}", "read", {"call": call, "path": path}))
    return out


def _user_folder(folder, name):
    """A folder holding a user's files that no command may touch."""
    path = os.path.join(folder, name)
    os.makedirs(path, exist_ok=True)
    _write(path, "notes.txt", b"keep me")
    # A PNG keras-v2v did not write (a user's photo).
    png = zlib.compress(b"\x00" + b"\x80\x80\x80" * 2)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    photo = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0))
             + chunk(b"IDAT", png) + chunk(b"IEND", b""))
    _write(path, "photo.png", photo)
    return path


def _write_cases(folder):
    user = _user_folder(folder, "user-files")
    specs = [
        ("empty-path", ""),
        ("current-folder", "."),
        ("parent-folder", ".."),
        ("user-folder", user),
        ("user-folder-trailing-slash", user + os.sep),
        ("user-file-as-folder", os.path.join(user, "notes.txt")),
    ]
    return [Case(f"write_video:{label}", "write", {"target": target, "user": user, "cwd": folder})
            for label, target in specs]


def _cli_cases(folder, rng):
    from keras_v2v.data.video_write import write_video

    clip = write_video(os.path.join(folder, "cli-in.mp4"), smooth_video(6, 32, 32), fps=8)
    big = write_video(os.path.join(folder, "cli-big.mp4"), np.zeros((2, 2048, 2048, 3), np.uint8), fps=8)
    user = _user_folder(folder, "cli-user-files")
    volume = np.random.default_rng(2).normal(size=(8, 32, 32))
    nifti = _write(folder, "cli-3e38.nii.gz", nifti_bytes(np.where(volume > 0, 3e38, -3e38)))
    bad_json = os.path.join(folder, "bad-json-preset")
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-3d"), bad_json)
    with open(os.path.join(bad_json, "keras_v2v.json"), "w") as handle:
        json.dump([1, 2, 3], handle)
    cut = os.path.join(folder, "cut-weights-preset")
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-3d"), cut)
    weights = os.path.join(cut, "model.weights.h5")
    with open(weights, "r+b") as handle:
        handle.truncate(os.path.getsize(weights) // 2)
    import hashlib

    spec_path = os.path.join(cut, "keras_v2v.json")
    spec = json.load(open(spec_path))
    spec["sha256"]["model.weights.h5"] = hashlib.sha256(open(weights, "rb").read()).hexdigest()
    json.dump(spec, open(spec_path, "w"))
    recipe = os.path.join(ROOT, "zoo", "vmnist-sph2sand-3d", "recipe.toml")
    model = ["--model", "vmnist-sph2sand-3d", "--quiet"]
    out = os.path.join(folder, "cli-out.mp4")
    cases = [
        # (label, argv, what must hold besides the exit code, needs a model)
        ("translate-same-file", ["translate", clip, clip] + model, "input-intact", False),
        ("translate-empty-output", ["translate", clip, ""] + model, "refused", False),
        ("translate-into-current-folder", ["translate", clip, "."] + model, "refused", False),
        ("translate-into-user-folder", ["translate", clip, user] + model, "user-intact", False),
        ("translate-window-0", ["translate", clip, out, "--window", "0"] + model, "refused", False),
        ("translate-window-100000", ["translate", clip, out, "--window", "100000"] + model, "ok", True),
        ("translate-too-large", ["translate", big, out] + model, "refused", True),
        ("translate-too-large-downscaled", ["translate", big, out, "--max-side", "64"] + model, "ok", True),
        ("translate-3e38-volume", ["translate", nifti, os.path.join(folder, "ct.nii.gz"), "--model",
                                   "phantom-mr2ct-3d", "--quiet"], "no-nan", True),
        ("train-steps-abc", ["train", recipe, "--set", "training.steps=abc"], "refused", False),
        ("train-steps-negative", ["train", recipe, "--set", "training.steps=-5"], "refused", False),
        ("train-out-user-folder", ["train", recipe, "--out", user, "--set", "training.steps=1"], "user-intact", False),
        ("demo-port-99999", ["demo", "--port", "99999"], "refused", False),
        ("demo-port-negative", ["demo", "--port", "-1"], "refused", False),
        ("evaluate-max-videos-0", ["evaluate", "--model", "vmnist-sph2sand-3d", "--max-videos", "0"], "refused", False),
        ("evaluate-max-videos-negative", ["evaluate", "--model", "vmnist-sph2sand-3d", "--max-videos", "-1"],
         "refused", False),
        ("reproduce-steps-negative", ["reproduce", "table2", "--steps", "-1"], "refused", False),
        ("info-json-is-a-list", ["info", bad_json], "refused", False),
        ("translate-json-is-a-list", ["translate", clip, out, "--model", bad_json], "refused", True),
        ("translate-cut-weights", ["translate", clip, out, "--model", cut], "refused", True),
        ("unknown-verb", ["frobnicate"], "refused", False),
    ]
    made = [Case(f"cli:{label}", "cli", {"argv": argv, "expect": expect, "input": clip, "user": user,
                                         "out": argv[2] if argv[0] == "translate" else None, "cwd": folder},
                 model=needs) for label, argv, expect, needs in cases]
    return made + _odd_argument_cases(folder, clip, recipe)


def _sha(path):
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _odd_argument_cases(folder, clip, recipe):
    """FIFOs and devices, absurd sizes and limit values, folders we wrote now holding a user's files."""
    from keras_v2v.demo import space

    fifo = os.path.join(folder, "odd")
    os.makedirs(fifo, exist_ok=True)
    for name in ("recipe.toml", "clip.mp4", "volume.nii.gz"):
        os.mkfifo(os.path.join(fifo, name))
    fifo_recipe, fifo_clip, fifo_volume = (os.path.join(fifo, n) for n in ("recipe.toml", "clip.mp4", "volume.nii.gz"))
    out = os.path.join(folder, "odd-out.mp4")
    model = ["--model", "vmnist-sph2sand-3d", "--quiet"]
    # Folders this project wrote, to which a user then added a file.
    preset = os.path.join(folder, "odd-preset")
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-2d-random"), preset)
    _write(preset, "notes.txt", b"keep me")
    space_dir = os.path.join(folder, "odd-space")
    space.write_space(space_dir, ["vmnist-sph2sand-2d-random"])
    _write(space_dir, "notes.txt", b"keep me")
    reports = os.path.join(folder, "odd-reports")
    os.makedirs(reports, exist_ok=True)
    _write(reports, "table2.md", b"my own table")
    tampered = os.path.join(folder, "odd-tampered")
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-2d-random"), tampered)
    with open(os.path.join(tampered, "model.weights.h5"), "r+b") as handle:
        handle.seek(-100, 2)
        byte = handle.read(1)
        handle.seek(-100, 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    evil = os.path.join(folder, "odd-evil-config")
    shutil.copytree(os.path.join(ROOT, "zoo", "vmnist-sph2sand-2d-random"), evil)
    config = json.load(open(os.path.join(evil, "config.json")))
    config["config"]["generator_a2b"]["config"]["layers"][1].update(module="os", class_name="system")
    json.dump(config, open(os.path.join(evil, "config.json"), "w"))
    bomb = _write(folder, "odd-bomb.gif", gif_claiming(4000, 4000, 24))
    cases = [
        # (label, argv, expect, needs a model, environment, files that must survive unchanged)
        ("train-fifo-recipe", ["train", fifo_recipe], "refused", False, {}, []),
        ("translate-fifo-clip", ["translate", fifo_clip, out] + model, "refused", False, {}, []),
        ("translate-fifo-volume", ["translate", fifo_volume, os.path.join(folder, "o.nii.gz")] + model, "refused",
         False, {}, []),
        ("translate-dev-zero", ["translate", "/dev/zero", out] + model, "refused", False, {}, []),
        ("translate-dev-null", ["translate", "/dev/null", out] + model, "refused", False, {}, []),
        ("export-onnx-width-1e8", ["export", "vmnist-sph2sand-3d", os.path.join(folder, "e1"), "--format", "onnx",
                                   "--width", "100000000"], "refused", False, {}, []),
        ("export-saved-model-width-1e8", ["export", "vmnist-sph2sand-3d", os.path.join(folder, "e2"), "--format",
                                          "saved_model", "--width", "100000000"], "refused", False, {}, []),
        ("export-onnx-60000-squared", ["export", "vmnist-sph2sand-3d", os.path.join(folder, "e3"), "--format",
                                       "onnx", "--width", "60000", "--height", "60000"], "refused", True, {}, []),
        ("translate-gif-bomb-under-decode-limit", ["translate", bomb, out] + model, "refused", True,
         {"KERAS_V2V_MAX_DECODED_BYTES": "2GiB"}, []),
        ("translate-into-proc", ["translate", clip, "/proc/self/o.mp4"] + model, "refused", False, {}, []),
        ("translate-name-300-chars", ["translate", clip, os.path.join(folder, "x" * 300 + ".mp4")] + model,
         "refused", False, {}, []),
        ("translate-through-a-file", ["translate", clip, os.path.join(clip, "o.mp4")] + model, "refused", False,
         {}, []),
        ("translate-intensity-window-on-video", ["translate", clip, out, "--intensity-window", "mr"] + model,
         "refused", False, {}, []),
        ("evaluate-budget-bogus", ["evaluate", "--model", "vmnist-sph2sand-3d", "--budget", "bogus"], "refused",
         False, {}, []),
        ("evaluate-out-dot", ["evaluate", "--model", "vmnist-sph2sand-3d", "--out", "."], "refused", False, {}, []),
        ("space-presets-empty", ["space", os.path.join(folder, "new-space"), "--presets", ""], "refused", False,
         {}, []),
        ("space-over-a-users-file", ["space", space_dir, "--presets", "vmnist-sph2sand-2d-random"], "refused",
         False, {}, [os.path.join(space_dir, "notes.txt")]),
        ("train-out-preset-with-notes", ["train", recipe, "--out", preset, "--set", "training.steps=1"], "refused",
         False, {}, [os.path.join(preset, "notes.txt")]),
        ("reproduce-over-a-users-report", ["reproduce", "table2", "--budget", "smoke", "--out-dir", reports,
                                           "--runs-dir", os.path.join(folder, "odd-runs")], "refused", False, {},
         [os.path.join(reports, "table2.md")]),
        ("train-learning-rate-inf", ["train", recipe, "--set", "training.learning_rate=inf"], "refused", False, {},
         []),
        ("train-learning-rate-nan", ["train", recipe, "--set", "training.learning_rate=nan"], "refused", False, {},
         []),
        ("info-tampered-weights", ["info", tampered], "refused", False, {}, []),
        ("translate-evil-config", ["translate", clip, out, "--model", evil, "--quiet"], "refused", True, {}, []),
    ]
    for variable in ("KERAS_V2V_MAX_MEMORY", "KERAS_V2V_MAX_DECODED_BYTES"):
        for value in ("1e999", "0.5", "-1", "nan", "inf", "lots", "9" * 400):
            cases.append((f"env-{variable}={value[:12]}", ["translate", clip, out] + model, "refused", False,
                          {variable: value}, []))
    # Covered by unit tests too (tests/test_reliability.py); in CI only those that refuse without TensorFlow.
    slow = {"export-onnx-60000-squared", "translate-gif-bomb-under-decode-limit", "reproduce-over-a-users-report",
            "translate-evil-config"}
    made = [Case(f"cli:{label}", "cli", {"argv": argv, "expect": expect, "input": clip, "user": None,
                                         "out": None, "cwd": folder, "env": env,
                                         "keep": {path: _sha(path) for path in keep}}, model=needs,
                 offline=label in slow)
            for label, argv, expect, needs, env, keep in cases]
    # The readers themselves, on the FIFOs and devices.
    for path in (fifo_clip, "/dev/zero", "/dev/urandom"):
        made.append(Case(f"read_video:odd:{os.path.basename(path)}", "read", {"call": "read_video", "path": path}))
    made.append(Case("read_volume:odd:fifo", "read", {"call": "read_volume", "path": fifo_volume}))
    return made


# ------------------------------------------------------------------ peak memory near the limit

# Near-limit cases read under this limit: big enough that the decoded clip
# dwarfs the interpreter's noise, small enough to run in CI in seconds.
MEMORY_DECODE_LIMIT = 64 * 2**20
# A reader may take the decoded result plus this much of it (one frame, FFmpeg's buffers).
READ_PEAK_MULTIPLE = 1.5
# translate may take the clip and its translation (2x, grey in and out) plus the model's passes.
TRANSLATE_PEAK_MULTIPLE = 2.5
PEAK_SLACK = 24 * 2**20


def _near_limit_files(folder, limit=MEMORY_DECODE_LIMIT):
    """{format: path} of files whose headers declare just under `limit` bytes decoded (RGB uint8; float32 x3 volumes)."""
    from keras_v2v.data.video_write import write_video

    files = {}
    frames = int(0.95 * limit // (1000 * 1000 * 3))
    files["gif"] = _write(folder, "near-limit.gif", gif_claiming(1000, 1000, frames))
    clip = np.zeros((int(0.95 * limit // (480 * 640 * 3)), 480, 640, 3), np.uint8)
    clip[:, ::16] = 200  # not all black: the encoders still compress it to almost nothing
    for suffix in ("mp4", "mkv", "webm"):
        files[suffix] = write_video(os.path.join(folder, f"near-limit.{suffix}"), clip, fps=8)
    write_video(os.path.join(folder, "near-limit-png"), np.zeros((frames, 1000, 1000, 3), np.uint8))
    files["png-folder"] = os.path.join(folder, "near-limit-png")
    # read_volume checks four float32 working copies against the limit.
    depth = int(0.95 * limit // (16 * 256 * 320))
    files["nii.gz"] = _write(folder, "near-limit.nii.gz", nifti_bytes(np.zeros((320, 256, depth), np.float32)))
    return files


def _memory_cases(folder, translate=True):
    cases = [Case(f"peak-rss:read:{name}", "memory", {"call": "read", "path": path, "format": name})
             for name, path in _near_limit_files(folder).items()]
    if translate:
        from keras_v2v.data.video_write import write_video

        # Many small frames: the clip, not the model's passes, dominates the peak.
        clip = np.zeros((1200, 64, 64, 3), np.uint8)
        clip[:, ::8] = 255
        path = write_video(os.path.join(folder, "translate-in.mp4"), clip, fps=8)
        cases.append(Case("peak-rss:translate:mp4", "memory", {"call": "translate", "path": path, "format": "mp4",
                                                               "model": "vmnist-sph2sand-2d-random",
                                                               "out": os.path.join(folder, "translate-out.mp4")},
                          model=True))
    return cases


MEMORY_WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np

    def status(key):
        with open("/proc/self/status") as handle:
            return int(next(line.split()[1] for line in handle if line.startswith(key))) * 1024

    spec = json.loads(sys.argv[1])
    from keras_v2v import data, presets
    model_bytes = 0
    if spec["call"] == "translate":
        from keras_v2v import cli
        from keras_v2v.models import inference

        cli.load_backend()
        model = presets.from_pretrained(spec["model"], discriminators=False)
        model.translate(np.zeros((4, 64, 64, 1), np.uint8), batch_size=4)  # traced once, before measuring
        presets.from_pretrained = lambda *args, **kwargs: model
        model_bytes = inference.forward_bytes(model.generator_a2b, 4 * 64 * 64)
    open("/proc/self/clear_refs", "w").write("5")  # peak so far forgotten: measure the read alone
    base = status("VmRSS:")
    if spec["call"] == "translate":
        code = cli.main(["translate", spec["path"], spec["out"], "--model", spec["model"], "--quiet"])
        decoded = np.prod(data.read_video(spec["out"]).shape[:3]) * 1  # grey in, grey out
        assert code == 0
    elif spec["format"] == "nii.gz":
        decoded = data.read_volume(spec["path"]).nbytes
    else:
        decoded = data.read_video(spec["path"]).nbytes
    peak = status("VmHWM:") - base
    print(json.dumps({"result": "ok", "detail": json.dumps({"decoded": int(decoded), "peak": int(peak),
                                                            "model": int(model_bytes)})}))
    """
)


def _judge_memory(case, answer):
    """ok when the peak above the start stays within the format's multiple of the decoded size."""
    measured = json.loads(answer["detail"])
    multiple = TRANSLATE_PEAK_MULTIPLE if case.spec["call"] == "translate" else READ_PEAK_MULTIPLE
    if case.spec["format"] == "nii.gz":
        multiple = VOLUME_PEAK_MULTIPLE
    bound = multiple * measured["decoded"] + measured["model"] + PEAK_SLACK
    ratio = measured["peak"] / measured["decoded"]
    detail = (f"peak {measured['peak'] / 2**20:.1f} MiB = {ratio:.2f}x the decoded {measured['decoded'] / 2**20:.1f} "
              f"MiB (model passes estimated at {measured['model'] / 2**20:.0f} MiB; bound {bound / 2**20:.0f} MiB)")
    return ("ok" if measured["peak"] <= bound else "memory"), detail


# read_volume keeps the float32 volume, its windowed copy and a sorted copy for the percentile window.
VOLUME_PEAK_MULTIPLE = 4


GROUPS = ("read", "write", "cli", "memory")


def make_cases(folder, n_read=200, groups=GROUPS, seed=0):
    """The seeded set of cases: `n_read` reader cases, the write cases and the command-line cases."""
    rng = np.random.default_rng(seed)
    cases = []
    if "read" in groups:
        cases += _read_cases(rng, folder, n_read)
    if "write" in groups:
        cases += _write_cases(folder)
    if "cli" in groups:
        cases += _cli_cases(folder, rng)
    if "memory" in groups:
        cases += _memory_cases(folder)
    return cases


# ------------------------------------------------------------------ running

READ_WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from keras_v2v.data.errors import DataError
    from keras_v2v import data

    spec = json.loads(sys.argv[1])
    try:
        if spec["call"] == "read_video":
            out = data.read_video(spec["path"])
            good = out.dtype == np.uint8 and out.ndim == 4 and out.shape[-1] == 3 and out.shape[0] >= 1
        else:
            out = data.read_volume(spec["path"])
            good = out.dtype == np.float32 and out.ndim == 4 and np.isfinite(out).all()
            good = good and 0.0 <= out.min() and out.max() <= 1.0
        print(json.dumps({"result": "ok" if good else "broken-promise", "detail": repr(out.shape)}))
    except (DataError, ValueError, ImportError) as error:
        text = str(error)
        one_line = "\\n" not in text and text.strip() != ""
        print(json.dumps({"result": "clean" if one_line else "broken-promise",
                          "detail": f"{type(error).__name__}: {text[:300]}"}))
    """
)

WRITE_WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    from keras_v2v import data

    spec = json.loads(sys.argv[1])
    os.chdir(spec["cwd"])
    before = sorted(os.listdir(spec["user"])), sorted(os.listdir(spec["cwd"]))
    try:
        data.write_video(spec["target"], np.zeros((2, 8, 8, 3), np.uint8))
        result, detail = "broken-promise", "write accepted"
    except (ValueError, OSError) as error:
        result, detail = ("clean" if "\\n" not in str(error) else "broken-promise"), str(error)[:300]
    if (sorted(os.listdir(spec["user"])), sorted(os.listdir(spec["cwd"]))) != before:
        result, detail = "broken-promise", "the user's files changed"
    print(json.dumps({"result": result, "detail": detail}))
    """
)


# Every case runs under this wrapper, which writes the process's own peak resident
# memory (VmHWM) to a file when it exits: a child's ru_maxrss would include the
# memory of the (large) parent it was forked from.
WRAPPER = textwrap.dedent(
    """
    import atexit, os, runpy, sys

    def _report():
        with open("/proc/self/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
        with open(os.environ["FUZZ_PEAK_FILE"], "w") as out:
            out.write(peak)

    atexit.register(_report)
    target = sys.argv.pop(1)
    if target == "-m":
        module = sys.argv.pop(1)
        sys.argv[0] = module
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        sys.argv[0] = "worker"
        exec(compile(target, "worker", "exec"), {"__name__": "__main__"})
    """
)


def _peak_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _run(argv, env, timeout, rss_limit, cwd):
    """(exit status or None, stdout, stderr, seconds, peak rss, why killed)."""
    started = time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".peak") as peak_file:
        env = dict(env, FUZZ_PEAK_FILE=peak_file.name)
        process = subprocess.Popen([sys.executable, "-c", WRAPPER] + argv, stdout=out, stderr=err, env=env,
                                   cwd=cwd)
        peak, killed = 0, None
        while True:
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                reported = open(peak_file.name).read().strip()
                peak = max(peak, int(reported) * 1024 if reported else 0)
                break
            peak = max(peak, _peak_rss(process.pid))
            if peak > rss_limit:
                killed = "memory"
            elif time.time() - started > timeout:
                killed = "hang"
            if killed:
                process.kill()
                os.wait4(process.pid, 0)
                code = None
                break
            time.sleep(0.05)
        process.returncode = code if code is not None else -9
        out.seek(0)
        err.seek(0)
        return code, out.read().decode(errors="replace"), err.read().decode(errors="replace"), \
            time.time() - started, peak, killed


def _environment():
    env = dict(os.environ)
    env.update(KERAS_V2V_MAX_DECODED_BYTES=DECODE_LIMIT, KERAS_V2V_MAX_MEMORY=MEMORY_LIMIT,
               HF_HUB_OFFLINE="1", PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("KERAS_V2V_TF_LOGS", None)
    return env


def _judge_cli(case, code, stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    expect = case.spec["expect"]
    if code == 0:
        result = "ok" if expect in ("ok", "no-nan") else "broken-promise"
        detail = "exit 0"
    elif code == 2 and len(lines) == 1 and lines[0].startswith("keras-v2v"):
        result = "clean" if expect != "ok" else "broken-promise"
        detail = lines[0][:300]
    else:
        return "crash", f"exit {code}: {' | '.join(lines[-3:])[:300]}"
    for path, digest in (case.spec.get("keep") or {}).items():
        if not os.path.isfile(path) or _sha(path) != digest:
            return "broken-promise", f"{path} was changed or deleted"
    if expect == "input-intact" and not os.path.getsize(case.spec["input"]):
        return "broken-promise", "the input was overwritten"
    if expect == "user-intact" and sorted(os.listdir(case.spec["user"])) != ["notes.txt", "photo.png"]:
        return "broken-promise", "the user's folder changed"
    if expect == "no-nan" and code == 0:
        import nibabel as nib

        written = np.asarray(nib.load(case.spec["out"]).get_fdata())
        if not np.isfinite(written).all():
            return "broken-promise", "wrote NaN"
    return result, detail


def run_case(case, env):
    if case.kind == "cli":
        argv = ["-m", "keras_v2v.cli"] + case.spec["argv"]
        timeout = MODEL_TIMEOUT_S if case.model else DATA_TIMEOUT_S
        rss_limit = MODEL_RSS_LIMIT
    else:
        worker = {"read": READ_WORKER, "write": WRITE_WORKER, "memory": MEMORY_WORKER}[case.kind]
        argv = [worker, json.dumps(case.spec)]
        timeout, rss_limit = DATA_TIMEOUT_S, DATA_RSS_LIMIT
        if case.model:
            timeout, rss_limit = MODEL_TIMEOUT_S, MODEL_RSS_LIMIT
    if case.kind == "memory":
        env = dict(env, KERAS_V2V_MAX_DECODED_BYTES=str(MEMORY_DECODE_LIMIT))
    env = dict(env, **(case.spec.get("env") or {}))
    code, stdout, stderr, seconds, peak, killed = _run(argv, env, timeout, rss_limit, case.spec.get("cwd", ROOT))
    if killed:
        result, detail = killed, f"killed after {seconds:.1f} s at {peak / 2**20:.0f} MB"
    elif case.kind == "cli":
        result, detail = _judge_cli(case, code, stderr)
    else:
        try:
            answer = json.loads(stdout.strip().splitlines()[-1])
            result, detail = answer["result"], answer["detail"]
            if case.kind == "memory":
                result, detail = _judge_memory(case, answer)
        except (IndexError, ValueError, KeyError):
            result, detail = "crash", f"exit {code}: {' | '.join(stderr.strip().splitlines()[-3:])[:300]}"
    return Outcome(case.name, result, detail, round(seconds, 2), round(peak / 2**20, 1))


def summarise(outcomes):
    counts = {}
    for outcome in outcomes:
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    return {
        "cases": len(outcomes),
        "results": counts,
        "peak_rss_mb": max((o.peak_rss_mb for o in outcomes), default=0.0),
        "slowest_s": max((o.seconds for o in outcomes), default=0.0),
        "failures": [dataclasses.asdict(o) for o in outcomes if o.result not in ("ok", "clean")],
    }


def _write_report(path, outcomes, planned):
    report = summarise(outcomes)
    report["planned"] = planned
    report["outcomes"] = [dataclasses.asdict(o) for o in outcomes]
    if path:
        with open(path, "w") as handle:
            json.dump(report, handle, indent=2)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="reader cases (write and command cases are added)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line cases (they load TensorFlow)")
    parser.add_argument("--out", default=None, help="write the full report as JSON here")
    parser.add_argument("--only", default=None, help="comma-separated case names to rerun (same --cases and --seed)")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="keras-v2v-fuzz-")
    try:
        env = _environment()
        groups = tuple(g for g in GROUPS if not (args.no_cli and g == "cli"))
        cases = make_cases(folder, args.cases, groups=groups, seed=args.seed)
        if args.only:
            wanted = set(args.only.split(","))
            cases = [c for c in cases if c.name in wanted]
            if len(cases) != len(wanted):
                parser.error(f"--only: no case named {sorted(wanted - {c.name for c in cases})}")
        # The few command and memory cases first: a long run stopped early has covered them.
        cases.sort(key=lambda case: case.kind == "read")
        outcomes = []
        for index, case in enumerate(cases):
            outcomes.append(run_case(case, env))
            if outcomes[-1].result not in ("ok", "clean"):
                print(f"[{index + 1}/{len(cases)}] {case.name}: {outcomes[-1].result}: {outcomes[-1].detail}",
                      flush=True)
            if args.out and (index + 1) % 50 == 0:
                _write_report(args.out, outcomes, len(cases))  # so far: a stopped run still reports
        report = _write_report(args.out, outcomes, len(cases))
        print(json.dumps({k: v for k, v in report.items() if k not in ("outcomes",)}, indent=2))
        return 0 if not report["failures"] else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
