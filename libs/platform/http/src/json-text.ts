/**
 * The JSON text of one object made of `head`'s members, the members of `members` (the JSON text of an
 * object, inserted as it is) and `tail`'s members, in that order. For an answer part of which is
 * kept ready as JSON text: it is neither parsed nor serialised again.
 */
export function jsonWithMembers(head: object, members: string, tail: object): string {
  const inner = (text: string) => text.slice(1, -1).trim();
  return `{${[inner(JSON.stringify(head)), inner(members), inner(JSON.stringify(tail))].filter((part) => part.length > 0).join(',')}}`;
}
