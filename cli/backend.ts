// The backend a command runs on: --backend, else $WGRAD_BACKEND, else auto.
import { createBackend, type Backend, type BackendChoice, type MatmulPrecision } from '../engine/index.ts';
import { log } from './args.ts';

export async function openBackend(o: Record<string, unknown>, extra: { timestampQuery?: boolean } = {}): Promise<Backend> {
  const backend = await createBackend({
    backend: o.backend as BackendChoice | undefined, matmulPrecision: o.matmulPrecision as MatmulPrecision | undefined, ...extra,
  });
  log(`wgrad: backend ${backend.description}`);
  return backend;
}
