// The Alpaca prompt, as in the `text` column of tatsu-lab/alpaca on the Hub, torchtune's
// AlpacaInstructTemplate and alpaca-lora: a newline after "### Response:". (Stanford's train.py
// formats the same words without that final newline; pass ALPACA_STANFORD_TRAIN to match it.)

export interface AlpacaTemplate {
  /** Used when the row's input is non-empty; {instruction} and {input} are filled in. */
  withInput: string;
  /** Used when input is missing or ''; {instruction} is filled in. */
  withoutInput: string;
}

export const ALPACA_TEMPLATE: AlpacaTemplate = {
  withInput:
    'Below is an instruction that describes a task, paired with an input that provides further context. ' +
    'Write a response that appropriately completes the request.\n\n' +
    '### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n',
  withoutInput:
    'Below is an instruction that describes a task. ' +
    'Write a response that appropriately completes the request.\n\n' +
    '### Instruction:\n{instruction}\n\n### Response:\n',
};

export const ALPACA_STANFORD_TRAIN: AlpacaTemplate = {
  withInput: ALPACA_TEMPLATE.withInput.replace(/\n$/, ''),
  withoutInput: ALPACA_TEMPLATE.withoutInput.replace(/\n$/, ''),
};

/** The prompt for one row (the completion is the row's output). */
export function alpacaPrompt(instruction: string, input: string, template: AlpacaTemplate = ALPACA_TEMPLATE): string {
  // A function replacer, so "$&" and friends in the data stay literal; {input} is filled first so an
  // instruction that happens to contain "{input}" is left alone.
  const fill = (t: string, key: string, value: string): string => t.split(`{${key}}`).join(value);
  return input !== ''
    ? fill(fill(template.withInput, 'input', input), 'instruction', instruction)
    : fill(template.withoutInput, 'instruction', instruction);
}
