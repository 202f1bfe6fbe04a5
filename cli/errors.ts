// Library errors speak the library's option names (chatTemplate, maxLength); on the command line
// the user typed flags, so messages are rewritten to name those.
const RENAMES: [RegExp, string][] = [
  [/pass chatTemplate: 'chatml'/g, 'pass --chat-template chatml'],
  [/\(use completionOnly: false[^)]*\)/g, '(use --train-on-prompt to train on it all)'],
  [/use completionOnly: false/g, 'use --train-on-prompt'],
  [/; or pass fileFormat\)/g, '; rename the file to one of these extensions)'],
  [/\bchatTemplate\b/g, '--chat-template'],
  [/\bmaxPromptLength\b/g, '--max-prompt-length'],
  [/\bmaxLength\b/g, '--max-length'],
  [/\bskipInvalid\b/g, '--skip-invalid'],
  [/\baddEos\b/g, 'EOS appending'],
];

export function inFlagTerms(message: string): string {
  return RENAMES.reduce((m, [re, to]) => m.replace(re, to), message);
}
