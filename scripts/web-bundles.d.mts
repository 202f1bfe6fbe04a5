// Types for web-bundles.mjs, so TypeScript callers (tests/browser/run.ts) are checked.
import type { BuildOptions } from 'esbuild';

export declare const webStaticFiles: [string, string][];
export declare function testPageBuildOptions(): BuildOptions & { entryPoints: Record<string, string> };
export declare function benchPageBuildOptions(): BuildOptions & { entryPoints: Record<string, string> };
export declare function appBuildOptions(): BuildOptions & { entryPoints: Record<string, string> };
export declare const demoModel: { from: string; to: string; files: string[] };
