// The three browser engines the suites drive through WebDriver, as this machine
// kind has them (scripts/setup.sh installs them): the driver binary and the
// capabilities of a session. No dependencies: each suite brings its own WebDriver
// client (selenium-webdriver).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const engines = {
  chromium: {
    driver: '/usr/bin/chromedriver',
    capabilities: {
      browserName: 'chrome',
      'goog:chromeOptions': {
        binary: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--window-size=1100,1300'],
      },
    },
  },
  firefox: {
    driver: join(homedir(), '.cargo', 'bin', 'geckodriver'),
    capabilities: {
      browserName: 'firefox',
      'moz:firefoxOptions': { binary: '/usr/bin/firefox-esr', args: ['-headless', '--width=1100', '--height=1300'] },
    },
  },
  // WebKitGTK's MiniBrowser needs a display: run the suite under `xvfb-run -a`.
  webkit: {
    driver: '/usr/bin/WebKitWebDriver',
    capabilities: {
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser', args: ['--automation'] },
    },
  },
};

/** The engines `USAGE_ENGINES` names (comma-separated), else `fallback`. */
export function chosenEngines(fallback = Object.keys(engines)) {
  const names = process.env.USAGE_ENGINES ? process.env.USAGE_ENGINES.split(',') : fallback;
  for (const name of names) {
    if (!engines[name]) throw new Error(`unknown engine ${name}: one of ${Object.keys(engines).join(', ')}`);
  }
  return names;
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts an engine's driver on a free loopback port; resolves once its /status answers (bounded). */
export async function startDriver(name) {
  const binary = engines[name].driver;
  const port = await freePort();
  const child = spawn(binary, [`--port=${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${binary} exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/status`)).ok) return { url, stop: () => child.kill() };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error(`${binary} did not start: ${stderr}`);
}

/**
 * Starts an engine's driver and a session in it with `Builder` (the caller's
 * selenium-webdriver); logs the browser and its version. `stop()` ends both.
 */
export async function startSession(name, Builder) {
  const webDriver = await startDriver(name);
  try {
    const driver = await new Builder().usingServer(webDriver.url).withCapabilities(engines[name].capabilities).build();
    await driver.manage().setTimeouts({ script: 60_000, pageLoad: 30_000 });
    const capabilities = await driver.getCapabilities();
    console.log(`# ${name}: ${capabilities.get('browserName')} ${capabilities.get('browserVersion')}`);
    return { driver, stop: async () => { await driver.quit().catch(() => {}); webDriver.stop(); } };
  } catch (error) {
    webDriver.stop();
    throw error;
  }
}
