/**
 * Where a study's trials run on this machine: how many at once, with how many
 * CPU threads each, and on which GPU. The cpu engine (and torch on the CPU)
 * shares the cores as concurrency.ts measured; torch on CUDA gives each trial
 * one GPU of `gpus`, `trialsPerGpu` trials to a GPU at once, each trial's
 * child seeing only its GPU (CUDA_VISIBLE_DEVICES). The GPUs are found by
 * asking the torch worker itself, which also proves, before the first trial,
 * that the configured Python has a working torch.
 */
import type { EngineSettings } from '../config/engine.js';
import { TorchEngine } from '../inr/engines/torch.js';
import { UserError } from '../util/errors.js';
import { planConcurrency, type ConcurrencyPlan } from './concurrency.js';

export type EngineKind = 'cpu' | 'torch-cpu' | 'torch-mps' | 'torch-cuda';

export interface TrialPlacement extends ConcurrencyPlan {
  kind: EngineKind;
  /** One entry per trial that may run at once: the GPU it gets (absent off CUDA). */
  gpuSlots?: number[];
  /** The device's name, for the progress output. */
  deviceName?: string;
}

export interface PlacementRequest {
  engine: EngineSettings;
  slots: number;
  threads?: number;
  gpus: 'auto' | number[];
  trialsPerGpu: number;
}

export async function placeTrials(req: PlacementRequest): Promise<TrialPlacement> {
  const cpuPlan = (kind: EngineKind): TrialPlacement => ({ ...planConcurrency(req.slots, req.threads === undefined ? {} : { threads: req.threads }), kind });
  if (req.engine.name === 'cpu') return cpuPlan('cpu');
  let probe: TorchEngine;
  try {
    probe = await TorchEngine.start({ python: req.engine.python, device: req.engine.device, precision: req.engine.precision, onStderr: () => undefined });
  } catch (err) {
    if (req.engine.name === 'auto') return cpuPlan('cpu');
    throw err;
  }
  const rec = probe.record;
  const visible = probe.cudaDevices;
  await probe.close();
  const device = String(rec.device);
  if (!device.startsWith('cuda')) {
    if (req.engine.name === 'auto') return cpuPlan('cpu');
    if (device === 'mps') return { capacity: 1, threads: 1, kind: 'torch-mps', text: '1 trial at a time on MPS', deviceName: String(rec.device_name) };
    return cpuPlan('torch-cpu');
  }
  const gpus = req.gpus === 'auto' ? Array.from({ length: visible }, (_, i) => i) : req.gpus;
  for (const g of gpus) {
    if (g >= visible) throw new UserError(`study.gpus = [${gpus.join(', ')}]: GPU ${g} does not exist (torch sees ${visible}: 0..${visible - 1})`);
  }
  const gpuSlots = gpus.flatMap((g) => Array.from({ length: req.trialsPerGpu }, () => g));
  const capacity = Math.max(1, Math.min(req.slots, gpuSlots.length));
  return {
    capacity, threads: 1, kind: 'torch-cuda', gpuSlots, deviceName: String(rec.device_name),
    text: `${capacity} trial${capacity === 1 ? '' : 's'} at a time on ${gpus.length} GPU${gpus.length === 1 ? '' : 's'} (${String(rec.device_name)}), up to ${req.trialsPerGpu} per GPU`,
  };
}
