import { z } from 'zod';

/**
 * A comma-separated setting as a list: entries trimmed, empty ones dropped, each checked by `item`;
 * at least one, else the error says `empty`.
 */
export const commaList = <Item extends z.ZodType<unknown, string>>(item: Item, empty: string) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((e) => e.trim())
        .filter((e) => e.length > 0),
    )
    .pipe(z.array(item).min(1, empty));
