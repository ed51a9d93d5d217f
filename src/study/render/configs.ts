/**
 * config/iter_NNN_slot_NN.yaml: the whole config a trial ran: the study's
 * base config with the trial's `inr:` section, so `inrscape train` (or the
 * reference) can run the file alone.
 */
import { configToYaml, type Config } from '../../config/schema.js';
import type { StudyNode, StudyState } from '../state.js';

export function trialConfig(base: Config, node: Pick<StudyNode, 'inr'>): Config {
  return { ...base, inr: { ...node.inr } };
}

export function renderTrialConfig(state: StudyState, node: StudyNode): string {
  return configToYaml(trialConfig(state.config, node));
}
