"""Metadata and file-structure detector plugin: EXIF / XMP / IPTC, thumbnail, JPEG tables, video containers.

It reports facts in a table (``details["facts"]``: ``{field, value, note, flag}``) and never a probability:
metadata are trivial to edit or strip, and no calibration on real data exists for them. The finding is
always *inconclusive*; rows worth an examiner's look carry ``flag: true`` and are summarised.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from forensics.api import Detector, Finding, MediaError, evidence_bytes, evidence_file, hookimpl

from . import facts as F

DATE_TOLERANCE_S = 120  # clock and rounding slack between tags written by one device


class MetadataDetector(Detector):
    name = "metadata"
    version = "1.0.0"
    media_kinds = ("image", "video")
    description = "Metadata and file-structure facts: EXIF, XMP, IPTC, thumbnail, JPEG tables, video container."
    method = ("EXIF 2.32 / XMP / IPTC-IIM reading (exifread, Pillow); embedded-thumbnail comparison (Kee & Farid, "
              "'Digital image authentication from thumbnails', SPIE 2010); JPEG quantisation-table signature against "
              "libjpeg's standard tables (Farid, 'Digital image ballistics from JPEG quantization', TR2006-583); "
              "container structure with PyAV/FFmpeg. Facts only, no probability.")

    def analyze(self, item, media) -> Finding:
        if item.kind == "video":
            return self._video(item, media)
        return self._image(item, media)

    # ------------------------------------------------------------------------------------------ images
    def _image(self, item, media) -> Finding:
        data = evidence_bytes(media)
        info = media.image_info()
        rows: list[dict] = [F.fact("File format", f"{item.format.upper()} ({info.get('format')}), "
                                   f"{info['width']}×{info['height']}, mode {info.get('mode')}")]
        exif, thumb = F.read_exif(data)
        xmp = F.read_xmp(data)
        iptc = F.read_iptc(data)
        obs: list[str] = []
        if not exif and not xmp and not iptc:
            rows.append(F.fact("EXIF / XMP / IPTC", "none", "no metadata: stripped, never written (screenshots, "
                               "many web and messaging services, most generators) — absence is not evidence either way"))
        self._camera_rows(exif, xmp, rows)
        self._software_rows(exif, xmp, iptc, rows, obs)
        self._date_rows(exif, xmp, iptc, item, rows, obs)
        if thumb is not None:
            self._thumbnail_rows(thumb, media, exif, rows, obs)
        elif exif:
            rows.append(F.fact("EXIF thumbnail", "none", "no embedded thumbnail (common after editing or re-saving)"))
        if info.get("format") == "JPEG":
            self._table_rows(info, exif, xmp, rows, obs)
        for k in ("xmpMM:DocumentID", "xmpMM:OriginalDocumentID", "xmpMM:InstanceID"):
            if xmp.get(k):
                rows.append(F.fact(f"XMP {k}", xmp[k]))
        if "xmpMM:DocumentID" in xmp and "xmpMM:OriginalDocumentID" in xmp and \
                xmp["xmpMM:DocumentID"] != xmp["xmpMM:OriginalDocumentID"]:
            rows.append(F.fact("XMP document lineage", "DocumentID differs from OriginalDocumentID",
                               "the file was derived from another document (saved as / exported)", flag=True))
            obs.append("XMP records a derivation from another document")
        if xmp.get("_error"):
            rows.append(F.fact("XMP", xmp["_error"]))
        for k, v in iptc.items():
            rows.append(F.fact(f"IPTC {k}", v))
        return self._finding(rows, obs, exif, xmp, iptc)

    def _camera_rows(self, exif: dict, xmp: dict, rows: list) -> None:
        make = exif.get("Image Make") or xmp.get("tiff:Make")
        model = exif.get("Image Model") or xmp.get("tiff:Model")
        if make or model:
            rows.append(F.fact("Camera (EXIF Make / Model)", f"{make or '?'} / {model or '?'}"))
        for key, label in (("EXIF LensModel", "Lens"), ("EXIF ExposureTime", "Exposure time"), ("EXIF FNumber", "F-number"),
                           ("EXIF ISOSpeedRatings", "ISO"), ("Image Orientation", "Orientation"),
                           ("EXIF ExifImageWidth", "EXIF image width"), ("EXIF ExifImageLength", "EXIF image height")):
            if exif.get(key):
                rows.append(F.fact(label, exif[key]))

    def _software_rows(self, exif: dict, xmp: dict, iptc: dict, rows: list, obs: list) -> None:
        sources = [("EXIF Software", exif.get("Image Software")), ("EXIF ProcessingSoftware", exif.get("Image ProcessingSoftware")),
                   ("XMP CreatorTool", xmp.get("xmp:CreatorTool")), ("XMP tiff:Software", xmp.get("tiff:Software")),
                   ("IPTC OriginatingProgram", iptc.get("OriginatingProgram"))]
        for field, value in sources:
            if not value:
                continue
            ed = F.editor_in(value)
            rows.append(F.fact(field, value, f"names an editing / re-encoding program ({ed}): the file was written by "
                               "it; that alone does not show what, if anything, was changed" if ed else
                               "software that wrote the file (camera firmware or an application)", flag=bool(ed)))
            if ed:
                obs.append(f"{field} names an editor or re-encoder ({value})")
        hist = xmp.get("xmpMM:History") or []
        for ev in hist[:20]:
            agent = ev.get("softwareAgent", "")
            ed = F.editor_in(agent)
            rows.append(F.fact("XMP history event", ", ".join(f"{k}={v}" for k, v in ev.items()),
                               "edit history written by the editing program" if ed else "", flag=bool(ed)))
        if any(F.editor_in(ev.get("softwareAgent")) for ev in hist):
            obs.append("XMP edit history lists an editor")

    def _date_rows(self, exif: dict, xmp: dict, iptc: dict, item, rows: list, obs: list) -> None:
        off = exif.get("EXIF OffsetTimeOriginal") or exif.get("EXIF OffsetTime")
        dates = {
            "EXIF DateTimeOriginal": F.parse_exif_datetime(exif.get("EXIF DateTimeOriginal"), off),
            "EXIF DateTimeDigitized": F.parse_exif_datetime(exif.get("EXIF DateTimeDigitized"), off),
            "EXIF DateTime (modify date)": F.parse_exif_datetime(exif.get("Image DateTime"),
                                                                  exif.get("EXIF OffsetTime") or off),
            "XMP CreateDate": F.parse_exif_datetime(xmp.get("xmp:CreateDate")),
            "XMP ModifyDate": F.parse_exif_datetime(xmp.get("xmp:ModifyDate")),
            "XMP MetadataDate": F.parse_exif_datetime(xmp.get("xmp:MetadataDate")),
            "GPS date/time (UTC)": F.gps_datetime(exif),
        }
        if iptc.get("DateCreated"):
            d = iptc["DateCreated"]
            dates["IPTC DateCreated"] = F.parse_exif_datetime(f"{d[:4]}:{d[4:6]}:{d[6:8]} 00:00:00") if len(d) >= 8 else None
        for k, v in dates.items():
            if v is not None:
                rows.append(F.fact(k, v.isoformat(sep=" ")))
        orig = dates["EXIF DateTimeOriginal"] or dates["XMP CreateDate"]
        checks = [("EXIF DateTime (modify date)", "modify date"), ("XMP ModifyDate", "XMP modify date")]
        if orig is not None:
            for key, label in checks:
                mod = dates[key]
                if mod is None:
                    continue
                d = F._delta(mod, orig)
                if d is None:
                    continue
                if d > DATE_TOLERANCE_S:
                    rows.append(F.fact(f"Date check: {label} vs capture", f"{F._fmt_delta(d)} after capture",
                                       "the file was written again after it was taken (editing, export or re-save)",
                                       flag=True))
                    obs.append(f"{label} is {F._fmt_delta(d)} after the capture time")
                elif d < -DATE_TOLERANCE_S:
                    rows.append(F.fact(f"Date check: {label} vs capture", f"{F._fmt_delta(d)} BEFORE capture",
                                       "impossible for an untouched file: a clock was wrong or a date was edited",
                                       flag=True))
                    obs.append(f"{label} is {F._fmt_delta(d)} before the capture time")
                else:
                    rows.append(F.fact(f"Date check: {label} vs capture", "consistent (within 2 min)"))
            dig = dates["EXIF DateTimeDigitized"]
            if dig is not None and abs(F._delta(dig, orig) or 0) > DATE_TOLERANCE_S:
                rows.append(F.fact("Date check: digitized vs original", F._fmt_delta(F._delta(dig, orig)) + " apart",
                                   "cameras write the same time to both; scans and edits differ", flag=True))
                obs.append("DateTimeDigitized differs from DateTimeOriginal")
            gps = dates["GPS date/time (UTC)"]
            if gps is not None:
                d = F._delta(gps, orig)
                if orig.tzinfo is None:  # local time of unknown zone: UTC offsets span −12 h … +14 h
                    bad = d is not None and (d > 12 * 3600 + 900 or d < -14 * 3600 - 900)
                    note = "capture time has no time zone; up to 14 h difference is explained by the zone"
                else:
                    bad = d is not None and abs(d) > 900
                    note = "GPS time is UTC; both are zone-aware"
                rows.append(F.fact("Date check: GPS vs capture", f"{F._fmt_delta(d)} apart" if d is not None else "n/a",
                                   ("inconsistent: no time zone explains it" if bad else note), flag=bad))
                if bad:
                    obs.append("GPS time and capture time disagree beyond any time zone")
        fm = F.parse_exif_datetime(item.mtime_utc) if item.mtime_utc else None
        if fm is not None:
            fm = fm if fm.tzinfo else fm.replace(tzinfo=dt.timezone.utc)
            rows.append(F.fact("File modification time (file system, UTC)", fm.isoformat(sep=" "),
                               "from the copy handed over; copying can change it"))
            if orig is not None:
                d = F._delta(fm, orig)
                tol = 14 * 3600 + 900 if orig.tzinfo is None else 900
                if d is not None and d < -tol:
                    rows.append(F.fact("Date check: file time vs capture", f"file time {F._fmt_delta(d)} before capture",
                                       "a file cannot be written before it was taken: a clock or a date tag is wrong",
                                       flag=True))
                    obs.append("the file-system time is earlier than the capture time")

    def _thumbnail_rows(self, thumb: bytes, media, exif: dict, rows: list, obs: list) -> None:
        try:
            rgb = media.image_rgb()
        except MediaError:
            return
        cmp = F.compare_thumbnail(thumb, rgb, exif.get("Image Orientation"))
        if "error" in cmp:
            rows.append(F.fact("EXIF thumbnail", cmp["error"], flag=True))
            return
        rows.append(F.fact("EXIF thumbnail", f"{cmp['size'][0]}×{cmp['size'][1]} JPEG, aspect {cmp['aspect_thumb']} "
                           f"(image {cmp['aspect_image']}), content correlation {cmp['correlation']}"))
        if not cmp["aspect_match"]:
            rows.append(F.fact("Thumbnail check: aspect ratio", "differs from the image",
                               "the image was cropped or resized after the thumbnail was written, and the thumbnail "
                               "was not updated (Kee & Farid 2010)", flag=True))
            obs.append("the EXIF thumbnail's aspect ratio differs from the image's")
        if not cmp["content_match"]:
            rows.append(F.fact("Thumbnail check: content", f"correlation {cmp['correlation']} (< 0.8)",
                               "the thumbnail shows different content from the image: the image was changed after "
                               "the thumbnail was written", flag=True))
            obs.append(f"the EXIF thumbnail's content does not match the image (correlation {cmp['correlation']})")
        if cmp["aspect_match"] and cmp["content_match"]:
            rows.append(F.fact("Thumbnail check", "consistent with the image"))

    def _table_rows(self, info: dict, exif: dict, xmp: dict, rows: list, obs: list) -> None:
        sig = F.table_signature(info.get("jpeg_quantization"))
        sub = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(info.get("jpeg_subsampling"), "other")
        if sig["standard"]:
            camera = exif.get("Image Make") or xmp.get("tiff:Make")
            note = ("libjpeg's standard tables scaled to this quality: written by a standard encoder (libjpeg and "
                    "what is built on it: Pillow, GIMP, ImageMagick, browsers, many phones and web services)")
            flag = False
            if camera:
                note += (f"; the EXIF names a camera ({camera}), whose firmware usually writes its own tables: "
                         "consistent with a re-save by software after capture")
                flag = True
                obs.append(f"standard libjpeg tables (quality {sig['quality']}) although the EXIF names a camera")
            rows.append(F.fact("JPEG quantisation tables", f"standard, quality {sig['quality']} ({sig['tables']} tables, "
                               f"chroma {sub})", note, flag=flag))
        elif sig["standard"] is False:
            rows.append(F.fact("JPEG quantisation tables", f"non-standard ({sig['tables']} tables, chroma {sub}), "
                               f"nearest standard quality ≈ {info.get('jpeg_quality_estimate')}",
                               "custom tables: typical of camera firmware and of some editors (e.g. Photoshop); "
                               "compare with reference files of the claimed camera"))

    # ------------------------------------------------------------------------------------------ videos
    def _video(self, item, media) -> Finding:
        try:
            with evidence_file(media) as f:
                c = F.container_facts(f)
        except Exception as exc:  # noqa: BLE001 - PyAV raises many FFmpeg error types
            raise MediaError(f"the container could not be read: {exc}") from exc
        rows = [F.fact("Container", f"{c['format_long']} ({c['format']})"),
                F.fact("Duration", f"{c['duration_s']} s" if c["duration_s"] is not None else "unknown"),
                F.fact("Bit rate", f"{c['bit_rate']} bit/s" if c["bit_rate"] else "unknown")]
        obs: list[str] = []
        for k, v in c["tags"].items():
            ed = F.editor_in(v) if k.lower() in ("encoder", "software", "encoded_by", "handler_name", "comment") else None
            rows.append(F.fact(f"Container tag {k}", v, (f"names an editing / re-encoding program ({ed}): the file "
                               "was (re)written by it" if ed else ""), flag=bool(ed)))
            if ed:
                obs.append(f"container tag {k} names {v}")
        ctime = F.parse_exif_datetime(c["tags"].get("creation_time"))
        for s in c["streams"]:
            desc = f"#{s['index']} {s['type']} {s['codec']}"
            if s["type"] == "video":
                desc += f", {s.get('width')}×{s.get('height')}, {s.get('fps')} fps, {s.get('pix_fmt')}"
            elif s["type"] == "audio":
                desc += f", {s.get('sample_rate')} Hz, {s.get('channels')} ch"
            if s.get("profile"):
                desc += f", profile {s['profile']}"
            rows.append(F.fact(f"Stream {s['index']}", desc))
            for k, v in s["tags"].items():
                ed = F.editor_in(v) if k.lower() in ("encoder", "handler_name", "vendor_id") else None
                rows.append(F.fact(f"Stream {s['index']} tag {k}", v,
                                   f"names an editing / re-encoding program ({ed})" if ed else "", flag=bool(ed)))
                if ed:
                    obs.append(f"stream {s['index']} tag {k} names {v}")
            st = F.parse_exif_datetime(s["tags"].get("creation_time"))
            if ctime is not None and st is not None and abs(F._delta(st, ctime) or 0) > DATE_TOLERANCE_S:
                rows.append(F.fact(f"Date check: stream {s['index']} vs container creation time",
                                   f"{F._fmt_delta(F._delta(st, ctime))} apart",
                                   "streams written at different times than the container: remuxed or edited",
                                   flag=True))
                obs.append(f"stream {s['index']} creation time differs from the container's")
        if not c["tags"].get("creation_time"):
            rows.append(F.fact("Container creation time", "none",
                               "no creation time (stripped, or written by a tool that does not set one)"))
        return self._finding(rows, obs, {}, {}, {}, container=c)

    # ------------------------------------------------------------------------------------------ finding
    def _finding(self, rows: list, obs: list, exif: dict, xmp: dict, iptc: dict, container: dict | None = None) -> Finding:
        details: dict[str, Any] = {"facts": rows, "observations": obs}
        if exif:
            details["exif"] = dict(sorted(exif.items()))
        if xmp:
            details["xmp"] = xmp
        if iptc:
            details["iptc"] = iptc
        if container is not None:
            details["container"] = container
        n = sum(r["flag"] for r in rows)
        summary = (f"{len(rows)} metadata facts; {n} worth an examiner's look: " + "; ".join(obs) + "."
                   if obs else f"{len(rows)} metadata facts; none stands out.")
        return self.inconclusive("metadata are facts, not a probability: they can be edited or stripped, and no "
                                 "calibration on real data exists for them (see the facts table)",
                                 summary=summary, details=details)


@hookimpl
def forensics_register_detectors():
    return [MetadataDetector()]
