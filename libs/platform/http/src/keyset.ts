import { z } from 'zod';
import { DomainError } from '@mdm/contracts/core';

/** A list position: the sort key of the last item, opaque to clients. */
export const encodeCursor = (...parts: (string | number)[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');

/** A cursor that is not one this service made is a 400, never a failed query. */
export function decodeCursor<T extends z.ZodTypeAny>(cursor: string | undefined, key: T): z.infer<T> | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    parsed = undefined;
  }
  const result = key.safeParse(parsed);
  if (!result.success) {
    throw new DomainError('VALIDATION_FAILED', 'invalid query: cursor', { fields: [{ path: 'query.cursor', message: 'not a cursor from nextCursor' }] });
  }
  return result.data;
}

/**
 * One page of a list read with `limit + 1` rows: the items, and the cursor after the last one when
 * there are more (made from that row's sort key).
 */
export function paged<R, I>(rows: R[], limit: number, item: (row: R) => I, key: (row: R) => (string | number)[]) {
  const page = rows.slice(0, limit);
  return { items: page.map(item), nextCursor: rows.length > limit ? encodeCursor(...key(page[page.length - 1])) : null };
}
