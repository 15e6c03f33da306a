import { jsonWithMembers } from './json-text';

describe('jsonWithMembers', () => {
  it('puts the members of a JSON object text between two objects, as one object', () => {
    const text = jsonWithMembers({ a: 1 }, JSON.stringify({ list: [{ b: 'x,}' }], none: [] }), { c: { d: null } });
    expect(text).toBe('{"a":1,"list":[{"b":"x,}"}],"none":[],"c":{"d":null}}');
    expect(JSON.parse(text)).toEqual({ a: 1, list: [{ b: 'x,}' }], none: [], c: { d: null } });
  });

  it('leaves out empty parts without a stray comma', () => {
    expect(JSON.parse(jsonWithMembers({}, '{ }', { c: 1 }))).toEqual({ c: 1 });
    expect(JSON.parse(jsonWithMembers({ a: 1 }, '{"b":2}', {}))).toEqual({ a: 1, b: 2 });
  });
});
