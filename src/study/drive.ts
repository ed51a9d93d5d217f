/**
 * The one study loop. It asks the state what comes next and does it:
 *
 *   nextAction = run      -> trial_promoted (ASHA resumes a paused trial) when a place is free,
 *                            trial_started (before the trial starts), trial_evaluation as they come,
 *                            trial_finished | trial_pruned | trial_failed | trial_lost (after its outcome is read)
 *   nextAction = propose  -> what `beforePropose` records (the inbox), then batch_proposed
 *   nextAction = analyse  -> agent_notes
 *   nextAction = close    -> block_closed
 *
 * Where trials run is the runner's business: children, cluster jobs, or a
 * synthetic objective (simulate.ts). Where events go is `record`'s: a study
 * folder's journal and files (loop.ts), or memory.
 */
import { MAX_ATTEMPTS, runQueue, type TrialHooks, type TrialOutcome, type TrialRequest, type TrialRunner } from '../exec/runner.js';
import { decide, trialsToRun, type Agents, type TrialToRun } from './advance.js';
import type { EvaluationRecord } from '../exec/trial-files.js';
import { runDir } from './files.js';
import { createPruner } from './pruners.js';
import { nextPromotion } from './rungs.js';
import type { StudyEventBody } from './journal.js';
import { nextAction, type StudyState } from './state.js';

export interface DriveOptions {
  state: StudyState;
  /** Append an event and fold it into `state` (and whatever else the caller does with it). */
  record: (body: StudyEventBody) => void;
  runner: TrialRunner;
  agents: Agents;
  /** The paths a trial gets (config file, run folder, log, data set). */
  paths: (t: TrialToRun, run_dir: string) => Pick<TrialRequest, 'config' | 'dataset' | 'out' | 'log'>;
  /** Before a batch is proposed (the inbox's enqueued configs). */
  beforePropose?: () => void;
  /** After each event the loop itself appends (a test hook: widen the moments between events). */
  settle?: () => Promise<void>;
}

/**
 * The event for an attempt's outcome. `lostBefore`: the trial's attempts lost
 * so far (a promotion's new attempt is not a loss). `stoppedAt`: the
 * evaluation the study stopped it at, whose metrics a pruned or paused trial
 * keeps (time-limited, with the steps it did).
 */
export function resultEvent(node: number, attempt: number, run_dir: string, o: TrialOutcome, lostBefore: number, stoppedAt?: EvaluationRecord & { by: string; pause: boolean }): StudyEventBody {
  if (o.status === 'finished') return { type: 'trial_finished', node, attempt, run_dir, metrics: o.metrics };
  if (o.status === 'pruned' && stoppedAt !== undefined) {
    const e = stoppedAt;
    return {
      type: 'trial_pruned', node, attempt, by: e.by, reason: o.reason,
      metrics: { final_r2: e.r2, final_mse: e.mse, slope: e.slope, training_time_min: e.time_s / 60, time_limited: true, steps_done: e.step },
      ...(e.pause ? { paused: true as const } : {}),
    };
  }
  if (o.status === 'lost' || o.status === 'pruned') {
    if (lostBefore + 1 < MAX_ATTEMPTS) return { type: 'trial_lost', node, attempt, reason: o.reason };
    return { type: 'trial_failed', node, attempt, reason: `${o.reason} (lost ${MAX_ATTEMPTS} times)` };
  }
  return {
    type: 'trial_failed', node, attempt, reason: o.reason,
    ...(o.runFolder ? { run_dir } : {}),
    ...(o.training_time_min !== undefined ? { training_time_min: o.training_time_min } : {}),
  };
}

/** Run the study until it is done. Trials run up to `runner.capacity` at a time. */
export async function drive(o: DriveOptions): Promise<void> {
  const { state, record, runner } = o;
  const settle = o.settle ?? (async () => undefined);
  const pruner = createPruner(state.config.study);
  const runTrial = async (t: TrialToRun): Promise<void> => {
    const run_dir = runDir(t.node, t.slot);
    const budget = state.settings.max_trial_minutes;
    const node = state.nodes[t.node - 1];
    const job = node.job;
    const resumeAt = node.promotions[node.promotions.length - 1]?.step;
    record({ type: 'trial_started', node: t.node, attempt: t.attempt, run_dir, max_minutes: budget, threads: runner.threads });
    await settle();
    let stoppedAt: (EvaluationRecord & { by: string; pause: boolean }) | undefined;
    const hooks: TrialHooks = {
      onEvaluation: (e) => {
        record({ type: 'trial_evaluation', node: t.node, attempt: t.attempt, ...e });
        const v = stoppedAt === undefined ? pruner?.verdict(state, node, e) : undefined;
        if (v === undefined || pruner === undefined) return;
        stoppedAt = { ...e, by: pruner.name, pause: v.pause };
        return { stop: v.reason };
      },
      onSubmitted: (job_id) => record({ type: 'trial_submitted', node: t.node, attempt: t.attempt, executor: runner.name, job_id }),
    };
    const outcome = await runner.run({
      node: t.node, attempt: t.attempt, ...o.paths(t, run_dir), maxMinutes: budget, seed: t.seed, threads: runner.threads, inr: t.inr,
      ...(job !== undefined && job.executor === runner.name ? { previousJob: job.job_id } : {}),
      ...(resumeAt !== undefined ? { resumeAt } : {}),
    }, hooks);
    record(resultEvent(t.node, t.attempt, run_dir, outcome, node.lost.length, stoppedAt));
    await settle();
  };
  // Whenever a trial ends, its place goes to a trial a crash interrupted (it
  // was ahead of everything else), then to a promotion (ASHA's order), then to
  // the next trial.
  const inFlight = new Set<number>();
  const waiting = (): TrialToRun[] => trialsToRun(state).filter((x) => !inFlight.has(x.node));
  const pick = (): TrialToRun | undefined => {
    let t = waiting().find((x) => state.nodes[x.node - 1].status === 'running');
    if (t === undefined) {
      const promotion = nextPromotion(state);
      if (promotion !== undefined) record(promotion);
      t = waiting()[0];
    }
    if (t !== undefined) inFlight.add(t.node);
    return t;
  };
  for (;;) {
    const next = nextAction(state);
    if (next.kind === 'done') return;
    if (next.kind === 'run') {
      await runQueue(runner.capacity, pick, async (t) => {
        try {
          await runTrial(t);
        } finally {
          inFlight.delete(t.node);
        }
      });
      continue;
    }
    if (next.kind === 'propose') o.beforePropose?.();
    const body = await decide(state, o.agents);
    if (body === null) throw new Error(`study loop: nothing to decide at ${next.kind}`);
    record(body);
    await settle();
  }
}
