"""An example third-party detector plugin, built exactly like the built-ins in ``forensics_plugins/``.

It is installed in the tests as its own distribution (``forensics-example-blur``) with an entry point in the
``forensics.detectors`` group, and uses nothing but :mod:`forensics.api`. It detects global Gaussian blur
(a smoothing pass that hides resampling or splicing traces) from the variance of the Laplacian
(Pech-Pacheco et al., ICPR 2000), calibrated by ``forensics train example_blur`` on images it blurs itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from forensics import api

MODEL = "example_blur"


def sharpness(rgb: np.ndarray) -> float:
    """log10 of the variance of the Laplacian of the grey image (higher = sharper)."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(np.log10(cv2.Laplacian(grey, cv2.CV_64F).var() + 1e-6))


class BlurDetector(api.Detector):
    name = "example_blur"
    version = "1.0.0"
    media_kinds = ("image",)
    model_name = MODEL
    method = "Variance of the Laplacian (Pech-Pacheco et al., ICPR 2000), Platt-calibrated"

    def analyze(self, item, media):
        card = api.load_card(MODEL)  # ModelUnavailable -> "unavailable" (the engine says so)
        cal = card.load("weights", lambda p: api.Calibrator.from_json(json.loads(Path(p).read_text())))
        s = sharpness(media.image_rgb())
        return self.ran(cal(s), card=card, score=s, summary=f"log10 Laplacian variance {s:.2f}")


def _train(data: List[Path], out: Optional[Path]) -> dict:
    import cv2

    scores, labels = [], []
    for d in data:
        for p in sorted(d.iterdir()):
            rgb = api.open_media(p).image_rgb()
            blurred = cv2.GaussianBlur(np.ascontiguousarray(rgb), (0, 0), 2.0)
            scores += [sharpness(rgb), sharpness(blurred)]
            labels += [0, 1]
    s, y = np.array(scores), np.array(labels)
    cal = api.Calibrator.fit(s, y, input="raw", sign=-1)
    target = out or api.builtin_models_dir() / MODEL
    target.mkdir(parents=True, exist_ok=True)
    (target / "calibrator.json").write_text(json.dumps(cal.to_json()), encoding="utf-8")
    metrics = {**api.roc_metrics(y, cal.apply(s), ci_resamples=100), "dataset": "generated blur (in-source)",
               "kind": "in-source"}
    api.write_model_card(target, {"name": MODEL, "version": "1", "title": "Example blur detector", "metrics": metrics,
                                  "training": {"command": api.training_command()},
                                  "files": {"weights": {"path": "calibrator.json"}}})
    return metrics


@api.hookimpl
def forensics_register_detectors():
    return [BlurDetector()]


@api.hookimpl
def forensics_register_commands(cli, train):
    @train.command("example_blur")
    def train_example_blur(
        data: List[Path] = typer.Option(..., "--data", help="Folder(s) of sharp authentic photos (repeatable)."),
        out: Optional[Path] = typer.Option(None, help="Model folder to write."),
    ) -> None:
        """Calibrate the example blur detector on blurred copies of authentic photos."""
        for d in data:
            if not d.is_dir():
                api.fail(f"data folder not found: {d}")
        typer.echo(json.dumps(_train(list(data), out)))

    @cli.command("example-hello")
    def hello() -> None:
        """A plugin can add top-level commands too."""
        typer.echo("hello from forensics-example-blur")
