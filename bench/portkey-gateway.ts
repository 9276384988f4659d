/**
 * Portkey's gateway (installed by peers.ts) as a bench target, in this process so its CPU time is
 * this process's: its Node entry reads `--port=` and `--headless` from argv and listens once its
 * module has loaded (a top-level await). The bench sends `x-portkey-provider: openai` and
 * `x-portkey-custom-host: <mock>/v1` with every request (run.ts), so Portkey proxies to the mock as
 * it would to OpenAI.
 */
import { pathToFileURL } from 'node:url';
import { announce, freePort } from './common.js';
import { PORTKEY_ENTRY } from './peers.js';

const port = await freePort(); // Portkey takes a port number, not 0
process.argv.push(`--port=${port}`, '--headless');
await import(pathToFileURL(PORTKEY_ENTRY).href);
announce(port, async () => undefined);
