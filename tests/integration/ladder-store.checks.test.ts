// Ladders in the store, on both engines: rows round-trip in order (renditions keep their
// order), the checked writes refuse what ladder-checks.ts refuses, ladders and profiles
// never share an id (also when both are created at the same instant), and a profile a
// ladder lists can be neither deleted nor changed into one that breaks the ladder.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { getProfile, listProfiles } from '../../coordinator/catalog/catalog-store';
import { createCheckedLadder, updateCheckedLadder } from '../../coordinator/catalog/ladder-checks';
import { deleteLadder, findLadder, getLadder, laddersUsingProfile, listLadders } from '../../coordinator/catalog/ladder-store';
import { createCheckedProfile, deleteCheckedProfile, updateCheckedProfile } from '../../coordinator/catalog/profile-checks';
import { AppError } from '../../coordinator/errors';
import { ENGINES, openTempStore, type TempStore } from './scheduler-fixtures';

/** The AppError a call failed with (code, message, field), or a failure when it did not fail. */
async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string; field?: unknown; ladder?: unknown }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, message: err.message, field: err.details?.field, ladder: err.details?.ladder };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe.each(ENGINES)('ladder store (%s)', (engine) => {
  let temp: TempStore;
  const h264 = (id: string, width: number, height: number, kbps: number) =>
    createCheckedProfile(temp.store, { id, name: id, videoCodec: 'h264', width, height, videoBitrateKbps: kbps }, 1_000);

  beforeAll(async () => {
    temp = await openTempStore('ladders', engine);
    expect(temp.store.engine).toBe(engine);
    await h264('r360', 640, 360, 800);
    await h264('r270', 480, 270, 400);
    await h264('r180', 320, 180, 200);
  });
  afterAll(async () => temp?.close());

  test('create, read, list, update and delete; renditions keep their order', async () => {
    const created = await createCheckedLadder(temp.store, { id: 'abr', name: 'ABR', renditions: ['r360', 'r270', 'r180'] }, 5_000);
    expect(created).toEqual({ id: 'abr', name: 'ABR', renditions: ['r360', 'r270', 'r180'], createdAt: 5_000 });
    expect(await getLadder(temp.store, 'abr')).toEqual(created);
    expect(await findLadder(temp.store, 'abr')).toEqual(created);
    expect(await findLadder(temp.store, 'nope')).toBeNull();
    expect(await refusal(getLadder(temp.store, 'nope'))).toMatchObject({ code: 'not_found', message: "ladder 'nope' not found" });

    // Order is the ladder's, not the ids': bottom-up is stored as sent.
    await createCheckedLadder(temp.store, { id: 'abr-b', name: 'Bottom up', renditions: ['r180', 'r360'] }, 6_000);
    expect((await listLadders(temp.store)).map((l) => [l.id, l.renditions])).toEqual([
      ['abr', ['r360', 'r270', 'r180']],
      ['abr-b', ['r180', 'r360']],
    ]);
    expect((await laddersUsingProfile(temp.store, 'r270')).map((l) => l.id)).toEqual(['abr']);

    const renamed = await updateCheckedLadder(temp.store, 'abr-b', { name: 'Two' });
    expect(renamed).toEqual({ id: 'abr-b', name: 'Two', renditions: ['r180', 'r360'], createdAt: 6_000 });
    expect((await updateCheckedLadder(temp.store, 'abr-b', { renditions: ['r270'] })).renditions).toEqual(['r270']);
    expect(await refusal(updateCheckedLadder(temp.store, 'nope', { name: 'x' }))).toMatchObject({ code: 'not_found' });
    expect(await refusal(createCheckedLadder(temp.store, { id: 'abr', name: 'again', renditions: ['r180'] }, 7_000))).toMatchObject({
      code: 'conflict',
      message: "ladder 'abr' already exists",
    });

    await deleteLadder(temp.store, 'abr-b');
    expect(await findLadder(temp.store, 'abr-b')).toBeNull();
    expect(await refusal(deleteLadder(temp.store, 'abr-b'))).toMatchObject({ code: 'not_found' });
  });

  test('the checked writes refuse what the rules refuse, naming the field; PATCH checks again', async () => {
    expect(await refusal(createCheckedLadder(temp.store, { id: 'bad', name: 'bad', renditions: ['r360', 'ghost'] }, 1))).toEqual({
      code: 'invalid_spec',
      message: "body.renditions[1]: unknown profile 'ghost'",
      field: 'renditions[1]',
      ladder: undefined,
    });
    await createCheckedProfile(temp.store, { id: 'remux', name: 'Remux', videoCodec: 'copy' }, 1);
    expect((await refusal(createCheckedLadder(temp.store, { id: 'bad', name: 'bad', renditions: ['remux'] }, 1))).field).toBe('renditions[0]');
    expect(await findLadder(temp.store, 'bad')).toBeNull();
    const patched = await refusal(updateCheckedLadder(temp.store, 'abr', { renditions: ['r360', 'r360'] }));
    expect(patched).toMatchObject({ code: 'invalid_spec', field: 'renditions[1]' });
    expect((await getLadder(temp.store, 'abr')).renditions).toEqual(['r360', 'r270', 'r180']);
  });

  test('a ladder id may not be a profile id, nor a profile id a ladder id (409 naming the id)', async () => {
    expect(await refusal(createCheckedLadder(temp.store, { id: 'r360', name: 'x', renditions: ['r180'] }, 1))).toMatchObject({
      code: 'conflict',
      field: 'id',
      message: expect.stringContaining("id 'r360' is a profile's"),
    });
    expect(await refusal(h264('abr', 256, 144, 100))).toMatchObject({ code: 'conflict', field: 'id', message: expect.stringContaining("id 'abr' is a ladder's") });
    expect((await listProfiles(temp.store)).map((p) => p.id)).not.toContain('abr');

    // The same id at the same instant, as a profile and as a ladder: exactly one is stored.
    const results = await Promise.allSettled([
      h264('race', 256, 144, 100),
      createCheckedLadder(temp.store, { id: 'race', name: 'race', renditions: ['r180'] }, 1),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const asProfile = (await listProfiles(temp.store)).some((p) => p.id === 'race');
    const asLadder = (await findLadder(temp.store, 'race')) !== null;
    expect(asProfile !== asLadder).toBe(true);
  });

  test('a profile a ladder lists: delete is 409 naming the ladder, a breaking PATCH is 409, a harmless one passes', async () => {
    expect(await refusal(deleteCheckedProfile(temp.store, 'r270'))).toMatchObject({
      code: 'conflict',
      ladder: 'abr',
      message: "profile 'r270' is a rendition of ladder 'abr'; remove it from the ladder first",
    });
    expect(await refusal(deleteCheckedProfile(temp.store, 'ghost'))).toMatchObject({ code: 'not_found' });
    // Same size as another rendition, copy video, other audio: each would break 'abr'.
    for (const patch of [{ width: 640, height: 360 }, { videoCodec: 'copy' as const }, { audioCodec: 'ac3' as const }]) {
      const r = await refusal(updateCheckedProfile(temp.store, 'r270', patch));
      expect(r.code).toBe('conflict');
      expect(r.message).toContain("rendition of ladder 'abr'");
    }
    expect((await getProfile(temp.store, 'r270')).width).toBe(480);
    expect((await updateCheckedProfile(temp.store, 'r270', { videoBitrateKbps: 350 })).videoBitrateKbps).toBe(350);

    // Once the ladder no longer lists it, the profile goes.
    await updateCheckedLadder(temp.store, 'abr', { renditions: ['r360', 'r180'] });
    await deleteCheckedProfile(temp.store, 'r270');
    expect((await listProfiles(temp.store)).map((p) => p.id)).not.toContain('r270');
  });
});
