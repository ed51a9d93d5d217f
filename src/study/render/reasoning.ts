/**
 * reasoning.log: everything the LLM agent's model said, call by call, as the
 * reference keeps its model's raw output: the text verbatim, each tool call
 * with what inrscape answered, tokens, latency, cost, retries and failures.
 * Rendered from the journal's agent_call events. Control characters (terminal
 * escapes) are shown as `\u001b` so that printing the log cannot drive a terminal.
 */
import type { AgentCallEvent } from '../journal.js';
import type { StudyState } from '../state.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

function visible(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Which decision a call was for, in words: `batch 3 propose`, `block 1 close`. */
export function callWhere(c: Pick<AgentCallEvent, 'purpose' | 'batch' | 'block'>): string {
  return c.purpose === 'close_block' ? `block ${c.block ?? '?'} close` : `batch ${c.batch ?? '?'} ${c.purpose}`;
}

export function renderReasoning(state: StudyState): string {
  const out: string[] = [`# reasoning.log: the LLM agent's model calls in study ${visible(state.name)} (rendered from journal.jsonl)`, ''];
  state.calls.forEach((c, i) => {
    const where = callWhere(c);
    const usage = c.usage ? `, ${c.usage.input_tokens} tokens in / ${c.usage.output_tokens} out${c.usage.cache_read_tokens ? ` (${c.usage.cache_read_tokens} cached)` : ''}` : '';
    const cost = c.cost_usd !== undefined ? `, $${c.cost_usd.toFixed(4)}` : '';
    out.push(
      `=== call ${i + 1}: ${where}, round ${c.round} · ${visible(c.provider)} ${visible(c.model)}${c.mode ? ` (${c.mode})` : ''} · ${c.at} ===`,
      `prompt ${c.prompt_chars} chars (sha256 ${c.prompt_sha256.slice(0, 12)}), ${c.tries} ${c.tries === 1 ? 'try' : 'tries'}, ${(c.latency_ms / 1000).toFixed(1)} s${usage}${cost}${c.stop_reason ? `, stop ${visible(c.stop_reason)}` : ''}`,
    );
    for (const r of c.retries ?? []) out.push(`retry: ${visible(r)}`);
    if (c.error !== undefined) out.push(`FAILED: ${visible(c.error)}`);
    if (c.text !== '') out.push('--- text', visible(c.text));
    if (c.calls.length) out.push('--- tool calls');
    c.calls.forEach((call, k) => {
      out.push(`${k + 1}. ${visible(call.name)} ${call.malformed ? `(unreadable: ${visible(call.malformed)})` : visible(JSON.stringify(call.input))}`);
      const res = c.results[k];
      if (res !== undefined) out.push(`   -> ${visible(res).replace(/\n/g, '\n      ')}`);
    });
    for (const extra of c.results.slice(c.calls.length)) out.push(`-> ${visible(extra)}`);
    out.push('');
  });
  return out.join('\n');
}
