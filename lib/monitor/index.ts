/**
 * The folder monitor/ watches what a model is served, against what it was trained on
 * (over the model server, server/):
 * - reference-profile.ts: a feature's reference, binned at its quantiles (or by category);
 * - drift-statistics.ts: PSI, Jensen-Shannon distance, normed Wasserstein over those bins;
 * - feature-window.ts: live values over a sliding window, compared with the reference;
 * - learned-thresholds.ts: bounds learned from the reference's own chunks;
 * - tensor-features.ts: tensors reduced to the features monitored, row by row;
 * - model-profile.ts: a model version's profile (`reference-profile.json`), made and read;
 * - model-monitor.ts: a version's windows over every feature of its profile;
 * - drift-monitoring.ts: the server's versions monitored from the requests they answer;
 * - drift-metrics.ts, monitoring-routes.ts: their Prometheus series and HTTP API;
 * - monitoring-extension.ts: all of it as a server extension (`createServer({ extensions: [monitoring()] })`);
 * - profile-version.ts: a served version's profile made from reference data;
 * - cloud-events.ts, payload-sinks.ts, payload-log.ts: payload logging as KServe's logger
 *   does it (CloudEvents to HTTP and JSON-lines sinks), never blocking inference;
 * - payload-logging.ts: it as a server extension, with its metrics;
 * - prediction-store.ts, feedback-window.ts, ground-truth.ts: ground truth matched to kept
 *   predictions by id, accuracy and errors over a window; feedback-routes.ts and
 *   feedback-metrics.ts: its HTTP API and Prometheus series; feedback-grpc.ts: its gRPC service;
 * - write-atomically.ts: profiles written whole or not at all (servers poll for them);
 * - dashboard-data.ts, dashboard-page.ts, dashboard-extension.ts: the live dashboard page.
 */
export { type CategoricalProfile, type FeatureProfile, type NumericProfile, DEFAULT_BINS, binCounts, binOf, categoricalProfile, numericProfile } from './reference-profile';
export { jensenShannonDistance, normedWasserstein, populationStabilityIndex } from './drift-statistics';
export { type DriftState, type FeatureDrift, FeatureWindow, type FeatureWindowOptions, PSI_THRESHOLDS, type Thresholds } from './feature-window';
export { type LearnedThresholds, learnThresholds } from './learned-thresholds';
export { type FeatureName, MAX_ROW_FEATURES, type Reduction, VALUES_PER_ROW, defaultReduction, featureNames, reduceTensor } from './tensor-features';
export { type ModelProfile, ModelProfileBuilder, type MonitoredTensor, PROFILE_FILE, type TensorProfile, checkModelProfile, readModelProfile } from './model-profile';
export { type ModelDrift, ModelMonitor, type MonitoredFeature } from './model-monitor';
export { DEFAULT_WINDOW, DriftMonitoring, type DriftMonitoringOptions, type MonitoringStatus, PROFILE_PARAMETER, type VersionMonitoring, type WorstFeature, worstFeatures } from './drift-monitoring';
export { registerDriftMetrics } from './drift-metrics';
export { type FeatureReport, type ModelMonitoringReport, type MonitoringRoutesOptions, type TensorReport, type VersionReport, monitoringRoutes, versionReport } from './monitoring-routes';
export { type MonitoringExtension, type MonitoringOptions, monitoring } from './monitoring-extension';
export { type ProfileVersionOptions, type ProfiledVersion, type ReferenceBatches, profileVersion } from './profile-version';
export { REDUCTION_PARAMETER, configReductions, parseReduction, versionProfileBuilder } from './version-profile';
export { DATA_CONTENT_TYPE, type InferenceMeta, PayloadEvent, type PayloadEventSource, type PayloadEventType, type PayloadExtensions, REQUEST_EVENT_TYPE, RESPONSE_EVENT_TYPE, SPEC_VERSION, payloadEvents } from './cloud-events';
export { FileSink, type FileSinkOptions, HttpSink, type HttpSinkOptions, type PayloadSink, PayloadSinkError, type SinkFailure } from './payload-sinks';
export { DROP_REASONS, type DropReason, type PayloadDrop, type PayloadLogMode, type PayloadLogStats, PayloadLogger, type PayloadLoggerOptions, type PayloadSinkStats } from './payload-log';
export { type PayloadLoggingOptions, payloadLogging } from './payload-logging';
export { type PredictionStoreOptions, PredictionStore, type Taken } from './prediction-store';
export { type FeedbackFigures, FeedbackWindow, type FeedbackWindowOptions } from './feedback-window';
export { type FeedbackBody, type FeedbackResult, GroundTruth, type GroundTruthOptions, type VersionFeedback } from './ground-truth';
export { registerFeedbackMetrics } from './feedback-metrics';
export { type FeedbackRoutesOptions, feedbackRoutes } from './feedback-routes';
export { MONITORING_PROTO, MONITORING_SERVICE, addFeedbackService, monitoringProtocol } from './feedback-grpc';
export { type DashboardOptions, dashboard } from './dashboard-extension';
