"""Assembles the GPU bench's results (bench/gpu/run.sh) into OUT/gpu-bench.md
and OUT/gpu-bench.json.

    python3 bench/gpu/table.py OUT

Reads what run.sh left in OUT: plan.env, steps.tsv (each step's exit status,
seconds and timeout), torch-info.json, 01-parity.log, gpu-steps.json,
ref-H.json (bench/torch_siren_ref.py --json) and runs/NAME.run.json (the run
records of `inrscape train`). Anything missing is reported as the failure of
its step. Standard library only.
"""
import json
import math
import os
import re
import sys
from datetime import datetime

OUT = sys.argv[1] if len(sys.argv) > 1 else '.'


def path(*p):
    return os.path.join(OUT, *p)


def read_json(*p):
    """A JSON file, or the last line of one that is a JSON object (ref-H.json may start with warnings)."""
    try:
        with open(path(*p)) as f:
            text = f.read()
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        if line.strip().startswith('{'):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def read_text(*p):
    try:
        with open(path(*p), errors='replace') as f:
            return f.read()
    except OSError:
        return ''


plan = {}
for line in read_text('plan.env').splitlines():
    if '=' in line:
        k, v = line.split('=', 1)
        plan[k] = v

steps = {}  # name -> {nn, rc, secs, timeout}
for line in read_text('steps.tsv').splitlines():
    parts = line.split('\t')
    if len(parts) == 5:
        nn, name, rc, secs, timeout = parts
        steps[name] = {'nn': nn, 'rc': int(rc), 'secs': float(secs), 'timeout': float(timeout)}


def num(v):
    """A run.json number (non-finite ones are strings)."""
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def fmt(v, digits=2):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '-'
    return f'{v:,.{digits}f}'


def last_error(name):
    """The most telling line of a step's log: the last one naming an error, else the last line."""
    st = steps.get(name)
    log = read_text(f"{st['nn']}-{name}.log") if st else ''
    lines = [l.strip() for l in log.splitlines() if l.strip() and not l.startswith('$ ')]
    for l in reversed(lines):
        if re.search(r'error|Error|failed|FAILED|not |cannot|Traceback|killed', l):
            return l[:200]
    return lines[-1][:200] if lines else '(no output)'


def status(name):
    st = steps.get(name)
    if st is None:
        return 'not run'
    if st['rc'] == 0:
        return f"ok ({st['secs']:.0f} s)"
    why = 'timed out' if st['rc'] in (124, 137) else f"failed, rc {st['rc']}"
    return f"{why} after {st['secs']:.0f} s of {st['timeout']:.0f}"


def failure_note(name):
    st = steps.get(name)
    if st is None:
        return 'not run'
    err = last_error(name)
    return f"{status(name)}; see {st['nn']}-{name}.log" + (f': `{err}`' if err else '')


md = []
raw = {'plan': plan, 'steps': steps}

# -- machine ----------------------------------------------------------------------
info = read_json('torch-info.json') or {}
gs = read_json('gpu-steps.json')
engine = (gs or {}).get('engine') or {}
gpu = ', '.join(info.get('devices') or []) or engine.get('device_name') or 'no GPU'
info_log = read_text('00-info.log')
cpu = re.search(r'model name\s*:\s*(.+)', info_log)
nproc = re.search(r'^(\d+)$', info_log, re.M)
node = re.search(r'^## node\n(v[\d.]+)', info_log, re.M)
raw['machine'] = {'gpu': gpu, 'torch_info': info, 'cpu': cpu.group(1).strip() if cpu else None,
                  'cores': int(nproc.group(1)) if nproc else None, 'node': node.group(1) if node else (gs or {}).get('node')}
mode = plan.get('MODE', '?')
md.append(f"# inrscape GPU bench ({'SMOKE: CPU, tiny sizes, plumbing only' if mode == 'smoke' else 'GPU'})")
md.append('')
md.append(f"- machine: {gpu}; torch {info.get('torch', engine.get('torch', '?'))} (CUDA {info.get('cuda') or '-'}), "
          f"triton {info.get('triton') or '-'}, numpy {info.get('numpy', '?')}, python {info.get('python', '?')}; "
          f"node {raw['machine']['node'] or '?'}; CPU {raw['machine']['cpu'] or '?'} x {raw['machine']['cores'] or '?'}")
md.append(f"- device `{plan.get('DEVICE', '?')}`, python `{plan.get('PYTHON', '?')}`; planned budget {plan.get('BUDGET_S', '?')} s "
          f"(sum of step timeouts); generated {datetime.now().strftime('%Y-%m-%d %H:%M:%S')}")
md.append('')

# -- parity -------------------------------------------------------------------------
md.append('## 1. Parity (dist/test/torch-engine.test.js)')
md.append('')
plog = read_text('01-parity.log')
counts = {k: int(v) for k, v in re.findall(r'^\S*\s*(tests|pass|fail|skipped|cancelled|todo) (\d+)$', plog, re.M)}
raw['parity'] = {'status': status('parity'), 'counts': counts}
if 'parity' not in steps:
    md.append('not run')
else:
    md.append(f"{status('parity')}: " + (', '.join(f'{k} {v}' for k, v in counts.items()) if counts else 'no summary in the log'))
    failed = [l.strip() for l in plog.splitlines() if l.lstrip().startswith('✖') and 'failing tests' not in l]
    skipped = [l.strip() for l in plog.splitlines() if l.lstrip().startswith('﹣') or '# SKIP' in l]
    raw['parity'].update(failed=failed, skipped=skipped)
    for l in failed[:10]:
        md.append(f'- FAILED: `{l[:200]}`')
    for l in skipped[:10]:
        md.append(f'- skipped: `{l[:200]}`')
    if steps['parity']['rc'] != 0 and not failed:
        md.append(f"- {failure_note('parity')}")
md.append('')

# -- steps/s --------------------------------------------------------------------------
md.append('## 2. Training steps/s: the torch engine (gpu-steps) vs eager PyTorch (torch_siren_ref.py, fp32, TF32 off)')
md.append('')
cases = (gs or {}).get('cases') or []
shape = (gs or {}).get('shape') or {}
if shape:
    md.append(f"Synthetic {shape.get('frames')} frames x {shape.get('cells')} cells, batch {shape.get('batch')} "
              f"({shape.get('points_per_step')} points/step), {shape.get('layers')} hidden layers, omega {shape.get('omega')}; "
              f"timed ~{gs.get('seconds')} s per case after a warm-up chunk; TFLOP/s at 6 (4h + L h² + 3h) per point.")
    md.append('')
hiddens = [int(h) for h in plan.get('HIDDENS', '').split(',') if h]
precs = [p for p in plan.get('PRECISIONS', '').split(',') if p]
ref = {}
for hs in plan.get('REF_STEPS', '').split(','):
    if ':' not in hs:
        continue
    h = int(hs.split(':')[0])
    r = read_json(f'ref-{h}.json')
    ref[h] = r if r and 'steps_per_s' in r else None
raw['gpu_steps'] = gs
raw['eager'] = ref
by = {(c['hidden'], c['precision']): c for c in cases}
head = '| hidden | eager fp32 steps/s | ' + ' | '.join(f'ours {p} steps/s (x eager fp32)' for p in precs) + ' |'
md.append(head)
md.append('|' + '---|' * (2 + len(precs)))
ratios = {}
for h in hiddens:
    r = ref.get(h)
    e = r['steps_per_s'] if r else None
    row = [str(h), fmt(e) if r else (f"FAILED ({status(f'ref-{h}')})" if f'ref-{h}' in steps else 'not run')]
    for p in precs:
        c = by.get((h, p))
        if c is None:
            row.append('not run' if 'steps' not in steps else f"missing ({status('steps')})")
        elif not c.get('ok'):
            row.append(f"FAILED: {str(c.get('error', ''))[:80]}")
        else:
            x = c['steps_per_s'] / e if e else None
            ratios[f'{h}/{p}'] = x
            row.append(f"{fmt(c['steps_per_s'])} ({fmt(x)}x)" if x else fmt(c['steps_per_s']))
    md.append('| ' + ' | '.join(row) + ' |')
raw['ratio_to_eager'] = ratios
md.append('')
if cases:
    md.append('| hidden | precision | steps/s | points/s | TFLOP/s | CUDA graph | compiled | open s | steps timed |')
    md.append('|---|---|---|---|---|---|---|---|---|')
    for c in cases:
        if c.get('ok'):
            md.append(f"| {c['hidden']} | {c['precision']} | {fmt(c['steps_per_s'])} | {c['points_per_s']:.3g} | {c['tflops']:.3g} | "
                      f"{c.get('graphs')} | {c.get('compiled')} | {fmt(c.get('open_s'), 1)} | {c.get('steps')} |")
        else:
            md.append(f"| {c['hidden']} | {c['precision']} | FAILED: {str(c.get('error', ''))[:120]} | | | | | | |")
    md.append('')
for name in ['steps'] + [f'ref-{h}' for h in ref]:
    if name in steps and steps[name]['rc'] != 0:
        md.append(f'- {name}: {failure_note(name)}')
if 'steps' in steps and steps['steps']['rc'] != 0 or any(f'ref-{h}' in steps and steps[f'ref-{h}']['rc'] != 0 for h in ref):
    md.append('')

# -- the default trial ------------------------------------------------------------------
TOTAL = int(plan.get('TOTAL_STEPS', '500000'))
EVALS = int(plan.get('EVALUATIONS', '10'))


def run_numbers(name):
    r = read_json('runs', f'{name}.run.json')
    if r is None:
        return None
    t = r.get('timings') or {}
    train_s, eval_s = num(t.get('training_time_s')), num(t.get('evaluation_time_s'))
    done = r.get('steps_done')
    evals = r.get('evaluations') or []
    loop_s = train_s - eval_s if train_s is not None and eval_s is not None else None
    rate = done / loop_s if done and loop_s and loop_s > 0 else None
    per_eval = eval_s / len(evals) if evals and eval_s is not None else None
    full = TOTAL / rate + EVALS * per_eval if rate and per_eval is not None else None
    m = r.get('metrics') or {}
    end = None
    try:
        end = datetime.fromisoformat(str(t.get('finished_at')).replace('Z', '+00:00')).timestamp()
    except ValueError:
        pass
    return {'status': r.get('status'), 'reason': r.get('reason'), 'steps_done': done, 'total_steps': r.get('total_steps'),
            'time_limited': r.get('time_limited'), 'training_time_s': train_s, 'evaluation_time_s': eval_s, 'evaluations': len(evals),
            'steps_per_s': rate, 'eval_s_per_evaluation': per_eval, 'full_run_s_extrapolated': full,
            'r2_at_cut': num(m.get('final_r2')), 'engine': r.get('engine'), 'window': (end - train_s, end) if end and train_s else None}


md.append(f"## 3. The protocol's default trial, cut short: {plan.get('PRESET', '?')} preset, SIREN 384 x 3, batch 8, "
          f"{TOTAL} steps configured, --max-minutes {plan.get('TRIAL_MIN', '?')}")
md.append('')
md.append('steps/s = steps_done / (training_time_s - evaluation_time_s). The full run is EXTRAPOLATED, not measured: '
          f'{TOTAL} / steps/s + {EVALS} evaluations x the measured time per evaluation (the final one also returns the predictions).')
md.append('')
md.append('| precision | status | steps done | steps/s | evaluations (s each) | full run, extrapolated | R² at the cut |')
md.append('|---|---|---|---|---|---|---|')
trials = {}
for p in precs:
    name = f'trial-{p}'
    n = run_numbers(name)
    trials[p] = n
    if n is None or n['status'] != 'ok':
        why = (n or {}).get('reason') or failure_note(name)
        md.append(f'| {p} | FAILED: {str(why)[:160]} | | | | | |')
        continue
    full = n['full_run_s_extrapolated']
    md.append(f"| {p} | {status(name)} | {n['steps_done']} | {fmt(n['steps_per_s'])} | {n['evaluations']} ({fmt(n['eval_s_per_evaluation'])}) | "
              f"{fmt(full / 60, 1) + ' min (extrapolated)' if full else '-'} | {fmt(n['r2_at_cut'], 4)} |")
raw['trial'] = trials
md.append('')

# -- concurrency ------------------------------------------------------------------------
md.append(f"## 4. Concurrency: K `inrscape train` processes at once on one GPU (default config, fp32, --max-minutes {plan.get('CONC_MIN', '?')})")
md.append('')
md.append('total = the sum of the processes\' steps/s; overlap = the share of the mean training window common to all K '
          '(from finished_at and training_time_s; near 1 means the sum is a true throughput).')
md.append('')
md.append('| processes | ok | steps/s each | total steps/s | x one process | overlap |')
md.append('|---|---|---|---|---|---|')
conc = {}
base = None
for k in [int(x) for x in plan.get('CONC_LIST', '').split(',') if x]:
    if k == 1 and plan.get('REUSE_1') == '1':
        runs = [trials.get('fp32')]
        note = ' (the fp32 trial)'
    else:
        runs = [run_numbers(f'conc-{k}-{i}') for i in range(1, k + 1)]
        note = ''
    good = [r for r in runs if r and r['status'] == 'ok' and r['steps_per_s']]
    total = sum(r['steps_per_s'] for r in good) if good else None
    if k == 1 and total:
        base = total
    overlap = None
    wins = [r['window'] for r in good if r['window']]
    if len(wins) == len(good) and len(wins) > 1:
        common = min(w[1] for w in wins) - max(w[0] for w in wins)
        overlap = max(0.0, common) / (sum(w[1] - w[0] for w in wins) / len(wins))
    conc[k] = {'runs': runs, 'ok': len(good), 'total_steps_per_s': total, 'ratio_to_1': total / base if total and base else None, 'overlap': overlap}
    each = ', '.join(fmt(r['steps_per_s'], 1) for r in good) or '-'
    bad = [f'conc-{k}-{i}' for i, r in enumerate(runs, 1) if not (r and r['status'] == 'ok')] if not note else []
    okcol = f'{len(good)}/{k}{note}' + (f" (failed: {'; '.join(failure_note(b)[:120] for b in bad)})" if bad else '')
    md.append(f"| {k} | {okcol} | {each} | {fmt(total)} | {fmt(conc[k]['ratio_to_1'])} | {fmt(overlap)} |")
raw['concurrency'] = conc
md.append('')

# -- steps --------------------------------------------------------------------------------
md.append('## Steps')
md.append('')
md.append('| step | status | seconds | timeout |')
md.append('|---|---|---|---|')
for name, st in sorted(steps.items(), key=lambda kv: (kv[1]['nn'], kv[0])):
    verdict = 'ok' if st['rc'] == 0 else ('TIMED OUT' if st['rc'] in (124, 137) else f"FAILED (rc {st['rc']})")
    md.append(f"| {st['nn']}-{name} | {verdict} | {st['secs']:.1f} | {st['timeout']:.0f} |")
md.append('')

with open(path('gpu-bench.md'), 'w') as f:
    f.write('\n'.join(md))
with open(path('gpu-bench.json'), 'w') as f:
    json.dump(raw, f, indent=2, default=str)
    f.write('\n')
print(f"wrote {path('gpu-bench.md')} and {path('gpu-bench.json')}")
