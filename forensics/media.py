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

from forensics.case import EvidenceItem, open_evidence

DEFAULT_MAX_PIXELS = 100_000_000  # decompression-bomb guard: 100 megapixels
DEFAULT_MAX_IMAGE_BYTES = 512 << 20


class MediaError(Exception):
    """The evidence could not be decoded; the message is shown in the report."""


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
        fd = open_evidence(self.item.path)
        with os.fdopen(fd, "rb") as f:
            return f.read(self.max_image_bytes + 1)

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
            return info

        return self.shared("image_info", compute)

    def image_rgb(self) -> np.ndarray:
        """The image as an ``HxWx3`` uint8 RGB array (first frame of multi-frame files)."""
        def compute() -> np.ndarray:
            from PIL import Image

            im = self._open_pil()
            try:
                with _pil_pixel_limit(None):
                    im.load()
                    if im.mode != "RGB":
                        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                            bg = Image.new("RGB", im.size, (255, 255, 255))
                            bg.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
                            im = bg
                        else:
                            im = im.convert("RGB")
            except (OSError, ValueError, SyntaxError) as exc:
                raise MediaError(f"image is corrupt or truncated: {exc}") from exc
            arr = np.asarray(im, dtype=np.uint8)
            arr.setflags(write=False)
            return arr

        return self.shared("image_rgb", compute)

    # ------------------------------------------------------------------ video
    def _open_container(self):
        import av

        fd = open_evidence(self.item.path)
        f = os.fdopen(fd, "rb")
        try:
            container = av.open(f, mode="r", metadata_errors="ignore")
        except Exception as exc:  # noqa: BLE001 - PyAV raises many FFmpeg error types
            f.close()
            raise MediaError(f"not a decodable video: {exc}") from exc
        if not container.streams.video:
            container.close()
            f.close()
            raise MediaError("the file has no video stream")
        return container, f

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
                container.close()
                f.close()

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
            container.close()
            f.close()
        if produced == 0:
            raise MediaError("video contains no decodable frames")


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
                head = f.read(64)
                item.size = os.fstat(f.fileno()).st_size
            item.kind, item.format = sniff(head)
        except OSError as exc:
            item.kind = item.format = "unreadable"
            item.messages.append(f"cannot read file: {exc.strerror or exc}")
    return MediaAccess(item, max_pixels=max_pixels)
