import { describe, expect, it } from 'vitest';
import { formatImageRef, imageRefFromParts, parseImageRef, sameImage } from './image-ref.js';

describe('parseImageRef', () => {
  it.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['nginx:1.27.3', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27.3' }],
    ['bitnami/redis:7.4', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.4' }],
    [
      'index.docker.io/library/nginx:1.27.3',
      { registry: 'docker.io', repository: 'library/nginx', tag: '1.27.3' },
    ],
    [
      'Registry.Example.org:5000/shop/web:2',
      { registry: 'registry.example.org:5000', repository: 'shop/web', tag: '2' },
    ],
    ['localhost/web', { registry: 'localhost', repository: 'web', tag: 'latest' }],
    [
      'nginx@sha256:abc',
      { registry: 'docker.io', repository: 'library/nginx', digest: 'sha256:abc' },
    ],
    [
      'quay.io/prometheus/prometheus:v3.1.0@sha256:abc',
      {
        registry: 'quay.io',
        repository: 'prometheus/prometheus',
        tag: 'v3.1.0',
        digest: 'sha256:abc',
      },
    ],
  ])('GIVEN %s THEN it normalises to %j', (reference, want) => {
    expect(parseImageRef(reference)).toEqual(want);
  });
});

describe('sameImage', () => {
  const trivy = (registry: string, repository: string, tag?: string, digest?: string) =>
    imageRefFromParts({ registry, repository, tag, digest });

  it.each([
    ['nginx:1.27.3', trivy('index.docker.io', 'library/nginx', '1.27.3'), true],
    ['docker.io/nginx', trivy('registry-1.docker.io', 'library/nginx', ''), true],
    ['nginx', trivy('index.docker.io', 'library/nginx', 'latest'), true],
    ['nginx:1.27.3', trivy('index.docker.io', 'library/nginx', '1.25.2'), false],
    ['nginx@sha256:abc', trivy('index.docker.io', 'library/nginx', '', 'sha256:abc'), true],
    ['nginx@sha256:abc', trivy('index.docker.io', 'library/nginx', '', 'sha256:def'), false],
    [
      'nginx:1.27.3@sha256:index',
      trivy('index.docker.io', 'library/nginx', '1.27.3', 'sha256:platform'),
      true,
    ],
    ['registry.example.org/shop/web:2', trivy('registry.example.org', 'shop/web', '2'), true],
    ['registry.example.org/shop/web:2', trivy('docker.io', 'shop/web', '2'), false],
  ])('GIVEN the pod image %s and the scanned %j THEN same is %s', (image, scanned, same) => {
    expect(sameImage(parseImageRef(image), scanned)).toBe(same);
  });

  it('GIVEN a reference THEN it formats with its tag, or its digest when it has no tag', () => {
    expect(formatImageRef(parseImageRef('nginx:1.27.3@sha256:abc'))).toBe(
      'docker.io/library/nginx:1.27.3',
    );
    expect(formatImageRef(parseImageRef('nginx@sha256:abc'))).toBe(
      'docker.io/library/nginx@sha256:abc',
    );
  });
});
