import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_SECRETS } from './app.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Bound on every spawned command, so a hung one fails its test instead of the run. */
export const RUN_TIMEOUT_MS = 15_000;

/**
 * Runs `command args` with only `env` (plus PATH) and collects its output. Killed with SIGKILL after
 * `timeoutMs`; the result then has signal 'SIGKILL', which the caller's expectation on `code` reports.
 */
export function run(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? RUN_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A compiled script under dist/scripts/, checked to exist so a missing build says so plainly. */
export function builtScript(name: string): string {
  const file = fileURLToPath(new URL(`../../dist/scripts/${name}.js`, import.meta.url));
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npx tsc -p tsconfig.json\` first (npm test does)`);
  return file;
}

/** Runs a compiled script with node, as `npm run admin` / `npm run backup` do. */
export const runScript = (name: string, args: string[], env: Record<string, string>) => run(process.execPath, [builtScript(name), ...args], { env });

/**
 * Writes the test app's secrets into `dataDir` as the server would have generated them, so a script
 * loading its configuration like main.ts does reads the same keys as the in-process test app.
 */
export function writeTestSecrets(dataDir: string): void {
  writeFileSync(join(dataDir, 'jwt-secret'), TEST_SECRETS.jwtSecret.toString('base64') + '\n', { mode: 0o600 });
  writeFileSync(join(dataDir, 'data-key'), TEST_SECRETS.dataKey.toString('base64') + '\n', { mode: 0o600 });
}
