import type { OutgoingMail } from './mailer.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Plain text and a minimal HTML twin, so every client shows the same words. */
function message(to: string, subject: string, paragraphs: string[]): OutgoingMail {
  return {
    to,
    subject,
    text: `${paragraphs.join('\n\n')}\n`,
    html: `<!doctype html><html><body style="font-family:sans-serif">${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('')}</body></html>`,
  };
}

/** The e-mail carrying a password-reset code. */
export function resetCodeMail(to: string, username: string, code: string, ttlSeconds: number): OutgoingMail {
  const minutes = Math.max(1, Math.round(ttlSeconds / 60));
  // The code stays out of the Subject: subjects show on lock screens and in notification previews,
  // and mail servers log them.
  return message(to, 'Your Signalbox password reset code', [
    `Hello ${username},`,
    `Your code to reset your Signalbox password is ${code}. It works once, for ${minutes} minutes.`,
    'If you did not ask for it, ignore this message: your password stays as it is.',
  ]);
}

/** How the password was changed: the notice says what happened to the account's devices. */
export type PasswordChangeWay = 'reset' | 'changed';

const CHANGE_SENTENCE: Record<PasswordChangeWay, string> = {
  reset: 'The password of your Signalbox account was just reset with a code sent to this address, and every device was signed out.',
  changed: 'The password of your Signalbox account was just changed from a signed-in device; every other device was signed out.',
};

const CHANGE_ADVICE: Record<PasswordChangeWay, string> = {
  reset: 'If this was not you, reset your password again now and check who can read your e-mail.',
  changed: 'If this was not you, reset your password now with "forgot password": that signs out every device, including the one that changed it.',
};

/** The notice sent after a password was reset or changed, so an owner notices a takeover. */
export function passwordChangedMail(to: string, username: string, way: PasswordChangeWay): OutgoingMail {
  return message(to, 'Your Signalbox password was changed', [`Hello ${username},`, CHANGE_SENTENCE[way], CHANGE_ADVICE[way]]);
}

/** What happened to two-factor authentication: turned on or off by the owner, or reset by the operator. */
export type TwoFactorChange = 'enabled' | 'disabled';

const TWO_FACTOR_SENTENCE: Record<TwoFactorChange, string> = {
  enabled:
    'Two-factor authentication was just turned on for your Signalbox account, from a signed-in device that knew your password. ' +
    'From now on signing in needs a code from the authenticator app, or one of the recovery codes shown when it was turned on.',
  disabled: 'Two-factor authentication was just turned off for your Signalbox account, from a signed-in device that knew your password and a code.',
};

const TWO_FACTOR_ADVICE: Record<TwoFactorChange, string> = {
  enabled:
    'If this was not you, someone has your password: reset it now with "forgot password", then ask the operator of this server ' +
    'to reset two-factor authentication for your account.',
  disabled: 'If this was not you, reset your password now with "forgot password" (that signs out every device) and turn two-factor authentication on again.',
};

/** The notice sent after two-factor authentication was turned on or off, so an owner notices a change they did not make. */
export function twoFactorChangedMail(to: string, username: string, change: TwoFactorChange): OutgoingMail {
  const subject = change === 'enabled' ? 'Two-factor authentication was turned on' : 'Two-factor authentication was turned off';
  return message(to, `Signalbox: ${subject.toLowerCase()}`, [`Hello ${username},`, TWO_FACTOR_SENTENCE[change], TWO_FACTOR_ADVICE[change]]);
}
