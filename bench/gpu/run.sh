#!/usr/bin/env bash
# The GPU benchmark, for a machine with an NVIDIA GPU and python3 with torch,
# but no Node.js and no network: everything else comes in .gpu-carry/ (made
# here by `npm run bench:gpu-pack`, bench/gpu/pack.sh).
#
#   bash .gpu-carry/run.sh             on the device, from the repo root; results in $OUT
#   bash bench/gpu/run.sh --smoke      the same steps on the CPU at tiny sizes (or SMOKE=1)
#   bash .gpu-carry/run.sh --plan      print the settings and the budget, run nothing
#
# It unpacks node and the built tree into $INRSCAPE_GPU_WORK (/tmp/inrscape-gpu),
# then runs, each step under its own `timeout` and logged to $OUT/NN-name.log:
#   00 info      nvidia-smi, torch/CUDA/triton versions, node, CPU; the addon loads
#   01 parity    node --test dist/test/torch-engine.test.js (torch vs the cpu engine; CUDA fp32/tf32/bf16),
#                while the data set (preset dicty) is generated beside it (01-generate)
#   02 steps     dist/bench/gpu-steps.js: steps/s at hidden 128/384/1024 x fp32/tf32/bf16
#   03-05 ref    bench/torch_siren_ref.py (eager PyTorch, fp32, TF32 off) at the same hidden sizes
#   06-08 trial  inrscape train, the protocol's default config (384 x 3, batch 8, 500000 steps) on
#                the full dicty preset, fp32/tf32/bf16, cut by --max-minutes; rate, extrapolation, R²
#   09-10 conc   2 and 4 such fp32 runs at once on the one GPU (1 = the fp32 trial when the minutes agree)
#   11 table     bench/gpu/table.py -> $OUT/gpu-bench.md and $OUT/gpu-bench.json
# A failed or timed-out step is recorded ($OUT/steps.tsv) and the rest still run.
# The step timeouts sum to 460 s (printed at the start), so the whole script
# ends within about 8 minutes even if steps hang; normally it takes about 5.
#
# Settings (environment): OUT (default /tmp/gpu-bench-out), INRSCAPE_PYTHON (the Python with
# torch; default python3 on PATH, /usr/bin/python3 in smoke mode), ONLY (comma list of
# info,parity,steps,ref,trial,conc), TRIAL_MIN, CONC_MIN, CONC_LIST, GS_SECONDS, and every
# T_* timeout below.
set -u -o pipefail

SMOKE=${SMOKE:-0}
PLAN_ONLY=0
for arg in "$@"; do
  case $arg in
    --smoke) SMOKE=1 ;;
    --plan) PLAN_ONLY=1 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $arg (--smoke, --plan, --help)" >&2; exit 2 ;;
  esac
done

T_START=$(date +%s.%N)
REPO=$PWD
first() { local f; for f in "$@"; do [ -e "$f" ] && { echo "$f"; return 0; }; done; return 1; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${INRSCAPE_GPU_CARRY:-}" ]; then CARRY=$INRSCAPE_GPU_CARRY
elif first "$HERE"/tree.tar.* >/dev/null; then CARRY=$HERE
elif first "$REPO"/.gpu-carry/tree.tar.* >/dev/null; then CARRY=$REPO/.gpu-carry
else echo "run.sh: no .gpu-carry/ with tree.tar.* beside this script or in $REPO (npm run bench:gpu-pack)" >&2; exit 1; fi

OUT=${OUT:-/tmp/gpu-bench-out}
mkdir -p "$OUT" "$OUT/runs"
OUT=$(cd "$OUT" && pwd)
RUNLOG=$OUT/run.log
STEPS_TSV=$OUT/steps.tsv
: >"$STEPS_TSV"
say() { printf '[%6.1fs] %s\n' "$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')" "$*" | tee -a "$RUNLOG"; }

# -- the mode's sizes and timeouts (each overridable from the environment) -------
if [ "$SMOKE" = 1 ]; then
  MODE=smoke
  : "${INRSCAPE_GPU_WORK:=/tmp/inrscape-gpu-smoke}"
  : "${INRSCAPE_PYTHON:=/usr/bin/python3}"
  : "${DEVICE:=cpu}" "${THREADS:=1}" "${HIDDENS:=32,64}" "${PRECISIONS:=fp32,tf32,bf16}"
  : "${GS_STEPS:=200}" "${GS_SECONDS:=0.5}" "${GS_WARMUP:=10}" "${GS_MIN_STEPS:=10}" "${GS_CELLS:=100}"
  : "${REF_STEPS:=32:20,64:20}" "${REF_CELLS:=100}"
  : "${PRESET:=dicty-tiny}" "${TRIAL_MIN:=0.05}" "${CONC_MIN:=0.05}" "${CONC_LIST:=1,2}"
  : "${T_UNPACK:=60}" "${T_INFO:=30}" "${T_PARITY:=240}" "${T_GEN:=240}" "${T_STEPS:=180}" "${T_REF:=60}"
  : "${T_TRIAL:=90}" "${T_CONC:=1:90,2:120}" "${T_TABLE:=30}"
else
  MODE=gpu
  : "${INRSCAPE_GPU_WORK:=/tmp/inrscape-gpu}"
  : "${INRSCAPE_PYTHON:=$(command -v python3 || echo python3)}"
  : "${DEVICE:=cuda}" "${THREADS:=}" "${HIDDENS:=128,384,1024}" "${PRECISIONS:=fp32,tf32,bf16}"
  : "${GS_STEPS:=20000}" "${GS_SECONDS:=1}" "${GS_WARMUP:=200}" "${GS_MIN_STEPS:=100}" "${GS_CELLS:=1000}"
  : "${REF_STEPS:=128:2000,384:2000,1024:600}" "${REF_CELLS:=1000}"
  : "${PRESET:=dicty}" "${TRIAL_MIN:=0.25}" "${CONC_MIN:=0.25}" "${CONC_LIST:=1,2,4}"
  : "${T_UNPACK:=15}" "${T_INFO:=15}" "${T_PARITY:=110}" "${T_GEN:=110}" "${T_STEPS:=80}" "${T_REF:=12}"
  : "${T_TRIAL:=40}" "${T_CONC:=1:40,2:38,4:42}" "${T_TABLE:=4}"
fi
: "${ONLY:=info,parity,steps,ref,trial,conc}"
PY=$INRSCAPE_PYTHON
W=$INRSCAPE_GPU_WORK
export INRSCAPE_PYTHON
THREADS_FLAG=()
[ -n "$THREADS" ] && THREADS_FLAG=(--threads "$THREADS")
want() { [[ ",$ONLY," == *",$1,"* ]]; }
conc_timeout() { local kv; for kv in ${T_CONC//,/ }; do [ "${kv%%:*}" = "$1" ] && { echo "${kv#*:}"; return; }; done; echo 60; }
# The 1-process point of the concurrency test is the fp32 trial when both run the same minutes.
REUSE_1=0
if want trial && [ "$TRIAL_MIN" = "$CONC_MIN" ] && [[ ",$PRECISIONS," == *",fp32,"* ]]; then REUSE_1=1; fi

# The planned budget: the sum of the timeouts of the steps that will run.
budget=$T_UNPACK
want info && budget=$((budget + T_INFO))
want parity && budget=$((budget + (T_PARITY > T_GEN ? T_PARITY : T_GEN)))
! want parity && { want trial || want conc; } && budget=$((budget + T_GEN))
want steps && budget=$((budget + T_STEPS))
n_ref=$(echo "$REF_STEPS" | tr ',' '\n' | grep -c .)
want ref && budget=$((budget + n_ref * T_REF))
n_prec=$(echo "$PRECISIONS" | tr ',' '\n' | grep -c .)
want trial && budget=$((budget + n_prec * T_TRIAL))
if want conc; then for k in ${CONC_LIST//,/ }; do
  [ "$k" = 1 ] && [ "$REUSE_1" = 1 ] && continue
  budget=$((budget + $(conc_timeout "$k")))
done; fi
budget=$((budget + T_TABLE))

{
  echo "MODE=$MODE"; echo "DEVICE=$DEVICE"; echo "PYTHON=$PY"; echo "THREADS=$THREADS"
  echo "HIDDENS=$HIDDENS"; echo "PRECISIONS=$PRECISIONS"; echo "GS_STEPS=$GS_STEPS"; echo "GS_SECONDS=$GS_SECONDS"
  echo "GS_CELLS=$GS_CELLS"; echo "REF_STEPS=$REF_STEPS"; echo "REF_CELLS=$REF_CELLS"; echo "PRESET=$PRESET"
  echo "TRIAL_MIN=$TRIAL_MIN"; echo "CONC_MIN=$CONC_MIN"; echo "CONC_LIST=$CONC_LIST"; echo "REUSE_1=$REUSE_1"
  echo "ONLY=$ONLY"; echo "BUDGET_S=$budget"; echo "TOTAL_STEPS=500000"; echo "EVALUATIONS=10"  # 500,000 steps: one every 50,000 before the end, then the final one
} >"$OUT/plan.env"
say "inrscape GPU bench, mode $MODE: device $DEVICE, python $PY, carry $CARRY, work $W, out $OUT"
say "planned budget: step timeouts sum to ${budget}s"
[ "$MODE" = gpu ] && [ "$budget" -gt 460 ] && say "WARNING: over 460 s; the 8-minute limit may cut the run"
if [ "$PLAN_ONLY" = 1 ]; then sed 's/^/  /' "$OUT/plan.env"; exit 0; fi

# -- steps ----------------------------------------------------------------------
elapsed_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$STEPS_TSV"; }
verdict() { case $1 in 0) echo ok ;; 124 | 137) echo "TIMED OUT" ;; *) echo "FAILED (rc $1)" ;; esac; }
# run_step NN NAME TIMEOUT CMD...: CMD under `timeout`, output to $OUT/NN-NAME.log.
run_step() {
  local nn=$1 name=$2 t=$3 s rc secs
  shift 3
  s=$(date +%s.%N)
  say "[$nn] $name (timeout ${t}s)"
  printf '$ %s\n' "$*" >"$OUT/$nn-$name.log"
  timeout -k 2 "$t" "$@" </dev/null >>"$OUT/$nn-$name.log" 2>&1
  rc=$?
  secs=$(elapsed_since "$s")
  record "$nn" "$name" "$rc" "$secs" "$t"
  say "[$nn] $name: $(verdict "$rc") in ${secs}s"
  return 0
}
# start_bg NN NAME TIMEOUT CMD...: the same in the background; the step's pid in BG_PID.
start_bg() {
  local nn=$1 name=$2 t=$3
  shift 3
  say "[$nn] $name started (timeout ${t}s)"
  printf '$ %s\n' "$*" >"$OUT/$nn-$name.log"
  (
    s=$(date +%s.%N)
    timeout -k 2 "$t" "$@" </dev/null >>"$OUT/$nn-$name.log" 2>&1
    rc=$?
    secs=$(elapsed_since "$s")
    record "$nn" "$name" "$rc" "$secs" "$t"
    say "[$nn] $name: $(verdict "$rc") in ${secs}s"
    exit "$rc"
  ) &
  BG_PID=$!
}

# -- unpack -----------------------------------------------------------------------
unpack() {
  local z
  rm -rf "$W" && mkdir -p "$W/bin" || return 1
  z=$(first "$CARRY"/node.xz "$CARRY"/node.gz)
  case $z in
    *.xz) if command -v xz >/dev/null; then xz -dc "$z" >"$W/bin/node"
          else "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$z" "$W/bin/node"; fi ;;
    *.gz) gzip -dc "$z" >"$W/bin/node" ;;
    *) echo "no node.xz or node.gz in $CARRY"; return 1 ;;
  esac || return 1
  chmod +x "$W/bin/node"
  z=$(first "$CARRY"/tree.tar.xz "$CARRY"/tree.tar.gz)
  if [[ $z == *.xz ]] && ! command -v xz >/dev/null; then
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$z" "$W"
  else
    tar -xf "$z" -C "$W"
  fi
}
s=$(date +%s.%N)
say "unpacking into $W"
export W CARRY PY
timeout "$T_UNPACK" bash -c "$(declare -f first unpack); unpack" >"$OUT/00-unpack.log" 2>&1
rc=$?
record 00 unpack "$rc" "$(elapsed_since "$s")" "$T_UNPACK"
if [ "$rc" != 0 ] || [ ! -x "$W/bin/node" ]; then
  say "unpack $(verdict "$rc"): see $OUT/00-unpack.log; nothing else can run"
  exit 1
fi
export PATH="$W/bin:$PATH"
# Compile caches in one known place (no HOME or user name needed), kept across reruns on one machine.
CACHE_ROOT=${INRSCAPE_GPU_CACHE:-/tmp/inrscape-gpu-cache}
: "${TORCHINDUCTOR_CACHE_DIR:=$CACHE_ROOT/inductor}" "${TRITON_CACHE_DIR:=$CACHE_ROOT/triton}"
export TORCHINDUCTOR_CACHE_DIR TRITON_CACHE_DIR
mkdir -p "$TORCHINDUCTOR_CACHE_DIR" "$TRITON_CACHE_DIR"
NODE=$W/bin/node
# The addon wants libstdc++ with GLIBCXX_3.4.30 (GCC 12); the carried copy stands in for an older system one.
if ! "$NODE" -e "require('$W/build/Release/inrscape_native.node')" >/dev/null 2>>"$OUT/00-unpack.log"; then
  if [ -f "$W/lib/libstdc++.so.6" ]; then
    export LD_LIBRARY_PATH="$W/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "the native addon did not load with the system libstdc++; using the carried one (LD_LIBRARY_PATH=$W/lib)"
  fi
fi
say "node $("$NODE" --version 2>&1), tree $(head -n 1 "$W/PACK-INFO.txt" 2>/dev/null)"
cd "$W" || exit 1
CLI=(node "$W/dist/src/cli/bin.js")
RUNS=$W/runs
mkdir -p "$RUNS"

# -- 00 info -----------------------------------------------------------------------------
if want info; then
  run_step 00 info "$T_INFO" bash -c '
    echo "## nvidia-smi -L"; nvidia-smi -L 2>&1 || echo "(no nvidia-smi)"
    echo "## nvidia-smi"; nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.max.sm,power.limit,compute_mode,utilization.gpu --format=csv 2>&1 || true
    echo "## python"; "$1" -c "
import json, platform, sys
d = {\"python\": platform.python_version(), \"executable\": sys.executable}
try:
    import numpy; d[\"numpy\"] = numpy.__version__
except Exception as e: d[\"numpy\"] = repr(e)
try:
    import torch
    d.update(torch=torch.__version__, cuda=torch.version.cuda, cuda_available=torch.cuda.is_available(),
             devices=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else [],
             compile=hasattr(torch, \"compile\"))
except Exception as e: d[\"torch\"] = repr(e)
try:
    import triton; d[\"triton\"] = triton.__version__
except Exception as e: d[\"triton\"] = None
print(json.dumps(d)); open(sys.argv[1], \"w\").write(json.dumps(d) + chr(10))
" "$2/torch-info.json"
    echo "## node"; node --version
    echo "## addon"; node -e "const a = require(process.argv[1]); console.log(\"addon ok, isas\", a.isas.join(\" \"))" "$3/build/Release/inrscape_native.node"
    echo "## host"; uname -a; nproc; (grep -m1 "model name" /proc/cpuinfo || true); (free -g || true); cat /proc/loadavg; (ldd --version 2>&1 | head -n 1 || true)
  ' info "$PY" "$OUT" "$W"
fi

# -- 01 parity, with the data set generated beside it -------------------------------------------------
DATA_ROOT=${INRSCAPE_GPU_DATA:-/tmp/inrscape-gpu-data}
DS=$DATA_ROOT/$PRESET
GEN_PID=
if want trial || want conc; then
  mkdir -p "$DATA_ROOT"
  if [ -f "$DATA_ROOT/$PRESET.complete" ] && [ -f "$DS/vel.npy" ]; then
    say "[01] generate: reusing $DS"
    record 01 generate 0 0 0
  else
    rm -rf "$DS" "$DATA_ROOT/$PRESET.complete"
    start_bg 01 generate "$T_GEN" bash -c '"$@" && touch "$0"' "$DATA_ROOT/$PRESET.complete" \
      "${CLI[@]}" data generate --preset "$PRESET" --out "$DS"
    GEN_PID=$BG_PID
  fi
fi
if want parity; then
  run_step 01 parity "$T_PARITY" \
    env INRSCAPE_TEST_PYTHON="$(command -v "$PY" || echo "$PY")" node --test --test-reporter=spec "$W/dist/test/torch-engine.test.js"
fi
if [ -n "$GEN_PID" ]; then wait "$GEN_PID"; fi

# -- 02 steps/s, 03-05 the eager reference ----------------------------------------------------------
if want steps; then
  run_step 02 steps "$T_STEPS" node "$W/dist/bench/gpu-steps.js" --device "$DEVICE" --python "$PY" \
    --hidden "$HIDDENS" --precision "$PRECISIONS" --steps "$GS_STEPS" --seconds "$GS_SECONDS" --warmup "$GS_WARMUP" \
    --min-steps "$GS_MIN_STEPS" --cells "$GS_CELLS" --frames 200 --batch 8 --layers 3 "${THREADS_FLAG[@]}" --json "$OUT/gpu-steps.json"
fi
if want ref; then
  nn=3
  for hs in ${REF_STEPS//,/ }; do
    h=${hs%%:*} m=${hs#*:}
    run_step "$(printf %02d "$nn")" "ref-$h" "$T_REF" bash -c '"$@" >"$0"' "$OUT/ref-$h.json" \
      "$PY" "$W/bench/torch_siren_ref.py" --device "$DEVICE" --hidden "$h" --layers 3 --steps "$m" --batch 8 \
      --frames 200 --cells "$REF_CELLS" --threads "${THREADS:-2}" --json
    cat "$OUT/ref-$h.json" >>"$OUT/$(printf %02d "$nn")-ref-$h.log" 2>/dev/null
    nn=$((nn + 1))
  done
fi

# -- 06-08 the default trial; 09-10 concurrency ---------------------------------------------------------
CFG=$W/default.yaml
cat >"$CFG" <<EOF
dataset: {path: $DS}
inr: {hidden_dim_inr: 384, n_layers_inr: 3, inr_total_steps: 500000, inr_batch_size: 8, omega_inr: 10, inr_learning_rate: 1.0E-4}
EOF
train_argv() { # NAME PRECISION MINUTES SEED -> TRAIN_ARGV
  TRAIN_ARGV=("${CLI[@]}" train "$CFG" --out "$RUNS/$1" --force --engine torch --device "$DEVICE" --precision "$2" --python "$PY"
    --max-minutes "$3" --seed "$4" --dataset "$DS" "${THREADS_FLAG[@]}")
}
collect() { # NAME: keep run.json, drop the run folder (its predictions are 120 MB)
  if [ -f "$RUNS/$1/run.json" ]; then cp "$RUNS/$1/run.json" "$OUT/runs/$1.run.json"; fi
  rm -rf "$RUNS/$1"
}
if want trial; then
  nn=6
  for p in ${PRECISIONS//,/ }; do
    train_argv "trial-$p" "$p" "$TRIAL_MIN" 0
    run_step "$(printf %02d "$nn")" "trial-$p" "$T_TRIAL" "${TRAIN_ARGV[@]}"
    collect "trial-$p"
    nn=$((nn + 1))
  done
fi
if want conc; then
  nn=9
  for k in ${CONC_LIST//,/ }; do
    if [ "$k" = 1 ] && [ "$REUSE_1" = 1 ]; then say "[conc] 1 process: the fp32 trial (same config and minutes)"; continue; fi
    t=$(conc_timeout "$k")
    s=$(date +%s.%N)
    pids=()
    for i in $(seq 1 "$k"); do
      train_argv "conc-$k-$i" fp32 "$CONC_MIN" "$i"
      start_bg "$(printf %02d "$nn")" "conc-$k-$i" "$t" "${TRAIN_ARGV[@]}"
      pids+=("$BG_PID")
    done
    crc=0
    for p in "${pids[@]}"; do wait "$p" || crc=1; done
    record "$(printf %02d "$nn")" "conc-$k" "$crc" "$(elapsed_since "$s")" "$t"
    for i in $(seq 1 "$k"); do collect "conc-$k-$i"; done
    nn=$((nn + 1))
  done
fi

# -- 11 the table -------------------------------------------------------------------------------------
run_step 11 table "$T_TABLE" "$PY" "$W/bench/gpu/table.py" "$OUT"
if [ -f "$OUT/gpu-bench.md" ]; then cat "$OUT/gpu-bench.md"; else say "no gpu-bench.md (see $OUT/11-table.log)"; fi
say "done in $(elapsed_since "$T_START")s; results in $OUT"
