// Plain HTTP against a running server from Node, for what a test sets up outside the browser.

export interface ApiUser {
  username: string;
  password: string;
  accessToken: string;
  deviceId: string;
}

let counter = 0;

/** A fresh username that satisfies the API's rule (3-32 of [A-Za-z0-9_]). */
export function freshUsername(prefix: string): string {
  counter++;
  return `${prefix}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}

/** POST /auth/register with a made-up user; throws with the answer when it is not 201. */
export async function registerViaApi(baseUrl: string, prefix = 'sys'): Promise<ApiUser> {
  const username = freshUsername(prefix);
  const password = 'correct horse battery';
  const res = await fetch(`${baseUrl}/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, email: `${username}@example.org`, password }),
  });
  const body = (await res.json()) as { accessToken: string; deviceId: string };
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(body)}`);
  return { username, password, accessToken: body.accessToken, deviceId: body.deviceId };
}

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** GET /signaling/ice-servers for `user`. */
export async function iceServersFor(baseUrl: string, user: ApiUser): Promise<IceServer[]> {
  const res = await fetch(`${baseUrl}/signaling/ice-servers`, { headers: { Authorization: `Bearer ${user.accessToken}` } });
  const body = (await res.json()) as { iceServers: IceServer[] };
  if (res.status !== 200) throw new Error(`ice-servers failed: ${res.status} ${JSON.stringify(body)}`);
  return body.iceServers;
}
