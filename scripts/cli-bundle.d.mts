import type { BuildOptions } from 'esbuild';
export declare const root: string;
export declare function cliBuildOptions(outfile: string): BuildOptions;
export declare function libBuildOptions(outdir: string): BuildOptions;
