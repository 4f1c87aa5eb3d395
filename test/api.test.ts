import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel, type IConfigFile } from '@microsoft/api-extractor';
import { root } from './helpers/common';

const Api = suite('the public API');

/** Where the report of the package's public API, as dist/index.d.ts declares it, is kept. */
const REPORT = join(__dirname, 'api', 'onnx-native.api.md');

/**
 * API Extractor's report of every exported name and the full declaration of each
 * (members, overloads, generics), as the package's `.d.ts` files give it: a change to the
 * public API, whichever file it comes from, changes the report. To accept a deliberate
 * change, run with UPDATE_API_REPORT=1 and commit test/api/onnx-native.api.md.
 */
function extract(update: boolean): { changed: boolean; report: string } {
  const temp = mkdtempSync(join(tmpdir(), 'onnx-native-api-'));
  const configObject: IConfigFile = {
    projectFolder: root,
    mainEntryPointFilePath: '<projectFolder>/dist/index.d.ts',
    compiler: { tsconfigFilePath: '<projectFolder>/tsconfig.json' },
    apiReport: { enabled: true, reportFolder: join(__dirname, 'api'), reportTempFolder: temp, reportFileName: 'onnx-native.api.md' },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
      extractorMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
      tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
    },
  };
  const config = ExtractorConfig.prepare({ configObject, configObjectFullPath: undefined, packageJsonFullPath: join(root, 'package.json') });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false, messageCallback: (m) => void (m.handled = true) });
  return { changed: result.apiReportChanged, report: readFileSync(join(temp, 'onnx-native.api.md'), 'utf8') };
}

Api("the package's exports and their declarations are those of test/api/onnx-native.api.md", () => {
  const { changed, report } = extract(process.env.UPDATE_API_REPORT === '1');
  if (process.env.UPDATE_API_REPORT === '1') return;
  assert.ok(report.includes('export function createSession'), 'the report lists the API');
  assert.not.ok(changed, `the public API differs from ${REPORT}: compare it with the new report, and run with UPDATE_API_REPORT=1 if the change is meant`);
});

Api.run();
