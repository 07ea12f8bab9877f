import { describe, expect, it } from 'vitest';
import { originAllowed } from '../src/origin.ts';

describe('originAllowed', () => {
  it.each([
    [undefined, 'localhost:8084'],
    ['http://localhost:8084', 'localhost:8084'],
    ['http://LOCALHOST:8084', 'localhost:8084'],
    ['https://10.0.0.5:8084', '10.0.0.5:8084'],
    ['http://[::1]:8084', '[::1]:8084'],
    ['http://gw.lan', 'gw.lan:80'],
  ])('allows Origin %j for Host %j', (origin, host) => expect(originAllowed(origin, host)).toBe(true));

  it.each([
    ['http://evil.example', 'localhost:8084'],
    ['http://localhost:8080', 'localhost:8084'],
    ['null', 'localhost:8084'],
    ['file://', 'localhost:8084'],
    ['chrome-extension://abc', 'localhost:8084'],
    ['http://localhost:8084', undefined],
    ['http://localhost:8084', ''],
    ['http://localhost:8084', 'localhost:8084/x@evil'],
    ['not a url', 'localhost:8084'],
  ])('refuses Origin %j for Host %j', (origin, host) => expect(originAllowed(origin, host)).toBe(false));
});
