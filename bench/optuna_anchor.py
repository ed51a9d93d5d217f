"""The search benchmark's anchor: Optuna's TPESampler, as the reference's
baseline runs it, over the same `inrscape train` trials as an inrscape study.

    python3 bench/optuna_anchor.py JOB.json

JOB.json (written by bench/search.ts --real):
  space: {key: {scale: log|linear|integer|categorical, min, max, step?, choices?}}
  base: {key: value}        the base config's values, enqueued as trial 0
  config: "..."             the base config's YAML; a trial's config is it with its inr: values
  trials, slots, seed       trials in all, at once, the sampler's seed
  trial_seeds: [..]         trial i trains with trial_seeds[i] (the seeds an inrscape study gives its nodes)
  train: [node, bin.js]     how to start inrscape
  dataset, max_minutes, out

Sampler: TPESampler(multivariate=True, constant_liar=True, seed=seed). Trials
run `slots` at a time (ask, run, tell), 1 thread each. A trial that the
budget stopped is told PRUNED (the reference prunes trials over its budget),
a failed one 0.0. Prints one JSON line per trial: number, value, state,
minutes, params.
"""
import json
import os
import subprocess
import sys

import optuna
import yaml


def distributions(space):
    out = {}
    for key, r in space.items():
        if r['scale'] == 'categorical':
            out[key] = optuna.distributions.CategoricalDistribution(r['choices'])
        elif r['scale'] == 'integer':
            out[key] = optuna.distributions.IntDistribution(int(r['min']), int(r['max']), step=int(r.get('step', 1)))
        elif r['scale'] == 'log' and r.get('integer'):
            out[key] = optuna.distributions.IntDistribution(int(r['min']), int(r['max']), log=True)
        else:
            out[key] = optuna.distributions.FloatDistribution(r['min'], r['max'], log=r['scale'] == 'log')
    return out


def results(run_dir):
    try:
        with open(os.path.join(run_dir, 'results.log')) as f:
            return dict(line.split(': ', 1) for line in f.read().splitlines() if ': ' in line)
    except OSError:
        return None


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=job['seed'])
    study = optuna.create_study(direction='maximize', sampler=sampler)
    study.enqueue_trial(job['base'])
    dists = distributions(job['space'])
    base = yaml.safe_load(job['config'])
    done = 0
    while done < job['trials']:
        batch = [study.ask(dists) for _ in range(min(job['slots'], job['trials'] - done))]
        procs = []
        for t in batch:
            config = dict(base)
            config['inr'] = {**base.get('inr', {}), **t.params}
            path = os.path.join(job['out'], f'trial_{t.number:03d}.yaml')
            with open(path, 'w') as f:
                yaml.safe_dump(config, f)
            run_dir = os.path.join(job['out'], f'trial_{t.number:03d}')
            cmd = [*job['train'], 'train', path, '--dataset', job['dataset'], '--out', run_dir,
                   '--max-minutes', str(job['max_minutes']), '--seed', str(job['trial_seeds'][t.number]), '--threads', '1']
            log = open(run_dir + '.log', 'w')
            procs.append((t, run_dir, subprocess.Popen(cmd, stdout=log, stderr=log), log))
        for t, run_dir, proc, log in procs:
            proc.wait()
            log.close()
            r = results(run_dir)
            if r is None or r.get('status', 'ok') == 'failed' or proc.returncode not in (0, 3):
                study.tell(t, 0.0)
                state, value, minutes = 'FAIL', 0.0, 0.0
            else:
                value, minutes = float(r['final_r2']), float(r['training_time_min'])
                if r.get('time_limited') == 'True':
                    study.tell(t, state=optuna.trial.TrialState.PRUNED)
                    state = 'PRUNED'
                else:
                    study.tell(t, value)
                    state = 'COMPLETE'
            print(json.dumps({'number': t.number, 'value': value, 'state': state, 'minutes': minutes, 'params': t.params}), flush=True)
        done += len(batch)


if __name__ == '__main__':
    main()
