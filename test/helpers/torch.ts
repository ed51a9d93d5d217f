import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * The Python the torch-engine tests run: Debian's (python3-torch), named
 * explicitly because the first python3 on PATH may be another one.
 * INRSCAPE_TEST_PYTHON names another. Tests that need it are skipped, with
 * the reason, where it cannot import torch.
 */
export const TEST_PYTHON = process.env.INRSCAPE_TEST_PYTHON ?? '/usr/bin/python3';

function probe(code: string): string | undefined {
  if (!existsSync(TEST_PYTHON)) return undefined;
  const r = spawnSync(TEST_PYTHON, ['-c', code], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export const torchVersion = probe('import torch; print(torch.__version__)');
export const hasCuda = torchVersion !== undefined && probe('import torch; print(torch.cuda.is_available())') === 'True';

/** `skip` for node:test: false, or why the test cannot run here. */
export const noTorch: string | false = torchVersion === undefined ? `${TEST_PYTHON} cannot import torch (apt-get install python3-torch)` : false;
export const noCuda: string | false = noTorch || (hasCuda ? false : `torch ${torchVersion} at ${TEST_PYTHON} sees no CUDA device`);
