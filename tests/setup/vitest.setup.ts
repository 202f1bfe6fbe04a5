// vitest setupFiles entry: runs in every fork before its test file is imported.
import { applyTestEnv } from './env.ts';

applyTestEnv();
