// Record content (docs/protocol.md §10.1, "Record content, version 1") and receipts, as
// the record pages show them. Pure helpers: no SDK, no page state.

/** The members of a version 1 record, in the order the pages show them. */
export const FIELDS = [
  ['when', 'When'],
  ['where', 'Where'],
  ['who', 'Who did it'],
  ['what', 'What happened'],
  ['witnesses', 'Who saw it or was told'],
  ['text', 'Anything else'],
];

/** An empty version 1 record. */
export function emptyContent() {
  return { v: 1, who: '', what: '', when: '', where: '', witnesses: [], text: '' };
}

/** A version 1 record from whatever a draft or a version holds (missing members empty). */
export function normalizeContent(content) {
  const result = emptyContent();
  if (!content || typeof content !== 'object') return result;
  for (const name of ['who', 'what', 'when', 'where', 'text']) {
    if (typeof content[name] === 'string') result[name] = content[name];
  }
  if (Array.isArray(content.witnesses)) {
    result.witnesses = content.witnesses.filter((w) => typeof w === 'string');
  }
  return result;
}

/** Whether every member is empty. */
export function isEmpty(content) {
  const c = normalizeContent(content);
  return !c.who.trim() && !c.what.trim() && !c.when.trim() && !c.where.trim()
    && !c.text.trim() && c.witnesses.every((w) => !w.trim());
}

/** Whether two contents say the same. */
export function sameContent(a, b) {
  return JSON.stringify(normalizeContent(a)) === JSON.stringify(normalizeContent(b));
}

/** The witnesses as the one-per-line text of the form, and back. */
export function witnessesToText(witnesses) {
  return (witnesses || []).join('\n');
}

export function textToWitnesses(text) {
  return String(text || '').split('\n').map((line) => line.trim()).filter((line) => line);
}

/** A member's value as text, for reading and printing. */
export function fieldText(content, name) {
  const value = normalizeContent(content)[name];
  return Array.isArray(value) ? value.join('\n') : value;
}

/** The latest version of a record ({recordId, versions}). */
export function latestVersion(record) {
  const versions = Array.isArray(record && record.versions) ? record.versions : [];
  let latest = null;
  for (const version of versions) {
    if (!latest || Number(version.version) > Number(latest.version)) latest = version;
  }
  return latest;
}

/** The versions of a record, newest first. */
export function newestFirst(record) {
  const versions = Array.isArray(record && record.versions) ? [...record.versions] : [];
  return versions.sort((a, b) => Number(b.version) - Number(a.version));
}

/** A short title for a record: its "when", else the first words of "what". */
export function recordTitle(content, fallback) {
  const c = normalizeContent(content);
  const first = (c.when.trim() || c.what.trim().split('\n')[0] || c.who.trim());
  if (!first) return fallback;
  const chars = [...first];
  return chars.length > 80 ? `${chars.slice(0, 80).join('')}…` : first;
}

function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A receipt as text: hex as it is, bytes as hex, an object as indented JSON. */
export function receiptText(receipt) {
  if (receipt === undefined || receipt === null) return '';
  if (typeof receipt === 'string') return receipt;
  if (receipt instanceof Uint8Array) return toHex(receipt);
  try {
    return JSON.stringify(receipt, (_, value) => {
      if (value instanceof Uint8Array) return toHex(value);
      if (typeof value === 'bigint') return value.toString();
      return value;
    }, 2);
  } catch {
    return String(receipt);
  }
}

/**
 * The receipt of one version: the version's own `receipt`, else one that verifyLog()
 * returned for it (an array of {recordId, version, receipt}), else null.
 */
export function receiptFor(recordId, version, verified) {
  if (version && version.receipt) return version.receipt;
  const receipts = verified && Array.isArray(verified.receipts) ? verified.receipts : [];
  for (const item of receipts) {
    if (item && item.recordId === recordId && Number(item.version) === Number(version.version)) {
      return item.receipt || null;
    }
  }
  return null;
}

/** How many receipts a verifyLog() result checked (it may list them or count them). */
/** What a successful verifyLog() tells the survivor (the records and record pages). */
export function verifiedText(verified) {
  const n = receiptCount(verified);
  return `All ${n === 1 ? '1 receipt checks' : `${n} receipts check`} out: `
    + `the log still holds every version, and has only grown (it now has ${verified.treeSize} entries).`;
}

export function receiptCount(verified) {
  if (!verified) return 0;
  if (Array.isArray(verified.receipts)) return verified.receipts.length;
  const n = Number(verified.receipts);
  return Number.isFinite(n) ? n : 0;
}
