// The DASH manifest renderer and the presentation timeline behind it, as pure functions:
// MPD attributes a live player needs, one Period per stretch between discontinuities,
// SegmentTimelines that compress runs but keep every time, and Period starts that never
// move once published (a player keeps what it learnt from the previous manifest).
import { describe, expect, test } from 'bun:test';
import { DashTimeline, type TimedSegment } from '../../coordinator/streams/dash/dash-timeline';
import { frameRateString, isoDuration, renderMpd, renderTimeline, type MpdInput } from '../../coordinator/streams/dash/mpd';

const HZ = 90_000;

function input(): MpdInput {
  const template = (start: number, init: string) => ({
    timescale: HZ,
    presentationTimeOffset: start,
    initialization: `p/e-${init}.video.init.mp4`,
    media: 'p/e-$Number$.video.m4s?a=1&b=2',
    startNumber: 7,
    timeline: [
      { t: start, d: 180_000 },
      { t: start + 180_000, d: 180_000 },
      { t: start + 360_000, d: 90_000 },
    ],
  });
  return {
    availabilityStartTime: Date.UTC(2024, 0, 1, 12, 0, 0),
    publishTime: Date.UTC(2024, 0, 1, 12, 0, 20, 500),
    now: Date.UTC(2024, 0, 1, 12, 0, 21),
    minimumUpdatePeriod: 2,
    timeShiftBufferDepth: 12,
    suggestedPresentationDelay: 6,
    maxSegmentDuration: 2,
    minBufferTime: 2,
    periods: [
      {
        id: 'e-3',
        start: 0.5,
        adaptationSets: [
          { id: 1, contentType: 'video', mimeType: 'video/mp4', representations: [{ id: 'p', codecs: 'avc1.42c00d', bandwidth: 400_123.6, width: 320, height: 240, frameRate: '25', template: template(1_000_000, '3') }] },
          { id: 2, contentType: 'audio', mimeType: 'audio/mp4', channels: 2, representations: [] },
        ],
      },
      { id: 'e-10', start: 5.5, adaptationSets: [{ id: 1, contentType: 'video', mimeType: 'video/mp4', representations: [{ id: 'p', codecs: 'avc1.64001f', bandwidth: 1, template: template(1_450_000, '10') }] }] },
    ],
  };
}

/** Every element closes, in order (the manifest is well-formed XML as far as tags go). */
function balanced(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([A-Za-z]+)[^>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (!m[1]) stack.push(m[2]!);
    else if (stack.pop() !== m[2]) return false;
  }
  return stack.length === 0;
}

describe('renderMpd', () => {
  test('a dynamic isoff-live MPD with the live attributes, Periods in order, UTCTiming last; empty AdaptationSets left out', () => {
    const xml = renderMpd(input());
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic"')).toBe(true);
    expect(xml).toContain('availabilityStartTime="2024-01-01T12:00:00.000Z" publishTime="2024-01-01T12:00:20.500Z"');
    expect(xml).toContain('minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT12S" suggestedPresentationDelay="PT6S" maxSegmentDuration="PT2S" minBufferTime="PT2S"');
    expect([...xml.matchAll(/<Period id="([^"]+)" start="([^"]+)">/g)].map((m) => [m[1], m[2]])).toEqual([['e-3', 'PT0.5S'], ['e-10', 'PT5.5S']]);
    expect(xml).not.toContain('contentType="audio"');
    expect(xml).toContain('<Representation id="p" codecs="avc1.42c00d" bandwidth="400124" width="320" height="240" frameRate="25">');
    expect(xml).toContain('presentationTimeOffset="1000000" initialization="p/e-3.video.init.mp4" media="p/e-$Number$.video.m4s?a=1&amp;b=2" startNumber="7"');
    expect(xml.trim().split('\n').slice(-2)).toEqual(['  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2024-01-01T12:00:21.000Z"/>', '</MPD>']);
    expect(balanced(xml)).toBe(true);
  });

  test('audio: its own AdaptationSet with the channel configuration and sampling rate', () => {
    const mpd = input();
    const audio = { id: 'audio', codecs: 'mp4a.40.2', bandwidth: 64_000, audioSamplingRate: 48_000, template: { ...mpd.periods[0]!.adaptationSets[0]!.representations[0]!.template, timescale: 48_000 } };
    const xml = renderMpd({ ...mpd, periods: [{ ...mpd.periods[0]!, adaptationSets: [{ id: 2, contentType: 'audio', mimeType: 'audio/mp4', channels: 2, representations: [audio] }] }] });
    expect(xml).toContain('<AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1" lang="und">');
    expect(xml).toContain('<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>');
    expect(xml).toContain('audioSamplingRate="48000"');
    expect(xml).toContain('timescale="48000"');
  });

  test('SegmentTimeline: t where an entry does not follow on, r for runs of one duration; every time recoverable', () => {
    expect(renderTimeline([{ t: 100, d: 10 }, { t: 110, d: 10 }, { t: 120, d: 10 }, { t: 130, d: 5 }, { t: 200, d: 5 }, { t: 205, d: 5 }])).toEqual([
      '<S t="100" d="10" r="2"/>',
      '<S d="5"/>',
      '<S t="200" d="5" r="1"/>',
    ]);
    expect(renderTimeline([])).toEqual([]);
  });

  test('durations and frame rates as DASH spells them', () => {
    expect([isoDuration(2), isoDuration(1.92), isoDuration(0.0004), isoDuration(12.3456)]).toEqual(['PT2S', 'PT1.92S', 'PT0S', 'PT12.346S']);
    expect(frameRateString(50, 50 * 3600)).toBe('25');
    expect(frameRateString(60, 60 * 3003)).toBe('30000/1001');
    expect(frameRateString(50, 50 * 1501.5)).toBe('60000/1001');
    expect(frameRateString(1, 3600)).toBeUndefined();
  });
});

/** `count` 2 s segments from `index`, media from `pts`, each arriving 2 s after the one before. */
function segments(index: number, count: number, pts: number, arrivedAt: number, periodStart = index): TimedSegment[] {
  return Array.from({ length: count }, (_, i) => ({ index: index + i, periodStart, arrivedAt: arrivedAt + i * 2000, start: pts + i * 2 * HZ, duration: 2 * HZ }));
}

describe('DashTimeline', () => {
  test('availabilityStartTime puts the newest segment\'s end at its arrival; the Period keeps its start as the window slides', () => {
    const timeline = new DashTimeline();
    const arrival = Date.UTC(2024, 0, 1, 12, 0, 0, 700);
    const first = timeline.plan(segments(0, 3, 10 * HZ, arrival));
    // Three segments (6 s of media) end at the third's arrival, arrival + 4 s.
    expect(first.availabilityStartTime).toBe(Date.UTC(2024, 0, 1, 11, 59, 58));
    expect(first.periods).toEqual([expect.objectContaining({ key: 0, initIndex: 0, start: 0.7, pto: 10 * HZ })]);
    // The live edge in presentation time is the newest end at its arrival time.
    const p = first.periods[0]!;
    const newest = p.segments.at(-1)!;
    expect(first.availabilityStartTime + (p.start + (newest.start + newest.duration - p.pto) / HZ) * 1000).toBe(newest.arrivedAt);
    // Later manifests: the first segments gone, the same Period, the same start and offset.
    const later = timeline.plan(segments(0, 8, 10 * HZ, arrival).slice(2));
    expect(later.availabilityStartTime).toBe(first.availabilityStartTime);
    expect(later.periods.map((x) => [x.key, x.start, x.pto])).toEqual([[0, 0.7, 10 * HZ]]);
  });

  test('a discontinuity starts a Period: on the same timeline it continues the presentation; time going back starts it at the previous end', () => {
    const timeline = new DashTimeline();
    const arrival = 1_000_000;
    const before = segments(0, 3, 10 * HZ, arrival);
    // New parameter sets at segment 3, same timeline.
    const same = segments(3, 2, 16 * HZ, arrival + 6000, 3);
    const plan = timeline.plan([...before, ...same]);
    expect(plan.periods.map((p) => [p.key, p.initIndex, p.segments.length])).toEqual([[0, 0, 3], [3, 3, 2]]);
    const [a, b] = plan.periods;
    expect(b!.start).toBeCloseTo(a!.start + 6, 6);
    // Then a real break: time back an hour at segment 5.
    const back = segments(5, 2, 10 * HZ - 3600 * HZ, arrival + 10_000, 5);
    const next = timeline.plan([...same, ...back]);
    expect(next.periods.map((p) => p.key)).toEqual([3, 5]);
    expect(next.periods[1]!.start).toBeCloseTo(b!.start + 4, 6); // the previous Period's end
    expect(next.periods[1]!.pto).toBe(10 * HZ - 3600 * HZ);
    // Known Periods keep their start.
    expect(next.periods[0]!.start).toBe(b!.start);
  });

  test('the 33-bit timestamp wrap inside one period starts a new Period (fragment times go back), continuing the presentation', () => {
    const timeline = new DashTimeline();
    const pts = 2 ** 33 - 3 * HZ;
    const wrapped = segments(0, 3, pts, 5_000_000).map((s) => ({ ...s, start: s.start % 2 ** 33 }));
    const plan = timeline.plan(wrapped);
    expect(plan.periods.map((p) => [p.key, p.initIndex])).toEqual([[0, 0], [2, 0]]);
    expect(plan.periods[1]!.start).toBeCloseTo(plan.periods[0]!.start + 4, 6);
  });
});
