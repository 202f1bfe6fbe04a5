// Types for runtime-env.mjs, so TypeScript callers (tests/setup/env.ts) are checked.
export declare const SWIFTSHADER_ICD: string;
export declare function applyRuntimeEnv(env?: NodeJS.ProcessEnv): void;
export declare function lavapipeIcd(dir?: string): string | undefined;
export declare function hasGpuDevice(): boolean;
