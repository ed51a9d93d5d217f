import { relative, resolve } from 'node:path';

/** A path as the user would type it: relative under the working folder, absolute elsewhere. */
export const rel = (p: string): string => {
  const r = relative(process.cwd(), resolve(p));
  return r === '' ? '.' : r.startsWith('..') ? resolve(p) : r;
};
