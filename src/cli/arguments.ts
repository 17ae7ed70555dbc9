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
