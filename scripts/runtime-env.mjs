// The runtime environment defaults live with the CLI, which applies them itself (cli/runtime-env.mjs);
// `npm start` (with-env.mjs) and the tests import them from here.
export * from '../cli/runtime-env.mjs';
