// SwiGLU's gate in one elementwise kernel (kernels/swiglu.ts), the Llama MLP's silu(gate) · up.
import { swigluKernel } from '../../kernels/swiglu.ts';
import type { Storage } from '../backend.ts';
import { sigmoid } from '../cpu/math.ts';
import { assertStorages, type Routine } from '../routine.ts';

/** out[i] = silu(gate[i]) · up[i] = gate[i] · σ(gate[i]) · up[i], both contiguous f32 of equal size. */
export const swiglu: Routine<[gate: Storage, up: Storage], Storage> = {
  name: 'swiglu',
  assert: (gate, up) => assertStorages('swiglu', { gate: [gate, 'f32', [gate.size]], up: [up, 'f32', [gate.size]] }),
  cpu(c, gate, up) {
    const gd = c.data(gate), ud = c.data(up);
    const out = c.alloc(gd.length, 'f32');
    const o = c.data(out);
    for (let i = 0; i < gd.length; i++) o[i] = gd[i] * sigmoid(gd[i]) * ud[i];
    return out;
  },
  webgpu(g, gate, up) {
    const gb = g.bind('swiglu', 'gate', gate), ub = g.bind('swiglu', 'up', up);
    const out = g.alloc(gate.size, 'f32', 'swiglu');
    if (gate.size === 0) return out;
    const vec4 = gate.size % 4 === 0;
    g.run1d('swiglu', swigluKernel(vec4), [gb, ub, g.bind('swiglu', 'out', out)], { n: vec4 ? gate.size / 4 : gate.size });
    return out;
  },
};
