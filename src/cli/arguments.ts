import { InvalidArgumentError } from 'commander';

/**
 * A commander argument parser for an integer in `min..max`; anything else is a usage error
 * (exit code 2) that names the accepted range.
 */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = /^[+-]?\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return parsed;
  };
}

/**
 * A commander argument parser for an `http:` or `https:` URL without a user name or password
 * (`fetch` refuses those, and the URL is printed in error messages); anything else is a usage error.
 */
export function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a URL such as http://127.0.0.1:7411');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('expected an http:// or https:// URL');
  if (url.username !== '' || url.password !== '') throw new InvalidArgumentError('expected a URL without a user name or password');
  return value;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A commander argument parser for a duration such as `90m`, `12h` or `30d` (minutes, hours, days),
 * returned in ms; anything else is a usage error.
 */
export function durationMs(value: string): number {
  const match = /^(\d{1,6})([mhd])$/.exec(value.trim());
  const amount = match === null ? Number.NaN : Number(match[1]);
  const unit = match?.[2] === undefined ? undefined : DURATION_UNITS[match[2]];
  if (unit === undefined || !(amount > 0)) throw new InvalidArgumentError('expected a duration such as 90m, 12h or 30d');
  return amount * unit;
}
