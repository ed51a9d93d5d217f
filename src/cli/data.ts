import type { Command } from 'commander';
import { registerGenerate } from './data-generate.js';
import { registerImport } from './data-import.js';
import { registerInspect } from './data-inspect.js';

export function registerData(program: Command): void {
  const data = program.command('data').description('make, import and inspect cell data sets');
  registerGenerate(data);
  registerImport(data);
  registerInspect(data);
}
