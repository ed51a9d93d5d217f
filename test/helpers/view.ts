/** Study folders for the figure and dashboard tests: a real journal, written by the one study loop over a simulated objective. */
import { parseConfig } from '../../src/config/schema.js';
import type { AgentName } from '../../src/config/study.js';
import type { InrConfig } from '../../src/config/inr.js';
import { createAgent } from '../../src/study/agents/index.js';
import type { Agent } from '../../src/study/agents/agent.js';
import { studyCreatedEvent } from '../../src/study/create.js';
import { Journal } from '../../src/study/journal.js';
import { simulateStudy, type Objective } from '../../src/study/simulate.js';
import { initialState, type StudyState } from '../../src/study/state.js';

/** R2 set by omega and lr, with ten intermediate evaluations. */
export const landscape: Objective = (inr: InrConfig) => {
  const r2 = 0.999 * Math.exp(-((Math.log(inr.omega_inr / 25)) ** 2) / 4 - ((Math.log10(inr.inr_learning_rate / 3e-4)) ** 2) / 8);
  const every = Math.floor(inr.inr_total_steps / 10);
  const evaluations = Array.from({ length: 10 }, (_, k) => ({ step: (k + 1) * every, r2: r2 * (1 - Math.exp(-3 * (k + 1) / 10)), mse: 1 - r2, slope: 1, time_s: k + 1 }));
  return { metrics: { final_r2: r2, final_mse: 1 - r2, slope: 1, training_time_min: inr.inr_total_steps / 1e5 + inr.hidden_dim_inr / 500 }, evaluations };
};

export async function simulatedStudyFolder(dir: string, opts: { agent?: AgentName; wrap?: (a: Agent) => Agent; iterations?: number; objective?: Objective; seed?: number } = {}): Promise<StudyState> {
  const agent = opts.agent ?? 'rules';
  const created = studyCreatedEvent(parseConfig('{}').config, { agent, iterations: opts.iterations ?? 16, slots: 4, block: 8, seed: opts.seed ?? 1, maxTrialMinutes: 60 });
  const { journal, entry } = Journal.create(dir, created);
  try {
    const base = createAgent(agent);
    const { state } = await simulateStudy(created, { agent: opts.wrap ? opts.wrap(base) : base }, opts.objective ?? landscape, { journal, state: initialState(entry) });
    return state;
  } finally {
    journal.close();
  }
}
