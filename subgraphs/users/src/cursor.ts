const PREFIX = 'user:';

/** Opaque Relay cursor for a sign-up position. */
export const encodeCursor = (seq: number): string => Buffer.from(`${PREFIX}${seq}`).toString('base64url');

/** The sign-up position a cursor stands for, or undefined when it is not one of ours. */
export const decodeCursor = (cursor: string): number | undefined => {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(PREFIX)) return undefined;
  const seq = Number(text.slice(PREFIX.length));
  return Number.isSafeInteger(seq) && seq >= 0 && encodeCursor(seq) === cursor ? seq : undefined;
};
