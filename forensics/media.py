"""Media access: read-only, lazy decoding of evidence, shared by every detector.

One :class:`MediaAccess` exists per evidence item and lives for that item's
analysis. It decodes on first use and caches what several detectors need (the
decoded image, video metadata, and -- through :meth:`MediaAccess.shared` -- any
derived product such as face tracks), so the work is done once per item.

Video is streamed frame by frame with PyAV (FFmpeg); a whole video is never held
in memory. PyAV reads from a read-only file descriptor, so odd file names
(non-UTF-8 bytes) are no obstacle.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from forensics.case import EvidenceItem, VerifiedReader, open_evidence

DEFAULT_MAX_PIXELS = 100_000_000  # decompression-bomb guard: 100 megapixels
DEFAULT_MAX_IMAGE_BYTES = 512 << 20


class MediaError(Exception):
    """The evidence could not be decoded; the message is shown in the report."""


class NoVideoStream(MediaError):
    """A container with no video stream (audio only): video detectors are not applicable, not failed."""


class NotHashedBytes(MediaError):
    """The file opened for decoding is not the file that was hashed (see ``EvidenceItem.check_identity``)."""


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int | None
    duration_s: float | None
    codec: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 4),
            "frame_count": self.frame_count,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "codec": self.codec,
        }


@dataclass
class Frame:
    index: int  # index of the decoded frame in the stream
    time_s: float
    rgb: np.ndarray  # HxWx3 uint8


class MediaAccess:
    """Decoded, read-only view of one evidence item."""

    def __init__(self, item: EvidenceItem, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> None:
        self.item = item
        self.max_pixels = max_pixels
        self.max_image_bytes = max_image_bytes
        self._cache: dict[str, Any] = {}
        self.frames_decoded: int = 0  # frame counters of the last frames() stream (see frames())
        self.last_decoded_s: float | None = None
        self.decode_error: str | None = None

    def _note(self, message: str) -> None:
        """A fact about how the item was decoded, shown once among the item's messages."""
        if message not in self.item.messages:
            self.item.messages.append(message)

    def open_file(self):
        """A read-only binary file object on the evidence, bound to the hashed bytes.

        Its descriptor's identity is checked against the hashing descriptor's, and when the intake
        recorded block digests (images and videos) every byte read is checked against them
        (:class:`forensics.case.VerifiedReader`). Parsers that stream the file (PyAV, EXIF readers) use this.
        """
        fd = self._open_bound()
        return VerifiedReader(fd, self.item) if self.item.block_sha256 else os.fdopen(fd, "rb")

    def _open_bound(self) -> int:
        """Open the evidence read-only and check it is the very file that was hashed (identity by fstat)."""
        fd = open_evidence(self.item.path)
        if not self.item.check_identity(fd, "for decoding"):
            os.close(fd)
            raise NotHashedBytes("the file is not the one that was hashed (replaced or written to); not analysed")
        return fd

    # ------------------------------------------------------------------ shared cache
    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute ``key`` once per item and share it between detectors.

        Exceptions are cached too, so a failing shared step (e.g. a corrupt video)
        is attempted once and reported identically by every detector.
        """
        if key not in self._cache:
            try:
                self._cache[key] = ("ok", compute())
            except Exception as exc:  # noqa: BLE001 - re-raised to every caller below
                self._cache[key] = ("err", exc)
        state, value = self._cache[key]
        if state == "err":
            raise value
        return value

    # ------------------------------------------------------------------ images
    def _read_bytes(self) -> bytes:
        if self.item.size is not None and self.item.size > self.max_image_bytes:
            raise MediaError(f"image file is {self.item.size} bytes, above the {self.max_image_bytes}-byte limit")
        fd = self._open_bound()
        with os.fdopen(fd, "rb") as f:
            data = f.read(self.max_image_bytes + 1)
        if self.item.hashes is not None:
            import hashlib

            if hashlib.sha256(data).hexdigest() != self.item.hashes.sha256:
                msg = ("INTEGRITY FAILURE: the bytes read for decoding do not have the SHA-256 recorded at intake; "
                       "the image was not analysed")
                if msg not in self.item.binding_problems:
                    self.item.binding_problems.append(msg)
                    self.item.messages.append(msg)
                raise NotHashedBytes("the bytes read for decoding are not the hashed bytes; not analysed")
        return data

    def _open_pil(self):
        from PIL import Image, UnidentifiedImageError

        data = self.shared("bytes", self._read_bytes)
        try:
            with _pil_pixel_limit(None):
                im = Image.open(io.BytesIO(data))
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise MediaError(f"not a decodable image: {exc}") from exc
        w, h = im.size
        if w * h > self.max_pixels:
            raise MediaError(
                f"image claims {w}×{h} = {w * h:,} pixels, above the decompression-bomb limit of "
                f"{self.max_pixels:,}; not decoded"
            )
        return im

    def image_info(self) -> dict[str, Any]:
        """Format, size, mode and JPEG quantisation tables (if any), without decoding pixels."""
        def compute() -> dict[str, Any]:
            im = self._open_pil()
            info: dict[str, Any] = {"format": im.format, "width": im.size[0], "height": im.size[1], "mode": im.mode,
                                    "frames": getattr(im, "n_frames", 1)}
            q = getattr(im, "quantization", None)
            if q:
                info["jpeg_quantization"] = {int(k): list(map(int, v)) for k, v in q.items()}
                info["jpeg_quality_estimate"] = estimate_jpeg_quality(q)
            if im.format == "JPEG":
                from PIL import JpegImagePlugin

                # PIL convention: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0, -1 = other/unknown
                info["jpeg_subsampling"] = int(JpegImagePlugin.get_sampling(im))
                trailing = jpeg_trailing_bytes(self.shared("bytes", self._read_bytes))
                if trailing:
                    info["jpeg_trailing_bytes"] = trailing
                    self._note(f"{trailing:,} bytes follow the JPEG end-of-image marker (appended data, a second "
                               "image or a hidden payload); only the first image was analysed")
            if info["frames"] > 1:
                self._note(f"multi-frame file ({info['frames']} frames): only frame 1 was analysed")
            return info

        return self.shared("image_info", compute)

    def image_rgb(self) -> np.ndarray:
        """The image as an ``HxWx3`` uint8 RGB array (first frame of multi-frame files)."""
        def compute() -> np.ndarray:
            im = self._open_pil()
            try:
                with _pil_pixel_limit(None):
                    im.load()
                    arr, notes = to_rgb8(im)
            except (OSError, ValueError, SyntaxError) as exc:
                raise MediaError(f"image is corrupt or truncated: {exc}") from exc
            for n in notes:
                self._note(n)
            if getattr(im, "n_frames", 1) > 1:
                self._note(f"multi-frame file ({im.n_frames} frames): only frame 1 was analysed")
            arr.setflags(write=False)
            return arr

        return self.shared("image_rgb", compute)

    # ------------------------------------------------------------------ video
    def _open_container(self):
        import av

        f = self.open_file()
        try:
            container = av.open(f, mode="r", metadata_errors="ignore")
        except Exception as exc:  # noqa: BLE001 - PyAV raises many FFmpeg error types
            f.close()
            raise MediaError(f"not a decodable video: {exc}") from exc
        if not container.streams.video:
            audio = bool(container.streams.audio)
            container.close()
            f.close()
            raise NoVideoStream("the file has no video stream" + (" (audio only)" if audio else ""))
        s = container.streams.video[0]
        w, h = s.codec_context.width or 0, s.codec_context.height or 0
        if w * h > self.max_pixels:
            container.close()
            f.close()
            raise MediaError(f"video frames claim {w}×{h} = {w * h:,} pixels, above the decompression-bomb limit "
                             f"of {self.max_pixels:,}; not decoded")
        return container, f

    def _close_bound(self, container, f) -> None:
        """Close a container; the descriptor must still be the hashed file (checked before closing)."""
        try:
            self.item.check_identity(f.fileno(), "for decoding (checked again when decoding ended)")
        finally:
            container.close()
            f.close()

    def video_info(self) -> VideoInfo:
        def compute() -> VideoInfo:
            container, f = self._open_container()
            try:
                s = container.streams.video[0]
                fps = float(s.average_rate or s.guessed_rate or 0) or 25.0
                duration = None
                if s.duration is not None and s.time_base is not None:
                    duration = float(s.duration * s.time_base)
                elif container.duration:
                    duration = container.duration / 1_000_000
                frames = s.frames or (int(round(duration * fps)) if duration else None)
                return VideoInfo(s.codec_context.width, s.codec_context.height, fps, frames or None, duration,
                                 s.codec_context.name)
            finally:
                self._close_bound(container, f)

        return self.shared("video_info", compute)

    def frames(self, stride: int = 1, max_frames: int | None = None, max_side: int | None = None,
               select: Callable[[int, float], bool] | None = None) -> Iterator[Frame]:
        """Stream decoded frames (every ``stride``-th), at most ``max_frames`` of them.

        ``max_side`` downsizes frames whose longer side exceeds it. ``select(index, time_s)``, when given,
        decides which decoded frames are converted to RGB and yielded (every frame is still decoded, once).
        Decoding errors after at least one good frame end the stream (truncated files); a file that
        yields no frame at all raises :class:`MediaError`.

        Frame counters: after (or during) the stream, ``self.frames_decoded`` is the number of frames
        decoded, ``self.last_decoded_s`` the time of the last one and ``self.decode_error`` the FFmpeg error
        that ended the stream early (``None`` when it ended normally).
        """
        import av

        info = self.video_info()
        container, f = self._open_container()
        produced = 0
        self.frames_decoded, self.last_decoded_s, self.decode_error = 0, None, None
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            index = -1
            try:
                for frame in container.decode(stream):
                    index += 1
                    self.frames_decoded = index + 1
                    t = float(frame.time) if frame.time is not None else index / info.fps
                    self.last_decoded_s = t
                    if index % stride or (select is not None and not select(index, t)):
                        continue
                    if frame.width * frame.height > self.max_pixels:
                        raise MediaError(f"a video frame of {frame.width}×{frame.height} is above the "
                                         f"decompression-bomb limit of {self.max_pixels:,} pixels")
                    rgb = frame.to_ndarray(format="rgb24")
                    if max_side and max(rgb.shape[:2]) > max_side:
                        import cv2

                        scale = max_side / max(rgb.shape[:2])
                        rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                                         interpolation=cv2.INTER_AREA)
                    yield Frame(index=index, time_s=t, rgb=rgb)
                    produced += 1
                    if max_frames is not None and produced >= max_frames:
                        return
            except av.error.FFmpegError as exc:
                self.decode_error = str(exc)
                if produced == 0:
                    raise MediaError(f"video could not be decoded: {exc}") from exc
        finally:
            self._close_bound(container, f)
        if produced == 0:
            raise MediaError("video contains no decodable frames")

    def decode_report(self) -> dict[str, Any] | None:
        """Frames decoded vs expected and decode errors over the whole video (``None`` for images).

        When the last :meth:`frames` stream decoded every expected frame without error its counters
        are used; otherwise every packet is decoded once (no colour conversion), a packet that fails
        is counted and skipped. ``partial`` is true when packets failed or frames are missing.
        """
        if self.item.kind != "video":
            return None

        def compute() -> dict[str, Any]:
            import av

            info = self.video_info()
            expected = info.frame_count
            tolerance = max(1, int(0.01 * expected)) if expected else 0
            if self.decode_error is None and expected and self.frames_decoded >= expected - tolerance:
                st = {"frames_decoded": self.frames_decoded, "decode_errors": 0, "first_error": None}
            else:
                decoded = errors = 0
                first = None
                container, f = self._open_container()
                try:
                    stream = container.streams.video[0]
                    stream.thread_type = "AUTO"
                    for packet in container.demux(stream):
                        try:
                            decoded += len(packet.decode())
                        except av.error.FFmpegError as exc:
                            errors += 1
                            first = first or str(exc)
                finally:
                    self._close_bound(container, f)
                st = {"frames_decoded": decoded, "decode_errors": errors, "first_error": first}
            st["frames_expected"] = expected
            st["partial"] = bool(st["decode_errors"]) or (expected is not None and st["frames_decoded"] < expected - tolerance)
            return st

        return self.shared("decode_report", compute)


class _pil_pixel_limit:
    """Temporarily replace PIL's global decompression-bomb limit (we apply our own)."""

    def __init__(self, value: int | None) -> None:
        self.value = value

    def __enter__(self) -> None:
        from PIL import Image

        self.old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = self.value

    def __exit__(self, *exc: object) -> None:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = self.old


def to_rgb8(im) -> tuple[np.ndarray, list[str]]:
    """A PIL image of any mode as ``HxWx3`` uint8 RGB, with notes on what the conversion did.

    16-bit and 32-bit integer greyscale (``I;16*``, ``I``) are scaled by their bit depth (65535 -> 255),
    not clipped; float (``F``) by its range; alpha (``RGBA``, ``LA``, ``La``, ``PA``, ``P`` with transparency)
    is composited over white; ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``1``, ``P`` through PIL.
    """
    from PIL import Image

    notes: list[str] = []
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return np.asarray(im, dtype=np.uint8), notes
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im).astype(np.float64)
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if mode.startswith("I;16") or (mode == "I" and lo >= 0 and 255 < hi <= 65535):
            a = a / 257.0
            notes.append("16-bit greyscale samples scaled to 8 bits (divided by 257)")
        elif mode == "F" and lo >= 0 and hi <= 1.0:
            a = a * 255.0
            notes.append("floating-point samples in [0, 1] scaled to 8 bits")
        elif not (lo >= 0 and hi <= 255):
            a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else a * 0
            notes.append(f"{mode} samples from {lo:g} to {hi:g} stretched to 0-255 for analysis")
        g = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2), notes
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info:
        if mode == "La":  # premultiplied grey + alpha: PIL converts it only through RGBa
            lum, a = im.getchannel(0), im.getchannel(1)
            rgba = Image.merge("RGBa", [lum, lum, lum, a]).convert("RGBA")
        else:
            rgba = im.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        share = float((alpha < 255).mean()) if alpha.size else 0.0
        if share > 0:
            notes.append(f"transparency composited over white ({100 * share:.1f} % of pixels not fully opaque)")
        return np.asarray(bg, dtype=np.uint8), notes
    if mode == "CMYK":
        notes.append("CMYK converted to RGB without colour management")
    return np.asarray(im.convert("RGB"), dtype=np.uint8), notes


def jpeg_trailing_bytes(data: bytes) -> int:
    """Bytes after the end-of-image marker of the first JPEG image in ``data`` (0 if none or not parseable).

    Walks the marker segments (so thumbnails inside APP segments do not count), scans the entropy-coded
    data after each SOS for the next marker, and stops at EOI.
    """
    n = len(data)
    if data[:2] != b"\xff\xd8":
        return 0
    i = 2
    while i + 2 <= n:
        if data[i] != 0xFF:
            return 0
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            return n - (i + 2)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2
            continue
        if i + 4 > n:
            return 0
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:  # entropy-coded data until a marker that is not a stuffed byte or a restart
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    return 0
                nxt = data[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                    i = j + 2
                elif nxt == 0xFF:
                    i = j + 1
                else:
                    i = j
                    break
    return 0


# Standard IJG luminance table (quality 50), used to estimate the saved quality.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)


def estimate_jpeg_quality(quantization: dict) -> int | None:
    """Estimate the IJG quality factor (1-100) of a JPEG from its luminance table.

    Finds the quality whose scaled standard table is closest to the stored one.
    Tables from non-IJG encoders (cameras, Photoshop) give only an approximation.
    """
    table = quantization.get(0)
    if table is None or len(table) != 64:
        return None
    # PIL returns tables in zig-zag order for some versions; compare sorted values to be order-agnostic.
    actual = np.sort(np.asarray(table, dtype=np.float64))
    best, best_err = None, np.inf
    for q in range(1, 101):
        scale = 5000 / q if q < 50 else 200 - 2 * q
        expected = np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)
        err = np.abs(np.sort(expected) - actual).sum()
        if err < best_err:
            best, best_err = q, err
    return best


def open_media(path: str | os.PathLike, *, hashed: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS) -> MediaAccess:
    """Read-only :class:`MediaAccess` for any file, inside a case or not (training and evaluation data).

    The kind (image / video) is identified from the content, as ``forensics analyze`` does, never from the
    extension. With ``hashed=True`` the file is hashed (SHA-256 / SHA-1 / MD5) while being classified, so
    ``media.item.hashes`` is set; otherwise only the first bytes are read. ``media.item.kind`` tells
    what was found (``image``, ``video``, ``document``, ``empty``, ``unknown`` or ``unreadable``, with
    the reason in ``media.item.messages``); decoding a non-media file raises :class:`MediaError`.
    """
    from forensics.case import EvidenceItem, hash_item, sniff

    p = os.path.abspath(os.fspath(path))
    name = os.path.basename(p)
    item = EvidenceItem(id="F0001", path=p, relpath=name, relpath_raw=name)
    if hashed:
        hash_item(item)
    else:
        try:
            fd = open_evidence(p)
            with os.fdopen(fd, "rb") as f:
                head = f.read(4096)
                item.size = os.fstat(f.fileno()).st_size
            item.kind, item.format = sniff(head, item.size)
        except OSError as exc:
            item.kind = item.format = "unreadable"
            item.messages.append(f"cannot read file: {exc.strerror or exc}")
    return MediaAccess(item, max_pixels=max_pixels)
