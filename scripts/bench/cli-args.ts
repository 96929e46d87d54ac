import { Command, InvalidArgumentError } from 'commander';

/** A commander argument parser for a whole number of at least 1. */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** A commander argument parser for a number above 0. */
export function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** A commander argument parser for a whole number of at least 0 (0 usually skips a phase). */
export function wholeNumber(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/**
 * One command-line option of a benchmark, declared once: its flag is the kebab-case of its key in
 * the table, and its value's type is what `parse` returns (or the default's).
 */
export interface BenchOption<T> {
  /** The value's name in `--help` (`<n>`); none for a `--no-<key>` switch. */
  readonly placeholder?: string;
  readonly help: string;
  readonly parse?: (value: string) => T;
  readonly fallback?: T;
}

/** A count (`<n>`, a whole number of at least 1). */
export function count(fallback: number, help: string): BenchOption<number> {
  return { placeholder: '<n>', help, parse: positiveInt, fallback };
}

/** A count that may be 0 (`<n>`), where 0 skips what it counts. */
export function countOrZero(fallback: number, help: string): BenchOption<number> {
  return { placeholder: '<n>', help, parse: wholeNumber, fallback };
}

/** A duration in milliseconds (`<ms>`); without a fallback the option may be left out. */
export function millis(fallback: number, help: string): BenchOption<number>;
export function millis(fallback: undefined, help: string): BenchOption<number | undefined>;
export function millis(fallback: number | undefined, help: string): BenchOption<number | undefined> {
  return { placeholder: '<ms>', help, parse: positiveInt, fallback };
}

/** A duration in whole seconds (`<s>`). */
export function seconds(fallback: number, help: string): BenchOption<number> {
  return { placeholder: '<s>', help, parse: positiveInt, fallback };
}

/** A factor above 0 (`<x>`), such as the simulator's time scale. */
export function factor(fallback: number, help: string): BenchOption<number> {
  return { placeholder: '<x>', help, parse: positiveNumber, fallback };
}

/** A text value under `placeholder`; without a fallback the option may be left out. */
export function text(placeholder: string, help: string): BenchOption<string | undefined>;
export function text(placeholder: string, help: string, fallback: string): BenchOption<string>;
export function text(placeholder: string, help: string, fallback?: string): BenchOption<string | undefined> {
  return { placeholder, help, fallback };
}

/** A phase that runs unless `--no-<key>` is given. */
export function skippable(help: string): BenchOption<boolean> {
  return { help, fallback: true };
}

/** The values of an option table, typed from its rows. */
export type BenchOptions<S extends Record<string, BenchOption<unknown>>> = {
  [K in keyof S]: S[K] extends BenchOption<infer T> ? T : never;
};

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Parses this process's arguments by `table` (commander: `--help`, errors that name the option). */
export function parseBenchOptions<S extends Record<string, BenchOption<unknown>>>(
  name: string,
  description: string,
  table: S,
): BenchOptions<S> {
  const command = new Command(name).description(description);
  for (const [key, o] of Object.entries(table)) {
    const flag = `--${kebab(key)}`;
    if (o.placeholder === undefined) command.option(`--no-${kebab(key)}`, o.help);
    else if (o.parse) command.option(`${flag} ${o.placeholder}`, o.help, o.parse, o.fallback);
    else command.option(`${flag} ${o.placeholder}`, o.help, o.fallback as string | undefined);
  }
  return command.parse().opts<BenchOptions<S>>();
}
