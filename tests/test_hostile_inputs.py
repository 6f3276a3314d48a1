"""Hostile evidence (issue 11, items 2-7 and 20): pipes, partial video, PIL modes, sniffing, video bombs,
hashing pool, audio-only files. Every input is generated here; nothing binary is committed."""

from __future__ import annotations

import io
import os
import signal
import threading
import types

import numpy as np
import pytest
from conftest import item_by_path, jpeg_bytes, png_bytes

from forensics import hookimpl
from forensics.case import NotRegularFile, hash_item, open_evidence, scan_case, sniff
from forensics.detector import Detector
from forensics.engine import analyze_case
from forensics.media import MediaError, open_media


@pytest.fixture
def alarm():
    """Fail instead of hanging: a test that blocks on a pipe is stopped after ``seconds``."""
    def handler(signum, frame):
        raise TimeoutError("blocked (a named pipe was opened for reading)")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def make_video(path, n=60, w=64, h=48, rate=25, codec="mpeg4", audio=False, video=True):
    import av

    c = av.open(str(path), "w")
    if video:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    if audio:
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
    rng = np.random.default_rng(0)
    if video:
        for i in range(n):
            img = np.zeros((h, w, 3), np.uint8)
            img[:, :, 0] = (i * 7) % 255
            img[h // 4: h // 2, (i % (w // 2)):(i % (w // 2)) + w // 4] = 220
            img += rng.integers(0, 25, img.shape, dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    if audio:
        t = np.arange(16000) / 16000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        for k in range(0, 16000, 1024):
            fr = av.AudioFrame.from_ndarray(samples[:, k:k + 1024].copy(), format="fltp", layout="mono")
            fr.sample_rate = 16000
            for p in a.encode(fr):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    c.close()
    return path


class FrameReader(Detector):
    """Reads every frame (a stand-in for a whole-video detector); never votes."""

    name, version, media_kinds = "framereader", "0.0.1", ("video",)

    def analyze(self, item, media):
        n = sum(1 for _ in media.frames())
        return self.inconclusive(f"read {n} frames")


class ImageReader(Detector):
    name, version, media_kinds = "imagereader", "0.0.1", ("image",)

    def analyze(self, item, media):
        rgb = media.image_rgb()
        media.image_info()
        return self.inconclusive("read", details={"mean": float(rgb.mean())})


readers = types.SimpleNamespace(__name__="hostile_readers",
                                forensics_register_detectors=hookimpl(lambda: [FrameReader(), ImageReader()]))


# ------------------------------------------------------------------ 2: named pipes
def test_named_pipe_is_refused_without_blocking(tmp_path, alarm):
    fifo = tmp_path / "evidence.jpg"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile, match="named pipe"):
        open_evidence(str(fifo))


def test_pipe_swapped_in_after_scan_does_not_hang_analysis_or_verify(make_case, photo, run_cli, tmp_path, alarm):
    root = make_case({"a.jpg": jpeg_bytes(photo), "b.jpg": jpeg_bytes(photo, 70)})
    items = scan_case(root)
    os.unlink(root / "b.jpg")
    os.mkfifo(root / "b.jpg")  # swapped in between the scan and the hashing
    hash_item(items[1])
    assert items[1].kind == "special" and "named pipe" in items[1].messages[0]
    os.unlink(root / "b.jpg")
    (root / "b.jpg").write_bytes(jpeg_bytes(photo, 70))
    hash_item(items[0])
    os.unlink(root / "a.jpg")
    os.mkfifo(root / "a.jpg")  # swapped in before the re-check after analysis
    hash_item(items[0], after=True)
    assert items[0].integrity == "CHANGED" and "named pipe" in items[0].messages[-1]
    os.unlink(root / "a.jpg")
    (root / "a.jpg").write_bytes(jpeg_bytes(photo))

    out = tmp_path / "out"
    assert run_cli("analyze", root, "-o", out, "-d", "metadata").exit_code == 0
    os.unlink(root / "a.jpg")
    os.mkfifo(root / "a.jpg")  # and one swapped in before verify
    res = run_cli("verify", out, "--case", root)
    assert res.exit_code == 1
    assert "a.jpg: cannot read (not a regular file (named pipe))" in res.output


# ------------------------------------------------------------------ 3: partial video decode
def test_partly_corrupt_video_is_reported_as_partial(make_case, tmp_path):
    good = make_video(tmp_path / "good.mp4", n=100)
    data = bytearray(good.read_bytes())
    mdat, moov = data.find(b"mdat"), data.find(b"moov")
    start = mdat + int((moov - mdat) * 0.55)
    data[start:moov - 8] = np.random.default_rng(1).integers(0, 256, moov - 8 - start, dtype=np.uint8).tobytes()
    root = make_case({"whole.mp4": good.read_bytes(), "corrupt.mp4": bytes(data)})
    doc = analyze_case(root, extra_plugins=[readers], detectors=["framereader"]).document
    whole, corrupt = item_by_path(doc, "whole.mp4"), item_by_path(doc, "corrupt.mp4")
    assert whole["decode"]["partial"] is False and whole["decode"]["frames_decoded"] == 100
    d = corrupt["decode"]
    assert d["partial"] is True and d["frames_expected"] == 100
    assert 40 <= d["frames_decoded"] < 70 and d["decode_errors"] > 0
    assert any(m.startswith("PARTIAL DECODE") for m in corrupt["messages"])
    assert "PARTIAL decode" in corrupt["verdict"]["caveat"]
    assert not any(m.startswith("PARTIAL DECODE") for m in whole["messages"])


# ------------------------------------------------------------------ 4: PIL modes and notes
def _png(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_every_pil_mode_decodes_to_the_right_brightness(tmp_path):
    from PIL import Image

    grey16 = Image.fromarray(np.full((32, 32), 32768, np.uint16))  # I;16, half brightness
    la = Image.fromarray(np.dstack([np.full((8, 8), 100, np.uint8), np.full((8, 8), 0, np.uint8)]), "LA")
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([10, 20, 30] + [0] * 765)
    pal.info["transparency"] = 0
    cmyk = Image.new("CMYK", (8, 8), (0, 0, 0, 0))  # white
    buf = io.BytesIO()
    cmyk.save(buf, format="JPEG")
    cases = {"grey16.png": (_png(grey16), 128, "16-bit"), "la.png": (_png(la), 255, "transparency"),
             "pal.png": (_png(pal), 255, "transparency"), "cmyk.jpg": (buf.getvalue(), 255, "CMYK")}
    for name, (data, mean, note) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        media = open_media(p, hashed=True)
        rgb = media.image_rgb()
        assert rgb.shape[2] == 3 and rgb.dtype == np.uint8
        assert abs(float(rgb.mean()) - mean) <= 2, (name, rgb.mean())
        assert any(note in m for m in media.item.messages), (name, media.item.messages)


def test_image_notes_multiframe_trailing_data_mismatch_and_hard_links(make_case, photo, tmp_path):
    from PIL import Image

    frames = [Image.fromarray(np.full((16, 16, 3), v, np.uint8)) for v in (0, 128, 255)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    root = make_case({"anim.gif": buf.getvalue(), "trailer.jpg": jpeg_bytes(photo) + b"PK\x03\x04hidden zip",
                      "really_png.jpg": png_bytes(photo), "plain.jpg": jpeg_bytes(photo)})
    os.link(root / "plain.jpg", tmp_path / "elsewhere.jpg")
    doc = analyze_case(root, extra_plugins=[readers], detectors=["imagereader"]).document

    def msgs(p):
        return " | ".join(item_by_path(doc, p)["messages"])

    assert "multi-frame file (3 frames): only frame 1 was analysed" in msgs("anim.gif")
    assert "14 bytes follow the JPEG end-of-image marker" in msgs("trailer.jpg")
    assert "the name ends in .jpg but the content is png" in msgs("really_png.jpg")
    assert "2 hard links" in msgs("plain.jpg")
    assert "hard links" not in msgs("trailer.jpg") and "end-of-image" not in msgs("plain.jpg")


# ------------------------------------------------------------------ 5: sniffing
def test_sniffing_needs_a_consistent_header(tmp_path):
    from PIL import Image

    assert sniff(b"BMW service notes: oil changed at 30000 km, brakes checked.\n") == ("document", "text")
    assert sniff(b"abc free text that happens to have free at byte four\n") == ("document", "text")
    assert sniff(b"1234ftypmp42 is how an mp4 starts, says this note\n") == ("document", "text")
    bmp = io.BytesIO()
    Image.new("RGB", (8, 8)).save(bmp, format="BMP")
    assert sniff(bmp.getvalue()[:4096], len(bmp.getvalue())) == ("image", "bmp")
    mov = make_video(tmp_path / "clip.mov", n=5)
    head = mov.read_bytes()[:4096]
    assert sniff(head, mov.stat().st_size)[0] == "video"
    # a QuickTime file without ftyp: the atom sizes must be consistent with the file
    qt = b"\x00\x00\x00\x08wide" + b"\x00\x00\x00\x10mdat" + b"\x00" * 8
    assert sniff(qt, len(qt)) == ("video", "mov")
    assert sniff(b"\x00\x00\x00\x08free\x41\x42\x43\x44zzzz", 16) == ("unknown", "unknown")


# ------------------------------------------------------------------ 6: video bomb limit
def test_video_frame_size_is_bomb_limited(make_case, tmp_path, run_cli):
    clip = make_video(tmp_path / "c.mp4", n=5, w=64, h=48)
    media = open_media(clip, hashed=True, max_pixels=1000)
    with pytest.raises(MediaError, match="decompression-bomb"):
        media.video_info()
    root = make_case({"c.mp4": clip.read_bytes()})
    doc = analyze_case(root, extra_plugins=[readers], detectors=["framereader"], max_pixels=1000).document
    it = item_by_path(doc, "c.mp4")
    assert any("64×48 = 3,072 pixels, above the decompression-bomb limit of 1,000" in m for m in it["messages"])
    assert all(f["status"] == "failed" for f in it["findings"])


# ------------------------------------------------------------------ 7: one hashing pool
def test_hashing_creates_no_pool_per_file(tmp_path, monkeypatch):
    import forensics.case as case_mod

    created = []
    real = case_mod.ThreadPoolExecutor

    def counting(*a, **kw):
        created.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(case_mod, "ThreadPoolExecutor", counting)
    monkeypatch.setattr(case_mod, "_POOL", None)
    for i in range(200):
        (tmp_path / f"f{i}.bin").write_bytes(os.urandom(100))
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * case_mod.CHUNK + 5))
    threads_before = threading.active_count()
    for it in scan_case(tmp_path):
        hash_item(it)
    for it in scan_case(tmp_path):
        hash_item(it)
    assert len(created) == 1  # one pool for the whole run (the big file), none for the small ones
    assert threading.active_count() - threads_before <= 3


# ------------------------------------------------------------------ 20: audio-only "video"
def test_audio_only_file_is_not_applicable_not_failed(make_case, tmp_path):
    clip = make_video(tmp_path / "voice.mp4", audio=True, video=False)
    root = make_case({"voice.mp4": clip.read_bytes()})
    doc = analyze_case(root, extra_plugins=[readers], detectors=["framereader", "resnext_lstm", "blink_lrcn"]).document
    it = item_by_path(doc, "voice.mp4")
    assert it["kind"] == "video"
    assert {f["status"] for f in it["findings"]} == {"not_applicable"}
    assert any("no video stream (audio only)" in f["reason"] for f in it["findings"])


def test_help_shows_defaults_and_no_bool_placeholders(run_cli):
    res = run_cli("analyze", "--help")
    text = " ".join(res.output.split())  # lines are wrapped to the terminal
    assert "[default: ./report-<case folder name>]" in text
    assert "<bool>" not in text and "--force" in text and "--sign-key" in text
    res = run_cli("verify", "--help")
    assert "--manifest-sha256" in res.output and "--public-key" in res.output


def test_decoded_image_bytes_are_the_hashed_bytes(make_case, photo):
    """Item 1 for images: the decoder's bytes are hashed again; other bytes are refused."""
    root = make_case({"a.png": png_bytes(photo)})
    media = open_media(root / "a.png", hashed=True)
    other = png_bytes(photo[::-1].copy())
    # same inode, same size is not needed: write other bytes in place
    with open(root / "a.png", "r+b") as f:
        f.write(other)
        f.truncate()
    with pytest.raises(MediaError, match="not the one that was hashed|not the hashed bytes"):
        media.image_rgb()
    assert media.item.integrity == "CHANGED"
