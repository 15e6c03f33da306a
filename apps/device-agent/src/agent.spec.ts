import { parseMix } from './agent';

describe('parseMix', () => {
  it('expands the weights and interleaves them, so that every slice of a fleet has the mix', () => {
    expect(parseMix('android:2,windows:1,ios:1')).toEqual(['android', 'windows', 'ios', 'android']);
    expect(parseMix('a:3,b:1').join('')).toBe('aaba');
    // Any prefix stays within one device of its share.
    const mix = parseMix('x:5,y:3,z:2');
    for (let n = 1; n <= mix.length; n++) {
      const xs = mix.slice(0, n).filter((v) => v === 'x').length;
      expect(Math.abs(xs - (n * 5) / 10)).toBeLessThanOrEqual(1);
    }
  });

  it('a name without a weight counts once; unknown names and bad weights are refused', () => {
    expect(parseMix('M365_E3')).toEqual(['M365_E3']);
    expect(() => parseMix('android:2,toaster', ['android', 'ios'])).toThrow('unknown value toaster');
    expect(() => parseMix('android:0')).toThrow('the weight must be an integer 1..100');
    expect(() => parseMix('android:1.5')).toThrow('the weight must be an integer 1..100');
    expect(() => parseMix(' , ')).toThrow('an empty mix');
  });
});
