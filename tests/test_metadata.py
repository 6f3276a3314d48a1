"""Metadata and content-credential facts on generated files: EXIF written here, Pillow JPEGs, a PyAV clip."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from conftest import item_by_path, png_bytes

from forensics.api import open_media
from forensics.engine import analyze_case
from forensics_plugins.c2pa import C2PADetector
from forensics_plugins.metadata import MetadataDetector
from forensics_plugins.metadata import facts as F


def _ifd(entries: list[tuple[int, int, bytes | int]], start: int, next_ifd: int = 0) -> tuple[bytes, bytes]:
    """A little-endian TIFF IFD at offset ``start`` (entries: tag, type, value) and its out-of-line data."""
    n = len(entries)
    data_off = start + 2 + 12 * n + 4
    head, tail = struct.pack("<H", n), b""
    for tag, typ, val in sorted(entries):
        if typ == 2:  # ASCII
            raw = val + b"\x00"
            if len(raw) <= 4:
                head += struct.pack("<HHI", tag, typ, len(raw)) + raw.ljust(4, b"\x00")
            else:
                head += struct.pack("<HHII", tag, typ, len(raw), data_off + len(tail))
                tail += raw + (b"\x00" if len(raw) % 2 else b"")
        elif typ == 3:  # SHORT
            head += struct.pack("<HHIHH", tag, typ, 1, val, 0)
        else:  # LONG
            head += struct.pack("<HHII", tag, typ, 1, val)
    return head + struct.pack("<I", next_ifd), tail


def exif_blob(make=b"Canon", model=b"EOS 5D", software=b"", modify=b"2024:05:01 12:00:00",
              original=b"2024:05:01 12:00:00", thumbnail: bytes | None = None) -> bytes:
    """``Exif\\0\\0`` + a TIFF structure with IFD0, an Exif IFD and (optionally) IFD1 with a JPEG thumbnail."""
    ifd0 = [(0x010F, 2, make), (0x0110, 2, model), (0x0132, 2, modify)]
    if software:
        ifd0.append((0x0131, 2, software))
    # lay out: header(8) | IFD0 | IFD0 data | ExifIFD | ExifIFD data | IFD1 | thumbnail
    probe, probe_tail = _ifd(ifd0 + [(0x8769, 4, 0)], 8)
    exif_off = 8 + len(probe) + len(probe_tail)
    exif_ifd, exif_tail = _ifd([(0x9003, 2, original), (0x9004, 2, original)], exif_off)
    ifd1_off = exif_off + len(exif_ifd) + len(exif_tail)
    body0, tail0 = _ifd(ifd0 + [(0x8769, 4, exif_off)], 8, next_ifd=ifd1_off if thumbnail else 0)
    out = b"II*\x00" + struct.pack("<I", 8) + body0 + tail0 + exif_ifd + exif_tail
    if thumbnail:
        thumb_off = ifd1_off + 2 + 12 * 3 + 4
        ifd1, _ = _ifd([(0x0103, 3, 6), (0x0201, 4, thumb_off), (0x0202, 4, len(thumbnail))], ifd1_off)
        out += ifd1 + thumbnail
    return b"Exif\x00\x00" + out


def jpeg_with(rgb: np.ndarray, exif: bytes | None = None, quality: int = 85, **kw) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, **({"exif": exif} if exif else {}), **kw)
    return buf.getvalue()


def thumb_of(rgb: np.ndarray, size=(160, 160)) -> bytes:
    from PIL import Image

    im = Image.fromarray(rgb)
    im.thumbnail(size)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def run(detector, tmp_path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    media = open_media(p)
    return detector.analyze(media.item, media)


def rows(finding, flagged: bool | None = None) -> dict[str, dict]:
    return {r["field"]: r for r in finding.details["facts"] if flagged is None or r["flag"] == flagged}


def test_editor_software_tag_is_flagged_and_no_probability(photo, tmp_path):
    f = run(MetadataDetector(), tmp_path, "ps.jpg", jpeg_with(photo, exif_blob(software=b"Adobe Photoshop 25.0 (Windows)")))
    assert f.status.value == "inconclusive" and f.probability is None
    r = rows(f)["EXIF Software"]
    assert r["flag"] and "photoshop" in r["note"] and "Photoshop 25.0" in r["value"]
    assert rows(f)["Camera (EXIF Make / Model)"]["value"] == "Canon / EOS 5D"
    # camera firmware software string is a fact, not a flag
    g = run(MetadataDetector(), tmp_path, "cam.jpg", jpeg_with(photo, exif_blob(software=b"Firmware Version 1.1.1")))
    assert not rows(g)["EXIF Software"]["flag"]


def test_date_inconsistencies(photo, tmp_path):
    later = run(MetadataDetector(), tmp_path, "later.jpg",
                jpeg_with(photo, exif_blob(modify=b"2024:05:04 09:00:00", original=b"2024:05:01 12:00:00")))
    r = rows(later)["Date check: modify date vs capture"]
    assert r["flag"] and "after capture" in r["value"] and "2.9 days" in r["value"]
    before = run(MetadataDetector(), tmp_path, "before.jpg",
                 jpeg_with(photo, exif_blob(modify=b"2024:04:30 12:00:00", original=b"2024:05:01 12:00:00")))
    assert "BEFORE" in rows(before)["Date check: modify date vs capture"]["value"]
    same = run(MetadataDetector(), tmp_path, "same.jpg", jpeg_with(photo, exif_blob()))
    assert not rows(same)["Date check: modify date vs capture"]["flag"]


def test_thumbnail_mismatch_is_found(photo, tmp_path):
    import skimage.data

    other = skimage.data.coffee()[:400, :400:]
    ok = run(MetadataDetector(), tmp_path, "ok.jpg", jpeg_with(photo, exif_blob(thumbnail=thumb_of(photo))))
    assert rows(ok)["Thumbnail check"]["value"] == "consistent with the image"
    bad = run(MetadataDetector(), tmp_path, "bad.jpg", jpeg_with(photo, exif_blob(thumbnail=thumb_of(other))))
    assert rows(bad)["Thumbnail check: content"]["flag"]
    assert any("thumbnail" in o for o in bad.details["observations"])
    wide = run(MetadataDetector(), tmp_path, "crop.jpg",
               jpeg_with(photo, exif_blob(thumbnail=thumb_of(skimage.data.chelsea()))))  # 451×300 thumbnail, square image
    assert rows(wide)["Thumbnail check: aspect ratio"]["flag"]


def test_quantisation_table_signature(photo, tmp_path):
    f = run(MetadataDetector(), tmp_path, "std.jpg", jpeg_with(photo, None, quality=77))
    r = rows(f)["JPEG quantisation tables"]
    assert r["value"].startswith("standard, quality 77") and not r["flag"]
    # standard encoder tables in a file that claims to come from a camera
    g = run(MetadataDetector(), tmp_path, "cam.jpg", jpeg_with(photo, exif_blob(), quality=90))
    assert rows(g)["JPEG quantisation tables"]["flag"]
    custom = [list(range(1, 65)), [min(255, 2 * i + 3) for i in range(64)]]
    h = run(MetadataDetector(), tmp_path, "custom.jpg", jpeg_with(photo, None, qtables=custom))
    assert rows(h)["JPEG quantisation tables"]["value"].startswith("non-standard")
    assert F.table_signature({0: F.scaled_table(50, F.STD_LUMA), 1: F.scaled_table(50, F.STD_CHROMA)})["quality"] == 50


def test_xmp_history_and_creator_tool(photo, tmp_path):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
           b'xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" xmp:CreatorTool="GIMP 2.10" '
           b'xmpMM:DocumentID="doc:2" xmpMM:OriginalDocumentID="doc:1"><xmpMM:History><rdf:Seq>'
           b'<rdf:li stEvt:action="saved" stEvt:softwareAgent="Gimp 2.10 (Linux)" stEvt:when="2024-05-02T10:00:00+02:00"/>'
           b'</rdf:Seq></xmpMM:History></rdf:Description></rdf:RDF></x:xmpmeta>')
    f = run(MetadataDetector(), tmp_path, "x.jpg", jpeg_with(photo, None, xmp=xmp))
    r = rows(f)
    assert r["XMP CreatorTool"]["flag"] and r["XMP history event"]["flag"]
    assert r["XMP document lineage"]["flag"]
    assert F.read_xmp(b'<x:xmpmeta><!DOCTYPE a [<!ENTITY e "x">]></x:xmpmeta>')["_error"].startswith("XMP packet declares")


def test_png_without_metadata_is_neutral(photo, tmp_path):
    f = run(MetadataDetector(), tmp_path, "p.png", png_bytes(photo))
    assert f.status.value == "inconclusive" and f.probability is None
    assert rows(f)["EXIF / XMP / IPTC"]["value"] == "none"
    assert "not evidence" in rows(f)["EXIF / XMP / IPTC"]["note"]


def _clip(path, encoder_tag: str | None = None):
    import av

    with av.open(str(path), "w", format="mp4") as c:
        if encoder_tag:
            c.metadata["comment"] = encoder_tag
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            img = np.full((48, 64, 3), i * 20, dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_video_container_facts(tmp_path):
    p = tmp_path / "clip.mp4"
    _clip(p, "edited with CapCut")
    media = open_media(p)
    f = MetadataDetector().analyze(media.item, media)
    r = rows(f)
    assert f.status.value == "inconclusive" and f.probability is None
    assert "MP4" in r["Container"]["value"] or "mp4" in r["Container"]["value"]
    assert "video mpeg4, 64×48, 10.0 fps" in r["Stream 0"]["value"]
    assert r["Container tag encoder"]["value"].startswith("Lavf") and r["Container tag encoder"]["flag"]
    assert r["Container tag comment"]["flag"]
    assert f.details["container"]["streams"][0]["codec"] == "mpeg4"


def test_c2pa_absent_is_neutral(photo, tmp_path):
    f = run(C2PADetector(), tmp_path, "a.jpg", jpeg_with(photo))
    assert f.status.value == "inconclusive" and f.probability is None
    assert "neutral" in f.reason and "never evidence of authenticity" in f.reason
    assert f.details["facts"][0]["value"] == "none" and not f.details["facts"][0]["flag"]


def test_c2pa_absent_does_not_move_the_verdict(photo, make_case, tmp_path):
    case = make_case({"a.jpg": jpeg_with(photo)})
    with_c2pa = analyze_case(case, tmp_path / "o1", detectors=["c2pa", "metadata"]).document
    it = item_by_path(with_c2pa, "a.jpg")
    by = {f["detector"]: f for f in it["findings"]}
    assert by["c2pa"]["status"] == "inconclusive" and by["c2pa"]["probability"] is None
    assert by["metadata"]["probability"] is None
    assert it["verdict"] is None or it["verdict"].get("probability") is None


def test_c2pa_unavailable_is_reported(photo, tmp_path, monkeypatch):
    import forensics_plugins.c2pa as mod

    monkeypatch.setattr(mod, "c2pa_available", lambda: "c2pa-python is not installed (test)")
    f = run(C2PADetector(), tmp_path, "a.jpg", jpeg_with(photo))
    assert f.status.value == "unavailable" and "not installed" in f.reason


def test_c2pa_not_applicable_to_bmp():
    class Item:
        kind, format = "image", "bmp"

    assert "does not read BMP" in C2PADetector().not_applicable_reason(Item())


@pytest.mark.parametrize("text,expected", [("2024:05:01 12:30:00", "2024-05-01T12:30:00"),
                                           ("2024-05-01T12:30:00+02:00", "2024-05-01T12:30:00+02:00"),
                                           ("0000:00:00 00:00:00", None), ("garbage", None)])
def test_parse_dates(text, expected):
    d = F.parse_exif_datetime(text)
    assert (d.isoformat() if d else None) == expected


def _signed_jpeg(rgb: np.ndarray) -> bytes:
    """A JPEG with a C2PA manifest signed here by a throw-away test CA (ES256), declaring an AI-generated creation."""
    import datetime as dt
    import json

    c2pa = pytest.importorskip("c2pa")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Forensics Test")])

    def ku(sign: bool):
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=not sign, crl_sign=not sign,
                             encipher_only=False, decipher_only=False)

    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Test Root CA")).issuer_name(name("Test Root CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(t0)
          .not_valid_after(t0 + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(ku(False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name("Test Signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(t0)
            .not_valid_after(t0 + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(ku(True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pkey = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, pkey, None))
    manifest = {"claim_generator_info": [{"name": "forensics-test", "version": "1.0"}], "title": "a.jpg",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                    {"action": "c2pa.created",
                     "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}]}
    src, out = io.BytesIO(jpeg_with(rgb)), io.BytesIO()
    with c2pa.Builder(json.dumps(manifest)) as b:
        b.sign(signer, "image/jpeg", src, out)
    return out.getvalue()


def test_c2pa_manifest_claim_chain_and_tampering(photo, tmp_path):
    data = _signed_jpeg(photo)
    f = run(C2PADetector(), tmp_path, "signed.jpg", data)
    assert f.status.value == "inconclusive" and f.probability is None
    r = rows(f)
    assert r["Validation state (c2pa-rs)"]["value"] == "Valid"
    assert "no C2PA trust anchors" in r["Validation state (c2pa-rs)"]["note"]
    assert not r["Validation status signingCredential.untrusted"]["flag"]  # expected: nothing is trusted
    assert r["Manifest 1: claim generator"]["value"] == "forensics-test 1.0"
    assert r["Manifest 1: signer"]["value"].startswith("Test Signer")
    assert r["Manifest 1: action"]["flag"] and "trainedAlgorithmicMedia" in r["Manifest 1: action"]["value"]
    assert f.details["claim_chain"][0]["claim_generator"] == "forensics-test 1.0"
    tampered = bytearray(data)
    tampered[-200] ^= 0xFF  # one byte of the entropy-coded image data
    g = run(C2PADetector(), tmp_path, "tampered.jpg", bytes(tampered))
    assert any("dataHash.mismatch" in o for o in g.details["observations"])
    assert rows(g)["Validation state (c2pa-rs)"]["value"] == "Invalid"


def test_report_shows_an_escaped_facts_table(photo, make_case, run_cli, tmp_path):
    case = make_case({"x.jpg": jpeg_with(photo, exif_blob(software=b"<script>alert(1)</script> GIMP"))})
    assert run_cli("analyze", case, "-o", tmp_path / "out", "-d", "metadata").exit_code == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert '<table class="facts">' in html and "EXIF Software" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; GIMP" in html and "<script>alert(1)" not in html
    assert 'class="flag"' in html
