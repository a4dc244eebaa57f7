import { afterAll, beforeAll } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { launchChromium } from './browser.js';
import { startCoturn, type Coturn } from './coturn.js';
import { BrowserDevice, account } from './sdkPage.js';
import { startServer, type RunningServer } from './server.js';

/** A user on one browser device: registered, key published, poll loop running. */
export interface Person {
  username: string;
  password: string;
  device: BrowserDevice;
  deviceId: string;
}

/**
 * What a browser test file shares: one server (with a real coturn for TURN when asked), one Chromium,
 * and every device the file opens, each a browser context of its own. Started before the file's tests
 * and stopped after them; read its fields inside tests, not at load time.
 */
export interface BrowserWorld {
  readonly server: RunningServer;
  readonly browser: Browser;
  /** Set when the world was asked for one. */
  readonly coturn: Coturn | undefined;
  /** A new browser context with the SDK page of `on` (default: the world's server) loaded. */
  open(on?: RunningServer): Promise<BrowserDevice>;
  /** A new user on a new device of `on`. */
  person(prefix: string, on?: RunningServer): Promise<Person>;
  /** Closes every device opened so far (the server and browser stay). */
  closeDevices(): Promise<void>;
}

export function useBrowserWorld(options: { coturn?: boolean } = {}): BrowserWorld {
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  let coturn: Coturn | undefined;
  const devices: BrowserDevice[] = [];
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the browser world's ${what} is not started: use it inside a test`);
    return value;
  };

  beforeAll(async () => {
    if (options.coturn) coturn = await startCoturn();
    server = await startServer(coturn ? { TURN_URLS: coturn.url, TURN_SECRET: coturn.secret } : {});
    browser = await launchChromium();
  });

  afterAll(async () => {
    await Promise.all(devices.splice(0).map((d) => d.close()));
    await browser?.close();
    await server?.close();
    await coturn?.stop();
  });

  const world: BrowserWorld = {
    get server() {
      return started(server, 'server');
    },
    get browser() {
      return started(browser, 'browser');
    },
    get coturn() {
      return coturn;
    },
    async open(on) {
      const device = await BrowserDevice.open(world.browser, (on ?? world.server).baseUrl);
      devices.push(device);
      return device;
    },
    async person(prefix, on) {
      const device = await world.open(on);
      const { username, password } = account(prefix);
      const { deviceId } = await device.run<{ deviceId: string }>('register', username, password);
      return { username, password, device, deviceId };
    },
    async closeDevices() {
      await Promise.all(devices.splice(0).map((d) => d.close()));
    },
  };
  return world;
}
