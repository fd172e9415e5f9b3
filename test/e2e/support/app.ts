/**
 * The reference app as `npm start` runs it: `node examples/app/server.ts` in a child process, configured by its
 * environment, on a free loopback port (PORT=0), with its data in a temp dir. Stopped by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SERVER = fileURLToPath(new URL('../../../examples/app/server.ts', import.meta.url))
export const SECRET = 'e2e-test-secret-that-is-at-least-32-characters'

export interface RunningApp {
  url: string
  dataDir: string
  /** Everything the app printed so far, stdout and stderr interleaved. */
  output(): string
  /** SIGTERM, wait for the exit; removes the data dir it made. Idempotent. */
  stop(): Promise<void>
}

/** The environment variables to set; `undefined` removes one. */
export type AppEnv = Record<string, string | undefined>

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

function spawnApp(env: AppEnv, dataDir: string): { child: ChildProcess; output: () => string } {
  const merged: AppEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: '0',
    DATA_DIR: dataDir,
    SESSION_SECRET: SECRET,
    ...env,
  }
  const clean = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined))
  const child = spawn(process.execPath, [SERVER], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  let text = ''
  child.stdout!.on('data', (chunk) => (text += chunk))
  child.stderr!.on('data', (chunk) => (text += chunk))
  return { child, output: () => text }
}

/** Starts the app and resolves once it says where it listens. */
export async function startApp(env: AppEnv = {}, dataDir?: string): Promise<RunningApp> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'coatcheck-app-'))
  const { child, output } = spawnApp(env, dir)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start in 15 s:\n${output()}`)), 15_000)
    const check = () => {
      const found = /listening on (http:\/\/\S+)/i.exec(output())?.[1]
      if (found) {
        clearTimeout(timer)
        resolve(found)
      }
    }
    child.stdout!.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the app exited (${code}) before listening:\n${output()}`))
    })
  })
  let stopped: Promise<void> | undefined
  return {
    url,
    dataDir: dir,
    output,
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit')
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          await exited
          clearTimeout(timer)
        }
        if (!dataDir) rmSync(dir, { recursive: true, force: true })
      })()),
  }
}

/** Runs the app until it exits on its own (a start-up failure): its exit code and what it printed. */
export async function runAppToExit(env: AppEnv, dataDir: string): Promise<{ code: number | null; output: string }> {
  const { child, output } = spawnApp(env, dataDir)
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearTimeout(timer)
  return { code, output: output() }
}

/**
 * Posts a form as a client without Fetch Metadata would (a script, an old browser): it first GETs the page for its
 * `_csrf` token and pre-session cookie. Resolves the status.
 */
export async function postForm(base: string, path: string, fields: Record<string, string>): Promise<number> {
  const page = await fetch(base + path)
  const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? ''
  const cookie = page.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ')
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ _csrf: token, ...fields }),
    redirect: 'manual',
  })
  await response.arrayBuffer()
  return response.status
}
