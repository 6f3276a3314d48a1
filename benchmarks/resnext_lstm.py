"""ResNeXt-LSTM inference throughput: frames/s and seconds per sequence, CPU and (when present) GPU.

Times the model alone on random 112×112 face crops (the face pipeline is measured by
``benchmarks/faces.py``), with the architecture of the installed model card (or the
default: ResNeXt-50 32×4d + LSTM(512)); weights are random unless ``--weights`` is
given, which does not change the cost. For each device and sequence length: one
warm-up pass, then the median of ``--repeats`` timed passes, including Grad-CAM (the
detector computes it on every window) unless ``--no-cam``.

CPU runs in float32 (what the detector uses there), with the torch thread count
printed; CUDA runs with float16 autocast. Usage::

    python benchmarks/resnext_lstm.py [--lengths 20 100] [--repeats 3] [--threads N]

Prints one line per device and length: seconds per sequence and frames/s, with the
device named (CPU model / GPU name).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads [default: torch's choice]")
    ap.add_argument("--hidden", type=int, default=None, help="LSTM width [default: the installed card's, else 512]")
    ap.add_argument("--no-cam", action="store_true", help="leave out Grad-CAM")
    ap.add_argument("--devices", nargs="+", default=None, help="cpu and/or cuda [default: cpu, plus cuda if present]")
    args = ap.parse_args()

    import numpy as np
    import torch

    from forensics_plugins.resnext_lstm.model import ResNeXtLSTM
    from forensics_plugins.resnext_lstm.train import score_windows

    if args.threads:
        torch.set_num_threads(args.threads)
    hidden, source = 512, "default"
    try:
        from forensics.models import load_card

        card = load_card("resnext_lstm")
        hidden, source = int(card.data["config"]["hidden"]), f"installed card ({card.path('weights').name})"
    except Exception:  # noqa: BLE001 - benchmark works without an installed model
        pass
    if args.hidden:
        hidden, source = args.hidden, "--hidden"
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    torch.manual_seed(0)
    print(f"ResNeXt-50 (32x4d) + LSTM({hidden}) [{source}], 112x112 crops, Grad-CAM {'off' if args.no_cam else 'on'}, "
          f"median of {args.repeats}; torch {torch.__version__}")
    rng = np.random.default_rng(0)
    for dev_name in devices:
        dev = torch.device(dev_name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            print("cuda: not available, skipped")
            continue
        model = ResNeXtLSTM(hidden=hidden).eval().to(dev)
        label = (f"cpu ({cpu_name()}, {torch.get_num_threads()} threads, float32)" if dev.type == "cpu"
                 else f"cuda ({torch.cuda.get_device_name(dev)}, float16 autocast)")
        for n in args.lengths:
            w = [rng.integers(0, 256, (n, 112, 112, 3), dtype=np.uint8)]
            score_windows(model, w, dev, amp=dev.type == "cuda", with_cam=not args.no_cam)  # warm-up
            times = []
            for _ in range(args.repeats):
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                score_windows(model, w, dev, amp=dev.type == "cuda", with_cam=not args.no_cam)
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            med = statistics.median(times)
            print(f"{label}: {n:>3} frames  {med:7.3f} s/sequence  {n / med:7.1f} frames/s  "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
