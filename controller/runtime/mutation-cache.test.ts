import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import { MUTATION_TTL_MS, MutationCache, isNewer } from './mutation-cache.js';

const obj = (rv: string, value = rv): KubernetesObject & { value: string } => ({
  metadata: { name: 'a', resourceVersion: rv },
  value,
});

describe('MutationCache: read your own writes', () => {
  it('GIVEN a write newer than the watch THEN readers see the write until the watch delivers it', () => {
    const cache = new MutationCache<ReturnType<typeof obj>>(new FakeClock(0));
    cache.mutated('a', obj('12', 'written'));
    expect(cache.resolve('a', obj('10', 'watched'))?.value).toBe('written');
    // The watch delivers the written version: from then on the watch's object is read.
    expect(cache.resolve('a', obj('12', 'watched'))?.value).toBe('watched');
    expect([...cache.keys()]).toEqual([]);
  });

  it('GIVEN a newer version from someone else THEN it wins over our older write', () => {
    const cache = new MutationCache<ReturnType<typeof obj>>(new FakeClock(0));
    cache.mutated('a', obj('12', 'ours'));
    expect(cache.resolve('a', obj('15', 'theirs'))?.value).toBe('theirs');
  });

  it('GIVEN two writes answered out of order THEN the newer one is kept', () => {
    const cache = new MutationCache<ReturnType<typeof obj>>(new FakeClock(0));
    cache.mutated('a', obj('20', 'newer'));
    cache.mutated('a', obj('19', 'older'));
    expect(cache.resolve('a', undefined)?.value).toBe('newer');
  });

  it('GIVEN an object we created that the watch has not shown THEN it is readable; deleted by the watch THEN forgotten', () => {
    const cache = new MutationCache<ReturnType<typeof obj>>(new FakeClock(0));
    cache.mutated('a', obj('3'));
    expect(cache.resolve('a', undefined)?.value).toBe('3');
    cache.forget('a');
    expect(cache.resolve('a', undefined)).toBeUndefined();
  });

  it('GIVEN a write older than the TTL THEN the watch is read again', () => {
    const clock = new FakeClock(0);
    const cache = new MutationCache<ReturnType<typeof obj>>(clock);
    cache.mutated('a', obj('12', 'written'));
    clock.advance(MUTATION_TTL_MS + 1);
    expect(cache.resolve('a', obj('10', 'watched'))?.value).toBe('watched');
  });

  it('GIVEN resourceVersions that are not integers THEN neither counts as newer', () => {
    expect(isNewer(obj('abc'), obj('1'))).toBe(false);
    expect(isNewer(obj('2'), obj('abc'))).toBe(false);
    expect(isNewer(obj('100000000000000000000'), obj('99999999999999999999'))).toBe(true);
  });

  it('GIVEN the watch reported a delete before the answer of our last write arrived THEN the write does not bring the object back', () => {
    const cache = new MutationCache<ReturnType<typeof obj>>(new FakeClock(0));
    // Removing the last finalizer: the server deletes at once (rv 31) and answers with rv 30.
    cache.forget('a', '31');
    cache.mutated('a', obj('30', 'ghost'));
    expect(cache.resolve('a', undefined)).toBeUndefined();
    // Created again later, at a newer version: readable again.
    cache.mutated('a', obj('40', 'again'));
    expect(cache.resolve('a', undefined)?.value).toBe('again');
  });

  it('GIVEN a written object being deleted with no finalizer left THEN it is not recorded', () => {
    const cache = new MutationCache<ReturnType<typeof obj>>(new FakeClock(0));
    cache.mutated('a', obj('5', 'live'));
    cache.mutated('a', {
      metadata: { name: 'a', resourceVersion: '6', deletionTimestamp: new Date(0), finalizers: [] },
      value: 'deleting',
    });
    expect(cache.resolve('a', undefined)).toBeUndefined();
  });

  it('GIVEN a relist that does not hold a written object THEN an object written before the list is dropped and one written after it is kept', () => {
    const cache = new MutationCache<ReturnType<typeof obj>>(new FakeClock(0));
    cache.mutated('old', obj('10'));
    cache.mutated('new', obj('25'));
    cache.absentAt('old', '20');
    cache.absentAt('new', '20');
    expect(cache.resolve('old', undefined)).toBeUndefined();
    expect(cache.resolve('new', undefined)?.value).toBe('25');
  });
});
