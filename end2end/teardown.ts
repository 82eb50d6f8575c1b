// After every test: the dashboard under test must not have panicked (serve.mjs).
import * as fs from 'node:fs';

export default async function teardown() {
  const file = process.env.E2E_PANICS;
  const panics = file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  if (panics) throw new Error(`the dashboard under test panicked (its log, ${file}):\n${panics}`);
}
