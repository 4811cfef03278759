// Formal reports (§13.4): sealed in the counselor's page to an organization's X25519
// intake key, opened in an organization admin's page.
//
//   info   = "notalone/v1/report" ‖ organization_id (16) ‖ match_id (16)
//   sealed = 0x01 ‖ HPKE.Seal(pk_organization, info, UTF-8(text))
import { ascii, checkBytes, concat } from './bytes.js';
import { MATCH_ID_BYTES, openText, sealText } from './casework.js';

const INFO_REPORT = ascii('notalone/v1/report');

export function reportInfo(organizationId, matchId) {
  return concat(
    INFO_REPORT,
    checkBytes(organizationId, 16, 'an organization id'),
    checkBytes(matchId, MATCH_ID_BYTES, 'a match id'),
  );
}

/** Counselor: seal a report to the organization's intake key → bytes. */
export function sealReport(orgPublicKey, organizationId, matchId, text) {
  return sealText(orgPublicKey, reportInfo(organizationId, matchId), text);
}

/** Organization admin: open a report sent to their organization → text. */
export function openReport(privateKey, organizationId, matchId, sealed) {
  return openText(privateKey, reportInfo(organizationId, matchId), sealed);
}
