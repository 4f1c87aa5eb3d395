/**
 * Writes a model's signature as TypeScript, for `onnx-native inspect MODEL --types`.
 */
import type { ValueMetadata } from '../runtime/model-values';
import type { Session } from '../runtime/session';

function key(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

function member(v: ValueMetadata): string {
  const shape = `[${v.dims.map((d) => (d === null ? '?' : d)).join(', ')}]`;
  if (v.kind !== 'tensor') return `    // ${key(v.name)}: a ${v.kind}, which onnx-native cannot pass\n`;
  return `    /** shape ${shape} */\n    ${key(v.name)}: '${v.type}';\n`;
}

/**
 * A `Signature` interface for `session`'s model, to pass to `createSession<Name>()`.
 *
 * @param session - The loaded model.
 * @param name - The interface's name.
 */
export function signatureSource(session: Session, name: string): string {
  return (
    `import type { Signature } from 'onnx-native';\n\n` +
    `export interface ${name} extends Signature {\n` +
    `  inputs: {\n${session.inputs.map(member).join('')}  };\n` +
    `  outputs: {\n${session.outputs.map(member).join('')}  };\n` +
    `}\n`
  );
}
