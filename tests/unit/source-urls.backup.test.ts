// Which URL of a source is live, and when a recovered primary is taken back.
import { describe, expect, test } from 'bun:test';
import { SourceUrls } from '../../coordinator/streams/source-urls';

describe('source URLs', () => {
  test('a failure moves to the next URL in order, wrapping to the primary', () => {
    const urls = new SourceUrls(['http://a/x', 'http://b/x', 'http://c/x']);
    expect(urls.activeUrl).toBe('http://a/x');
    expect(urls.advance()).toBe(true);
    expect(urls.label()).toBe('backup 1');
    expect(urls.advance()).toBe(true);
    expect(urls.advance()).toBe(true);
    expect(urls.active).toBe(0);
    expect(urls.switches).toBe(3);
  });

  test('without backups nothing changes', () => {
    const urls = new SourceUrls(['http://a/x']);
    expect(urls.advance()).toBe(false);
    expect(urls.switches).toBe(0);
  });

  test('the primary is taken back only after unbroken healthy probes for the hold time', () => {
    const urls = new SourceUrls(['http://a/x', 'http://b/x']);
    urls.advance();
    expect(urls.primaryProbed(true, null, 1000, 3000)).toBe(false);
    expect(urls.primaryProbed(true, null, 2000, 3000)).toBe(false);
    // one failed probe restarts the hold
    expect(urls.primaryProbed(false, 'probe: HTTP 503', 3000, 3000)).toBe(false);
    expect(urls.health[0]!.lastError).toBe('probe: HTTP 503');
    expect(urls.primaryProbed(true, null, 4000, 3000)).toBe(false);
    expect(urls.primaryProbed(true, null, 6000, 3000)).toBe(false);
    expect(urls.primaryProbed(true, null, 7000, 3000)).toBe(true);
    urls.returnToPrimary();
    expect(urls.active).toBe(0);
    expect(urls.switches).toBe(2);
  });

  test('shown URLs never carry credentials', () => {
    const urls = new SourceUrls(['http://user:secret@a/live?token=abc', 'http://b/x?key=k']);
    expect(JSON.stringify(urls.health)).not.toContain('secret');
    expect(JSON.stringify(urls.health)).not.toContain('abc');
    expect(urls.health[1]!.displayUrl).not.toContain('=k');
  });
});
