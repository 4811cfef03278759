// Canonical forms of identifiers (§4), mirroring src/notalone/protocol/identifiers.py.
//
//     canonicalize(kind, value, {region}) -> {kind, canonical}
//     oprfInput({kind, canonical})        -> UTF-8 "notalone/v1/id|<kind>|<canonical>"
//
// Pure: no look-ups. Every refusal is an IdentifierError with a stable `code` and a fixed
// message that never contains the input or any part of it; library errors (which may
// quote the input) are never attached as causes.
import { toASCII, toUnicode } from 'tr46';
import {
  isSupportedCountry,
  parsePhoneNumberWithError,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max';
import { utf8 } from './bytes.js';
import { IdentifierError } from './errors.js';

export const OPRF_INPUT_PREFIX = 'notalone/v1/id|';
export const MAX_INPUT_CHARS = 512;
export const KINDS = Object.freeze(['email', 'phone', 'profile', 'orgid']);

const fail = (kind, code, message) => new IdentifierError(kind, code, message);

/** Return {kind, canonical}, or throw IdentifierError saying what to fix. */
export function canonicalize(kind, value, { region } = {}) {
  const k = resolveKind(kind);
  // As in Python, only an absent region (undefined or null) means "none"; an empty string
  // is an invalid region. The SDK maps a page's empty selection to null.
  const r = region ?? null;
  if (r !== null && k !== 'phone') throw fail(k, 'region_not_phone', 'a region applies only to phone numbers');
  return Object.freeze({ kind: k, canonical: canonicalForm(k, value, r) });
}

/** The OPRF input of a canonical identifier; refuses a value that is not canonical. */
export function oprfInput({ kind, canonical }) {
  const k = resolveKind(kind);
  if (canonicalForm(k, canonical, null) !== canonical) {
    throw fail(k, 'not_canonical', 'this value is not in canonical form: pass it through canonicalize()');
  }
  return utf8(`${OPRF_INPUT_PREFIX}${k}|${canonical}`);
}

function resolveKind(kind) {
  const name = typeof kind === 'string' ? kind.trim().toLowerCase() : '';
  // The unknown kind is not echoed: a user who swapped kind and value would see it.
  if (!KINDS.includes(name)) throw fail('unknown', 'unknown_kind', `unknown identifier kind: choose one of ${KINDS.join(', ')}`);
  return name;
}

function canonicalForm(kind, value, region) {
  const text = prepare(kind, value);
  if (kind === 'email') return canonicalEmail(text);
  if (kind === 'phone') return canonicalPhone(text, region);
  if (kind === 'profile') return canonicalProfile(text);
  return canonicalOrgid(text);
}

// ------------------------------------------------------------------ §4.3 formatting noise

// The White_Space set of §4.3, listed explicitly (JS trim() and Python strip() differ).
const WHITESPACE =
  '\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
const WS_SET = new Set(WHITESPACE);
const isWs = (ch) => WS_SET.has(ch);
const codePoints = (s) => [...s];
const cpLength = (s) => codePoints(s).length;

function strip(text, chars = WS_SET) {
  const cps = codePoints(text);
  let a = 0;
  let b = cps.length;
  while (a < b && chars.has(cps[a])) a++;
  while (b > a && chars.has(cps[b - 1])) b--;
  return cps.slice(a, b).join('');
}
function lstrip(text, chars) {
  const cps = codePoints(text);
  let a = 0;
  while (a < cps.length && chars.has(cps[a])) a++;
  return cps.slice(a).join('');
}

function normalizeText(text) {
  return strip(text.replace(/\p{Cf}/gu, '').normalize('NFKC'));
}

function prepare(kind, value) {
  if (typeof value !== 'string') throw fail(kind, 'not_text', `the ${kind} must be given as text`);
  const tooLong = () => fail(kind, 'too_long', `the ${kind} is too long: at most ${MAX_INPUT_CHARS} characters`);
  if (cpLength(value) > MAX_INPUT_CHARS) throw tooLong();
  const text = normalizeText(value);
  if (!text) throw fail(kind, 'empty', `the ${kind} is empty`);
  if (cpLength(text) > MAX_INPUT_CHARS) throw tooLong();
  checkCharacters(kind, text);
  return text;
}

const REFUSED = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}]/u;
function checkCharacters(kind, text) {
  for (const ch of text) {
    if (REFUSED.test(ch) && !isWs(ch)) {
      throw fail(kind, 'control_characters', `the ${kind} contains control or unassigned characters: retype it`);
    }
  }
}

const hasWhitespace = (text) => codePoints(text).some(isWs);

/** `name` as a lower-case IDNA A-label domain with at least two labels (UTS #46). */
function domainName(kind, name, code, message) {
  const candidate = name.endsWith('.') ? name.slice(0, -1) : name;
  let encoded = null;
  if (candidate && !candidate.split('.').some((l) => l === '')) {
    encoded = toASCII(candidate, {
      checkBidi: true,
      checkHyphens: true,
      checkJoiners: true,
      useSTD3ASCIIRules: true,
      processingOption: 'nontransitional',
      verifyDNSLength: true,
    });
  }
  if (encoded === null || !encoded.includes('.') || !idna2008Valid(encoded)) throw fail(kind, code, message);
  return encoded.toLowerCase();
}

// After the UTS #46 mapping, Python's `idna` also applies IDNA 2008's code point rules
// (RFC 5892), which UTS #46 alone does not: symbols and punctuation such as U+2603 are
// DISALLOWED there. This approximates RFC 5892's derived property on mapped text:
// LetterDigits (Ll Lo Lm Mn Mc Nd), the PVALID and CONTEXTO exceptions of §2.6, minus
// its DISALLOWED exceptions, default-ignorables and old Hangul jamo. CONTEXTJ (joiners)
// and bidi are checked by tr46.
const IDNA_LETTER_DIGITS = /^[\p{Ll}\p{Lo}\p{Lm}\p{Mn}\p{Mc}\p{Nd}]$/u;
const IDNA_EXTRA_VALID = new Set(['-', '\u00df', '\u03c2', '\u06fd', '\u06fe', '\u0f0b', '\u3007', '\u00b7', '\u0375', '\u05f3', '\u05f4', '\u30fb', '\u200c', '\u200d']);
const IDNA_DISALLOWED = /^[\u0640\u07fa\u302e\u302f\u3031-\u3035\u303b\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\p{Default_Ignorable_Code_Point}]$/u;
function idna2008Valid(ascii) {
  const { domain, error } = toUnicode(ascii, { checkBidi: true, checkHyphens: true, checkJoiners: true, useSTD3ASCIIRules: true, processingOption: 'nontransitional' });
  if (error) return false;
  for (const ch of domain) {
    if (ch === '.' || /^[a-z0-9]$/.test(ch)) continue;
    if (IDNA_DISALLOWED.test(ch)) return false;
    if (!IDNA_LETTER_DIGITS.test(ch) && !IDNA_EXTRA_VALID.has(ch)) return false;
  }
  return true;
}

/** Decode %XX runs as UTF-8; null when an escape is malformed or not UTF-8. */
function percentDecode(text) {
  const runs = /(?:%[0-9A-Fa-f]{2})+/g;
  if (text.replace(runs, '').includes('%')) return null;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    return text.replace(runs, (run) => {
      const bytes = Uint8Array.from(run.slice(1).split('%'), (h) => parseInt(h, 16));
      return decoder.decode(bytes);
    });
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ §4.4 email

const GMAIL = { domain: 'gmail.com', ignored: '.' };
const ICLOUD = { domain: 'icloud.com', ignored: '' };
const PROTON = { domain: 'proton.me', ignored: '._-' };
const own = (domain) => ({ domain, ignored: '' });
const MAILBOX_RULES = new Map([
  ['gmail.com', GMAIL], ['googlemail.com', GMAIL],
  ['outlook.com', own('outlook.com')], ['hotmail.com', own('hotmail.com')],
  ['live.com', own('live.com')], ['msn.com', own('msn.com')],
  ['icloud.com', ICLOUD], ['me.com', ICLOUD], ['mac.com', ICLOUD],
  ['fastmail.com', own('fastmail.com')], ['fastmail.fm', own('fastmail.fm')],
  ['proton.me', PROTON], ['protonmail.com', PROTON], ['protonmail.ch', PROTON], ['pm.me', PROTON],
]);
// email-validator's SPECIAL_USE_DOMAIN_NAMES (2.4.0): domains that cannot receive mail.
const SPECIAL_USE = ['arpa', 'invalid', 'local', 'localhost', 'onion', 'test'];

function canonicalEmail(input) {
  let text = input;
  if (text.slice(0, 7).toLowerCase() === 'mailto:') text = mailtoAddress(text.slice(7));
  const parsed = parseEmail(text.endsWith('.') ? text.slice(0, -1) : text);
  let local = parsed.local.toLowerCase().normalize('NFKC');
  let domain = parsed.domain;
  const rule = MAILBOX_RULES.get(domain);
  if (rule) {
    local = local.split('+')[0];
    for (const ch of rule.ignored) local = local.split(ch).join('');
    if (!local) throw fail('email', 'email.empty_after_tag', 'there is nothing before the +tag');
    domain = rule.domain;
  }
  const canonical = `${local}@${domain}`;
  parseEmail(canonical);
  return canonical;
}

function mailtoAddress(rest) {
  const decoded = percentDecode(rest.split('?')[0]);
  if (decoded === null) throw fail('email', 'email.broken_mailto', 'this mailto: link is broken: copy just the address');
  const address = normalizeText(decoded);
  checkCharacters('email', address);
  return address;
}

// RFC 5322 atext, plus any non-ASCII character (RFC 6531), as email-validator allows
// with allow_smtputf8; unsafe non-ASCII characters are refused separately below.
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\u{10FFFF}]+$/u;
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Z}]/u;
const emailFail = (code, message) => fail('email', `email.${code}`, message);

/**
 * addr-spec with an optional display name, syntax only, as email-validator 2.4.0 is
 * called by the Python side (no quoted local parts, no domain literals, globally
 * deliverable domains). Returns {local, domain (lower-case A-label)}.
 */
function parseEmail(address) {
  let addr = address;
  const angle = /^([^<>]*)<([^<>]*)>$/u.exec(addr);
  if (angle) {
    if (angle[1].includes('@')) throw emailFail('display_name', 'copy just the address, without the name or the angle brackets');
    addr = angle[2];
  } else if (/[<>]/.test(addr)) {
    throw emailFail('display_name', 'copy just the address, without the name or the angle brackets');
  }
  const at = addr.lastIndexOf('@');
  if (at < 0) throw emailFail('missing_at', 'an email address needs an @, as in name@example.org');
  const local = addr.slice(0, at);
  const domainPart = addr.slice(at + 1);
  if (!local) throw emailFail('empty_local', 'there is nothing before the @');
  if (!domainPart) throw emailFail('empty_domain', 'there is nothing after the @');
  if (local.includes('"')) throw emailFail('quoted', 'quoted addresses are not supported: remove the quotation marks');
  if (domainPart.startsWith('[')) throw emailFail('domain', 'the part after the @ is not a valid domain name such as example.org');
  if (UNSAFE.test(local) || UNSAFE.test(domainPart)) {
    throw emailFail('unsafe', 'the address contains invisible or unsafe characters: retype it');
  }
  if (local.startsWith('.')) throw emailFail('leading_dot', 'the address cannot start with a dot');
  if (local.endsWith('.')) throw emailFail('dot_before_at', 'there cannot be a dot right before the @');
  if (local.includes('..')) throw emailFail('double_dot', 'there are two dots in a row');
  if (!local.split('.').every((atom) => ATEXT.test(atom))) {
    throw emailFail(
      'local',
      'the part before the @ is not valid: look for spaces, a dot at its start or end, two dots in a row, or characters that addresses cannot contain',
    );
  }
  if (domainPart.startsWith('.') || domainPart.startsWith('-')) {
    throw emailFail('domain_start', 'the domain after the @ cannot start with a dot or hyphen');
  }
  if (domainPart.includes('..')) throw emailFail('double_dot', 'there are two dots in a row');
  if (/\.-|-\./.test(domainPart)) throw emailFail('dot_hyphen', 'the domain cannot have a dot and a hyphen side by side');
  if (domainPart.endsWith('.') || domainPart.endsWith('-')) {
    throw emailFail('trailing', 'the address cannot end with a dot or a hyphen');
  }
  const domain = domainName('email', domainPart, 'email.domain', 'the part after the @ is not a valid domain name such as example.org');
  if (SPECIAL_USE.some((d) => domain === d || domain.endsWith(`.${d}`))) {
    throw emailFail('special_use', 'the domain after the @ is reserved and cannot receive email');
  }
  // email-validator requires a top-level domain that is not all digits and starts with a letter.
  const tld = domain.split('.').pop();
  if (!/^[a-z]/.test(tld)) throw emailFail('domain', 'the part after the @ is not a valid domain name such as example.org');
  if (utf8(`${local}@${domain}`).length > 254) throw emailFail('too_long', 'the email address is too long');
  return { local: local.normalize('NFC'), domain };
}

// ------------------------------------------------------------------ §4.5 phone

const PHONE_SEPARATORS = new Set([...'-./()[]\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc', ...WHITESPACE]);
const EXTENSION = /(?:;\s*ext\s*=|ext(?:ension)?\.?|x|#)\s*(\p{Nd}{1,15})$/iu;
const EXTENSION_DIGITS = /^\p{Nd}{1,15}$/u;
const isDecimal = (ch) => /^\p{Nd}$/u.test(ch);
const phoneFail = (code, message) => fail('phone', `phone.${code}`, message);

/**
 * Unicode decimal digits → ASCII. Unicode assigns every Nd digit in runs of ten that
 * start at zero (a stability policy), so a digit's value is its distance from the start
 * of its run, modulo 10 for the longer mathematical runs.
 */
function asciiDigits(digits) {
  return codePoints(digits)
    .map((ch) => {
      let cp = ch.codePointAt(0);
      let back = 0;
      while (cp > 0 && isDecimal(String.fromCodePoint(cp - 1))) {
        cp -= 1;
        back += 1;
      }
      return String(back % 10);
    })
    .join('');
}

function canonicalPhone(text, region) {
  const defaultRegion = region === null ? null : checkRegion(region);
  let [number, extension] = splitExtension(text);
  checkPhoneCharacters(number);
  if (!number.includes('+')) {
    const bare = lstrip(number, new Set([...WHITESPACE, '(']));
    const first2 = codePoints(bare).slice(0, 2);
    if (defaultRegion === null && cpLength(bare) > 2 && first2.every(isDecimal) && asciiDigits(first2.join('')) === '00') {
      number = `+${codePoints(bare).slice(2).join('')}`;
    } else if (defaultRegion === null) {
      throw phoneFail(
        'needs_country',
        'add the country code, starting with + (for example +1 for the US or +44 for the UK), or choose the region the number belongs to',
      );
    }
  }
  // Only the + and the digits (as ASCII) go to libphonenumber: the separators were checked
  // above and carry no meaning, and libphonenumber-js is stricter than Python's
  // phonenumbers about some punctuation, such as "(+1) 415 …".
  const cps = codePoints(number);
  const asciiNumber = (number.includes('+') ? '+' : '') + cps.filter(isDecimal).map(asciiDigits).join('');
  let parsed;
  try {
    parsed = parsePhoneNumberWithError(asciiNumber, { defaultCountry: defaultRegion ?? undefined, extract: false });
  } catch (e) {
    const reasons = {
      INVALID_COUNTRY: 'the country code is not valid',
      NOT_A_NUMBER: 'this is not a phone number',
      TOO_SHORT: 'the number is too short',
      TOO_LONG: 'the number is too long',
    };
    throw phoneFail('parse', reasons[e?.message] ?? 'this is not a phone number');
  }
  if (!parsed.isValid()) {
    const why = validatePhoneNumberLength(asciiNumber, { defaultCountry: defaultRegion ?? undefined });
    const reasons = {
      INVALID_COUNTRY: 'the country code is not valid',
      TOO_SHORT: 'the number is too short for its country',
      TOO_LONG: 'the number is too long for its country',
    };
    throw phoneFail(
      'invalid',
      reasons[why] ?? "this number does not exist in its country's numbering plan: check the digits and the country code",
    );
  }
  const canonical = parsed.number;
  return extension === null ? canonical : `${canonical};ext=${extension}`;
}

function checkRegion(region) {
  const code = typeof region === 'string' ? strip(region).toUpperCase() : '';
  if (code.length !== 2 || !isSupportedCountry(code)) {
    throw phoneFail('region', 'unknown region: give an ISO 3166 two-letter country code such as US, DE or IN (GB for the United Kingdom)');
  }
  return code;
}

function splitExtension(text) {
  if (text.slice(0, 4).toLowerCase() === 'tel:') return splitTelUri(text.slice(4));
  const m = EXTENSION.exec(text);
  if (!m) return [text, null];
  return [text.slice(0, m.index), asciiDigits(m[1])];
}

function splitTelUri(body) {
  const [number, ...parameters] = body.split(';');
  let extension = null;
  for (const parameter of parameters) {
    const eq = parameter.indexOf('=');
    const name = eq < 0 ? parameter : parameter.slice(0, eq);
    const digits = eq < 0 ? '' : parameter.slice(eq + 1);
    if (extension !== null || strip(name).toLowerCase() !== 'ext' || !EXTENSION_DIGITS.test(strip(digits))) {
      throw phoneFail('tel_parameters', 'a tel: link may carry only an ;ext= extension after the number');
    }
    extension = asciiDigits(strip(digits));
  }
  if (!strip(number).startsWith('+')) {
    throw phoneFail('tel_global', 'a tel: link must hold the full number, starting with + and the country code');
  }
  return [number, extension];
}

function checkPhoneCharacters(number) {
  const cps = codePoints(number);
  if (cps.some((ch) => !(isDecimal(ch) || ch === '+' || PHONE_SEPARATORS.has(ch)))) {
    throw phoneFail(
      'characters',
      'a phone number may contain only digits, spaces, a leading + and the separators - . / ( ); letters are not accepted',
    );
  }
  if (!cps.some(isDecimal)) throw phoneFail('no_digits', 'the phone number has no digits');
  const plus = number.indexOf('+');
  if (plus >= 0 && (number.split('+').length > 2 || strip(number.slice(0, plus), new Set([...WHITESPACE, '('])))) {
    throw phoneFail('plus_position', 'the + must come first, before the country code');
  }
}

// ------------------------------------------------------------------ §4.6 profile

const PLATFORM_LABELS = {
  linkedin: 'LinkedIn', x: 'X (Twitter)', instagram: 'Instagram', facebook: 'Facebook',
  tiktok: 'TikTok', github: 'GitHub', mastodon: 'Mastodon',
};
const PLATFORM_EXAMPLES = {
  linkedin: 'linkedin.com/in/<name>',
  x: 'x.com/<name>',
  instagram: 'instagram.com/<name>',
  facebook: 'facebook.com/<name> or facebook.com/profile.php?id=<number>',
  tiktok: 'tiktok.com/@<name>',
  github: 'github.com/<name>',
  mastodon: 'https://<server>/@<name> or <name>@<server>',
};
const PLATFORM_ALIASES = { twitter: 'x' };
const SUPPORTED_PLATFORMS = 'LinkedIn, X (Twitter), Instagram, Facebook, TikTok, GitHub, Mastodon';
const PLATFORM_DOMAINS = [
  ['linkedin.com', 'linkedin'], ['twitter.com', 'x'], ['x.com', 'x'], ['instagram.com', 'instagram'],
  ['instagr.am', 'instagram'], ['facebook.com', 'facebook'], ['fb.com', 'facebook'],
  ['tiktok.com', 'tiktok'], ['github.com', 'github'],
];
const WEB_SUBDOMAINS = new Set(['www', 'm', 'mobile']);
const EXTRA_SUBDOMAINS = { facebook: new Set(['web', 'mbasic', 'touch']) };
const UNSUPPORTED_DOMAINS = ['youtube.com', 'youtu.be', 'medium.com', 'substack.com', 'threads.net', 'threads.com', 'bsky.app'];
const MAIL_ONLY_DOMAINS = new Set([
  ...MAILBOX_RULES.keys(), 'yahoo.com', 'aol.com', 'gmx.com', 'gmx.de', 'web.de', 'yandex.ru', 'mail.ru', 'qq.com',
]);
const words = (s) => new Set(s.split(/\s+/).filter(Boolean));
const X_RESERVED = words(`about account bookmarks communities compose download explore hashtag home i
  intent jobs lists login logout messages notifications premium privacy search settings share signup tos`);
const X_TABS = words('with_replies media likes highlights articles followers following verified_followers');
const INSTAGRAM_RESERVED = words(`about accounts ar challenge developer direct directory emails explore legal lite
  p privacy reel reels session stories terms tv web`);
const INSTAGRAM_TABS = words('tagged reels saved guides followers following');
const FACEBOOK_RESERVED = words(`ads bookmarks business dialog events fundraisers games gaming groups hashtag
  help home jobs legal live login marketplace media memories messages notifications pages people permalink pg
  photo photos places plugins policies privacy public reel reels saved search settings share sharer stories story watch`);
const FACEBOOK_TABS = words('about photos friends videos reels followers following likes mentions');
const GITHUB_RESERVED = words(`about apps codespaces collections contact copilot customer-stories dashboard
  enterprise events explore features home issues join login logout marketplace new notifications organizations
  orgs pricing pulls readme search security sessions settings signup site sponsors stars team topics trending`);
const MASTODON_TABS = words('with_replies media followers following');

const X_HANDLE = /^[A-Za-z0-9_]{1,15}$/;
const INSTAGRAM_HANDLE = /^[A-Za-z0-9._]{1,30}$/;
const TIKTOK_HANDLE = /^[A-Za-z0-9._]{2,30}$/;
const GITHUB_HANDLE = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/;
const FACEBOOK_USERNAME = /^[A-Za-z0-9.]{1,50}$/;
const FACEBOOK_ID = /^[0-9]{1,25}$/;
const MASTODON_USER = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):([\s\S]*)$/;
const HANDLE_AT_SERVER = /^@?[^@/]+@[^@/]+$/;
const URL_WITH_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const URL_RE = /^([^:/?#]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#[\s\S]*)?$/;

const profileFail = (code, message) => fail('profile', `profile.${code}`, message);
const notAProfile = (platform) =>
  profileFail(
    'not_a_profile',
    `this is not a link to a profile on ${PLATFORM_LABELS[platform]}: a profile link looks like ${PLATFORM_EXAMPLES[platform]}`,
  );
const badHandle = (platform, rule) => profileFail('bad_name', `a name on ${PLATFORM_LABELS[platform]} has ${rule}: check it`);
const unsupportedSite = () => profileFail('unsupported_site', `this site is not supported: profiles are accepted from ${SUPPORTED_PLATFORMS}`);

function canonicalProfile(text) {
  if (hasWhitespace(text)) throw profileFail('spaces', 'a profile link or name has no spaces: remove them');
  const scheme = SCHEME.exec(text);
  if (scheme && !scheme[2].startsWith('//')) {
    const name = scheme[1].toLowerCase();
    const platform = PLATFORM_ALIASES[name] ?? name;
    if (!Object.hasOwn(PLATFORM_LABELS, platform)) {
      throw profileFail('unknown_platform', `unknown platform: write platform:name with one of ${Object.keys(PLATFORM_LABELS).join(', ')}`);
    }
    return profile(platform, scheme[2].startsWith('@') ? scheme[2].slice(1) : scheme[2]);
  }
  if (!text.includes('/') && HANDLE_AT_SERVER.test(text)) {
    return profile('mastodon', text.startsWith('@') ? text.slice(1) : text);
  }
  if (text.startsWith('@') || (!text.includes('/') && !text.includes('.'))) {
    throw profileFail(
      'needs_platform',
      'say which platform this name is on: write platform:name (for example x:name or instagram:name) or paste the link to the profile',
    );
  }
  return profileFromUrl(text);
}

function profile(platform, handle) {
  return `${platform}:${HANDLE_NORMALIZERS[platform](handle)}`;
}

function profileFromUrl(text) {
  const url = URL_WITH_SCHEME.test(text) ? text : `https://${text.startsWith('//') ? text.slice(2) : text}`;
  const parts = URL_RE.exec(url);
  const authority = parts ? parts[2] : '';
  if (!parts || !authority || authority.includes('@') || authority.includes(':')) {
    throw profileFail('invalid_link', 'this is not a valid link: copy it again');
  }
  if (!['http', 'https'].includes(parts[1].toLowerCase())) throw profileFail('scheme', 'a profile link starts with https://');
  const host = domainName('profile', authority, 'profile.invalid_host', 'the site name in this link is not valid');
  const segments = pathSegments(parts[3]);
  const platform = platformForHost(host);
  if (platform === null) return mastodonFromUrl(host, segments);
  return profile(platform, URL_HANDLERS[platform](segments, parts[4] ?? ''));
}

function pathSegments(path) {
  const segments = [];
  for (const raw of path.split('/')) {
    const decoded = percentDecode(raw);
    if (decoded === null) throw profileFail('broken_escape', 'this link has a broken %-escape: copy it again');
    const segment = normalizeText(decoded);
    checkCharacters('profile', segment);
    if (segment) segments.push(segment);
  }
  return segments;
}

function platformForHost(host) {
  for (const [domain, platform] of PLATFORM_DOMAINS) {
    if (host === domain) return platform;
    if (host.endsWith(`.${domain}`)) {
      const sub = host.slice(0, -(domain.length + 1));
      if (WEB_SUBDOMAINS.has(sub) || EXTRA_SUBDOMAINS[platform]?.has(sub) || (platform === 'linkedin' && /^[a-z]{2}$/.test(sub))) {
        return platform;
      }
      throw profileFail(
        'indirect_link',
        `this ${PLATFORM_LABELS[platform]} link does not point at a profile directly: open it and copy the address of the profile page, which looks like ${PLATFORM_EXAMPLES[platform]}`,
      );
    }
  }
  if (UNSUPPORTED_DOMAINS.some((d) => host === d || host.endsWith(`.${d}`))) throw unsupportedSite();
  return null;
}

function singleHandle(platform, segments, tabs) {
  if (!segments.length || segments.length > 2 || (segments.length === 2 && !tabs.has(segments[1].toLowerCase()))) {
    throw notAProfile(platform);
  }
  return segments[0];
}

const URL_HANDLERS = {
  linkedin(segments) {
    if (segments.length >= 2 && segments[0].toLowerCase() === 'in') return segments[1];
    if (segments.length && segments[0].toLowerCase() === 'pub') {
      throw profileFail(
        'linkedin_pub',
        'old LinkedIn links (/pub/...) cannot be resolved here: open the link and copy the address it leads to, which looks like linkedin.com/in/<name>',
      );
    }
    throw notAProfile('linkedin');
  },
  x: (segments) => singleHandle('x', segments, X_TABS),
  instagram: (segments) => singleHandle('instagram', segments, INSTAGRAM_TABS),
  github: (segments) => singleHandle('github', segments, new Set()),
  tiktok(segments) {
    if (segments.length === 1 && segments[0].startsWith('@')) return segments[0].slice(1);
    throw notAProfile('tiktok');
  },
  facebook(segments, query) {
    const first = segments.length ? segments[0].toLowerCase() : '';
    if (first === 'profile.php' && segments.length === 1) {
      const ids = queryPairs(query).filter(([name]) => name === 'id').map(([, value]) => value);
      if (ids.length !== 1) throw notAProfile('facebook');
      return `id:${ids[0]}`;
    }
    if (first === 'people' && segments.length >= 3) return `id:${segments[2]}`;
    return singleHandle('facebook', segments, FACEBOOK_TABS);
  },
};

function queryPairs(query) {
  return query.split('&').map((pair) => {
    const decoded = percentDecode(pair);
    if (decoded === null) throw profileFail('broken_escape', 'this link has a broken %-escape: copy it again');
    const text = normalizeText(decoded);
    const eq = text.indexOf('=');
    return eq < 0 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
  });
}

function mastodonFromUrl(host, segments) {
  if (
    !segments.length ||
    !segments[0].startsWith('@') ||
    segments.length > 2 ||
    (segments.length === 2 && !MASTODON_TABS.has(segments[1].toLowerCase()))
  ) {
    throw unsupportedSite();
  }
  const user = segments[0].slice(1);
  return profile('mastodon', user.includes('@') ? user : `${user}@${host}`);
}

const HANDLE_NORMALIZERS = {
  linkedin(handle) {
    if (handle.startsWith('ACoAA')) {
      throw profileFail(
        'linkedin_member_id',
        "this is LinkedIn's internal link to a member: open the profile and copy its public address (linkedin.com/in/<name>) from 'Contact info'",
      );
    }
    const slug = handle.toLowerCase().normalize('NFKC');
    const n = cpLength(slug);
    if (n < 3 || n > 100 || !/^[\p{L}\p{M}\p{N}_-]+$/u.test(slug)) throw badHandle('linkedin', '3 to 100 letters, digits or hyphens');
    return slug;
  },
  x(handle) {
    if (!X_HANDLE.test(handle)) throw badHandle('x', '1 to 15 letters, digits or underscores');
    if (X_RESERVED.has(handle.toLowerCase())) throw notAProfile('x');
    return handle.toLowerCase();
  },
  instagram(handle) {
    if (!INSTAGRAM_HANDLE.test(handle) || handle.endsWith('.')) {
      throw badHandle('instagram', '1 to 30 letters, digits, dots or underscores, not ending in a dot');
    }
    if (INSTAGRAM_RESERVED.has(handle.toLowerCase())) throw notAProfile('instagram');
    return handle.toLowerCase();
  },
  tiktok(handle) {
    if (!TIKTOK_HANDLE.test(handle)) throw badHandle('tiktok', '2 to 30 letters, digits, dots or underscores');
    return handle.toLowerCase();
  },
  github(handle) {
    if (!GITHUB_HANDLE.test(handle)) throw badHandle('github', '1 to 39 letters, digits or hyphens, not starting with a hyphen');
    if (GITHUB_RESERVED.has(handle.toLowerCase())) throw notAProfile('github');
    return handle.toLowerCase();
  },
  facebook(handle) {
    const tagged = handle.slice(0, 3).toLowerCase() === 'id:';
    if (tagged || /^[0-9]+$/.test(handle)) {
      const number = tagged ? handle.slice(3) : handle;
      if (!FACEBOOK_ID.test(number) || BigInt(number) === 0n) throw badHandle('facebook', 'a numeric profile id made of digits only');
      return `id:${BigInt(number).toString()}`;
    }
    const lowered = handle.toLowerCase();
    const name = lowered.split('.').join('');
    if (!FACEBOOK_USERNAME.test(handle) || lowered.endsWith('.php') || FACEBOOK_RESERVED.has(lowered) || FACEBOOK_RESERVED.has(name)) {
      throw notAProfile('facebook');
    }
    if (!name || /^[0-9]+$/.test(name)) {
      throw profileFail(
        'facebook_numeric_name',
        'a Facebook user name has at least one letter; for a numeric profile id use facebook.com/profile.php?id=<number>',
      );
    }
    return name;
  },
  mastodon(handle) {
    const at = handle.indexOf('@');
    const user = at < 0 ? handle : handle.slice(0, at);
    const server = at < 0 ? '' : handle.slice(at + 1);
    if (at < 0 || !MASTODON_USER.test(user)) {
      throw profileFail('mastodon_format', 'a Mastodon account looks like name@server or https://<server>/@<name>: check it');
    }
    const host = domainName('profile', server, 'profile.mastodon_server', 'the Mastodon server name is not valid');
    if (MAIL_ONLY_DOMAINS.has(host)) throw profileFail('looks_like_email', 'this looks like an email address: give it with the kind email');
    const platform = platformForHost(host);
    if (platform !== null) {
      throw profileFail(
        'not_mastodon',
        `this is not a Mastodon server: for ${PLATFORM_LABELS[platform]} write ${platform}:<name> or paste the profile link`,
      );
    }
    return `${user.toLowerCase()}@${host}`;
  },
};

// ------------------------------------------------------------------ §4.7 orgid

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_ORG_ID_CHARS = 256;

function canonicalOrgid(text) {
  const colon = text.indexOf(':');
  const domainPart = colon < 0 ? text : strip(text.slice(0, colon));
  let localId = colon < 0 ? '' : strip(text.slice(colon + 1));
  if (colon < 0 || !domainPart || !localId) {
    throw fail('orgid', 'orgid.format', 'write an organization id as domain:id, for example example.org:E12345');
  }
  let domain = domainName(
    'orgid',
    domainPart,
    'orgid.domain',
    "the part before the : must be the organization's domain name, such as example.org",
  );
  if (domain.startsWith('www.') && domain.split('.').length - 1 >= 2) domain = domain.slice(4);
  if (hasWhitespace(localId)) throw fail('orgid', 'orgid.spaces', 'an organization id has no spaces: type it without them');
  if (cpLength(localId) > MAX_ORG_ID_CHARS) {
    throw fail('orgid', 'orgid.too_long', `the id after the : is too long: at most ${MAX_ORG_ID_CHARS} characters`);
  }
  if (UUID.test(localId)) localId = localId.toLowerCase();
  return `${domain}:${localId}`;
}
