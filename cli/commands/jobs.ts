// wgrad jobs list|status|events|cancel|pause|resume|estimate: jobs kept by a training backend
// (together, openai, a wgrad server), named by id with --backend, or by the output folder whose
// job.json recorded them (--output-dir).
import { createTrainingBackend, readJobRecord, type JobInfo, type TrainingBackend } from '../../llm/backends/index.ts';
import { choice, list, positive, positiveInt, UsageError, type CommandSpec, type Flag } from '../args.ts';
import { describeEvent } from '../training-backend.ts';

const where: Flag[] = [
  { flags: '--backend <name>', help: 'together | openai | http://HOST:PORT (default: the one in --output-dir/job.json)' },
  { flags: '--output-dir <dir>', help: 'a run folder whose job.json names the backend and the job' },
  { flags: '--base-url <url>', help: 'the API base URL (proxies; default $TOGETHER_BASE_URL / $OPENAI_BASE_URL)' },
];

/** The backend and job id a jobs subcommand works on. */
async function target(o: Record<string, unknown>, id: string | undefined, needId: boolean): Promise<{ b: NonNullable<TrainingBackend['jobs']>; id: string; name: string }> {
  let spec = o.backend as string | undefined;
  let baseUrl = o.baseUrl as string | undefined;
  if (o.outputDir) {
    const rec = await readJobRecord(o.outputDir as string);
    spec ??= rec.backend === 'http' ? rec.baseUrl ?? undefined : rec.backend;
    baseUrl ??= rec.backend === 'http' ? undefined : rec.baseUrl ?? undefined;
    id ??= rec.jobId;
  }
  if (!spec) throw new UsageError('give --backend together|openai|http://HOST:PORT, or --output-dir of a run started with one');
  const backend = createTrainingBackend(spec, { baseUrl });
  if (!backend.jobs) throw new UsageError(`backend ${backend.name} keeps no jobs (its runs live in their output folders)`);
  if (needId && !id) throw new UsageError('give a job id, or --output-dir of the run');
  return { b: backend.jobs, id: id ?? '', name: backend.name };
}

const line = (j: JobInfo) => `${j.id}  ${j.status.padEnd(9)}  ${j.providerStatus.padEnd(16)}  ${j.model}${j.resultModel ? `  → ${j.resultModel}` : ''}${j.createdAt ? `  (${j.createdAt})` : ''}`;

const sub = (name: string, summary: string, run: (o: Record<string, unknown>, id: string | undefined) => Promise<void>): CommandSpec => ({
  name, summary, args: name === 'list' ? [] : ['[id]'], flags: where, run: (o, args) => run(o, args[0] as string | undefined),
});

export const jobsSpec: CommandSpec = {
  name: 'jobs',
  summary: 'list, follow and control jobs on hosted backends and wgrad servers',
  flags: [],
  run: () => { throw new UsageError('expected a subcommand: list, status, events, cancel, pause, resume (see wgrad jobs --help)'); },
  subcommands: [
    sub('list', 'the backend\'s fine-tuning jobs', async (o) => {
      const { b } = await target(o, undefined, false);
      for (const j of await b.list()) console.log(line(j));
    }),
    sub('status', 'one job\'s status', async (o, id) => {
      const t = await target(o, id, true);
      console.log(line(await t.b.status(t.id)));
    }),
    sub('events', 'one job\'s events, oldest first', async (o, id) => {
      const t = await target(o, id, true);
      for (const e of await t.b.events(t.id)) console.log(describeEvent(e));
    }),
    sub('cancel', 'cancel a job', async (o, id) => {
      const t = await target(o, id, true);
      console.log(line(await t.b.cancel(t.id)));
    }),
    sub('pause', 'pause a running job (openai)', async (o, id) => {
      const t = await target(o, id, true);
      if (!t.b.pause) throw new UsageError(`backend ${t.name} cannot pause jobs`);
      console.log(line(await t.b.pause(t.id)));
    }),
    sub('resume', 'resume a paused job (openai)', async (o, id) => {
      const t = await target(o, id, true);
      if (!t.b.unpause) throw new UsageError(`backend ${t.name} cannot resume paused jobs`);
      console.log(line(await t.b.unpause(t.id)));
    }),
    {
      name: 'estimate',
      summary: 'the provider\'s price estimate for a run (uploads the converted data, creates no job)',
      flags: [
        ...where,
        { flags: '--method <m>', help: 'sft | dpo | simpo', default: 'sft', parse: choice(['sft', 'dpo', 'simpo'] as const) },
        { flags: '--model <name>', help: 'the provider\'s base model name' },
        { flags: '--data <file>', help: 'training data (checked and converted as by wgrad train)' },
        { flags: '--valid <file>', help: 'validation data' },
        { flags: '--epochs <n>', help: 'passes over the data', parse: positive },
        { flags: '--full', help: 'full fine-tuning instead of LoRA' },
        { flags: '--lora-r <r>', help: 'LoRA rank', parse: positiveInt },
        { flags: '--lora-alpha <a>', help: 'LoRA α', parse: positive },
        { flags: '--lora-targets <list>', help: 'q_proj,v_proj,... or all-linear', parse: list },
      ],
      run: async (o) => {
        for (const req of ['backend', 'model', 'data', 'outputDir']) if (!o[req]) throw new UsageError(`--${req.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
        const backend = createTrainingBackend(o.backend as string, { baseUrl: o.baseUrl as string | undefined });
        if (!backend.jobs?.estimate) throw new UsageError(`backend ${backend.name} has no price estimate`);
        const lora = o.full ? null : o.loraR !== undefined ? { r: o.loraR as number, alpha: (o.loraAlpha as number | undefined) ?? 2 * (o.loraR as number), targets: (o.loraTargets as string[] | undefined) ?? ['all-linear'] } : undefined;
        const options = Object.fromEntries(Object.entries({ valid: o.valid, epochs: o.epochs, lora }).filter(([, v]) => v !== undefined));
        console.log(await backend.jobs.estimate({ method: o.method as 'sft', model: o.model as string, data: o.data as string, outputDir: o.outputDir as string, options }));
      },
    },
  ],
};
