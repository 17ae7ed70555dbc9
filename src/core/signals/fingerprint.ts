/**
 * The fingerprint of a label set exactly as Prometheus and Alertmanager compute it
 * (`model.LabelSet.Fingerprint` in github.com/prometheus/common/model): 64-bit FNV-1a over the label
 * names in ascending order, each name and value followed by the separator byte 0xff, as 16 lowercase
 * hex digits. Alertmanager puts this in each webhook alert's `fingerprint`; computing it ourselves
 * de-duplicates the older payloads that lack it with the same key.
 *
 * @see https://github.com/prometheus/common/blob/main/model/labelset.go (Fingerprint, labelSetToFingerprint)
 * @see http://www.isthe.com/chongo/tech/comp/fnv/ (FNV-1a, 64-bit offset basis and prime)
 */

const OFFSET_BASIS = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;
const SEPARATOR = 0xff;
const encoder = new TextEncoder();

/**
 * @param labels label names to values (UTF-8); an empty set hashes to the offset basis, as in Go.
 * @returns 16 lowercase hex digits, e.g. `d8e9f447d514bf1e`.
 */
export function labelsFingerprint(labels: Readonly<Record<string, string>>): string {
  let hash = OFFSET_BASIS;
  const add = (byte: number): void => {
    hash = ((hash ^ BigInt(byte)) * PRIME) & MASK;
  };
  // Go sorts label names as byte strings; for UTF-8 that is code point order, not UTF-16 order.
  const names = Object.keys(labels).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    for (const byte of encoder.encode(name)) add(byte);
    add(SEPARATOR);
    for (const byte of encoder.encode(labels[name])) add(byte);
    add(SEPARATOR);
  }
  return hash.toString(16).padStart(16, '0');
}
