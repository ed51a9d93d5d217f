/** The stand-in `claude`'s answer module for end-to-end studies: a model that does its job (model.ts), in JSON mode. */
import { competentJson } from './model.js';

export default function answer(prompt: string): string {
  return competentJson(prompt);
}
