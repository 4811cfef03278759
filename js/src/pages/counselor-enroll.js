// /counselor/enroll: the operator's code + a passphrase → the counselor's X25519 key is
// made here, the code is redeemed with its public half, and the key and token are sealed
// in this browser's vault; the inbox link appears only after the backup was downloaded.
import { counselorEnroll } from '../client/index.js';
import { byId, fieldError, showStatus, startPage } from './ui.js';
import { estimateStrength } from './strength.js';
import { wireEnrollForm } from './keyholderkit.js';

startPage(async () => {
  const passphrase = byId('enroll-passphrase');
  const meter = byId('enroll-strength');
  const meterText = byId('enroll-strength-text');

  passphrase.addEventListener('input', () => {
    const estimate = estimateStrength(passphrase.value);
    meter.value = Math.min(estimate.bits, 100);
    meterText.textContent = estimate.text || '';
    fieldError(passphrase, byId('enroll-passphrase-error'), '');
  });

  wireEnrollForm({
    passphraseProblem: (value) => ([...value.normalize('NFC')].length < 10 ? 'Use at least 10 characters, for example four unrelated words.' : ''),
    progressLabel: 'Enrolling. Sealing your key can take a few seconds.',
    enroll: ({ code, passphrase: chosen, progress }) => counselorEnroll({ code, passphrase: chosen, onProgress: progress.onProgress }),
    done: (enrolled) => {
      byId('enroll-fingerprint').textContent = enrolled.fingerprint;
    },
    downloaded: () => {
      byId('enroll-continue').hidden = false;
      showStatus('Backup downloaded. Keep it apart from your passphrase.');
    },
  });
});
