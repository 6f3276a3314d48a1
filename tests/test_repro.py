"""Model-card training commands: portable paths, free text left as it was typed."""

from __future__ import annotations

import shlex

from forensics.repro import training_command


def test_paths_become_portable_and_a_note_that_mentions_owner_repo_stays_text(tmp_path):
    data = tmp_path / "data" / "fusion_val"
    (data / "eval_a").mkdir(parents=True)
    (data / "eval_a" / "results.json").write_text("{}")
    note = "Validation = news photos of ByronOMC/ai-vs-real-images-arcade @ 97f54ee (data/news/REAL_*.jpg)"
    cmd = training_command(["train", "fusion", "--results", str(data / "eval_a" / "results.json"), "--note", note,
                            "--out", "models/new_fusion"], cwd=str(tmp_path))
    argv = shlex.split(cmd.replace("$DATA", "DATA"))
    assert argv[argv.index("--results") + 1] == "DATA/fusion_val/eval_a/results.json"
    assert argv[argv.index("--note") + 1] == note  # not "$DATA/Validation = ..."
    assert argv[argv.index("--out") + 1] == "models/new_fusion"
    assert str(tmp_path) not in cmd
