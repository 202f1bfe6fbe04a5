export * from '../cli/runtime-env.mjs';
