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

/** What doctor reads of a WebGPU backend's tile preferences (backends/routine.ts TilePreferences). */
type Tile = { rows: number; cols: number };
interface TilePreferences { matmul: readonly string[]; attention: { forward: readonly Tile[]; backward: readonly Tile[] } }

/** The WebGPU device profile line (and the tiles it has the kernels try), when the backend has one. */
export function profileLine(b: unknown): string | null {
  const { profile: p, tiles } = b as { profile?: { name: string; why: string; missingDawnFlags: string[] }; tiles?: TilePreferences };
  if (!p) return null;
  const flags = p.missingDawnFlags.length ? `; without WEBGPU_DAWN_FLAGS='${p.missingDawnFlags.join(' ')}' Dawn hides some of its features` : '';
  const list = (ts: readonly Tile[]) => ts.map((t) => `${t.rows}×${t.cols}`).join(' → ');
  const tileLine = tiles ? `\n  tiles tried in order: matmul ${tiles.matmul.join(' → ')}; attention forward ${list(tiles.attention.forward)}, backward ${list(tiles.attention.backward)}` : '';
  return `  device profile: ${p.name} (${p.why})${flags}${tileLine}`;
}
