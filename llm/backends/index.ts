// Training backends: importing this registers local, http, together and openai.
export * from './protocol.ts';
export { registerBackend, registeredBackends, createTrainingBackend, selectTrainingBackend, backendFromConfig } from './registry.ts';
export type { BackendOptions } from './registry.ts';
export { capabilityMatrix, checkAgainstCapabilities, matrixRow } from './capabilities.ts';
export { checkRunData } from './data-check.ts';
export { readJobRecord, JOB_FILE } from './job-file.ts';
export type { JobRecord } from './job-file.ts';
export { createLocalBackend, defaultMaxLength, LOCAL_CAPABILITIES, LOCAL_DEFAULTS, localSettings, settingsForModel, type LocalRunOptions, type LocalStartOptions, type LocalTrainingBackend } from './local.ts';
export { createTogetherBackend, TOGETHER_CAPABILITIES } from './together.ts';
export { createOpenAIBackend, OPENAI_CAPABILITIES, OPENAI_ACCESS_NOTE } from './openai.ts';
export { createHttpBackend } from './http/client.ts';
export { trainingApi, serveTrainingApi, checkApiBinding } from './http/server.ts';
export type { TrainingApi, TrainingApiOptions } from './http/server.ts';
