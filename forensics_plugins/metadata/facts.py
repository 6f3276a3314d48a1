"""Metadata and file-structure facts as plain functions: EXIF, XMP, IPTC, thumbnails, JPEG tables, containers.

Everything here reports *facts* with a note on what each can and cannot mean. Metadata are easy to edit or
strip, so none of it is proof: an editor tag shows that a program wrote the file, not that content changed;
absent metadata are not evidence either way.

* EXIF and the embedded thumbnail: ``exifread`` (pure Python, no exiftool binary);
* XMP: the ``x:xmpmeta`` packet parsed as XML (size-limited, no entity expansion);
* IPTC-IIM: Pillow's ``IptcImagePlugin``;
* quantisation tables: compared with libjpeg's scaled standard tables (ITU-T T.81 Annex K);
* video containers: PyAV (FFmpeg) streams, codecs and tags.

Example
-------
>>> parse_exif_datetime("2024:05:01 12:30:00").isoformat()
'2024-05-01T12:30:00'
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import numpy as np

from forensics.api import STD_CHROMA_QT, STD_LUMA_QT, scaled_quant_table

# Programs whose name in a Software / CreatorTool / history tag shows the file was written by an editor.
EDITORS = (
    "photoshop", "lightroom", "gimp", "affinity", "paint.net", "pixelmator", "snapseed", "picsart", "canva",
    "imagemagick", "graphicsmagick", "krita", "luminar", "facetune", "meitu", "faceapp", "capture one", "darktable",
    "rawtherapee", "photopea", "paintshop", "corel", "fotor", "befunky", "polarr", "vsco", "airbrush", "remini",
    "picasa", "acdsee", "irfanview", "xnview", "photoscape", "adobe firefly", "dall-e", "midjourney",
    "stable diffusion", "pillow", "python", "ffmpeg", "lavf", "lavc", "handbrake", "premiere", "final cut", "davinci",
    "imovie", "capcut", "inshot", "kinemaster", "after effects",
)
STD_LUMA, STD_CHROMA = STD_LUMA_QT, STD_CHROMA_QT  # libjpeg's standard tables (forensics.api)
MAX_XMP = 2 << 20


def fact(field: str, value: Any, note: str = "", flag: bool = False) -> dict:
    """One row of the facts table: ``{field, value, note, flag}`` (``flag``: worth an examiner's look)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    if len(text) > 300:
        text = text[:300] + "…"
    return {"field": field, "value": text, "note": note, "flag": bool(flag)}


def editor_in(text: str | None) -> str | None:
    """The editor named in ``text`` (case-insensitive), or ``None``."""
    t = (text or "").lower()
    for e in EDITORS:
        if e in t:
            return e
    return None


# ------------------------------------------------------------------------------------------ dates
def parse_exif_datetime(value: str | None, offset: str | None = None) -> dt.datetime | None:
    """``YYYY:MM:DD HH:MM:SS`` (EXIF) or ISO 8601 (XMP) → datetime (aware when an offset is known)."""
    if not value:
        return None
    s = str(value).strip().replace("\x00", "")
    m = re.match(r"^(\d{4})[:\-](\d{2})[:\-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?\s*(Z|[+\-]\d{2}:?\d{2})?",
                 s)
    if not m:
        return None
    y, mo, d, hh, mm, ss, tz = m.groups()
    try:
        t = dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return None
    tz = tz or offset
    if tz:
        tz = tz.strip()
        if tz == "Z":
            return t.replace(tzinfo=dt.timezone.utc)
        mt = re.match(r"^([+\-])(\d{2}):?(\d{2})$", tz)
        if mt:
            sign = 1 if mt.group(1) == "+" else -1
            return t.replace(tzinfo=dt.timezone(sign * dt.timedelta(hours=int(mt.group(2)), minutes=int(mt.group(3)))))
    return t


def _delta(a: dt.datetime, b: dt.datetime) -> float | None:
    """``a − b`` in seconds; naive/aware pairs compared as local clock times."""
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return (a - b).total_seconds()


def _fmt_delta(s: float) -> str:
    s = abs(s)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


# ------------------------------------------------------------------------------------------ EXIF
def read_exif(data: bytes) -> tuple[dict[str, str], bytes | None]:
    """EXIF tags as ``{"Group Name": text}`` and the embedded JPEG thumbnail bytes (or ``None``)."""
    import logging

    import exifread

    logging.getLogger("exifread").setLevel(logging.ERROR)
    try:
        tags = exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=True)
    except Exception:  # noqa: BLE001 - exifread raises many types on damaged files
        return {}, None
    thumb = tags.pop("JPEGThumbnail", None)
    tags.pop("TIFFThumbnail", None)
    out = {}
    for k, v in tags.items():
        try:
            out[str(k)] = str(v.printable if hasattr(v, "printable") else v).strip()
        except Exception:  # noqa: BLE001
            continue
    return out, thumb if isinstance(thumb, (bytes, bytearray)) and len(thumb) > 100 else None


def gps_datetime(exif: dict[str, str]) -> dt.datetime | None:
    """GPSDateStamp + GPSTimeStamp (always UTC by the EXIF standard)."""
    d, t = exif.get("GPS GPSDate"), exif.get("GPS GPSTimeStamp")
    if not d or not t:
        return None
    nums = re.findall(r"(\d+)(?:/(\d+))?", t)
    try:
        vals = [int(a) / (int(b) if b else 1) for a, b in nums[:3]]
        base = parse_exif_datetime(d.strip() + " 00:00:00", "Z")
        if base is None or len(vals) < 3:
            return None
        return base + dt.timedelta(hours=vals[0], minutes=vals[1], seconds=vals[2])
    except (ValueError, ZeroDivisionError):
        return None


# ------------------------------------------------------------------------------------------ XMP
_XMP_NS = {
    "xmp": "http://ns.adobe.com/xap/1.0/", "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#", "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/", "tiff": "http://ns.adobe.com/tiff/1.0/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "dc": "http://purl.org/dc/elements/1.1/",
}


def read_xmp(data: bytes) -> dict[str, Any]:
    """Selected XMP properties (creator tool, dates, document ids, edit history) from the first XMP packet."""
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return {}
    end = data.find(b"</x:xmpmeta>", start)
    if end < 0 or end - start > MAX_XMP:
        return {"_error": "XMP packet truncated or larger than 2 MB"}
    packet = data[start:end + len(b"</x:xmpmeta>")]
    if b"<!ENTITY" in packet or b"<!DOCTYPE" in packet:
        return {"_error": "XMP packet declares entities; not parsed"}
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(packet)
    except ET.ParseError as exc:
        return {"_error": f"XMP packet is not well-formed XML: {exc}"}
    out: dict[str, Any] = {}
    wanted = ("xmp:CreatorTool", "xmp:CreateDate", "xmp:ModifyDate", "xmp:MetadataDate", "photoshop:DateCreated",
              "exif:DateTimeOriginal", "xmpMM:DocumentID", "xmpMM:OriginalDocumentID", "xmpMM:InstanceID",
              "tiff:Make", "tiff:Model", "tiff:Software", "photoshop:History")
    for desc in root.iter(f"{{{_XMP_NS['rdf']}}}Description"):
        for key in wanted:
            pfx, name = key.split(":")
            uri = f"{{{_XMP_NS[pfx]}}}{name}"
            if uri in desc.attrib and key not in out:
                out[key] = desc.attrib[uri]
            el = desc.find(uri)
            if el is not None and key not in out and (el.text or "").strip():
                out[key] = el.text.strip()
    history = []
    for li in root.iter(f"{{{_XMP_NS['rdf']}}}li"):
        ev = {}
        for attr in ("action", "softwareAgent", "when", "changed"):
            uri = f"{{{_XMP_NS['stEvt']}}}{attr}"
            v = li.attrib.get(uri)
            if v is None:
                el = li.find(uri)
                v = el.text if el is not None else None
            if v:
                ev[attr] = v.strip()
        if ev:
            history.append(ev)
    if history:
        out["xmpMM:History"] = history[:50]
    return out


# ------------------------------------------------------------------------------------------ IPTC
IPTC_FIELDS = {(2, 5): "ObjectName", (2, 55): "DateCreated", (2, 60): "TimeCreated", (2, 65): "OriginatingProgram",
               (2, 70): "ProgramVersion", (2, 80): "By-line", (2, 110): "Credit", (2, 115): "Source",
               (2, 116): "CopyrightNotice", (2, 120): "Caption-Abstract"}


def read_iptc(data: bytes) -> dict[str, str]:
    """Selected IPTC-IIM datasets (Pillow's reader; JPEG APP13 and TIFF)."""
    from PIL import Image, IptcImagePlugin

    try:
        with Image.open(io.BytesIO(data)) as im:
            info = IptcImagePlugin.getiptcinfo(im) or {}
    except Exception:  # noqa: BLE001 - damaged APP13 segments raise various errors
        return {}
    out = {}
    for key, name in IPTC_FIELDS.items():
        v = info.get(key)
        if v is None:
            continue
        if isinstance(v, list):
            v = b"; ".join(x for x in v if isinstance(x, bytes))
        out[name] = v.decode("utf-8", "replace").strip() if isinstance(v, bytes) else str(v)
    return out


# ------------------------------------------------------------------------------------------ thumbnail
def _trim_bars(g: np.ndarray, level: float = 12.0) -> np.ndarray:
    rows = np.flatnonzero(g.mean(axis=1) > level)
    cols = np.flatnonzero(g.mean(axis=0) > level)
    if len(rows) < g.shape[0] * 0.5 or len(cols) < g.shape[1] * 0.5:
        return g
    return g[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def compare_thumbnail(thumb_bytes: bytes, rgb: np.ndarray, orientation: str | None = None) -> dict[str, Any]:
    """Compare the EXIF thumbnail with the image: aspect ratio and content (correlation of 32×32 grey images).

    Letterbox bars in the thumbnail are trimmed first. ``orientation`` (the EXIF Orientation text) tells
    whether the main image is stored rotated by 90°. Returns ``{size, aspect_thumb, aspect_image,
    aspect_match, correlation, content_match}`` or ``{error}``.
    """
    import cv2
    from PIL import Image

    try:
        with Image.open(io.BytesIO(thumb_bytes)) as im:
            t = np.asarray(im.convert("L"), dtype=np.float32)
    except Exception as exc:  # noqa: BLE001
        return {"error": f"the embedded thumbnail does not decode: {exc}"}
    size = [int(t.shape[1]), int(t.shape[0])]
    t = _trim_bars(t)
    g = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    at, ai = t.shape[1] / t.shape[0], g.shape[1] / g.shape[0]
    same = abs(np.log(at / ai)) < 0.06
    rotated = abs(np.log(at * ai)) < 0.06 and not same  # thumbnail stored in the other orientation

    def norm(a):
        a = cv2.resize(a, (32, 32), interpolation=cv2.INTER_AREA)
        a = a - a.mean()
        return a / (np.linalg.norm(a) + 1e-6)

    cands = [t] if not rotated else [np.rot90(t, 1), np.rot90(t, 3)]
    corr = max(float((norm(np.ascontiguousarray(c)) * norm(g)).sum()) for c in cands)
    return {"size": size, "aspect_thumb": round(at, 3), "aspect_image": round(ai, 3),
            "aspect_match": bool(same or rotated), "rotated": bool(rotated), "orientation": orientation,
            "correlation": round(corr, 3), "content_match": corr >= 0.8}


# ------------------------------------------------------------------------------------------ quantisation tables
scaled_table = scaled_quant_table  # libjpeg's jpeg_quality_scaling (forensics.api)


def table_signature(quantization: dict | None) -> dict[str, Any]:
    """Whether the JPEG's tables are libjpeg's standard tables scaled to some quality (and which).

    ``quantization`` is Pillow's ``{table_id: 64 values}`` (natural order). Returns ``{standard, quality,
    tables}``: ``standard`` is True when every table equals the scaled standard luminance / chrominance table
    of one quality (the tables written by libjpeg and everything built on it: Pillow, GIMP, ImageMagick,
    many phone and web encoders); False for custom tables (most camera firmware, Photoshop, some phones).
    """
    if not quantization:
        return {"standard": None, "quality": None, "tables": 0}
    tabs = [np.asarray(quantization[k]).reshape(-1) for k in sorted(quantization)]
    for q in range(1, 101):
        expect = [scaled_table(q, STD_LUMA), scaled_table(q, STD_CHROMA)]
        if all(np.array_equal(t, expect[min(i, 1)]) for i, t in enumerate(tabs)):
            return {"standard": True, "quality": q, "tables": len(tabs)}
    return {"standard": False, "quality": None, "tables": len(tabs)}


# ------------------------------------------------------------------------------------------ video containers
def container_facts(fileobj) -> dict[str, Any]:
    """Container structure of a video with PyAV: format, duration, tags, and per stream codec, size, rate, tags."""
    import av

    with av.open(fileobj, mode="r", metadata_errors="ignore") as c:
        out: dict[str, Any] = {
            "format": c.format.name, "format_long": c.format.long_name,
            "duration_s": None if c.duration is None else round(c.duration / 1_000_000, 3),
            "bit_rate": c.bit_rate or None, "tags": {str(k): str(v) for k, v in sorted((c.metadata or {}).items())},
            "streams": [],
        }
        for s in c.streams:
            cc = s.codec_context
            e: dict[str, Any] = {"index": s.index, "type": s.type, "codec": getattr(cc, "name", None),
                                 "profile": getattr(cc, "profile", None),
                                 "tags": {str(k): str(v) for k, v in sorted((s.metadata or {}).items())}}
            if s.type == "video":
                e.update(width=cc.width, height=cc.height, pix_fmt=getattr(cc, "pix_fmt", None),
                         fps=round(float(s.average_rate), 3) if s.average_rate else None, frames=s.frames or None)
            elif s.type == "audio":
                e.update(sample_rate=getattr(cc, "sample_rate", None),
                         channels=getattr(cc, "channels", None) or getattr(getattr(cc, "layout", None), "nb_channels",
                                                                          None))
            if s.duration is not None and s.time_base is not None:
                e["duration_s"] = round(float(s.duration * s.time_base), 3)
            out["streams"].append(e)
    return out
