// The threshold-OPRF federation as the browser reaches it: through the escrow's
// same-origin proxy, GET /v1/keyservers/{position}/keys and POST
// /v1/keyservers/{position}/evaluate, where `position` is the 0-based index in the
// deployment's `key_servers` list. Bodies and answers are those of a key server's own
// /v1/keys and /v1/evaluate (src/notalone/keyserver/app.py).
//
// Mirrors notalone.client.keyservers.FederationClient: the federation is pinned from the
// deployment (never from what a key server says about itself); every server's keys are
// checked against the pin before it is asked; every answer is verified on its own
// against that server's pinned pk_i before it is kept, so a server that is down, refuses
// or answers wrongly is skipped, named, and the next one asked. Nothing from a failed
// answer is combined. The proxy sees only blinded elements and the ticket.
import { equalBytes, fromHex, toHex } from '../protocol/bytes.js';
import {
  EncodingError,
  InputError,
  LimitError,
  NotAloneError,
  ThresholdError,
  TicketError,
  UnavailableError,
  ProofError,
} from '../protocol/errors.js';
import * as oprf from '../protocol/oprf.js';

export const MAX_BATCH = 64;
const SUITE = 'ristretto255-SHA512';

/** A key server failed or could not be reached; `position` names it. */
export class KeyServerUnavailableError extends UnavailableError {
  constructor(message, position) {
    super(message, { code: 'keyserver_unavailable' });
    this.position = position;
  }
}

const label = (position) => `key server ${position + 1}`;

export function createFederationClient({ request, federation, serverCount, deploymentId, onEvent = () => {}, rng }) {
  oprf.verifyFederation(federation);
  if (serverCount < federation.threshold) {
    throw new InputError(`this deployment needs ${federation.threshold} key servers; ${serverCount} configured`);
  }
  const indices = new Array(serverCount).fill(null);

  async function call(position, method, suffix, body) {
    try {
      return await request(method, `/v1/keyservers/${position}/${suffix}`, body, { what: 'key-server answer' });
    } catch (e) {
      if (!(e instanceof NotAloneError)) throw e;
      const status = e.status;
      if (e instanceof UnavailableError || status === 502 || status === 503 || status === 504) {
        throw new KeyServerUnavailableError(`${label(position)} could not be reached`, position);
      }
      if (status === 401) throw new TicketError(`${label(position)} refused the evaluation ticket`, { code: 'ticket_refused' });
      if (status === 429) {
        const err = new LimitError(`${label(position)} says the evaluation quota is used up`, { code: 'quota' });
        err.retryAfterSeconds = e.retryAfterSeconds ?? null;
        throw err;
      }
      if (status === 422) throw new EncodingError(`${label(position)} refused a blinded element`, { code: 'keyserver_refused' });
      throw e;
    }
  }

  /** True once the server's keys matched the pin; false if unreachable. */
  async function checkServer(position) {
    if (indices[position] !== null) return true;
    let body;
    try {
      body = await call(position, 'GET', 'keys');
    } catch (e) {
      if (e instanceof KeyServerUnavailableError) return false;
      throw new ThresholdError(`${label(position)} did not say which keys it holds`, { code: 'keyserver_misconfigured' });
    }
    let keys;
    try {
      keys = {
        index: body.index,
        publicKey: fromHex(body.public_key, 32),
        federation: oprf.parseFederation(body.federation),
        deploymentId: fromHex(body.deployment_id, 16),
        suite: body.suite,
        mode: body.mode,
      };
      if (!Number.isInteger(keys.index)) throw new EncodingError('index');
    } catch {
      throw new ThresholdError(`${label(position)} sent malformed keys`, { code: 'keyserver_misconfigured' });
    }
    const problem = disagreement(keys);
    if (problem) throw new ThresholdError(`${label(position)} ${problem}`, { code: 'keyserver_misconfigured' });
    indices.forEach((index, other) => {
      if (index === keys.index && other !== position) {
        throw new ThresholdError(`${label(other)} and ${label(position)} both claim index ${index}`, { code: 'keyserver_misconfigured' });
      }
    });
    indices[position] = keys.index;
    return true;
  }

  function disagreement(keys) {
    if (keys.suite !== SUITE || keys.mode !== oprf.MODE) return `uses another OPRF suite or mode than ${SUITE} mode 1`;
    if (deploymentId && !equalBytes(keys.deploymentId, deploymentId)) return 'belongs to another deployment';
    const pinned = federation.shares.find((s) => s.index === keys.index);
    if (!pinned || !equalBytes(pinned.publicKey, keys.publicKey)) return `advertises a key for index ${keys.index} that the pinned federation lacks`;
    const adv = keys.federation;
    const same =
      adv.threshold === federation.threshold &&
      equalBytes(adv.publicKey, federation.publicKey) &&
      adv.shares.length === federation.shares.length &&
      adv.shares.every((s, i) => s.index === federation.shares[i].index && equalBytes(s.publicKey, federation.shares[i].publicKey));
    return same ? null : 'advertises another federation than the pinned one';
  }

  async function ask(position, ticketHex, blinded) {
    if (!(await checkServer(position))) throw new KeyServerUnavailableError(`${label(position)} could not be reached`, position);
    const body = await call(position, 'POST', 'evaluate', { ticket: ticketHex, blinded_elements: blinded.map(toHex) });
    let answer;
    try {
      if (!Array.isArray(body.evaluated_elements)) throw new EncodingError('list');
      answer = {
        index: body.index,
        evaluatedElements: body.evaluated_elements.map((e) => fromHex(e, 32)),
        proof: fromHex(body.proof, 64),
      };
    } catch {
      throw new EncodingError(`${label(position)} sent a malformed evaluation`, { code: 'keyserver_invalid' });
    }
    if (answer.index !== indices[position]) throw new ProofError(`${label(position)} answered as another index than its own`);
    if (answer.evaluatedElements.length !== blinded.length) {
      throw new EncodingError(`${label(position)} answered the wrong number of elements`, { code: 'keyserver_invalid' });
    }
    try {
      oprf.verifyEvaluation(federation, blinded, answer);
    } catch {
      throw new ProofError(`${label(position)} answered with a proof that does not verify: it does not hold its pinned key`, {
        code: 'keyserver_wrong_proof',
      });
    }
    return answer;
  }

  /**
   * y = F(k, x) for each input, from one batch to τ key servers. `ticketHex` is the
   * escrow's evaluation ticket. Raises ThresholdError naming the servers that failed,
   * TicketError or LimitError when that is the reason.
   */
  async function evaluate(inputs, ticketHex) {
    if (!(inputs.length >= 1 && inputs.length <= MAX_BATCH)) throw new InputError(`one evaluation holds 1 to ${MAX_BATCH} identifiers`);
    const blinds = [];
    const blinded = [];
    for (const x of inputs) {
      const b = oprf.blind(x, { rng });
      blinds.push(b.blind);
      blinded.push(b.blinded);
    }
    const needed = federation.threshold;
    const answers = [];
    const failures = [];
    // Ask as many servers as answers are still needed, all at once (a round trip each
    // through the escrow's relay, so the wait is one round trip, not τ); when some fail,
    // ask the next ones. No server is asked beyond what is needed: each costs quota.
    let next = 0;
    while (answers.length < needed && next < serverCount) {
      const round = [];
      while (round.length < needed - answers.length && next < serverCount) round.push(next++);
      for (const position of round) onEvent({ position, outcome: 'asking', valid: answers.length, needed });
      const settled = await Promise.allSettled(round.map((position) => ask(position, ticketHex, blinded)));
      for (const [k, result] of settled.entries()) {
        const position = round[k];
        if (result.status === 'fulfilled') {
          answers.push(result.value);
          onEvent({ position, outcome: 'answered', valid: answers.length, needed });
          continue;
        }
        const e = result.reason;
        if (e instanceof ThresholdError) throw e; // disagrees with the pin: stop
        if (!(e instanceof NotAloneError)) throw e;
        const kind =
          e instanceof KeyServerUnavailableError ? 'unreachable' : e instanceof TicketError ? 'ticket' : e instanceof LimitError ? 'limit' : 'invalid';
        failures.push({ position, kind, error: e });
        onEvent({ position, outcome: kind === 'unreachable' ? 'unreachable' : kind === 'invalid' ? 'invalid' : 'refused', valid: answers.length, needed, reason: e.message });
      }
    }
    if (answers.length < needed) throw shortfall(answers.length, needed, failures);
    const outputs = oprf.finalizeThreshold(federation, inputs, blinds, blinded, answers);
    blinds.forEach((b) => b.fill(0));
    return { outputs, failures: failures.map(({ position, kind, error }) => ({ position, kind, message: error.message })) };
  }

  return { evaluate, checkServer };
}

function shortfall(valid, needed, failures) {
  const answered = `${valid} of the ${needed} key servers needed gave a valid answer`;
  const ticket = failures.filter((f) => f.kind === 'ticket');
  const limit = failures.filter((f) => f.kind === 'limit');
  if (ticket.length) return new TicketError(`${answered}; ${ticket.length} refused the evaluation ticket; try again`, { code: 'ticket_refused' });
  if (limit.length) {
    const err = new LimitError(`${answered}; ${limit.length} refused because the evaluation quota is used up; try again later`, { code: 'quota' });
    const waits = limit.map((f) => f.error.retryAfterSeconds).filter((s) => Number.isFinite(s));
    err.retryAfterSeconds = waits.length ? Math.max(...waits) : null;
    return err;
  }
  const named = failures.map((f) => `${label(f.position)}: ${f.kind === 'unreachable' ? 'unreachable' : 'wrong answer'}`).join('; ');
  const err = new ThresholdError(named ? `${answered} (${named})` : answered, { code: 'keyservers_failed' });
  err.failures = failures.map(({ position, kind }) => ({ position, kind }));
  return err;
}

Object.defineProperty(KeyServerUnavailableError.prototype, 'name', { value: 'KeyServerUnavailableError', writable: true, configurable: true });
