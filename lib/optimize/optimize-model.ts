/**
 * `optimizeModel`: the library's one entry to model optimization. It chains the steps a
 * user asks for (int8 quantization, float16 conversion, offline graph optimization),
 * checks that the result loads, and measures what it cost against the original.
 */
import { readFile } from 'node:fs/promises';
import { createSession } from '../runtime/session';
import { calibrate, type CalibrationData, type CalibrationMethod } from './calibration';
import { compareModels, type ModelComparison } from './model-comparison';
import { type DynamicQuantizationReport, quantizeDynamic } from './dynamic-quantization';
import { convertToFloat16, type Float16Report } from './float16-conversion';
import { type GraphLevel, optimizeGraph } from './graph-optimization';
import { decodeModel, dropDefaultAttributes, dropUnusedOpsetImports, encodeModel, OptimizeError, shortenTensorNames } from './onnx-graph';
import type { QuantType } from './quantization-parameters';
import { type OpsetUpgrade, QUANTIZATION_OPSET, tensorsNeedingRanks, upgradeOpset } from './opset-upgrade';
import { quantizeStatic, STATIC_OP_TYPES, type StaticQuantizationReport, tensorsToCalibrate } from './static-quantization';

/** Data a step can read more than once: batches, or a function that gives them afresh each time. */
export type DataSource = CalibrationData | (() => CalibrationData);

/** Options of {@link optimizeModel}. At least one of `int8`, `fp16` and `graph`. */
export interface OptimizeOptions {
  /**
   * 8-bit quantization: 'static' (QDQ, calibrated on `calibration`: CNNs), or 'dynamic'
   * (weights offline, activations at run time: MatMul, Gemm and LSTM of transformers and
   * recurrent models).
   */
  int8?: 'static' | 'dynamic';
  /** Float16: weights and activations in half floats. */
  fp16?: boolean;
  /** With fp16: keep the float32 inputs and outputs (Casts inside the model). Default false. */
  keepIoTypes?: boolean;
  /** With fp16: op types kept in float32 besides the default block list. */
  fp16BlockOps?: readonly string[];
  /** Calibration data for static quantization (batches of inputs by name). */
  calibration?: DataSource;
  /** How calibration picks each range. Default 'minmax'. */
  method?: CalibrationMethod;
  /** For `method: 'percentile'`, the share kept in percent. Default 99.999. */
  percentile?: number;
  /** A scale per output channel of each weight (true), or of depthwise convolutions' only. Default false. */
  perChannel?: boolean | 'depthwise';
  /**
   * 7-bit weights, for x86 CPUs without VNNI, whose int8 kernels saturate otherwise.
   * Default: true for static quantization (CNNs' convolutions saturate badly: a 3x3 Conv's
   * error 0.51 of a range of 1.7, 0.014 with 7 bits); false for dynamic, as ONNX Runtime's
   * tool (there, PP-OCR rec and Silero VAD were measured less accurate with 7 bits per
   * tensor than with saturating 8).
   */
  reduceRange?: boolean;
  /** Activation type for static quantization. Default 'uint8'. */
  activationType?: QuantType;
  /** Weight type. Default 'int8'. */
  weightType?: QuantType;
  /** Nodes (by name) to leave in float. */
  excludeNodes?: readonly string[];
  /** Save the graph as ONNX Runtime optimizes it at this level (after the other steps). */
  graph?: GraphLevel;
  /** Data to measure accuracy on. Default: the calibration data. Without either, no accuracy is measured. */
  evaluation?: DataSource;
  /** Timed runs per model for the report; 0: no timing. Default 20. */
  runs?: number;
  /** Intra-op threads for calibration and timing. Default 1. */
  threads?: number;
  /**
   * Fail (nothing returned) when an output's top-1 agreement with the original falls
   * below 1 - maxDrop (0.01: at least 99% of rows agree).
   */
  maxDrop?: number;
  /** Told of progress: the step, and for calibration the batches done. */
  onProgress?: (step: string, done?: number) => void;
}

/** What {@link optimizeModel} did and measured. */
export interface OptimizationReport {
  /** The steps taken, in order. */
  steps: string[];
  bytes: { original: number; optimized: number };
  /** Static quantization's account (nodes quantized and skipped). */
  quantization?: StaticQuantizationReport & { calibrationBatches: number; method: CalibrationMethod };
  /** Dynamic quantization's account. */
  dynamic?: DynamicQuantizationReport;
  /** Float16 conversion's account. */
  float16?: Float16Report;
  /** The opset raised for quantization (ONNX Runtime's QLinear kernels need 10, per-channel weights 13). */
  opset?: OpsetUpgrade;
  /** Timing and accuracy against the original; absent without evaluation data. */
  comparison?: ModelComparison;
}

/** The optimized model and its report. */
export interface OptimizedModel {
  model: Uint8Array;
  report: OptimizationReport;
}

const fresh = (source: DataSource): CalibrationData => (typeof source === 'function' ? source() : source);

/**
 * Optimizes a model (a path or its bytes) and returns the new model's bytes with a report.
 *
 * @example
 * ```ts
 * const { model, report } = await optimizeModel('cls.onnx', { int8: 'static', calibration: batches, method: 'percentile' });
 * await writeFile('cls.int8.onnx', model);
 * ```
 */
export async function optimizeModel(input: string | Uint8Array, options: OptimizeOptions): Promise<OptimizedModel> {
  const original = typeof input === 'string' ? await readFile(input) : input;
  decodeModel(original, typeof input === 'string' ? input : 'the model');
  if (options.int8 === undefined && !options.fp16 && options.graph === undefined) throw new OptimizeError('nothing to do: give int8, fp16 or graph');
  if (options.int8 !== undefined && options.int8 !== 'static' && options.int8 !== 'dynamic') throw new OptimizeError(`int8 must be 'static' or 'dynamic', not ${String(options.int8)}`);
  if (options.int8 !== undefined && options.fp16) throw new OptimizeError('int8 and fp16 are alternatives: choose one');
  if (options.maxDrop !== undefined && !(options.maxDrop >= 0 && options.maxDrop <= 1)) throw new OptimizeError(`maxDrop must be between 0 and 1, not ${options.maxDrop}`);
  const threads = options.threads ?? 1;
  const steps: string[] = [];
  const report: OptimizationReport = { steps, bytes: { original: original.byteLength, optimized: 0 } };
  let bytes: Uint8Array = original;

  if (options.int8 === 'static' && options.calibration === undefined) throw new OptimizeError('static int8 quantization needs calibration data');
  if (options.int8 !== undefined || options.fp16) {
    options.onProgress?.('pre-optimizing (basic)');
    const model = decodeModel(await optimizeGraph(original, 'basic', { intraOpNumThreads: threads }));
    if (options.int8 === 'static') {
      const quantizable = tensorsToCalibrate(model, options);
      if (quantizable.length === 0) throw new OptimizeError(`no tensor could be quantized: no node of the model is of an operator static quantization covers (${STATIC_OP_TYPES.join(', ')})`);
      const tensors = [...new Set([...quantizable, ...tensorsNeedingRanks(model)])];
      options.onProgress?.('calibrating', 0);
      const method = options.method ?? 'minmax';
      const { ranges, ranks, batches } = await calibrate(model, tensors, fresh(options.calibration as DataSource), {
        method,
        ...(options.percentile !== undefined && { percentile: options.percentile }),
        intraOpNumThreads: threads,
        onProgress: (n) => options.onProgress?.('calibrating', n),
      });
      options.onProgress?.('quantizing');
      report.opset = upgradeOpset(model, QUANTIZATION_OPSET, ranks);
      const q = quantizeStatic(model, ranges, options);
      shortenTensorNames(model);
      dropDefaultAttributes(model);
      report.quantization = { ...q, calibrationBatches: batches, method };
      steps.push(`static int8 (QDQ, ${method}${options.perChannel === 'depthwise' ? ', per channel (depthwise)' : options.perChannel ? ', per channel' : ''}${options.reduceRange !== false ? ', reduce range' : ''})`);
    } else if (options.int8 === 'dynamic') {
      options.onProgress?.('quantizing');
      report.dynamic = quantizeDynamic(model, {
        reduceRange: options.reduceRange === true,
        perChannel: options.perChannel === true,
        ...(options.weightType !== undefined && { weightType: options.weightType }),
        ...(options.excludeNodes !== undefined && { excludeNodes: options.excludeNodes }),
      });
      if (Object.keys(report.dynamic.quantized).length === 0) throw new OptimizeError('no node could be quantized: dynamic quantization covers MatMul, Gemm and LSTM with constant weights, and the model has none');
      steps.push(`dynamic int8 (${report.dynamic.form}${options.perChannel ? ', per channel' : ''}${options.reduceRange === true ? ', reduce range' : ''})`);
    } else {
      options.onProgress?.('converting to float16');
      report.float16 = convertToFloat16(model, { keepIoTypes: options.keepIoTypes === true, ...(options.fp16BlockOps !== undefined && { blockOps: options.fp16BlockOps }) });
      steps.push(`float16${options.keepIoTypes ? ' (float32 inputs and outputs)' : ''}`);
    }
    dropUnusedOpsetImports(model);
    bytes = encodeModel(model);
  }
  if (options.graph !== undefined) {
    options.onProgress?.(`graph optimization (${options.graph})`);
    bytes = await optimizeGraph(bytes, options.graph, { intraOpNumThreads: threads });
    steps.push(`graph optimization (${options.graph})`);
  }

  // Every result is loaded once before it is handed back: a model ONNX Runtime refuses is
  // an error here, not at the server.
  try {
    (await createSession(bytes, { intraOpNumThreads: threads })).release();
  } catch (err) {
    throw new OptimizeError(`the optimized model does not load: ${(err as Error).message}`);
  }
  report.bytes.optimized = bytes.byteLength;

  const evaluation = options.evaluation ?? options.calibration;
  if (evaluation !== undefined) {
    options.onProgress?.('comparing with the original');
    report.comparison = await compareModels(original, bytes, fresh(evaluation), { runs: options.runs ?? 20, threads });
    if (options.maxDrop !== undefined) {
      for (const o of report.comparison.outputs) {
        if (o.top1Agreement !== undefined && o.top1Agreement < 1 - options.maxDrop) {
          throw new OptimizeError(
            `output ${o.name}: top-1 agreement ${(o.top1Agreement * 100).toFixed(2)}% is below the bound of ${((1 - options.maxDrop) * 100).toFixed(2)}% (--max-drop ${options.maxDrop})`,
          );
        }
      }
    }
  }
  return { model: bytes, report };
}
