import { parseReplicas } from './services';

describe('npm start --replicas', () => {
  it('gives every service one instance unless told, a count for all, or a count per service', () => {
    expect(parseReplicas(undefined)).toEqual({ authority: 1, licensing: 1, enrollment: 1, 'device-sync': 1, projection: 1, 'api-gateway': 1 });
    expect(parseReplicas('2')['projection']).toBe(2);
    expect(parseReplicas('device-sync=2,projection=3')).toMatchObject({ 'device-sync': 2, projection: 3, licensing: 1 });
  });

  it('refuses an unknown service or a count that is not 1 to 9', () => {
    expect(() => parseReplicas('devicesync=2')).toThrow('no service devicesync');
    expect(() => parseReplicas('device-sync=0')).toThrow('a count from 1 to 9');
    expect(() => parseReplicas('device-sync=x')).toThrow('a count from 1 to 9');
  });
});
