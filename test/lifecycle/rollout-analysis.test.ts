/**
 * A window's judgement and a rollout's settings, on figures made up to sit either side of
 * each threshold: what passes, what fails, what cannot tell yet; settings refused with a
 * reason.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { judgeWindow } from '../../lib/lifecycle/rollout-analysis';
import { type RolloutSpec, rolloutSettingsFromJson } from '../../lib/lifecycle/rollout-spec';
import type { WindowFigures } from '../../lib/lifecycle/version-window';
import { VersionWindow } from '../../lib/lifecycle/version-window';

const Analysis = suite('rollout analysis: one window judged');

const spec = (over: Record<string, unknown> = {}): RolloutSpec => ({ ...rolloutSettingsFromJson(over), candidate: 2, baseline: 1 });

function figures(requests: number, failures: number, p99Ms: number, shadow?: { compared: number; agreed: number }): WindowFigures {
  return {
    requests,
    failures,
    ...(requests > 0 && { successRate: (requests - failures) / requests, p99Ms }),
    shadowCompared: shadow?.compared ?? 0,
    shadowAgreed: shadow?.agreed ?? 0,
    ...(shadow !== undefined && shadow.compared > 0 && { shadowAgreement: shadow.agreed / shadow.compared }),
    seconds: 60,
  };
}

const none = figures(0, 0, 0);

Analysis('a candidate that holds every threshold passes', () => {
  const v = judgeWindow(spec(), 10, figures(100, 1, 120), figures(900, 0, 100));
  assert.is(v.outcome, 'pass', v.reason);
  assert.equal(
    v.checks.map((c) => [c.check, c.passed]),
    [
      ['requests', true],
      ['success_rate', true],
      ['p99_ms', true],
    ],
  );
});

Analysis('too few requests are inconclusive, an empty window too, whatever their figures', () => {
  assert.is(judgeWindow(spec(), 10, none, figures(900, 0, 100)).outcome, 'inconclusive');
  const few = judgeWindow(spec(), 10, figures(19, 19, 9000), figures(900, 0, 100));
  assert.is(few.outcome, 'inconclusive');
  assert.match(few.reason, /not enough data: 19 requests \(at least 20\)/);
});

Analysis('a success rate or a p99 past its bound fails the window, and the reason names it', () => {
  const failing = judgeWindow(spec(), 10, figures(100, 2, 100), none);
  assert.is(failing.outcome, 'fail');
  assert.match(failing.reason, /success rate 0\.98.*at least 0\.99/);
  const slow = judgeWindow(spec({ max_p99_ms: 50 }), 10, figures(100, 0, 51), none);
  assert.is(slow.outcome, 'fail');
  assert.match(slow.reason, /p99 51 ms \(at most 50\)/);
  assert.is(judgeWindow(spec({ max_p99_ms: 50 }), 10, figures(100, 0, 50), none).outcome, 'pass');
  assert.is(judgeWindow(spec({ max_p99_ms: null }), 10, figures(100, 0, 1e6), none).outcome, 'pass');
});

Analysis("p99 against the baseline's: checked only while the baseline has enough requests", () => {
  const s = spec({ max_p99_ratio: 1.5, max_p99_ms: null });
  assert.is(judgeWindow(s, 10, figures(100, 0, 160), figures(100, 0, 100)).outcome, 'fail');
  assert.is(judgeWindow(s, 10, figures(100, 0, 140), figures(100, 0, 100)).outcome, 'pass');
  // At 100% the baseline gets nothing: the ratio cannot be taken, the others still judge.
  const alone = judgeWindow(s, 100, figures(100, 0, 1000), none);
  assert.is(alone.outcome, 'pass');
  assert.not.ok(alone.checks.some((c) => c.check === 'p99_ratio'));
});

Analysis('shadow agreement: judged over enough copies below 100%, not checked at 100%', () => {
  const s = spec({ min_shadow_agreement: 0.9, steps: [0, 50, 100] });
  assert.is(s.shadowShare, 0.1, 'a share by default when agreement is asked for');
  assert.is(judgeWindow(s, 0, figures(50, 0, 10, { compared: 50, agreed: 40 }), figures(500, 0, 10)).outcome, 'fail');
  assert.is(judgeWindow(s, 0, figures(50, 0, 10, { compared: 50, agreed: 46 }), figures(500, 0, 10)).outcome, 'pass');
  const few = judgeWindow(s, 50, figures(50, 0, 10, { compared: 5, agreed: 5 }), figures(500, 0, 10));
  assert.is(few.outcome, 'inconclusive');
  assert.match(few.reason, /5 shadow copies compared \(at least 20\)/);
  assert.is(judgeWindow(s, 100, figures(50, 0, 10), none).outcome, 'pass');
  // A failure counts whatever else is still short.
  assert.is(judgeWindow(s, 50, figures(50, 10, 10, { compared: 5, agreed: 5 }), none).outcome, 'fail');
});

Analysis('a version window counts successes and failures, leaves bad requests out, and takes p99 within 1%', () => {
  const w = new VersionWindow();
  for (let i = 1; i <= 1000; i++) w.record(i % 100 === 0 ? 'internal' : undefined, i / 1000);
  w.record('invalid', 5);
  w.shadow('agree');
  w.shadow('disagree');
  w.shadow('failed');
  const f = w.figures();
  assert.is(f.requests, 1000);
  assert.is(f.failures, 10);
  assert.is(f.successRate, 0.99);
  assert.ok(Math.abs((f.p99Ms as number) - 990) <= 990 * 0.01, `p99 ${f.p99Ms}`);
  assert.is(f.shadowCompared, 2);
  assert.is(f.shadowAgreement, 0.5);
});

Analysis('settings: defaults, and bad ones refused with the field named', () => {
  const s = rolloutSettingsFromJson({});
  assert.equal([s.steps, s.intervalMs, s.minRequests, s.minSuccessRate, s.maxP99Ms, s.rollbackAfter], [[10, 50, 100], 60_000, 20, 0.99, 500, 1]);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ steps: [10, 5] }, /must increase: 10 then 5/],
    [{ steps: [] }, /list of 1 to 100/],
    [{ steps: [120] }, /steps\[0\] must be a percentage/],
    [{ steps: [0, 50] }, /0% sends the candidate nothing/],
    [{ interval_s: 0 }, /"interval_s" must be a number from 0.05/],
    [{ min_requests: 2.5 }, /"min_requests" must be a whole number/],
    [{ min_success_rate: 2 }, /"min_success_rate"/],
    [{ max_p99_ratio: 0.5 }, /"max_p99_ratio"/],
    [{ min_shadow_agreement: 0.9, steps: [100] }, /needs a step below 100%/],
    [{ sticky_key: 'no spaces' }, /"sticky_key"/],
    [{ stepz: [1] }, /unknown field "stepz"/],
  ];
  for (const [body, message] of bad) assert.throws(() => rolloutSettingsFromJson(body), message, JSON.stringify(body));
});

Analysis.run();
