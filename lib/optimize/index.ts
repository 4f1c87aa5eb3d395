/**
 * The folder optimize/ makes models smaller and faster from Node, on the ONNX protobuf
 * schema (onnx-proto), with this runtime doing the calibration and the checks (over
 * runtime/ only):
 * - onnx-graph.ts: models decoded, edited and encoded; tensors' numbers; graph indexes;
 * - quantization-parameters.ts: scales and zero points as ONNX Runtime computes them;
 * - calibration.ts: intermediate tensors' ranges over calibration data (minmax,
 *   percentile, entropy);
 * - opset-upgrade.ts: older models raised to opset 13, which quantized kernels need;
 * - static-quantization.ts: QDQ int8 quantization from those ranges;
 * - graph-optimization.ts: ONNX Runtime's graph rewrites, saved offline;
 * - model-comparison.ts: per-call time and accuracy against the original;
 * - optimize-model.ts: `optimizeModel`, all of it in one call;
 * - model-check.ts: `checkModel`, what a converted model needs from this runtime.
 *
 * Entry `onnx-native/optimize`.
 *
 * @packageDocumentation
 */
export { optimizeModel } from './optimize-model';
export type { DataSource, OptimizationReport, OptimizedModel, OptimizeOptions } from './optimize-model';
export type { CalibrationData, CalibrationMethod, TensorRange } from './calibration';
export type { ComparisonOptions, ModelComparison, OutputAccuracy } from './model-comparison';
export type { GraphLevel } from './graph-optimization';
export { optimizeGraph } from './graph-optimization';
export type { OpsetUpgrade } from './opset-upgrade';
export type { StaticQuantizationReport } from './static-quantization';
export type { QuantType } from './quantization-parameters';
export { OptimizeError } from './onnx-graph';
