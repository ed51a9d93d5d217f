/** A benchmark's command-line flags: `--name` alone, or `--name value`. */
const args = process.argv.slice(2);

export const flag = (name: string): boolean => args.includes(name);

export function option(name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
}
