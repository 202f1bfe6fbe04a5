// Module: a tree of named parameters. Names compose with dots, so a Llama's parameters come out
// as Hugging Face's safetensors keys (model.layers.0.self_attn.q_proj.weight).
import { Tensor } from '../tensor.ts';
import { setTrainable, trainableTree, type ParamTree } from './param-tree.ts';

export abstract class Module {
  private readonly _params = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();

  protected param(name: string, t: Tensor): Tensor {
    t.name = name;
    this._params.set(name, t.keep());
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  /**
   * Replace a child (LoRA wraps a Linear in place). Forward passes read children from fields
   * (this.q_proj), so every own field that held the old child now holds the new one too.
   */
  setChild(name: string, m: Module): void {
    const old = this._children.get(name);
    if (!old) throw new Error(`${this.constructor.name}: no child module named ${name}`);
    this._children.set(name, m);
    const fields = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(fields)) if (fields[key] === old) fields[key] = m;
  }

  children(): Map<string, Module> { return this._children; }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this._params) out.push([prefix + n, t]);
    for (const [n, c] of this._children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] { return this.namedParameters().map(([, t]) => t); }

  /** MLX's trainable_parameters(): the parameters that train, as a tree keyed like the model (param-tree.ts). */
  trainableParameters(): ParamTree { return trainableTree(this); }

  /** MLX's freeze(): stop training all parameters, or those named in keys ("weight", "lora_A", or a full dotted name). */
  freeze(opts: { keys?: readonly string[] } = {}): this { setTrainable(this, false, opts.keys); return this; }

  unfreeze(opts: { keys?: readonly string[] } = {}): this { setTrainable(this, true, opts.keys); return this; }

  /** Every module with its dotted path, depth first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(`${prefix}${n}.`));
    return out;
  }

  /** Copy values into parameters by name; every parameter must be present with its exact shape. */
  loadStateDict(values: Map<string, Tensor>, opts: { strict?: boolean } = {}): void {
    const params = new Map(this.namedParameters());
    for (const [name, p] of params) {
      const v = values.get(name);
      if (!v) {
        if (opts.strict === false) continue;
        throw new Error(`loadStateDict: missing parameter ${name} ${p.describe()}`);
      }
      if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(`loadStateDict: ${name} has shape [${v.shape}], the model expects [${p.shape}]`);
      }
      p.assign(v);
    }
    if (opts.strict !== false) {
      const extra = [...values.keys()].filter((k) => !params.has(k));
      if (extra.length) throw new Error(`loadStateDict: unexpected parameters ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
    }
  }

  dispose(): void {
    for (const t of this.parameters()) t.dispose();
  }
}
