/**
 * What a run's figures are drawn from: its run.json (loss history,
 * evaluations, metrics), its predictions and per-frame MSE, the ground truth
 * it names (a copy in the folder, or the data set's vel.npy) and the cells'
 * positions from the data set. Arrays are (frames, cells, 3) float32.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../data/formats/npy.js';
import { FRAME_MSE_FILE, GT_FILE, PRED_FILE } from '../inr/run-folder.js';
import { readRunRecord, type RunRecord } from '../inr/run.js';
import { UserError } from '../util/errors.js';

export interface RunData {
  dir: string;
  record: RunRecord;
  frames: number;
  cells: number;
  truth: Float32Array;
  pred: Float32Array;
  /** Positions in the unit box, when the data set folder is still there. */
  pos?: Float32Array;
  frameMse: Float32Array;
}

function npy(path: string, what: string, shape?: readonly number[]): { data: Float32Array; shape: number[] } {
  if (!existsSync(path)) throw new UserError(`${what} ${path} is not there`);
  const a = readNpy(readFileSync(path), path);
  if (shape !== undefined && a.shape.join(',') !== shape.join(',')) {
    throw new UserError(`${what} ${path} has shape (${a.shape.join(', ')}), the run's predictions (${shape.join(', ')})`);
  }
  return { data: a.data, shape: a.shape };
}

export function loadRunData(dir: string): RunData {
  if (!existsSync(join(dir, 'run.json'))) throw new UserError(`${dir} is not a run folder: it has no run.json`);
  const record = readRunRecord(dir);
  if (record.status !== 'ok') throw new UserError(`run ${dir} failed (${record.reason ?? 'no reason given'}): it has no predictions to draw`);
  const pred = npy(join(dir, PRED_FILE), 'the predictions');
  if (pred.shape.length !== 3 || pred.shape[2] !== 3) throw new UserError(`${join(dir, PRED_FILE)} must be (frames, cells, 3), got (${pred.shape.join(', ')})`);
  const gt = record.ground_truth as string | { file: string };
  const truthPath = typeof gt === 'string' ? join(dir, GT_FILE) : gt.file;
  const truth = npy(truthPath, 'the ground truth', pred.shape);
  const dataset = (record.dataset as { dir?: string } | undefined)?.dir;
  const posPath = dataset === undefined ? undefined : join(dataset, 'pos.npy');
  const pos = posPath !== undefined && existsSync(posPath) ? npy(posPath, 'the positions', pred.shape).data : undefined;
  const frameMse = npy(join(dir, FRAME_MSE_FILE), 'the per-frame MSE', [pred.shape[0]]).data;
  return { dir, record, frames: pred.shape[0], cells: pred.shape[1], truth: truth.data, pred: pred.data, ...(pos ? { pos } : {}), frameMse };
}
