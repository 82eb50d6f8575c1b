// Runs the dashboard under test and watches its log: a panic anywhere in it (a task, a
// page render, a value dropped on the wrong thread) may leave every page working, so
// no browser test would see it. Each one is written to the file named first; the global
// teardown (teardown.ts) fails the run when that file is not empty.
//   node serve.mjs PANICS_FILE BIN ARGS...
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

const [panics, bin, ...args] = process.argv.slice(2);
const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });

function watch(stream, out) {
  let rest = '';
  stream.on('data', (chunk) => {
    out.write(chunk);
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop();
    for (const line of lines) if (/panicked at/.test(line)) fs.appendFileSync(panics, line + '\n');
  });
}
watch(child.stdout, process.stdout);
watch(child.stderr, process.stderr);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
