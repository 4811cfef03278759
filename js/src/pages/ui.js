// What every page script shares: quick exit, log out, messages, progress, small DOM
// helpers. Text is only ever set with textContent (never innerHTML): whatever a survivor
// wrote, and whatever a server sends, is shown as text and can never become markup.
//
// This module is imported by the page scripts; the build bundles it into each of them.

import { clearDraft, currentUser, logout, quickExit, saveDraft } from '../client/index.js';

/** The element with this id (or null). */
export function byId(id) {
  return document.getElementById(id);
}

/** Make an element: el('p', {className: 'meta'}, 'text', otherNode). Text children are
 *  added as text nodes. Attributes go through setAttribute except className/hidden. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'className') node.className = value;
    else if (name === 'hidden') node.hidden = Boolean(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The message to show for an error: the SDK's errors carry a message written for the
 *  survivor, which never contains what they typed. */
export function messageOf(error) {
  if (error && typeof error.message === 'string' && error.message.trim() !== '') {
    const text = error.message.trim();
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  return 'Something went wrong. Nothing you wrote has been lost. Please try again.';
}

/** Show an error in the page's alert region and move focus there. */
export function showError(error, { focus = true } = {}) {
  const box = byId('page-error');
  if (!box) return;
  box.textContent = typeof error === 'string' ? error : messageOf(error);
  if (focus) box.focus();
}

/** Empty the page's error and status regions. */
export function clearMessages() {
  const box = byId('page-error');
  if (box) box.textContent = '';
  const status = byId('page-status');
  if (status) status.textContent = '';
}

/** Say something calm in the page's status region (announced politely). */
export function showStatus(text) {
  const status = byId('page-status');
  if (status) status.textContent = text;
}

/** Show a field's error under it and mark the field invalid (or clear both). */
export function fieldError(input, errorElement, text) {
  if (errorElement) errorElement.textContent = text || '';
  if (input) {
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
}

/**
 * A progress indicator (templates' parts.progress) driven by the SDK's
 * onProgress({step, done, total, label}). `start()` shows it, `onProgress` updates it,
 * `finish()` hides it again.
 */
export function progressFor(id) {
  const box = byId(id);
  const bar = byId(`${id}-bar`);
  const step = byId(`${id}-step`);
  return {
    start(label) {
      if (!box) return;
      box.hidden = false;
      if (bar) {
        bar.removeAttribute('value'); // indeterminate until the first report
      }
      if (step) step.textContent = label || '';
    },
    onProgress(report) {
      if (!box) return;
      box.hidden = false;
      const total = Number(report && report.total);
      const done = Number(report && report.done);
      if (bar && Number.isFinite(total) && total > 0 && Number.isFinite(done)) {
        bar.max = total;
        bar.value = Math.min(Math.max(done, 0), total);
      }
      if (step) {
        const label = report && typeof report.label === 'string' ? report.label : '';
        const count = Number.isFinite(total) && total > 1 && Number.isFinite(done)
          ? ` (${Math.min(done, total)} of ${total})` : '';
        step.textContent = label ? label + count : '';
      }
    },
    finish() {
      if (!box) return;
      box.hidden = true;
      if (step) step.textContent = '';
    },
  };
}

/** Disable a form's buttons while something runs, and mark it busy. */
export function setBusy(form, busy) {
  if (!form) return;
  form.setAttribute('aria-busy', busy ? 'true' : 'false');
  for (const button of form.querySelectorAll('button')) button.disabled = busy;
}

/** A date and time in the survivor's own locale. */
export function formatTime(ms) {
  const number = Number(ms);
  if (!Number.isFinite(number)) return '';
  try {
    return new Date(number).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  } catch {
    return new Date(number).toString();
  }
}

/** Call `fn` at most once per `waitMs`, after the last call (for autosave and previews). */
export function debounce(fn, waitMs) {
  let timer = null;
  const debounced = (...args) => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, waitMs);
  };
  /** Run now if a call is waiting (and only then). */
  debounced.flush = () => {
    if (timer === null) return;
    clearTimeout(timer);
    timer = null;
    fn();
  };
  /** Forget a waiting call. */
  debounced.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return debounced;
}

let leaving = false;

/** Whether the survivor pressed Quick exit: nothing may be saved after that (an autosave
 *  on `pagehide` would otherwise write a draft back after the SDK wiped the tab). */
export function isLeaving() {
  return leaving;
}

/** Leave at once: the SDK wipes this tab's state and replaces the page (so Back does not
 *  come back). If anything fails, go to the neutral page anyway. */
function leave(event) {
  if (event) event.preventDefault();
  leaving = true;
  try {
    const done = quickExit();
    if (done && typeof done.then === 'function') {
      done.catch(() => window.location.replace('/exit'));
    }
  } catch {
    window.location.replace('/exit');
  }
}

function wireQuickExit() {
  for (const link of document.querySelectorAll('[data-quick-exit]')) {
    link.addEventListener('click', leave);
  }
}

function wireLogout() {
  for (const button of document.querySelectorAll('[data-logout]')) {
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await logout();
        window.location.replace('/');
      } catch (error) {
        button.disabled = false;
        showError(error);
      }
    });
  }
}

/** Fill every [data-username] with the signed-in username and show its line. */
function showUsername(user) {
  if (!user) return;
  for (const node of document.querySelectorAll('[data-username]')) {
    node.textContent = user.username;
  }
  for (const node of document.querySelectorAll('[data-username-line]')) {
    node.hidden = false;
  }
}

/** Where a page that needs the survivor's keys sends them when this tab has none. */
export function loginPath() {
  return `/login?next=${encodeURIComponent(window.location.pathname)}`;
}

/**
 * Set up a page: quick exit and log out first (they must work even if the rest fails),
 * then, for pages that need the survivor's keys, check this tab holds them (else go to
 * the log-in page, which comes back here), then run `main(user)`. An error thrown by
 * `main` is shown in the page's alert region.
 */
export function startPage(main, { needsUser = false } = {}) {
  const run = async () => {
    wireQuickExit();
    wireLogout();
    let user = null;
    try {
      user = currentUser();
    } catch {
      user = null;
    }
    if (needsUser && !user) {
      window.location.replace(loginPath());
      return;
    }
    showUsername(user);
    try {
      await main(user);
    } catch (error) {
      showError(error);
    }
  };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', run, { once: true });
  } else {
    run();
  }
}

/** The key of a record's or an entry's local draft ("record.new", "record.<hex id>",
 *  "entry.new"): the SDK accepts letters, digits, ".", "_" and "-". */
export function draftKey(kind, id) {
  return `${kind}.${id || 'new'}`;
}

/** The content of a draft saved by saveDraft({content, savedAtMs}), or null. */
export function draftContent(draft) {
  if (!draft || typeof draft !== 'object') return null;
  if (draft.content && typeof draft.content === 'object') return draft;
  return { content: draft, savedAtMs: null };
}

/**
 * Keep a form's unsaved content as an encrypted local draft (SDK saveDraft), so that
 * nothing is lost to a timeout or a closed tab: `waitMs` after the last change on any of
 * `events`, when the tab is hidden, and when the page goes away. `readForm()` gives the
 * content; `isUnchanged(content)` true means there is nothing worth keeping (the draft is
 * cleared instead). `state` shows what happened. Returns the debounced save, whose
 * cancel() and flush() the page may call.
 */
export function keepDraft({ form, key, readForm, isUnchanged, state, waitMs, events = ['input'] }) {
  const autosave = debounce(async () => {
    if (isLeaving()) return;
    const content = readForm();
    try {
      if (isUnchanged(content)) {
        await clearDraft(key);
        state.textContent = '';
      } else {
        await saveDraft(key, { content, savedAtMs: Date.now() });
        state.textContent = `Draft kept, encrypted, on this device at ${formatTime(Date.now())}.`;
      }
    } catch (error) {
      state.textContent = `The draft could not be kept on this device: ${messageOf(error)}`;
    }
  }, waitMs);
  for (const name of events) form.addEventListener(name, autosave);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') autosave.flush();
  });
  window.addEventListener('pagehide', () => autosave.flush());
  return autosave;
}
