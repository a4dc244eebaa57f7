import type BetterSqlite3 from 'better-sqlite3';
import { createRequire } from 'node:module';

/**
 * The SQLite driver for the Node.js running us. better-sqlite3 12 is the last line that runs on Node 20
 * (13 needs a newer Node-API: on Node 20 it crashes on load), and 12 aborts the process on Node 24 when V8
 * collects a prepared statement during async code (`Assertion failed: (env) != nullptr` in its cleanup hook;
 * WiseLibs/better-sqlite3#1515), which 13 fixes. Both are installed (13 as `better-sqlite3-13`, an npm
 * alias; it ships Node-API binaries, so nothing is built for it) with the same API, and the process loads
 * the one that runs on its Node: 12 on Node 20, 13 on 22 and later. Every connection is opened through
 * this module, so one process never mixes the two.
 */
const require = createRequire(import.meta.url);
const nodeMajor = Number(process.versions.node.split('.')[0]);

export const SQLITE_DRIVER = nodeMajor >= 22 ? 'better-sqlite3-13' : 'better-sqlite3';

const Database = require(SQLITE_DRIVER) as typeof BetterSqlite3;
export default Database;
