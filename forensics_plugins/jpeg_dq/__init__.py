"""JPEG double-compression detector plugin: aligned / non-aligned double quantisation and JPEG ghosts.

Methods: Lin et al., Pattern Recognition 2009 and Bianchi & Piva, IEEE TIFS 2012 (aligned DQ); block-artefact
grid (Li, Yuan & Yu, Signal Processing 2009) for non-aligned compression; JPEG ghosts (Farid, IEEE TIFS 2009).
Non-JPEG files (PNG, BMP, TIFF, WebP) that were decoded from a JPEG take the *pixel path*: the quantisation table and
coefficients are recomputed from the pixels (Fan & de Queiroz, IEEE TIP 2003), the same maps are drawn, plus an
off-lattice map of blocks whose coefficients leave the recovered lattice, and a separate pixel model scores them.
The maps are always shown; the score votes only with the calibrated models in ``models/jpeg_dq`` and only
when the measured cross-source AUC interval for that kind of file excludes chance.
"""

from __future__ import annotations

import numpy as np

from forensics.api import Artifact, Detector, Finding, ModelUnavailable, evidence_bytes, hookimpl

from . import dq

MAX_MEGAPIXELS = 40
ARTIFACT_MAX_SIDE = 768


def _resize(img: np.ndarray, shape: tuple[int, int], nearest: bool = True) -> np.ndarray:
    import cv2

    return cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def _thumb(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = ARTIFACT_MAX_SIDE / max(h, w)
    if s >= 1:
        return rgb
    return _resize(rgb, (max(1, round(h * s)), max(1, round(w * s))), nearest=False)


def _overlay(rgb: np.ndarray, values: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """``values`` (a coarse map, resized to the image) as heat over a greyed copy of the image, opaque where high."""
    t = np.clip(_resize(np.asarray(values, np.float32), rgb.shape[:2]) / max(vmax, 1e-6), 0, 1)[..., None]
    heat = dq.heat(t[..., 0]).astype(np.float32)
    grey = rgb.astype(np.float32).mean(axis=2, keepdims=True) * np.ones((1, 1, 3), np.float32)
    a = 0.1 + 0.6 * t
    return np.clip((1 - a) * grey + a * heat, 0, 255).astype(np.uint8)


def first_quality(frequencies: list) -> int | None:
    """libjpeg quality whose standard luminance table agrees with the ``q1`` estimates of the used frequencies."""
    used = [f for f in frequencies if f.get("used")]
    if len(used) < 3:
        return None
    best, agree = None, 0
    for q in range(1, 101):
        t = dq.scaled_standard_table(q).reshape(-1)
        n = sum(int(t[dq.ZIGZAG[f["zigzag"]]]) == f["q1"] for f in used)
        if n > agree:
            best, agree = q, n
    return best if agree >= 2 * len(used) / 3 else None


class JpegDQDetector(Detector):
    name = "jpeg_dq"
    version = "1.0.0"
    media_kinds = ("image",)
    model_name = "jpeg_dq"
    description = ("JPEG compression history (of JPEG files, and of PNG/BMP/TIFF copies of a decoded JPEG): aligned "
                   "and non-aligned double quantisation, JPEG ghosts and off-lattice blocks, each as a localisation map.")
    method = ("Aligned double quantisation (Lin et al., Pattern Recognition 2009; Bianchi & Piva, IEEE TIFS 2012), "
              "block-artefact grid inconsistency (Li, Yuan & Yu, Signal Processing 2009), JPEG ghosts "
              "(Farid, IEEE TIFS 2009); for non-JPEG copies of a decoded JPEG, the quantisation table recomputed "
              "from the pixels and an off-lattice map (Fan & de Queiroz, IEEE TIP 2003); image score: logistic "
              "combination with Platt calibration on generated double-compressed (and, for the pixel path, "
              "losslessly saved) splices.")

    def not_applicable_reason(self, item) -> str | None:
        reason = super().not_applicable_reason(item)
        if reason:
            return reason
        return None

    def analyze(self, item, media) -> Finding:
        info = media.image_info()
        if info["width"] * info["height"] > MAX_MEGAPIXELS * 1_000_000:
            return self.inconclusive(f"image is {info['width']}×{info['height']}; the JPEG analyses are limited to "
                                     f"{MAX_MEGAPIXELS} MP")
        pixel_path = item.format != "jpeg"
        if pixel_path:  # a PNG / BMP / TIFF / WebP copy of a decoded JPEG keeps the JPEG's grid in its pixels
            rgb = media.image_rgb()
            jc = dq.coefficients_from_pixels(rgb)
            if jc is None:
                return self.not_applicable(
                    f"this image is {item.format.upper()}, and no JPEG compression history is visible in its pixels "
                    "on the 8×8 grid (never JPEG-compressed, last saved at a very high quality, or resized or cropped "
                    "after decoding); the double-compression analyses need one")
            quality = dq.table_quality(jc)
        else:
            try:
                jc = dq.read_coefficients(evidence_bytes(media))
            except ValueError as exc:
                return self.inconclusive(str(exc))
            rgb = media.image_rgb()
            quality = info.get("jpeg_quality_estimate")
        if min(jc.y.shape[:2]) < 4:
            return self.inconclusive(f"only {jc.y.shape[1]}×{jc.y.shape[0]} DCT blocks; too few for histograms")
        feats, maps = dq.analyse(jc, rgb, quality)
        d = maps["dq"]
        artifacts = self._artifacts(rgb, maps)
        std_q = dq.standard_quality(jc.qt_luma)
        q1 = first_quality(d.frequencies)
        g = maps["grid"]
        s = g["strength"]
        iy, ix = np.unravel_index(int(np.argmax(s)), s.shape)
        details = {
            "coefficients_from": ("pixels (table recomputed from the decoded image, Fan & de Queiroz 2003)"
                                  if pixel_path else "the JPEG file"),
            "features": {k: round(float(v), 6) for k, v in zip(dq.FEATURES, feats)},
            "quantisation_table_luma": jc.qt_luma.astype(int).tolist(),
            "quantisation_table_standard_quality": std_q,
            "estimated_quality": quality,
            "progressive": jc.progressive,
            "blocks": [int(jc.y.shape[1]), int(jc.y.shape[0])],
            "aligned_dq": {
                "frequencies_with_dq": d.used,
                "frequencies_analysed": len(d.frequencies),
                "doubly_compressed": d.used >= 3,
                "marked_block_share": round(float((maps["p_map"] > 0.5).mean()), 4) if maps["p_map"] is not None
                else 0.0,
                "first_quality_estimate": q1,
                "per_frequency": d.frequencies,
            },
            "off_grid": None if maps.get("off_grid") is None else {
                "measured_blocks": maps["off_grid"]["measured_blocks"],
                "mean_share": round(float(np.nanmean(maps["off_grid"]["share"])), 4)
                if maps["off_grid"]["measured_blocks"] else None,
                "marked_block_share": round(float(maps["off_grid"]["marked"].mean()), 4),
                "largest_region_share": round(float(maps["off_grid"]["largest_region_share"]), 4),
            },
            "block_grid": {
                "strongest_window_xy": [int(g["grid"][1][ix]), int(g["grid"][0][iy])],
                "strongest_offset_row_col": [int(v) for v in g["offset"][iy, ix]],
                "p99_over_median": round(float(feats[dq.FEATURES.index("grid_strength_p99_over_median")]), 3),
            },
            "ghost": {"strongest_quality": maps["ghost_quality"],
                      "qualities": list(maps["ghosts"]["qualities"])},
        }
        hist = ("the file shows double quantisation in {n} of {m} low frequencies{q}".format(
            n=d.used, m=len(d.frequencies),
            q=f" (first save ≈ quality {q1}, last ≈ {quality})" if q1 else "") if d.used >= 3 else
            "no aligned double quantisation was found (singly compressed, or re-saved at a lower or equal quality, "
            "which hides it)")
        region = feats[dq.FEATURES.index("dq_largest_region_share")]
        summary = (f"Compression history{' (read back from the pixels of this non-JPEG copy)' if pixel_path else ''}: "
                   f"{hist}. "
                   + (f"The largest region without the double quantisation of the rest covers {100 * region:.1f} % "
                      "of the image. " if d.used >= 3 else "")
                   + (f"{100 * maps['off_grid']['largest_region_share']:.1f} % of the image (largest region) does not "
                      "sit on the JPEG lattice recovered from its pixels. " if maps.get("off_grid") else "")
                   + "Read the maps together: a pasted region tends to lack the host's double quantisation, carry a "
                     "block grid of its own, or show a ghost at another quality.")
        try:
            card = self.model_card()
            model = card.load("pixel_weights" if pixel_path else "weights",
                              _load_pixel_model if pixel_path else _load_model)
        except (ModelUnavailable, ValueError, KeyError) as exc:
            return self.unavailable(f"maps computed, but no calibrated score: {exc}", artifacts=artifacts,
                                    details=details, summary=summary)
        raw = model.decision(dq.pixel_vector(feats, maps) if pixel_path else feats)
        m = card.metrics
        from .train import NO_DQ, PIXEL_ALL

        evals = card.data.get("evaluations") or {}
        if pixel_path:  # coefficients read back from pixels: the pixel model's own figure decides
            m = evals.get(PIXEL_ALL) or {}
        elif d.used == 0:  # no aligned DQ: the score's figure for such files decides whether it votes
            m = evals.get(NO_DQ) or {}
        ci = m.get("auc_ci95")
        if m.get("auc") is None or not ci or ci[0] <= 0.5:
            fig = (f"AUC {m['auc']:.3f} (95 % CI {ci[0]:.2f}–{ci[1]:.2f}) on {m.get('dataset', 'its test data')}"
                   if ci and m.get("auc") is not None else "no measured AUC interval")
            why = ("the coefficients were recomputed from the pixels, and " if pixel_path else
                   "no aligned double quantisation was found in this file, and " if d.used == 0 else "")
            return self.inconclusive(f"the calibrated score does not vote: {why}its measured figure, {fig}, does not "
                                     "exclude chance; the maps are shown as visual aids", card=card, score=raw,
                                     summary=summary, details=details, artifacts=artifacts)
        return self.ran(model.probability(raw), card=card, score=raw, summary=summary, details=details,
                        artifacts=artifacts)

    def _artifacts(self, rgb: np.ndarray, maps: dict) -> list[Artifact]:
        out = []
        h8, w8 = (rgb.shape[0] // 8) * 8, (rgb.shape[1] // 8) * 8
        base = rgb[:h8, :w8]
        if maps["p_map"] is not None:
            p = maps["p_map"][: h8 // 8, : w8 // 8]
            out.append(Artifact.from_array(
                "Aligned double-quantisation map", _thumb(_overlay(base, p)), slug="dq-map",
                caption="Per 8×8 block, P(not doubly compressed) from the DCT-coefficient histograms (bright = the "
                        "block lacks the double quantisation that the rest of the image shows). Flat, saturated or "
                        "very dark areas carry little evidence either way."))
            mask = np.zeros(rgb.shape[:2], np.uint8)
            mask[:h8, :w8] = np.kron((p > 0.5).astype(np.uint8), np.ones((8, 8), np.uint8)) * 255
            out.append(Artifact.from_array(
                "Blocks without the double quantisation (binary mask)", mask, slug="dq-mask",
                caption="8×8 blocks whose P(not doubly compressed) exceeds 0.5, at the image's size (white); empty "
                        "when the image as a whole shows no aligned double quantisation."))
        og = maps.get("off_grid")
        if og is not None:
            pooled = og["pooled"][: h8 // 8, : w8 // 8]
            out.append(Artifact.from_array(
                "Blocks off the JPEG lattice (pixel path)", _thumb(_overlay(base, pooled, 0.6)), slug="offgrid-map",
                caption="This file is not a JPEG but was decoded from one: per 8×8 block (pooled over 3×3 blocks), the "
                        "share of its DCT coefficients that do not sit on multiples of the quantisation steps "
                        "recovered from the whole image (Fan & de Queiroz 2003). Content decoded from that JPEG sits "
                        "on them (dark); content pasted, painted or resampled after decoding does not (bright). "
                        "Clipped (pure black / white) blocks are left dark."))
            mask = np.zeros(rgb.shape[:2], np.uint8)
            mask[:h8, :w8] = np.kron(og["marked"][: h8 // 8, : w8 // 8].astype(np.uint8),
                                     np.ones((8, 8), np.uint8)) * 255
            out.append(Artifact.from_array(
                "Blocks off the JPEG lattice (binary mask)", mask, slug="offgrid-mask",
                caption=f"Blocks whose pooled off-lattice share exceeds {dq.OFF_GRID_MARK} (white), at the image's "
                        "size."))
        s = maps["grid"]["strength"]
        med = float(np.median(s)) + 1e-3
        out.append(Artifact.from_array(
            "Block-grid inconsistency (non-aligned compression)", _thumb(_overlay(rgb, s / (6 * med))),
            slug="grid-map",
            caption="Per 32×32 window (step 16), the strength of an 8×8 blocking grid at an offset other than the "
                    "file's own grid (white = 6× the image median or more). A region compressed on another grid "
                    "before the last save stands out; strong edges on a regular pattern can too."))
        gq = maps["ghost_quality"]
        if gq is not None:
            out.append(Artifact.from_array(
                f"JPEG ghost (re-saves at qualities {maps['ghosts']['qualities'][0]}–{maps['ghosts']['qualities'][-1]})",
                _thumb(_overlay(rgb[: maps["ghost_map"].shape[0] * 16, : maps["ghost_map"].shape[1] * 16],
                                maps["ghost_map"], 0.6)), slug="ghost-map",
                caption=f"Per 16×16 tile, how much closer the tile comes to its re-save than the image median does, at "
                        f"the quality where that is strongest (strongest overall at {gq}). A region once saved at a "
                        "lower quality than the rest shows as a bright 'ghost' (Farid 2009). Untextured tiles are "
                        "left dark."))
        return out


class _Model:
    """Standardised logistic combination of :data:`dq.FEATURES` followed by a Platt calibrator."""

    def __init__(self, data: dict, features: tuple = dq.FEATURES) -> None:
        from forensics.api import Calibrator

        if list(data["features"]) != list(features):
            raise ValueError("model was fitted on a different feature set")
        self.lo, self.hi = np.asarray(data["lo"], float), np.asarray(data["hi"], float)
        self.mean, self.scale = np.asarray(data["mean"], float), np.asarray(data["scale"], float)
        self.coef, self.intercept = np.asarray(data["coef"], float), float(data["intercept"])
        self.calibrator = Calibrator.from_json(data["calibrator"])

    def decision(self, feats: np.ndarray) -> float:
        x = np.clip(np.asarray(feats, float), self.lo, self.hi)
        return float(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def probability(self, raw: float) -> float:
        return float(self.calibrator(raw))


def _load_model(path) -> _Model:
    import json

    return _Model(json.loads(open(path, encoding="utf-8").read()))


def _load_pixel_model(path) -> _Model:
    import json

    from .train import PIXEL_FEATURES

    return _Model(json.loads(open(path, encoding="utf-8").read()), PIXEL_FEATURES)


@hookimpl
def forensics_register_detectors():
    return [JpegDQDetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
