import type { Command } from 'commander';
import { MODEL_PARAMS, PRESETS, PRESET_NAMES } from '../config/dicty-model.js';
import { configToYaml, defaultConfig, loadConfig, resolveSearchSpace } from '../config/schema.js';
import { SEARCH_PARAMS } from '../config/search-space.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('show the config schema, the defaults, and check a config file');

  config
    .command('defaults')
    .description('print a complete config with every default, ready to edit')
    .action(() => {
      process.stdout.write(configToYaml(defaultConfig()));
    });

  config
    .command('check')
    .description('validate a config file; print its warnings and the search space a study would use')
    .argument('<config.yaml>')
    .action((path: string) => {
      const { config: cfg, warnings } = loadConfig(path);
      for (const w of warnings) process.stderr.write(`inrscape: warning: ${w}\n`);
      const space = resolveSearchSpace(cfg);
      process.stdout.write(`${path}: valid\nsearch space of a study:\n`);
      for (const p of SEARCH_PARAMS) {
        const r = space[p.key];
        const range = r.choices ? `{${r.choices.join(', ')}}` : `[${r.min}, ${r.max}]`;
        process.stdout.write(`  ${p.key.padEnd(18)} ${String(cfg.inr[p.key]).padEnd(10)} ${r.scale.padEnd(12)} ${range}\n`);
      }
    });

  config
    .command('params')
    .description('list the explorable INR parameters and the data generator parameters')
    .action(() => {
      process.stdout.write('inr: (explorable)\n  key                default    typical range        scale        mutation\n');
      for (const p of SEARCH_PARAMS) {
        const typical = `[${p.typical[0]}, ${p.typical[1]}]`;
        process.stdout.write(`  ${p.key.padEnd(18)} ${String(p.default).padEnd(10)} ${typical.padEnd(20)} ${p.scale.padEnd(12)} ${p.mutation.text}\n`);
      }
      process.stdout.write(`\ndataset: preset (${PRESET_NAMES.join(', ')}), seed, and any of\n`);
      for (const p of MODEL_PARAMS) process.stdout.write(`  ${p.key.padEnd(14)} ${String(p.default).padEnd(8)} ${p.help}\n`);
      process.stdout.write('\npresets:\n');
      for (const name of PRESET_NAMES) {
        const over = Object.entries(PRESETS[name].params).map(([k, v]) => `${k}=${v}`).join(' ');
        process.stdout.write(`  ${name.padEnd(12)} ${PRESETS[name].about}${over ? ` (${over})` : ''}\n`);
      }
    });
}
