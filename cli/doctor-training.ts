// The training-backend part of `wgrad doctor`: where each backend can run here (keys are checked
// for presence only, never printed), and the methods × backends matrix with why a cell is empty.
import { capabilityMatrix, createTrainingBackend, OPENAI_ACCESS_NOTE } from '../llm/backends/index.ts';

export async function trainingBackendsReport(): Promise<string[]> {
  const backends = ['local', 'together', 'openai'].map((n) => createTrainingBackend(n));
  const lines = ['', 'training backends:'];
  for (const b of backends) {
    const why = await b.unavailable();
    lines.push(`  ${b.name}: ${why ? `unavailable — ${why}` : `ok — ${b.description}`}`);
  }
  lines.push(`  http://HOST:PORT: a wgrad server (wgrad serve --api) on another machine`);
  lines.push(`  note: ${OPENAI_ACCESS_NOTE}.`, '', capabilityMatrix(backends));
  return lines;
}

/** The WebGPU device profile line, when the backend has one. */
export function profileLine(b: unknown): string | null {
  const p = (b as { profile?: { name: string; why: string; missingDawnFlags: string[] } }).profile;
  if (!p) return null;
  const flags = p.missingDawnFlags.length ? `; without WEBGPU_DAWN_FLAGS='${p.missingDawnFlags.join(' ')}' Dawn hides some of its features` : '';
  return `  device profile: ${p.name} (${p.why})${flags}`;
}
