// wgrad generate: load a model (optionally with a LoRA adapter), encode a prompt, stream the
// generated text to stdout.
import { generate } from '../../llm/generate/generate.ts';
import { loadAdapter } from '../../llm/adapters/index.ts';
import { resolveChatTemplate, withChatTemplate } from '../../llm/data/chat-templates.ts';
import { log, UsageError, type CommandSpec } from '../args.ts';
import { openBackend } from '../backend.ts';
import { loadModelAndTokenizer } from '../load.ts';
import { backendFlags, chatTemplateFlag, modelFlags, samplingFlags } from '../options.ts';
import { withHooks } from '../../llm/editing/hooks.ts';
import { controlFlags, controlFromFlags } from './control-options.ts';

export const generateSpec: CommandSpec = {
  name: 'generate',
  summary: 'generate text from a prompt (a model folder or llama2.c .bin, with or without a LoRA adapter)',
  args: ['[prompt...]'],
  flags: [
    ...modelFlags,
    { flags: '--adapter <dir>', help: 'a LoRA adapter folder, PEFT or mlx-lm (detected)', aliases: ['--adapter-path'] },
    { flags: '--prompt <text>', help: 'prompt text (or give it as the last argument; default: empty, i.e. start from BOS)' },
    { flags: '--chat', help: 'wrap the prompt as a user message with the chat template' },
    chatTemplateFlag,
    ...samplingFlags,
    ...controlFlags,
    ...backendFlags,
  ],
  after: 'example: wgrad generate --model stories260K-hf --adapter out/adapter "Once upon a time"',
  run: async (o, [words], cmd) => {
    const positional = (words as string[]).join(' ');
    if (positional && o.prompt !== undefined) throw new UsageError(`give the prompt once: as --prompt or as an argument, not both (got "${positional}" too)`);
    const text = (o.prompt as string | undefined) ?? positional;
    if (o.chatTemplate !== undefined && !o.chat) throw new UsageError('--chat-template applies to --chat prompts; add --chat');
    const backend = await openBackend(o);
    try {
      const { model, tokenizer: baseTok, paths } = await loadModelAndTokenizer(o, backend);
      let tokenizer = baseTok;
      if (o.chatTemplate !== undefined) {
        try { tokenizer = withChatTemplate(tokenizer, resolveChatTemplate(o.chatTemplate as string)); } catch (e) { throw new UsageError(`--chat-template: ${(e as Error).message.replace(/^chatTemplate /, '')}`); }
      }
      if (o.adapter) {
        const a = await loadAdapter(model, o.adapter as string);
        log(`wgrad: ${a.format === 'peft' ? 'PEFT' : 'mlx-lm'} adapter ${o.adapter} on ${a.layers.size} modules`);
      }
      if (o.chat && tokenizer.chatTemplate === null) {
        throw new UsageError(`--chat: the tokenizer ${paths.tokenizer} has no chat template; pass --chat-template chatml or a Jinja template`);
      }
      const ids = o.chat ? tokenizer.encodeChat([{ role: 'user', content: text }]) : tokenizer.encode(text, { addBos: true });
      const room = model.config.maxPositions - ids.length;
      let maxTokens = o.maxTokens as number;
      if (room < 1) throw new UsageError(`the prompt is ${ids.length} tokens; the model reads at most ${model.config.maxPositions}`);
      if (maxTokens > room) {
        if (cmd.getOptionValueSource('maxTokens') === 'cli') {
          throw new UsageError(`--max-tokens ${maxTokens}: the ${ids.length}-token prompt leaves room for ${room} new tokens in the model's ${model.config.maxPositions} positions`);
        }
        maxTokens = room;
      }
      const stops = [...new Set([...model.config.eosTokenIds, ...tokenizer.stopIds])];
      const decoder = tokenizer.streamDecoder({ skipSpecialTokens: true, previousId: ids[ids.length - 1] });
      const t0 = performance.now();
      const control = await controlFromFlags(model, o, [ids.length]);
      const [out] = await withHooks(model, control ? [control] : [], () => generate(model, [ids], {
        maxNewTokens: maxTokens, temperature: o.temperature as number, topK: o.topK as number, topP: o.topP as number,
        seed: o.seed as number, stopTokens: stops,
        onTokens: ([t]) => { if (t !== null && !stops.includes(t)) process.stdout.write(decoder.push(t)); },
      }));
      control?.dispose();
      process.stdout.write(decoder.flush() + '\n');
      const s = (performance.now() - t0) / 1000;
      log(`wgrad: ${out.length} tokens in ${s.toFixed(2)} s (${(out.length / s).toFixed(1)} tokens/s)`);
      model.dispose();
    } finally {
      backend.destroy();
    }
  },
};
