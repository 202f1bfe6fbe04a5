// Option groups shared by several commands. A command's table is `[...modelFlags, ...ownFlags]`;
// adding a flag is one line in the group or the command's own table.
import { choice, nonNegativeInt, number, integer, positiveInt, type Flag } from './args.ts';

export const BACKENDS = ['auto', 'cpu', 'webgpu'] as const;

export const backendFlags: Flag[] = [
  { flags: '--backend <name>', help: 'cpu | webgpu | auto (default: $WGRAD_BACKEND, then auto: a GPU adapter, else cpu)', parse: choice(BACKENDS) },
  { flags: '--verbose', help: 'also show the GPU runtime\'s own messages (Dawn, Vulkan) and stack traces' },
  {
    flags: '--matmul-precision <p>', parse: choice(['f32', 'f16'] as const),
    help: 'f32 (default, $WGRAD_MATMUL_PRECISION) | f16: f32 matmuls on tensor cores with operands rounded to f16 and f32 sums (webgpu with subgroup matrices; cpu emulates)',
  },
];

export const modelFlags: Flag[] = [
  { flags: '--model <path>', help: 'Hugging Face folder (config.json, *.safetensors, tokenizer.json) or llama2.c .bin', aliases: ['--model-name-or-path'] },
  { flags: '--tokenizer <path>', help: 'tokenizer.json / tokenizer.bin (default: the model folder\'s, or tokenizer.bin beside a .bin)' },
];

export const chatTemplateFlag: Flag = {
  flags: '--chat-template <name|jinja>', help: 'chat template for messages when the tokenizer has none: a name (chatml, ...) or a Jinja file/string',
};

export const samplingFlags: Flag[] = [
  { flags: '--max-tokens <n>', help: 'new tokens to generate', default: 256, parse: positiveInt, aliases: ['--max-new-tokens'] },
  { flags: '--temperature <t>', help: '0 = greedy', default: 0, parse: number('a number ≥ 0', (n) => n >= 0), aliases: ['--temp'] },
  { flags: '--top-k <k>', help: 'sample from the K most likely tokens (0 = all)', default: 0, parse: nonNegativeInt },
  { flags: '--top-p <p>', help: 'nucleus sampling', default: 1, parse: number('a number in (0, 1]', (n) => n > 0 && n <= 1) },
  { flags: '--seed <s>', help: 'sampling seed', default: 0, parse: integer },
];
