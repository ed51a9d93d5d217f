/**
 * The study core: journal, state, tree, safety, cost model, agents' decisions
 * and rendered files. Pure logic and files; running trials is the loop's job
 * (see docs/study.md, "For the loop").
 */
export * from './journal.js';
export * from './state.js';
export * from './tree.js';
export * from './classify.js';
export * from './safety.js';
export * from './cost-model.js';
export * from './budget.js';
export * from './seeds.js';
export * from './files.js';
export * from './create.js';
export * from './advance.js';
export * from './export.js';
export * from './builder.js';
export * from './simulate.js';
export * from './render/index.js';
export * from './agents/index.js';
