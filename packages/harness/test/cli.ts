/** Runs the smpsim command line in a child process, for tests of exit statuses and output. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const bin = join(root, 'packages/harness/bin/smpsim.js');

export interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `smpsim ...args` from the repository root; resolves with the exit status and both outputs. */
export const cli = (args: string[], timeoutMs = 120_000) =>
  new Promise<Spawned>((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: timeoutMs }, (e, stdout, stderr) => {
      resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
