// The training options the web app uses (llm/train/options.ts): the same names, kinds and defaults
// as `wgrad train` (checked against the command's own flag table, so the two cannot drift), errors
// that name the option and its source, and TrainSettings as the CLI would build them.
import { describe, expect, it } from 'vitest';
import { trainSpec } from '../../cli/commands/train.ts';
import { checkTrainOptions, TRAIN_OPTIONS, trainSettingsFromOptions } from '../../llm/train/options.ts';

const cliFlags = new Map(trainSpec.flags.map((f) => [/--([\w-]+)/.exec(f.flags)![1], f]));

describe('train options', () => {
  it('are flags of `wgrad train` with the same defaults and kinds', () => {
    for (const o of TRAIN_OPTIONS) {
      const f = cliFlags.get(o.name);
      expect(f, `--${o.name} is not a wgrad train flag`).toBeDefined();
      // A default the command computes (--max-steps from --num-train-epochs) is stated in its help.
      const fromHelp = /\(default (\d[\w.-]*)[,)]/.exec(f!.help)?.[1];
      const cliDefault = Array.isArray(f!.default) ? f!.default.join(',') : f!.default ?? (fromHelp === undefined ? undefined : Number(fromHelp));
      // Unset here means unset there too (the method's own default applies, e.g. β 0.1).
      if (o.default === undefined) expect(f!.default, `default of --${o.name}`).toBeUndefined();
      else expect(o.default === false ? undefined : o.default, `default of --${o.name}`).toEqual(cliDefault);
      expect(o.kind === 'boolean', `--${o.name} takes ${o.kind === 'boolean' ? 'no value' : 'a value'}`).toBe(!f!.flags.includes('<'));
    }
  });

  it('name the source and the option in every error', () => {
    expect(() => checkTrainOptions({ learning_rat: 1 }, 'run.yaml')).toThrow('run.yaml: unknown option "learning_rat"');
    expect(() => checkTrainOptions({ 'max-steps': 2.5 }, 'settings')).toThrow('settings: "max-steps" expects an integer, got 2.5');
    expect(() => checkTrainOptions({ packing: 'yes' }, 'run.yaml')).toThrow('run.yaml: "packing" expects true or false, got "yes"');
    expect(() => checkTrainOptions({ method: 'ppo' }, 'settings')).toThrow('settings: "method" expects sft | dpo | orpo | cpo | simpo | kto, got "ppo"');
    expect(() => trainSettingsFromOptions(checkTrainOptions({ 'learning-rate': -1 }, 's'), 's', { data: 'd' })).toThrow('s: "learning-rate" expects a positive number, got -1');
  });

  it('build the settings the CLI builds: defaults, YAML spellings, max-length from the model', () => {
    const v = checkTrainOptions({ learning_rate: '3e-3', lora_targets: ['q_proj', 'k_proj'], full: false, 'max-steps': 5 }, 'run.yaml');
    const s = trainSettingsFromOptions(v, 'run.yaml', { data: 'train.jsonl', outputDir: 'out', maxPositions: 256 });
    expect(s).toMatchObject({
      method: 'sft', data: 'train.jsonl', outputDir: 'out', maxSteps: 5, batchSize: 4, gradAccum: 1, learningRate: 3e-3,
      schedule: 'cosine', optimizer: 'adamw', maxGradNorm: 1, seed: 0, maxLength: 256, completionOnly: true, evalEvery: 50, saveEvery: 100,
      lora: { r: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'k_proj'] },
    });
    expect(trainSettingsFromOptions(checkTrainOptions({ full: true }, 'x'), 'x', { data: 'd' }).lora).toBeNull();
  });
});
