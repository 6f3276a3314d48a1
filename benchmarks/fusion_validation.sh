#!/usr/bin/env bash
# Rebuild the fusion validation data of models/fusion/MODEL_CARD.md and, unless --sets-only, evaluate every
# detector on it and refit the fusion model with the card's command.
#
#   bash benchmarks/fusion_validation.sh MIRROR DATA [--sets-only]
#
# MIRROR: a folder holding the fetched repositories as OWNER+NAME/repo (what the workplace's fetch writes), with
#   ByronOMC/ai-vs-real-images-arcade, ML72/AI-Image-Classifier-Playground,
#   T0NY24/Ecuadorian-political-deepfake-dataset, CauchyComplete/casia1groundtruth, wei-won/image-forensics,
#   sibelius/cutcopy, and for the generated-image part the synthetic detector's sources (TeenBiscuits/RealOrAI,
#   Laboratoriet/real-or-ai-game, kaivalyagandhi/ai-or-not-game, declan-wright/Image-Dataset too; see
#   benchmarks/synthetic_data.py). Every set is read at the commit recorded below, so the files are the card's.
# DATA: a folder named data (paths in the card read $DATA/...), outside the repository; it gets hosts/,
#   forgery_real/, fusion_val/, synthetic/ and fusion_syn/; link ../shared/data/face_image and face_real into it.
#   Existing sets are kept, not rebuilt.
# fusion_syn/ holds the test views of the files the synthetic card's out_of_fold table lists (written again from
#   the card, no training: benchmarks/synthetic_fusion_set.py); `forensics train fusion` substitutes the card's
#   held-out-generator scores for the synthetic detector's in-sample ones on them.
# Cost: building the sets takes about two minutes; evaluating all detectors on the 1835 images about 80 minutes
# on two CPU cores; the refit about a minute (it rewrites models/fusion: compare with git diff).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mirror=$(cd "$1" && pwd)
data=$(mkdir -p "$2" && cd "$2" && pwd)
sets_only=${3:-}
sets="python $here/benchmarks/real_forgery_sets.py"
make="python $here/benchmarks/make_forgery_set.py"

host() {  # name repo commit glob...
  local name=$1 repo=$2 commit=$3; shift 3
  local globs=()
  for g in "$@"; do globs+=(--glob "$g"); done
  [ -d "$data/hosts/$name" ] || $sets hosts --git "$mirror/${repo/\//+}/repo" --commit "$commit" "${globs[@]}" \
    --repo-name "$repo" --out "$data/hosts/$name"
}
real() {  # recipe repo commit
  [ -d "$data/forgery_real/$1" ] || $sets "$1" --git "$mirror/${2/\//+}/repo" --commit "$3" --out "$data/forgery_real/$1"
}

host news ByronOMC/ai-vs-real-images-arcade 97f54eefbe847e22ec009a55ebc98482f5be1edd 'data/news/REAL_*.jpg'
host ml72 ML72/AI-Image-Classifier-Playground c256422974a925d4ddb49d438cd5c5679cef829c 'public/images/real/*'
host ecuador T0NY24/Ecuadorian-political-deepfake-dataset 60c61bb6e7e4853453b2a3478561f043f1bfe79a \
  'data/real/gonzalez/*' 'data/real/noboa/*' 'data/real/correa/*'
real casia1_samples CauchyComplete/casia1groundtruth 4b2023f29911
real coverage wei-won/image-forensics d5ef7c033a98
real micc_f220 sibelius/cutcopy 23e321bb1449
mkdir -p "$data/fusion_val"
[ -d "$data/fusion_val/news" ] || $make --hosts "$data/hosts/news/real" --out "$data/fusion_val/news" --max-hosts 65 --seed 0
[ -d "$data/fusion_val/ml72" ] || $make --hosts "$data/hosts/ml72/real" --out "$data/fusion_val/ml72" --max-hosts 50 --seed 1
[ -d "$data/fusion_val/ecuador" ] || $make --hosts "$data/hosts/ecuador/real" --out "$data/fusion_val/ecuador" --max-hosts 96 --seed 2
python "$here/benchmarks/synthetic_data.py" "$mirror" "$data"
[ -d "$data/fusion_syn" ] || python "$here/benchmarks/synthetic_fusion_set.py" "$data" "$data/fusion_syn"
syn="flux1-faces gemini-news gemini3pro-photos lab-game mixed-2024 reddit-pairs stylegan2-faces web-mixed"
[ "$sets_only" = "--sets-only" ] && exit 0

cd "$data"
for s in news ml72 ecuador; do
  forensics evaluate --data "fusion_val/$s" -o "fusion_val/eval_$s"
done
forensics evaluate --data forgery_real/casia1_samples -o fusion_val/eval_casia1
forensics evaluate --data forgery_real/coverage -o fusion_val/eval_coverage
forensics evaluate --data forgery_real/micc_f220 --max-per-class 55 -o fusion_val/eval_micc_f220
# the note: the card's own, so the refitted card says the same
for s in $syn; do
  forensics evaluate --data "fusion_syn/$s" -o "fusion_syn/eval_$s"
done
note=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['training']['note'])" "$here/models/fusion/card.json")
forensics train fusion $(for s in news ml72 ecuador casia1 coverage micc_f220; do
  echo --results "fusion_val/eval_$s/results.json"; done) $(for s in $syn; do
  echo --results "fusion_syn/eval_$s/results.json"; done) --note "$note"
