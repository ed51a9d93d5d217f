/**
 * `inrscape study ...`: run, resume and read studies (docs/study.md).
 *
 *   inrscape study                          the built-in short study (dicty-small, rules agent)
 *   inrscape study run <config.yaml> [--agent A] [--iterations N] [--slots K] [--block B] [--dir DIR] [--seed S] [--threads T]
 *   inrscape study resume <dir> [--iterations N] [--threads T]
 *   inrscape study status <dir>
 *   inrscape study best <dir> [--yaml]
 *   inrscape study export <dir> --csv [--out FILE]
 *   inrscape study enqueue <dir> <config.yaml> [--parent N] [--note TEXT]
 */
import { existsSync, readFileSync } from 'node:fs';
import { optionalInt } from './flags.js';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import YAML from 'yaml';
import { AGENTS, checkExecutor, type AgentName, type StudyConfig } from '../config/study.js';
import { loadConfig, parseConfig } from '../config/schema.js';
import { isMapping } from '../config/values.js';
import { readDatasetMeta } from '../data/dataset.js';
import { LocalRunner } from '../exec/local.js';
import { BatchRunner } from '../exec/batch.js';
import { CommandProgram } from '../exec/command-program.js';
import { LsfScheduler } from '../exec/lsf.js';
import type { Scheduler } from '../exec/scheduler.js';
import { SlurmScheduler } from '../exec/slurm.js';
import type { TrialRequest } from '../exec/runner.js';
import { parseExecutor } from '../config/executor.js';
import { placeTrials, type TrialPlacement } from '../exec/placement.js';
import { ENGINE_FLAG_HELP, withEngineFlags, type EngineFlags } from './engine.js';
import { planConcurrency, type ConcurrencyPlan } from '../exec/concurrency.js';
import { UserError, show } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { bestConfigYaml, exportCsv } from '../study/export.js';
import { ANALYSIS_FILE, MEMORY_FILE, REASONING_FILE, UCB_FILE, configFile, runDir } from '../study/files.js';
import { writeInboxRequest, requestId } from '../study/inbox.js';
import { JOURNAL_VERSION, journalPath, type JournalEntry } from '../study/journal.js';
import { lockHolder } from '../study/lock.js';
import { appendEvent, changeIterations, createStudy, loadStudy, openStudy, runLoop, type OpenStudy } from '../study/loop.js';
import { callWhere } from '../study/render/reasoning.js';
import { renderStatus } from '../study/render/status.js';
import { configBrief, e3, f1, f4, f6, oneLine } from '../study/render/text.js';
import { formatErrors, safetyContext, validateProposal } from '../study/safety.js';
import { foldEvents, nextAction, type StudyState } from '../study/state.js';
import { bestNode } from '../study/tree.js';
import { BackgroundPlots } from './background-plots.js';
import { CommandExit } from './exit.js';
import { rel } from './paths.js';
import { REPORT_FILE, writeReport } from '../view/report.js';
import { RUN_FIGURES_DIR } from '../view/write.js';
import { changedLlm, dryRunText, llmSettings, type LlmFlags } from './study-llm.js';
import { resolveLlmSettings } from '../study/agents/llm/index.js';
import { LlmStopError } from '../study/agents/llm/provider.js';
import { oneOfRule } from '../config/suggest.js';
import { studyCreatedEvent } from '../study/create.js';
import { studyPrior } from './study-prior.js';

/** Where `inrscape study` (no arguments) keeps its study; run again, it resumes it, or shows it when complete. */
export const DEFAULT_STUDY_DIR = join('studies', 'default');

/**
 * The built-in short study: dicty-small, the rules agent, 8 trials in batches
 * of 2 (4 batches, 2 blocks) with a 2-minute budget per trial, from a base
 * config that fits dicty-small well on a CPU (hidden 128, lr 1e-3, 1000
 * steps), searching 300..3000 steps and widths 128..512. Training time is
 * bounded by 4 batches x 2 minutes; on the 2-core development machine the
 * whole command took 3.6 minutes, data set generation included
 * (docs/performance.md, "The default study").
 */
export const DEFAULT_STUDY_YAML = `# inrscape's built-in short study (inrscape study)
dataset:
  preset: dicty-small
inr:
  omega_inr: 10.0
  inr_learning_rate: 1.0E-3
  hidden_dim_inr: 128
  n_layers_inr: 3
  inr_total_steps: 1000
  inr_batch_size: 8
  inr_xy_period: 1.0
  inr_t_period: 1.0
study:
  iterations: 8
  slots: 2
  block: 4
  ucb_c: 1.414
  max_trial_minutes: 2
  agent: rules
  seed: 0
  search_space:
    inr_total_steps: {min: 300, max: 3000}
    hidden_dim_inr: {min: 128, max: 512}
`;

interface RunFlags extends LlmFlags, EngineFlags {
  executor?: string;
  dryRun?: boolean;
  agent?: string;
  iterations?: string;
  slots?: string;
  block?: string;
  dir?: string;
  seed?: string;
  threads?: string;
}


function agentFlag(value: string | undefined): AgentName | undefined {
  if (value === undefined) return undefined;
  if (!(AGENTS as readonly string[]).includes(value)) throw new UserError(`--agent = ${show(value)}: ${oneOfRule(value, AGENTS)}`);
  return value as AgentName;
}

/** studies/<config name>-<YYYYMMDD-HHMMSS UTC>, under the working folder. */
export function defaultStudyDir(configPath: string, now = new Date()): string {
  const stem = basename(configPath, extname(configPath)).replace(/[^A-Za-z0-9._-]+/g, '_') || 'study';
  const iso = now.toISOString();
  return join('studies', `${stem}-${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`);
}

/** One line per finished trial, one per batch and block: the study's progress on stdout. */
export function progressLine(entry: JournalEntry, state: StudyState): string | undefined {
  const e = entry.event;
  switch (e.type) {
    case 'batch_proposed': {
      const ids = e.trials.map((t) => t.node);
      return `batch ${e.batch} (block ${e.block}, ${e.agent}): training node${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`;
    }
    case 'trial_started':
      return e.attempt > 1 ? `iter ${String(e.node).padStart(3)}  re-running (attempt ${e.attempt}, same config and seed)` : undefined;
    case 'trial_finished': {
      const n = state.nodes[e.node - 1];
      const m = e.metrics;
      return `iter ${String(e.node).padStart(3)}  ${(n.klass ?? '').padEnd(9)}  R2=${f6(m.final_r2)}  MSE=${e3(m.final_mse)}  slope=${f4(m.slope)}  ${f1(m.training_time_min)} min${m.time_limited ? ' (stopped by the budget)' : ''}  ${oneLine(n.mutation)}`;
    }
    case 'trial_failed': {
      const n = state.nodes[e.node - 1];
      return `iter ${String(e.node).padStart(3)}  failed     ${oneLine(e.reason)}  ${oneLine(n.mutation)}`;
    }
    case 'agent_call': {
      const where = callWhere(e);
      if (e.error !== undefined) return `llm    ${where}: the call failed after ${e.tries} ${e.tries === 1 ? 'try' : 'tries'}: ${oneLine(e.error)}`;
      const errors = e.results.filter((r) => r.startsWith('ERROR')).length;
      const tokens = e.usage ? `, ${e.usage.input_tokens}/${e.usage.output_tokens} tokens` : '';
      return `llm    ${where}${e.round ? ` (repair ${e.round})` : ''}: ${e.calls.length} tool call${e.calls.length === 1 ? '' : 's'}${errors ? `, ${errors} rejected` : ''}, ${(e.latency_ms / 1000).toFixed(1)} s${tokens}${e.cost_usd !== undefined ? `, $${e.cost_usd.toFixed(4)}` : ''}`;
    }
    case 'block_closed': {
      const best = e.best_node === null ? undefined : state.nodes[e.best_node - 1];
      return `block ${e.block} closed${best?.metrics ? `: best node ${best.id}, R2=${f6(best.metrics.final_r2)}` : ''}`;
    }
    default:
      return undefined;
  }
}

/** The end of a run: the status table, the best config and where the files are. */
export function summary(dir: string, state: StudyState): string {
  const lines: string[] = ['', renderStatus(state).trimEnd(), ''];
  const best = bestNode(state);
  const yaml = bestConfigYaml(state);
  if (best && yaml) {
    lines.push(`best configuration (node ${best.id}, ${configFile(best.id, best.slot)}):`, '', yaml.trimEnd(), '');
  }
  lines.push(
    `files (${rel(dir)}):`,
    `  ${rel(journalPath(dir))}  the journal: every event, the study's only record`,
    `  ${rel(join(dir, ANALYSIS_FILE))}  one entry per trial (the protocol's format)`,
    `  ${rel(join(dir, MEMORY_FILE))}  working memory: regimes, principles, open questions`,
    `  ${rel(join(dir, UCB_FILE))}  the current block's PUCT scores`,
    ...(state.calls.length ? [`  ${rel(join(dir, REASONING_FILE))}  everything the LLM agent's model said (text, tool calls, tokens, cost)`] : []),
    `  ${rel(join(dir, 'config'))}/iter_NNN_slot_NN.yaml  each trial's whole config`,
    `  ${rel(join(dir, 'runs'))}/iter_NNN_slot_NN/  each trial's run folder (results.log, run.json, model.safetensors, predictions)`,
  );
  if (best) lines.push(`  best run: ${rel(join(dir, runDir(best.id, best.slot)))}`);
  lines.push(
    `more: inrscape study status ${rel(dir)} | best ${rel(dir)} --yaml | export ${rel(dir)} --csv | enqueue ${rel(dir)} <config.yaml>`,
  );
  return lines.join('\n') + '\n';
}

function concurrency(state: StudyState, threadsFlag: string | undefined): ConcurrencyPlan {
  const threads = optionalInt('--threads', threadsFlag, 1);
  return planConcurrency(state.settings.slots, threads === undefined ? {} : { threads });
}

/** What the loop's cost prior needs to know of where trials run (a Slurm job has its GPU to itself; a cluster's nodes are not this machine). */
type RunnerPlan = Pick<TrialPlacement, 'kind' | 'threads' | 'text'> & { trialsPerDevice: number; here: boolean };

/** The prior a dry run prices its prompt with: the loop's, for the native engine at the study's threads per trial. */
function dryRunPrior(state: StudyState, threadsFlag: string | undefined): Promise<number> {
  const { executor } = state.config.study;
  const here = executor !== 'slurm' && executor !== 'lsf';
  return studyPrior({ kind: 'cpu', threads: concurrency(state, threadsFlag).threads, trialsPerDevice: 1, here }, (msg) => void process.stderr.write(`inrscape: ${msg}\n`));
}

/** The cluster a study's settings name, if any: its scheduler, the CPUs of a job, and where its jobs go, in words. */
function cluster(settings: StudyConfig): { scheduler: Scheduler; threads: number; text: string } | undefined {
  if (settings.executor === 'slurm') {
    const slurm = settings.slurm ?? { extra: [] };
    const threads = slurm.cpus ?? 1;
    return { scheduler: new SlurmScheduler(slurm, threads), threads, text: `Slurm jobs at a time${slurm.partition ? ` on partition ${slurm.partition}` : ''}` };
  }
  if (settings.executor === 'lsf') {
    const lsf = settings.lsf ?? { extra: [] };
    const threads = lsf.cpus ?? 1;
    return { scheduler: new LsfScheduler(lsf, threads), threads, text: `LSF jobs at a time${lsf.queue ? ` in queue ${lsf.queue}` : ''}` };
  }
  return undefined;
}

/**
 * Where the study's trials run, and what they run (`inrscape train`, or the
 * user's `study.command`). Locally, the trials are placed on this machine's
 * cores or GPUs; on a cluster the scheduler queues the batch (every slot
 * submits at once, each job with the CPUs its settings ask for) and nothing
 * is probed here, on a login node that may have no GPU.
 */
async function trialRunner(
  study: OpenStudy, threadsFlag: string | undefined, onNote: (req: TrialRequest, msg: string) => void,
): Promise<{ runner: LocalRunner; plan: RunnerPlan }> {
  const { engine, study: settings } = study.state.config;
  const slots = study.state.settings.slots;
  const program = settings.command !== undefined ? new CommandProgram(settings.command) : undefined;
  const trains = program === undefined ? '' : `, each running ${program.name}`;
  const jobs = cluster(settings);
  if (jobs !== undefined) {
    const { scheduler, threads } = jobs;
    const runner = new BatchRunner({ capacity: slots, threads, scheduler, program, onNote });
    await runner.check();
    const kind = engine.name === 'cpu' ? 'cpu' : engine.device.startsWith('cuda') ? 'torch-cuda' : 'torch-cpu';
    const text = `${slots} ${jobs.text}, ${threads} CPU${threads === 1 ? '' : 's'} each${trains}`;
    return { runner, plan: { kind, threads, text, trialsPerDevice: 1, here: false } };
  }
  const plan = await placeTrials({ engine, slots, threads: optionalInt('--threads', threadsFlag, 1), gpus: settings.gpus, trialsPerGpu: settings.trials_per_gpu });
  const runner = new LocalRunner({ capacity: plan.capacity, threads: plan.threads, gpuSlots: plan.gpuSlots, program, onNote });
  return { runner, plan: { ...plan, text: plan.text + trains, trialsPerDevice: settings.trials_per_gpu, here: true } };
}

/** Run an open study to the end, printing progress; kills its trials and releases the lock on SIGINT/SIGTERM. */
async function drive(study: OpenStudy, threadsFlag: string | undefined): Promise<void> {
  // A closed stdout (`inrscape study run ... | head`) must not end a study that trains for hours.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  const out = (s: string): void => void process.stdout.write(s + '\n');
  const onNote = (req: TrialRequest, msg: string): void => out(`iter ${String(req.node).padStart(3)}  ${msg}`);
  let runner: LocalRunner, plan: RunnerPlan;
  try {
    ({ runner, plan } = await trialRunner(study, threadsFlag, onNote));
  } catch (err) {
    study.close();
    throw err;
  }
  const s = study.state.settings;
  out(`study ${rel(study.dir)}: ${study.state.name}, agent ${s.agent}, ${s.iterations} trials in batches of ${s.slots}, budget ${s.max_trial_minutes} min per trial; ${plan.text}`);
  const onSignal = (sig: NodeJS.Signals): void => {
    runner.killAll();
    study.close();
    process.stderr.write(`\ninrscape: interrupted (${sig}); continue with 'inrscape study resume ${rel(study.dir)}'\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A user's trainer writes no run.json to draw from.
  const figures = study.state.config.study.figures !== false;
  const plots = figures && study.state.config.study.command === undefined ? new BackgroundPlots(study.dir) : undefined;
  // A killed study may have left finished trials undrawn.
  for (const n of study.state.nodes) {
    if (n.status === 'finished' && n.pruned === undefined && n.run_dir !== undefined && !existsSync(join(study.dir, n.run_dir, RUN_FIGURES_DIR))) plots?.add(join(study.dir, n.run_dir));
  }
  try {
    await runLoop(study, {
      runner,
      priorFlopsPerSecond: await studyPrior(plan, out),
      onEvent: (entry, state) => {
        const line = progressLine(entry, state);
        if (line !== undefined) out(line);
        if (entry.event.type === 'trial_finished' && entry.event.run_dir !== undefined) plots?.add(join(study.dir, entry.event.run_dir));
      },
      onNote: (msg) => out(msg),
    });
  } catch (err) {
    // Nothing half-done is left: the journal has every complete step, and resume takes it from there.
    if (err instanceof LlmStopError) throw new UserError(`${err.message}\nthe study stopped cleanly; once fixed, continue with 'inrscape study resume ${rel(study.dir)}'`);
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    runner.killAll();
    study.close();
  }
  await plots?.drain();
  process.stdout.write(summary(study.dir, study.state));
  if (figures) {
    const report = await writeReport([study.dir], join(study.dir, REPORT_FILE));
    out(`report: ${rel(report.html)} (figures in ${rel(report.pngDir)}/, summary ${rel(report.markdown)})`);
  }
}

function warn(warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`inrscape: warning: ${w}\n`);
}

async function runDefault(flags: { threads?: string }): Promise<void> {
  const dir = resolve(DEFAULT_STUDY_DIR);
  if (existsSync(journalPath(dir))) {
    const state = loadStudy(dir);
    if (nextAction(state).kind === 'done') {
      process.stdout.write(`the default study in ${rel(dir)} is complete (remove the folder to run it again, or use 'inrscape study run <config>' for a new study)\n`);
      process.stdout.write(summary(dir, state));
      return;
    }
    process.stdout.write(`resuming the default study in ${rel(dir)}\n`);
    await drive(openStudy(dir, 'inrscape study'), flags.threads);
    return;
  }
  // Its only warnings say that a CPU study's steps are below the protocol's GPU-sized typical range: known, not shown.
  const { config } = parseConfig(DEFAULT_STUDY_YAML, 'the built-in default study');
  const study = await createStudy(dir, config, {
    command: 'inrscape study', onGenerate: (d) => process.stdout.write(`generating the dicty-small data set into ${rel(d)} (once)\n`),
  });
  await drive(study, flags.threads);
}

export function registerStudy(program: Command): void {
  const study = program
    .command('study')
    .description(`search the inr: parameters with an agent, trial by trial (docs/study.md); with no subcommand: a short built-in study on dicty-small into ${DEFAULT_STUDY_DIR}`)
    .option('--threads <n>', 'engine threads per trial (default: measured best; trials at once = cores / threads)')
    .action(async (flags: { threads?: string }) => {
      await runDefault(flags);
    });
  // `study` declares --threads too (for the default study), and commander hands a
  // parent's option to the parent wherever it stands: `study run c.yaml --threads 2`
  // puts the 2 in study's options, not run's.
  const parentThreads = (): string | undefined => study.opts<{ threads?: string }>().threads;

  study
    .command('run')
    .description("start a study from a config (its dataset:, inr: as the base config, study: settings)")
    .argument('<config>', 'config YAML')
    .addOption(new Option('--agent <name>', 'rules | tpe | random | llm | hybrid (default: study.agent)'))
    .option('--provider <name>', 'LLM agent: anthropic | openai | claude-cli (default: study.llm.provider, anthropic)')
    .option('--model <name>', 'LLM agent: the model (default: the provider\'s, docs/agents.md)')
    .option('--base-url <url>', 'LLM agent: an OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio) or another endpoint')
    .option('--instructions <file>', 'LLM agent: instructions replacing the built-in study protocol')
    .option('--dry-run', 'LLM agent: print the first request (system, tools, message) and send nothing')
    .option('--iterations <n>', 'trials in the whole study (default: study.iterations, 48)')
    .option('--slots <k>', 'trials per batch (default: study.slots, 4)')
    .option('--block <b>', 'iterations per block (default: study.block, 24)')
    .option('--dir <dir>', 'the study folder (default studies/<config name>-<UTC date-time>)')
    .option('--seed <s>', 'the study seed: agents and trial seeds derive from it (default: study.seed)')
    .option('--threads <n>', 'engine threads per trial (default: measured best; trials at once = cores / threads)')
    .option('--engine <name>', ENGINE_FLAG_HELP.engine)
    .option('--device <device>', ENGINE_FLAG_HELP.device)
    .option('--precision <p>', ENGINE_FLAG_HELP.precision)
    .option('--python <path>', ENGINE_FLAG_HELP.python)
    .option('--executor <name>', 'where trials run: local | slurm | lsf | command (default: study.executor, local; docs/cluster.md)')
    .action(async (configPath: string, flags: RunFlags) => {
      flags.threads ??= parentThreads();
      const agent = agentFlag(flags.agent);
      const iterations = optionalInt('--iterations', flags.iterations, 1);
      const slots = optionalInt('--slots', flags.slots, 1);
      const block = optionalInt('--block', flags.block, 1);
      const seed = optionalInt('--seed', flags.seed, 0, 2 ** 32 - 1);
      optionalInt('--threads', flags.threads, 1);
      const { config, warnings } = loadConfig(configPath);
      warn(warnings);
      config.engine = withEngineFlags(config.engine, flags);
      if (flags.executor !== undefined) {
        config.study.executor = parseExecutor(flags.executor, '--executor');
        checkExecutor(config.study, '--executor');
      }
      const llm = llmSettings(agent ?? config.study.agent, config, flags, configPath);
      if (flags.dryRun) {
        if (llm === undefined) throw new UserError(`--dry-run shows the LLM agent's next request; the study's agent is ${agent ?? config.study.agent} (add --agent llm)`);
        // The data set's size feeds the cost model; a preset's is known, a folder's read (nothing is generated for a dry run).
        const workload = config.dataset.kind === 'path' ? readDatasetMeta(resolve(dirname(configPath), config.dataset.path)) : undefined;
        const created = studyCreatedEvent(config, {
          agent, iterations, slots, block, seed, llm, cpuPresetSpace: true,
          ...(workload ? { workload: { cells: workload.cells, frames: workload.frames } } : {}),
        });
        const state = foldEvents([{ line: 1, event: { ...created, v: JOURNAL_VERSION, at: new Date().toISOString() } }]);
        process.stdout.write(dryRunText(state, llm, await dryRunPrior(state, flags.threads)));
        return;
      }
      const dir = resolve(flags.dir ?? defaultStudyDir(configPath));
      // A cluster that refuses the settings does so before a study folder exists.
      await cluster(config.study)?.scheduler.check();
      const opened = await createStudy(dir, config, {
        configPath, agent, iterations, slots, block, seed, llm: llm && resolveLlmSettings(llm), command: `inrscape study run ${configPath}`,
        onGenerate: (d) => process.stdout.write(`generating the data set into ${rel(d)} (once)\n`),
      });
      await drive(opened, flags.threads);
    });

  study
    .command('resume')
    .description('continue a study where its journal stops (after a crash, a kill or Ctrl-C); trials that were running re-run with the same config and seed')
    .argument('<dir>', 'the study folder')
    .option('--iterations <n>', 'extend (or set) the number of trials')
    .option('--threads <n>', 'engine threads per trial (default: measured best)')
    .option('--provider <name>', 'LLM agent: switch to another provider (anthropic | openai | claude-cli)')
    .option('--model <name>', 'LLM agent: switch to another model')
    .option('--base-url <url>', 'LLM agent: switch to another endpoint')
    .option('--dry-run', "LLM agent: print the study's next request (system, tools, message) and send nothing")
    .action(async (dir: string, flags: { iterations?: string; threads?: string; dryRun?: boolean } & Omit<LlmFlags, 'instructions'>) => {
      flags.threads ??= parentThreads();
      const iterations = optionalInt('--iterations', flags.iterations, 1);
      optionalInt('--threads', flags.threads, 1);
      if (flags.dryRun) {
        const state = loadStudy(resolve(dir));
        if (state.settings.llm === undefined) throw new UserError(`--dry-run shows the LLM agent's next request; study ${dir} uses the ${state.settings.agent} agent`);
        process.stdout.write(dryRunText(state, state.settings.llm, await dryRunPrior(state, flags.threads)));
        return;
      }
      const opened = openStudy(dir);
      try {
        // Checked (key, command) before anything is appended.
        const llm = changedLlm(opened.state.settings.llm, flags);
        if (iterations !== undefined) changeIterations(opened, iterations);
        if (llm !== undefined) appendEvent(opened, { type: 'settings_changed', llm });
      } catch (err) {
        opened.close();
        throw err;
      }
      if (nextAction(opened.state).kind === 'done') {
        opened.close();
        process.stdout.write(`study ${rel(opened.dir)} is complete (give --iterations N to extend it)\n`);
        process.stdout.write(summary(opened.dir, opened.state));
        return;
      }
      await drive(opened, flags.threads);
    });

  study
    .command('status')
    .description('the table of trials (id, parent, class, R2, MSE, slope, time, mutation) and the best so far')
    .argument('<dir>', 'the study folder')
    .action((dir: string) => {
      const state = loadStudy(dir);
      process.stdout.write(renderStatus(state));
      const holder = lockHolder(resolve(dir));
      process.stdout.write(holder ? `running: pid ${holder.pid} since ${holder.started_at}\n` : nextAction(state).kind === 'done' ? 'complete\n' : `not running: continue with 'inrscape study resume ${dir}'\n`);
    });

  study
    .command('best')
    .description('the best trial so far (highest R2 within the budget); --yaml prints its whole config')
    .argument('<dir>', 'the study folder')
    .option('--yaml', 'print the best config as YAML (ready for inrscape train)')
    .action((dir: string, flags: { yaml?: boolean }) => {
      const state = loadStudy(dir);
      const best = bestNode(state);
      if (!best || !best.metrics) throw new CommandExit(1, `study ${dir}: no trial has finished within the budget yet`);
      if (flags.yaml) {
        process.stdout.write(bestConfigYaml(state) ?? '');
        return;
      }
      const m = best.metrics;
      process.stdout.write(
        `best: node ${best.id} (${best.klass}), R2=${f6(m.final_r2)}, MSE=${e3(m.final_mse)}, slope=${f4(m.slope)}, ${f1(m.training_time_min)} min\n` +
          `config: ${configBrief(best.inr)}\n` +
          `mutation: ${oneLine(best.mutation)}\n` +
          `config file: ${join(dir, configFile(best.id, best.slot))}\n` +
          `run folder: ${join(dir, runDir(best.id, best.slot))}\n`,
      );
    });

  study
    .command('export')
    .description('the trials as a CSV with Optuna-style columns (number, state, value, params_*, user_attrs_*)')
    .argument('<dir>', 'the study folder')
    .option('--csv', 'CSV (the one format)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((dir: string, flags: { csv?: boolean; out?: string }) => {
      if (!flags.csv) throw new UserError('study export: give --csv (the only format so far)');
      const csv = exportCsv(loadStudy(dir));
      if (flags.out !== undefined) writeFileAtomic(resolve(flags.out), csv);
      else process.stdout.write(csv);
    });

  study
    .command('enqueue')
    .description("put your own configuration (its inr: section) into the study's next batch")
    .argument('<dir>', 'the study folder')
    .argument('<config>', "a config YAML; only its inr: keys are read (the others come from the study's base config, or --parent's)")
    .option('--parent <n>', 'the node it derives from (default: root)')
    .option('--note <text>', 'why: shown in the mutation text', '')
    .action((dir: string, configPath: string, flags: { parent?: string; note: string }) => {
      enqueue(dir, configPath, { parent: optionalInt('--parent', flags.parent, 1) ?? null, note: flags.note });
    });
}

/** The inr: keys a config file sets (values checked by the schema). */
function fileInr(configPath: string): Record<string, number> {
  const { config } = loadConfig(configPath);
  const raw: unknown = YAML.parse(readFileSync(configPath, 'utf8'));
  const section = isMapping(raw) && isMapping(raw.inr) ? raw.inr : undefined;
  if (section === undefined || Object.keys(section).length === 0) throw new UserError(`${configPath} has no inr: section to enqueue`);
  const out: Record<string, number> = {};
  for (const key of Object.keys(section)) {
    const v = (config.inr as Record<string, unknown>)[key];
    if (typeof v === 'number') out[key] = v;
  }
  return out;
}

function enqueue(dir: string, configPath: string, opts: { parent: number | null; note: string }): void {
  const inr = fileInr(configPath);
  const check = (state: StudyState) => {
    const v = validateProposal({ parent: opts.parent, inr }, safetyContext(state));
    if (!v.ok) throw new UserError(`cannot enqueue ${configPath} into study ${dir}:\n${formatErrors(v.errors)}`);
    return v;
  };
  const abs = resolve(dir);
  const holder = lockHolder(abs);
  if (holder !== undefined) {
    const v = check(loadStudy(abs));
    writeInboxRequest(abs, { request: requestId(), inr: v.inr, parent: v.parent, note: opts.note });
    process.stdout.write(`queued: the running study (pid ${holder.pid}) trains it in its next batch\n`);
    return;
  }
  const study = openStudy(abs, `inrscape study enqueue ${configPath}`);
  try {
    const v = check(study.state);
    const id = study.state.enqueued + 1;
    appendEvent(study, { type: 'enqueued', id, inr: v.inr, parent: v.parent, note: opts.note });
    const done = nextAction(study.state).kind === 'done';
    process.stdout.write(
      `enqueued as #${id}: the next batch trains it` +
        (done ? `; the study is complete: 'inrscape study resume ${dir} --iterations N' runs more trials\n` : ` (continue with 'inrscape study resume ${dir}')\n`),
    );
  } finally {
    study.close();
  }
}
