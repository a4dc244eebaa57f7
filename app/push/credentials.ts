import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Config } from '../config/parse.js';
import { ConfigError } from '../config/parsers.js';

/** What direct APNs needs: the team's .p8 signing key (ES256) and whom it signs for. */
export interface ApnsCredentials {
  key: KeyObject;
  keyId: string;
  teamId: string;
  /** The app's bundle id (APNS_TOPIC): the default apns-topic. */
  topic: string;
  /** Apple's production and sandbox hosts (APNS_URL, APNS_SANDBOX_URL). */
  productionUrl: string;
  sandboxUrl: string;
}

/** What direct FCM HTTP v1 needs: the service account's identity and key, and where to ask for tokens. */
export interface FcmCredentials {
  projectId: string;
  clientEmail: string;
  key: KeyObject;
  /** The OAuth2 token endpoint named in the service-account JSON. */
  tokenUri: string;
  /** FCM_URL. */
  fcmUrl: string;
}

export interface PushCredentials {
  /** Null when APNS_KEY_FILE is unset: `kind: "apns"` subscriptions are refused. */
  apns: ApnsCredentials | null;
  /** Null when FCM_SERVICE_ACCOUNT_FILE is unset: `kind: "fcm"` subscriptions are refused. */
  fcm: FcmCredentials | null;
  /** The roots trusted for the APNs, FCM and OAuth hosts: the system's, plus PUSH_CA_FILE when set. */
  ca: string[] | undefined;
}

const read = (variable: string, path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
};

/**
 * Reads the key files the operator named, once, at start: a missing or malformed file stops the start
 * with one line naming its variable instead of failing at the first push.
 */
export function loadPushCredentials(
  config: Pick<Config, 'apnsKeyFile' | 'apnsKeyId' | 'apnsTeamId' | 'apnsTopic' | 'apnsUrl' | 'apnsSandboxUrl' | 'fcmServiceAccountFile' | 'fcmUrl' | 'pushCaFile'>,
): PushCredentials {
  let apns: ApnsCredentials | null = null;
  if (config.apnsKeyFile && config.apnsKeyId && config.apnsTeamId && config.apnsTopic) {
    let key: KeyObject;
    try {
      key = createPrivateKey(read('APNS_KEY_FILE', config.apnsKeyFile));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('APNS_KEY_FILE: is not a PEM private key (the .p8 file Apple gives)');
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new ConfigError('APNS_KEY_FILE: must be a P-256 (ES256) key, the .p8 file Apple gives');
    }
    apns = {
      key,
      keyId: config.apnsKeyId,
      teamId: config.apnsTeamId,
      topic: config.apnsTopic,
      productionUrl: config.apnsUrl.replace(/\/$/, ''),
      sandboxUrl: config.apnsSandboxUrl.replace(/\/$/, ''),
    };
  }
  let fcm: FcmCredentials | null = null;
  if (config.fcmServiceAccountFile) {
    let account: Record<string, unknown>;
    try {
      account = JSON.parse(read('FCM_SERVICE_ACCOUNT_FILE', config.fcmServiceAccountFile)) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('FCM_SERVICE_ACCOUNT_FILE: is not JSON (a Google service-account key file)');
    }
    for (const field of ['project_id', 'client_email', 'private_key', 'token_uri']) {
      if (typeof account[field] !== 'string' || !account[field]) throw new ConfigError(`FCM_SERVICE_ACCOUNT_FILE: has no ${field}`);
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(account.private_key as string);
    } catch {
      throw new ConfigError('FCM_SERVICE_ACCOUNT_FILE: private_key is not a PEM private key');
    }
    if (key.asymmetricKeyType !== 'rsa') throw new ConfigError('FCM_SERVICE_ACCOUNT_FILE: private_key must be an RSA key (RS256)');
    const tokenUri = account.token_uri as string;
    if (!/^https:\/\//.test(tokenUri)) throw new ConfigError('FCM_SERVICE_ACCOUNT_FILE: token_uri must be an https URL');
    fcm = {
      projectId: account.project_id as string,
      clientEmail: account.client_email as string,
      key,
      tokenUri,
      fcmUrl: config.fcmUrl.replace(/\/$/, ''),
    };
  }
  const ca = config.pushCaFile ? [...rootCertificates, read('PUSH_CA_FILE', config.pushCaFile)] : undefined;
  return { apns, fcm, ca };
}
