#!/usr/bin/env node
// `node scripts/with-env.mjs FILE ARGS...`: run a Node script with the runtime-env defaults
// (SwiftShader when no Vulkan driver is chosen, an XDG_RUNTIME_DIR), so `npm start` works on a
// CPU-only machine and unchanged on the GPU machine (whose remote-env.sh picks the driver).
import { spawn } from 'node:child_process';
import { applyRuntimeEnv } from './runtime-env.mjs';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/with-env.mjs FILE [ARGS...]');
  process.exit(2);
}
applyRuntimeEnv();
const child = spawn(process.execPath, [file, ...args], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
