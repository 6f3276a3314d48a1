"""Train the ResNeXt-LSTM on labelled videos; measure it on held-out identities; write weights + card.

Recipe (the seed's defaults): Adam, learning rate 1e-5, weight decay 1e-3, batch 4
sequences, cross-entropy (class-weighted by default, so an imbalanced set does not
just teach the majority label), 20 epochs, sequences of 20 consecutive face crops
(112×112, ImageNet normalisation). Each epoch draws one random window per training
video (and flips the whole sequence horizontally with probability 1/2).

* **Data**: any layout :func:`forensics.datasets.read_dataset` reads (real/ fake/,
  FaceForensics++, Celeb-DF, DFDC). Face crops come from the shared face pipeline
  and are cached (:mod:`.data`).
* **Split**: the layout's own split where it has one; otherwise
  :func:`forensics.datasets.grouped_split` by identity (no face in both sides).
* **Determinism**: epoch ``e`` draws its windows from ``numpy.random.default_rng([seed, e])``
  and seeds torch with ``seed·1000 + e``, so a run resumed from its checkpoint makes the
  same choices as an uninterrupted one (bit-identical on the same device and threads).
* **Checkpoints**: ``last.pt`` (model, optimiser, epoch; plain tensors, loaded with
  ``weights_only=True``) after every epoch, in a folder named after the configuration;
  a rerun with the same configuration resumes from it.
* **Evaluation**: per held-out video, the mean P(manipulated) over up to 3 evenly
  spaced windows; AUC/EER/accuracy via :func:`forensics.metrics.roc_metrics`. Platt
  scaling (class-balanced) maps that score to the probability the detector reports.
* **Output**: fp16 safetensors + ``card.json`` + ``MODEL_CARD.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .data import cache_root, cached_crops, take_window, window_starts
from .model import (
    INPUT_SIZE,
    SEQUENCE_LENGTHS,
    ResNeXtLSTM,
    count_parameters,
    normalise,
    pick_device,
)

WEIGHTS_FILE = "resnext_lstm.safetensors"


@dataclass
class TrainConfig:
    seq_len: int = 20
    epochs: int = 20
    batch_size: int = 4
    lr: float = 1e-5
    weight_decay: float = 1e-3
    hidden: int = 512
    backbone: str = "resnext50_32x4d"
    dropout: float = 0.4
    balance: bool = True
    flip: bool = True
    amp: bool = True
    seed: int = 0
    test_fraction: float = 0.3
    eval_windows: int = 3
    self_blend_epochs: int = 0  # self-supervised epochs on self-blended real clips before the labelled stage
    self_blend: str = ""  # names of the real-clip folders of that stage (part of the checkpoint key)

    def key(self) -> str:
        keep = {k: v for k, v in asdict(self).items() if k not in ("epochs", "eval_windows")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:12]


# ------------------------------------------------------------------------------------------ weights io
def save_weights(model: ResNeXtLSTM, path: Path) -> None:
    """fp16 safetensors (integer buffers such as BatchNorm's counters kept as they are)."""
    from safetensors.torch import save_file

    sd = {k: (v.detach().half() if v.is_floating_point() else v.detach()).contiguous().cpu()
          for k, v in model.state_dict().items()}
    save_file(sd, str(path), metadata={"format": "pt", "config": json.dumps(model.config())})
    os.chmod(path, 0o644)


def load_weights(path: Path, config: dict, device=None) -> ResNeXtLSTM:
    """Build the model from ``config`` and load fp16 safetensors into it (as float32)."""
    from safetensors.torch import load_file

    model = ResNeXtLSTM(hidden=int(config["hidden"]), lstm_layers=int(config.get("lstm_layers", 1)),
                        dropout=float(config.get("dropout", 0.4)), backbone=config.get("backbone", "resnext50_32x4d"))
    sd = load_file(str(path))
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}
    model.load_state_dict(sd, strict=True)
    model.eval()
    if device is not None:
        model.to(device)
    return model


# ------------------------------------------------------------------------------------------ inference
def score_windows(model: ResNeXtLSTM, windows: list[np.ndarray], device, amp: bool = False,
                  with_cam: bool = False):
    """P(manipulated) per window (``(T, 112, 112, 3)`` uint8 each), and optionally Grad-CAM maps.

    Returns ``(probs (W,), cams (W, T, h, w) or None)``.
    """
    import torch

    from .model import grad_cam

    probs, cams = [], []
    for w in windows:
        x = normalise(torch.from_numpy(np.ascontiguousarray(w)))[None].to(device)
        if device.type == "cpu":
            x = x.contiguous()
        with torch.inference_mode():
            if amp and device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.float16):
                    fmap, logits = model(x)
            else:
                fmap, logits = model(x)
            p = torch.softmax(logits.float(), dim=1)[0, 1].item()
        probs.append(p)
        if with_cam:
            fm = fmap.detach().clone()
            cams.append(grad_cam(model, fm, 1, len(w)).cpu().numpy())
    return np.array(probs), (cams if with_cam else None)


# ------------------------------------------------------------------------------------------ training
def _progress(total: int, description: str):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    prog = Progress(TextColumn(f"{description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), TextColumn("[dim]{task.fields[info]}"), transient=False)
    task = prog.add_task(description, total=total, info="")
    return prog, task


def extract(samples, cache_dir: Path | None, echo: Callable[[str], None]) -> list:
    prog, task = _progress(len(samples), "face crops")
    out = []
    with prog:
        for s in samples:
            crops, info = cached_crops(s.path, cache_dir)
            out.append(crops)
            prog.update(task, advance=1, info=f"{s.path.name[-40:]}: {info.get('crops', 0)} crops")
    missing = [s.path.name for s, c in zip(samples, out) if c is None]
    if missing:
        echo(f"no usable face track in {len(missing)} file(s), skipped: {', '.join(missing[:5])}"
             f"{' …' if len(missing) > 5 else ''}")
    return out


def list_videos(folders: list[Path]) -> list[Path]:
    """Every video file (by extension) under ``folders``, sorted: the real clips of the self-blend stage."""
    ext = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
    return sorted(p for d in folders for p in Path(d).rglob("*") if p.suffix.lower() in ext and p.is_file())


def real_clips(folders: list[Path], cache_dir: Path | None, echo: Callable[[str], None] = print
               ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
    """``[(crops, landmarks)]`` of the largest face track of every real clip under ``folders`` (cached)."""
    from .data import cached_clip

    paths = list_videos(folders)
    clips, names = [], []
    prog, task = _progress(len(paths), "real clips")
    with prog:
        for path in paths:
            try:
                crops, lms, _ = cached_clip(path, cache_dir)
            except Exception as exc:  # noqa: BLE001 - one unreadable clip is skipped and named
                crops, lms = None, None
                echo(f"skipped {path.name}: {type(exc).__name__}: {exc}")
            if crops is not None and len(crops) >= 2:
                clips.append((crops, lms))
                names.append(path.name)
            prog.update(task, advance=1)
    return clips, names


def self_blend_stage(model, opt, clips: list[tuple[np.ndarray, np.ndarray]], cfg: TrainConfig, dev,
                     ckpt: Path | None = None, resume: bool = True, max_minutes: float | None = None,
                     echo: Callable[[str], None] = print) -> list[dict]:
    """Self-supervised epochs: every clip gives one untouched (0) and one self-blended (1) sequence per epoch.

    The blend is the same across the sequence's frames (:func:`.selfblend.blend_sequence`). Epoch ``e``
    draws from ``numpy.random.default_rng([seed, 10_000 + e])``, so a resumed run makes the same choices.
    Checkpoint ``ckpt`` (model, optimiser, epoch, history) after every epoch. Returns the history.
    """
    import torch

    from .selfblend import self_blend_batch

    history: list[dict] = []
    start = 0
    if ckpt is not None and resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = int(state["epoch"])
        history = json.loads(state.get("history", "[]"))
        echo(f"self-blend stage resumed after epoch {start}")
    per_step = max(1, cfg.batch_size // 2)  # clips per step; each gives two sequences
    steps = math.ceil(len(clips) / per_step)
    amp_dtype = torch.float16 if dev.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda") if (cfg.amp and dev.type == "cuda") else None
    t0 = time.time() - (history[-1]["elapsed_s"] if history else 0.0)
    prog, task = _progress(max(0, cfg.self_blend_epochs - start) * steps, "self-blend")
    with prog:
        for epoch in range(start, cfg.self_blend_epochs):
            rng = np.random.default_rng([cfg.seed, 10_000 + epoch])
            torch.manual_seed(cfg.seed * 1000 + 500 + epoch)
            order = rng.permutation(len(clips))
            model.train()
            losses, correct, seen = [], 0, 0
            for b in range(steps):
                batch = [clips[i] for i in order[b * per_step:(b + 1) * per_step]]
                seqs, labels = self_blend_batch(batch, cfg.seq_len, rng, flip=cfg.flip)
                x = normalise(torch.from_numpy(seqs)).to(dev)
                target = torch.from_numpy(labels).to(dev)
                opt.zero_grad(set_to_none=True)
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=cfg.amp):
                    _, logits = model(x)
                loss = torch.nn.functional.cross_entropy(logits.float(), target)
                if scaler:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                losses.append(loss.item())
                correct += int((logits.argmax(1) == target).sum())
                seen += len(labels)
                prog.update(task, advance=1, info=f"epoch {epoch + 1} loss {np.mean(losses):.4f}")
            history.append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 5),
                            "train_accuracy": round(correct / max(1, seen), 4),
                            "elapsed_s": round(time.time() - t0, 1)})
            if ckpt is not None:
                torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                            "history": json.dumps(history)}, ckpt.with_suffix(".tmp"))
                os.replace(ckpt.with_suffix(".tmp"), ckpt)
            if max_minutes is not None and (time.time() - t0) / 60 > max_minutes and epoch + 1 < cfg.self_blend_epochs:
                echo(f"self-blend stage stopped after epoch {epoch + 1}: the {max_minutes}-minute limit is reached")
                break
    return history


def train(data_dirs: list[Path], out_dir: Path, cfg: TrainConfig, layout: str | None = None,
          compression: str | None = None, device: str = "auto", checkpoint_dir: Path | None = None,
          resume: bool = True, cache_dir: Path | None = None, max_minutes: float | None = None,
          command: str = "", echo: Callable[[str], None] = print, self_blend_dirs: list[Path] = (),
          test_dirs: list[Path] = ()) -> dict:
    import torch

    from forensics.api import Calibrator, grouped_split, read_dataset, roc_metrics

    if cfg.seq_len not in SEQUENCE_LENGTHS:
        raise SystemExit(f"--seq-len must be one of {SEQUENCE_LENGTHS}")
    samples = []
    for d in data_dirs:
        samples += read_dataset(d, kinds=("video",), layout=layout, compression=compression)
    split = grouped_split(samples, cfg.test_fraction, cfg.seed)
    if test_dirs:  # cross-source: train on all of --data, measure on all of --test-data (another source)
        held = []
        for d in test_dirs:
            held += read_dataset(d, kinds=("video",), layout=layout, compression=compression)
        split = ["train"] * len(samples) + ["test"] * len(held)
        samples = samples + held
    kind = ("cross-source (trained without the test data's source: " + ", ".join(Path(d).name for d in test_dirs)
            + ")") if test_dirs else "in-source (held-out identities of the training data)"
    echo(f"{len(samples)} videos ({sum(s.label for s in samples)} manipulated); "
         f"split by identity: {split.count('train')} train, {split.count('test')} test")
    crops = extract(samples, cache_dir, echo)
    keep = [i for i, c in enumerate(crops) if c is not None and len(c) >= 2]
    train_idx = [i for i in keep if split[i] == "train"]
    test_idx = [i for i in keep if split[i] == "test"]
    y = np.array([s.label for s in samples])
    if len({y[i] for i in train_idx}) < 2 or len({y[i] for i in test_idx}) < 2:
        raise SystemExit("both the training and the test split need authentic and manipulated videos")

    dev = pick_device(device)
    torch.manual_seed(cfg.seed)
    model = ResNeXtLSTM(hidden=cfg.hidden, dropout=cfg.dropout, backbone=cfg.backbone).to(dev)
    if dev.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_pos = sum(y[i] for i in train_idx)
    n_neg = len(train_idx) - n_pos
    class_w = torch.tensor([len(train_idx) / (2 * n_neg), len(train_idx) / (2 * n_pos)] if cfg.balance else [1.0, 1.0],
                           dtype=torch.float32, device=dev)
    scaler = torch.amp.GradScaler("cuda") if (cfg.amp and dev.type == "cuda") else None
    amp_dtype = torch.float16 if dev.type == "cuda" else torch.bfloat16

    ckpt_dir = Path(checkpoint_dir or cache_root() / "runs" / cfg.key())
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    ckpt = ckpt_dir / "last.pt"
    start_epoch = 0
    history: list[dict] = []
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"])
        history = json.loads(state.get("history", "[]")) if isinstance(state.get("history"), str) else []
        echo(f"resumed from {ckpt} after epoch {start_epoch}")
    (ckpt_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2), encoding="utf-8")

    # ---- stage 1 (optional): self-supervised on self-blended real clips (issue 17)
    self_supervised = None
    if self_blend_dirs and cfg.self_blend_epochs > 0:
        clips, clip_names = real_clips(list(self_blend_dirs), cache_dir, echo)
        if not clips:
            raise SystemExit("--self-blend: no real clip with a usable face track")
        echo(f"self-blend stage: {len(clips)} real clips, {cfg.self_blend_epochs} epochs")
        sb_hist = self_blend_stage(model, opt, clips, cfg, dev, ckpt_dir / "selfblend.pt",
                                   resume=resume and start_epoch == 0, max_minutes=max_minutes, echo=echo)
        self_supervised = {
            "epochs": cfg.self_blend_epochs, "clips": len(clips), "history": sb_hist,
            "data": {"name": "self-blend real clips", "role": "self-supervised stage (real clips only; fakes "
                     "generated by self-blending)", "source": ", ".join(sorted({Path(d).name for d in self_blend_dirs})),
                     "count": len(clips), "licence": "see the clips' own terms",
                     "label": "all real; the blended copy is the positive class by construction"},
            "files": clip_names,
        }

    steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
    t_start = time.time() - (history[-1]["elapsed_s"] if history else 0.0)  # elapsed time carries over a resume
    echo(f"training {cfg.backbone} + LSTM({cfg.hidden}) on {dev} ({'AMP ' + str(amp_dtype).split('.')[-1] if cfg.amp else 'fp32'}), "
         f"{len(train_idx)} videos, {steps_per_epoch} steps/epoch, epochs {start_epoch + 1}..{cfg.epochs}; checkpoints in {ckpt_dir}")
    prog, task = _progress(max(0, cfg.epochs - start_epoch) * steps_per_epoch, "training")
    stopped_early = False
    with prog:
        for epoch in range(start_epoch, cfg.epochs):
            rng = np.random.default_rng([cfg.seed, epoch])
            torch.manual_seed(cfg.seed * 1000 + epoch)
            order = rng.permutation(train_idx)
            model.train()
            losses = []
            for b in range(steps_per_epoch):
                batch = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                seqs = []
                for i in batch:
                    c = crops[i]
                    start = int(rng.integers(0, max(1, len(c) - cfg.seq_len + 1)))
                    w = take_window(c, start, cfg.seq_len)
                    if cfg.flip and rng.random() < 0.5:
                        w = w[:, :, ::-1]
                    seqs.append(np.ascontiguousarray(w))
                x = normalise(torch.from_numpy(np.stack(seqs))).to(dev)
                target = torch.tensor([int(y[i]) for i in batch], device=dev)
                opt.zero_grad(set_to_none=True)
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=cfg.amp):
                    _, logits = model(x)
                loss = torch.nn.functional.cross_entropy(logits.float(), target, weight=class_w)
                if scaler:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                losses.append(loss.item())
                prog.update(task, advance=1, info=f"epoch {epoch + 1} loss {np.mean(losses):.4f}")
                if max_minutes is not None and (time.time() - t_start) / 60 > max_minutes and b + 1 < steps_per_epoch:
                    stopped_early = True
                    break
            if stopped_early:  # mid-epoch: the model keeps these steps; the checkpoint stays at the last whole epoch
                history.append({"epoch": epoch + 1, "partial_steps": len(losses), "loss": round(float(np.mean(losses)), 5),
                                "elapsed_s": round(time.time() - t_start, 1)})
                echo(f"stopped after {len(losses)} of {steps_per_epoch} steps of epoch {epoch + 1}: "
                     f"the {max_minutes}-minute limit is reached")
                break
            history.append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 5),
                            "elapsed_s": round(time.time() - t_start, 1)})
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                        "history": json.dumps(history)}, ckpt.with_suffix(".tmp"))
            os.replace(ckpt.with_suffix(".tmp"), ckpt)
            if max_minutes is not None and (time.time() - t_start) / 60 > max_minutes and epoch + 1 < cfg.epochs:
                echo(f"stopping after epoch {epoch + 1}: the {max_minutes}-minute limit is reached")
                stopped_early = True
                break
    epochs_done = (history[-1]["epoch"] - (1 if "partial_steps" in history[-1] else 0)) if history else start_epoch
    train_seconds = history[-1]["elapsed_s"] if history else 0.0

    # ---- evaluation on held-out identities (fp32, the same code path as the detector)
    model.eval()
    model = model.to(memory_format=torch.contiguous_format)

    def clip_scores(idx: list[int], windows: int) -> np.ndarray:
        out = []
        prog2, t2 = _progress(len(idx), "evaluating")
        with prog2:
            for i in idx:
                c = crops[i]
                ws = [c[s:s + cfg.seq_len] for s in window_starts(len(c), cfg.seq_len, windows)]
                p, _ = score_windows(model, ws, dev, amp=cfg.amp)
                out.append(float(p.mean()))
                prog2.update(t2, advance=1)
        return np.array(out)

    t_eval = time.time()
    s_test = clip_scores(test_idx, cfg.eval_windows)
    eval_seconds = time.time() - t_eval
    s_train = clip_scores(train_idx, 1)
    y_test, y_train = y[test_idx], y[train_idx]
    calibrator = Calibrator.fit(s_test, y_test, method="platt", input="logit")
    cal = calibrator.to_json()
    p_test = calibrator.apply(s_test)
    raw = roc_metrics(y_test, s_test)
    metrics = roc_metrics(y_test, p_test)
    train_metrics = roc_metrics(y_train, s_train)

    # ---- write the model
    out_dir.mkdir(parents=True, exist_ok=True)
    model_cpu = model.to("cpu")
    save_weights(model_cpu, out_dir / WEIGHTS_FILE)
    size_mb = (out_dir / WEIGHTS_FILE).stat().st_size / 1e6
    sources = sorted({Path(d).name for d in data_dirs})  # data set names, no machine paths
    n_test_pos, n_test_neg = int(y_test.sum()), int((1 - y_test).sum())
    where = (f"of {', '.join(sorted({Path(d).name for d in test_dirs}))}, a source not in training ("
             f"{', '.join(sources)})" if test_dirs else
             f"of {', '.join(sources)}, split by identity (no face in both training and test)")
    metrics["dataset"] = (f"{len(test_idx)} held-out videos ({n_test_neg} authentic, {n_test_pos} manipulated) {where}; "
                          f"score = mean over up to {cfg.eval_windows} windows of {cfg.seq_len} frames")
    metrics["command"] = command
    metrics["level"] = "video"
    params = count_parameters(model_cpu)
    per_item = [{"file": samples[i].path.name, "label": int(y[i]), "score": round(float(s), 6),
                 "probability": round(float(p), 6)} for i, s, p in zip(test_idx, s_test, p_test)]
    card = {
        "name": "resnext_lstm",
        "version": "1.0.0",
        "architecture": f"{cfg.backbone} (torchvision, random init) 2048-d per frame -> LSTM({cfg.hidden}) -> mean over "
                        f"time -> dropout {cfg.dropout} -> linear(2); input {INPUT_SIZE}x{INPUT_SIZE} face crops",
        "config": {**model_cpu.config(), "seq_len": cfg.seq_len, "eval_windows": cfg.eval_windows},
        "parameters": params,
        "weights_dtype": "float16",
        "weights_mb": round(size_mb, 1),
        "calibration": cal,
        "files": {"weights": {"path": WEIGHTS_FILE}},
        "training": {
            **asdict(cfg),
            "epochs_completed": epochs_done,
            "steps_total": sum(h.get("partial_steps", steps_per_epoch) for h in history),
            "stopped_early_by_time_limit": stopped_early,
            "device": str(dev) if dev.type == "cpu" else f"cuda ({torch.cuda.get_device_name(dev)})",
            "cpu": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "train_seconds": round(train_seconds, 1),
            "eval_seconds_test": round(eval_seconds, 1),
            "n_train": len(train_idx),
            "n_train_manipulated": int(y_train.sum()),
            "n_test": len(test_idx),
            "videos_without_face": len(samples) - len(keep),
            "train_files": sorted(samples[i].path.name for i in train_idx),
            "test_files": sorted(samples[i].path.name for i in test_idx),
            "history": history,
            "pretrained": "none: no ImageNet weights can be downloaded here, the backbone starts from random init",
            **({"self_supervised": self_supervised} if self_supervised else {}),
        },
        "metrics": metrics,
        "metrics_raw_score": {k: raw[k] for k in ("auc", "eer", "accuracy")},
        "train_metrics": {k: train_metrics[k] for k in ("auc", "eer", "accuracy")},
        "test_items": per_item,
        "licence": "code Apache-2.0; weights trained on FaceForensics++ c40 clips: research / non-commercial "
                   "(FaceForensics++ terms of use)",
    }
    card["score_spread_test"] = round(float(s_test.max() - s_test.min()), 6)
    from forensics.api import write_model_card

    from .card import card_fields, headline_metrics

    card["metrics"] = {**headline_metrics(per_item, metrics["dataset"], command, kind=kind), "level": "video"}
    metrics = card["metrics"]
    write_model_card(out_dir, card_fields(card))
    echo(f"held-out ({len(test_idx)} videos): AUC {metrics['auc']:.3f}, EER {metrics['eer']:.3f}, "
         f"accuracy {metrics['accuracy']:.3f}; training-split AUC {train_metrics['auc']:.3f}; "
         f"weights {size_mb:.1f} MB -> {out_dir}")
    return card
