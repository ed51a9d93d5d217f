import { Command, CommanderError } from 'commander';
import { UserError } from '../util/errors.js';
import { registerConfig } from './config.js';
import { registerData } from './data.js';
import { CommandExit } from './exit.js';
import { registerDashboard } from './dashboard.js';
import { registerPlot, registerReport } from './plot.js';
import { registerStudy } from './study.js';
import { registerTrain } from './train.js';

export function buildProgram(): Command {
  const program = new Command('inrscape')
    .description('INR training-landscape studies: SIREN fits to cell-dynamics fields')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  registerData(program);
  registerTrain(program);
  registerConfig(program);
  registerStudy(program);
  registerPlot(program);
  registerReport(program);
  registerDashboard(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CommandExit) {
      if (err.message !== '') process.stderr.write(`inrscape: ${err.message}\n`);
      return err.code;
    }
    if (err instanceof UserError) {
      process.stderr.write(`inrscape: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

