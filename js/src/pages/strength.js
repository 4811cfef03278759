// A rough passphrase-strength estimate for the registration page's meter. This is user
// interface, not cryptography: it only nudges people away from short or predictable
// passphrases. The real protection is Argon2id (docs/protocol.md §9). Pure: no DOM, no SDK.

// A few passphrases that are always guessed first, compared without spaces or case.
const COMMON = new Set([
  'password', 'password1', 'password123', 'passphrase', 'passw0rd', '123456789',
  '1234567890', '12345678910', 'qwertyuiop', 'qwerty123', 'iloveyou', 'letmein',
  'letmein123', 'welcome123', 'abcdefghij', 'abc1234567', 'football', 'princess',
  'sunshine', 'trustno1', 'correcthorsebatterystaple', 'notalone', 'metoo',
]);

// Bits credited per word when a passphrase is made of several words: about what a word
// drawn from a list of 2,000 common words gives. Chosen words give less; random ones more.
const BITS_PER_WORD = 11;

function poolSize(codePoints) {
  let lower = false;
  let upper = false;
  let digit = false;
  let symbol = false;
  let other = false;
  for (const c of codePoints) {
    if (c >= 'a' && c <= 'z') lower = true;
    else if (c >= 'A' && c <= 'Z') upper = true;
    else if (c >= '0' && c <= '9') digit = true;
    else if (c.codePointAt(0) < 128) symbol = true;
    else other = true;
  }
  return (lower ? 26 : 0) + (upper ? 26 : 0) + (digit ? 10 : 0) + (symbol ? 33 : 0)
    + (other ? 100 : 0);
}

// Characters that repeat the previous one, or continue a run ("abc", "321"), count less.
function effectiveLength(codePoints) {
  let length = 0;
  let previous = null;
  let step = null;
  for (const c of codePoints) {
    const code = c.toLowerCase().codePointAt(0);
    if (previous === null) {
      length += 1;
    } else if (code === previous) {
      length += 0.25;
      step = 0;
    } else if (Math.abs(code - previous) === 1 && (step === null || step === code - previous)) {
      length += 0.5;
      step = code - previous;
    } else {
      length += 1;
      step = null;
    }
    previous = code;
  }
  return length;
}

/**
 * Estimate the strength of `passphrase`: {bits, level, text}. `level` is 0 (too easy to
 * guess) to 3 (strong).
 */
export function estimateStrength(passphrase) {
  const text = String(passphrase || '').normalize('NFC');
  const codePoints = [...text];
  if (codePoints.length === 0) return { bits: 0, level: 0, text: '' };
  const squashed = text.toLowerCase().replace(/[\s\-_.]+/g, '');
  let bits;
  if (COMMON.has(squashed)) {
    bits = 0;
  } else {
    bits = effectiveLength(codePoints) * Math.log2(Math.max(poolSize(codePoints), 2));
    const words = new Set(
      text.toLowerCase().split(/[\s\-_.,;:]+/).filter((word) => [...word].length >= 2),
    );
    if (words.size >= 3) {
      // A passphrase of words is as strong as its words, however long it looks; short
      // words ("is", "the", "dog") are the most predictable and count for less.
      let wordBits = 4;
      for (const word of words) wordBits += [...word].length <= 3 ? 6 : BITS_PER_WORD;
      bits = Math.min(bits, wordBits);
    }
  }
  bits = Math.round(bits);
  if (codePoints.length < 10) {
    return { bits, level: 0, text: 'Too short: use at least 10 characters.' };
  }
  if (bits < 40) {
    return { bits, level: 0, text: 'Easy to guess. Add a few more unrelated words.' };
  }
  if (bits < 55) {
    return { bits, level: 1, text: 'Fair. One or two more words would make it much stronger.' };
  }
  if (bits < 75) return { bits, level: 2, text: 'Good.' };
  return { bits, level: 3, text: 'Strong.' };
}
