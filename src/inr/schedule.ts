/**
 * The trainer's schedules: when it evaluates, and its learning rate.
 *
 * Evaluations: one on all frames every max(1, floor(total_steps / 10)) steps
 * before the end, then the final one.
 */
export function evaluationEvery(totalSteps: number): number {
  return Math.max(1, Math.floor(totalSteps / 10));
}

/**
 * The reference's learning-rate schedule: torch.optim.lr_scheduler.CosineAnnealingLR
 * with T_max = total steps and eta_min = 0.01 * lr, stepped once after every
 * optimiser step. Step k (0-based) trains at
 *
 *     lr_k = eta_min + (lr - eta_min) * (1 + cos(pi * k / T)) / 2,   k = 0 .. T-1
 *
 * (torch's closed form; its chained update agrees to rounding). So the first
 * step uses the full rate and the last one a little above eta_min.
 */
export const ETA_MIN_FRACTION = 0.01;

export function cosineLr(baseLr: number, totalSteps: number, step: number): number {
  const etaMin = ETA_MIN_FRACTION * baseLr;
  return etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2;
}
