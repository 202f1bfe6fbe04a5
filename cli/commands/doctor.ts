// wgrad doctor: which backends start here, with the adapter, features and limits, or why not.
import { createBackend } from '../../engine/index.ts';
import type { CommandSpec } from '../args.ts';
import { profileLine, trainingBackendsReport } from '../doctor-training.ts';

export const doctorSpec: CommandSpec = {
  name: 'doctor',
  summary: 'show the backends this machine can run, and why the others cannot',
  flags: [],
  run: async () => {
    console.log(`runtime: node ${process.versions.node} on ${process.platform}-${process.arch}`);
    console.log(`WGRAD_BACKEND=${process.env.WGRAD_BACKEND ?? ''}  VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? ''}`);
    for (const name of ['cpu', 'webgpu'] as const) {
      try {
        const b = await createBackend({ backend: name });
        console.log(`${name}: ok — ${b.description}`);
        const profile = profileLine(b);
        if (profile) console.log(profile);
        b.destroy();
      } catch (e) {
        console.log(`${name}: unavailable — ${(e as Error).message}`);
      }
    }
    for (const l of await trainingBackendsReport()) console.log(l);
  },
};
