import { once } from 'node:events'
import { createServer, type Server, Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 in front of one server, to inject the network faults a real server cannot produce on
 * demand: latency, a stall (connections open, nothing answered), a cut (every connection reset at once) and a
 * refusal of new connections. Bytes keep their order in each direction whatever the delay does.
 */
export interface TcpProxy {
  /** The proxy's own port: point the client here. */
  readonly port: number
  /** Delay added to every chunk, in each direction, in ms. 0 (the default) forwards at once. */
  delay: number
  /** The connections open right now. */
  readonly connections: number
  /** Holds every chunk (both ways) until `resume()`: the server looks alive but answers nothing. */
  stall(): void
  /** Forwards what `stall()` held, then everything as it comes. */
  resume(): void
  /** Destroys every open connection, as a crash or a network partition would; the proxy keeps listening. */
  cut(): void
  /** New connections are reset at once (as a refused connection); open ones stay until `cut()`. */
  refuse(refusing: boolean): void
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>
}

interface Pending {
  at: number
  chunk: Buffer
}

/** One direction of one connection: chunks leave in order, each no earlier than `delay` ms after it came. */
class Pipe {
  readonly #to: Socket
  readonly #proxy: { delay: number; stalled: boolean }
  readonly #queue: Pending[] = []
  #timer: NodeJS.Timeout | undefined

  constructor(from: Socket, to: Socket, proxy: { delay: number; stalled: boolean }) {
    this.#to = to
    this.#proxy = proxy
    from.on('data', (chunk: Buffer) => {
      this.#queue.push({ at: Date.now() + proxy.delay, chunk })
      this.pump()
    })
  }

  pump(): void {
    if (this.#timer !== undefined || this.#proxy.stalled) return
    while (this.#queue.length > 0) {
      const wait = this.#queue[0]!.at - Date.now()
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined
          this.pump()
        }, wait)
        return
      }
      const { chunk } = this.#queue.shift()!
      if (!this.#to.destroyed) this.#to.write(chunk)
    }
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
  }
}

/** Starts a proxy to `targetPort` on 127.0.0.1 and resolves once it listens on a free port. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const state = { delay: 0, stalled: false, refusing: false }
  const open = new Set<{ client: Socket; upstream: Socket; pipes: Pipe[] }>()
  const server: Server = createServer((client) => {
    if (state.refusing) {
      client.resetAndDestroy()
      return
    }
    const upstream = new Socket()
    const entry = { client, upstream, pipes: [] as Pipe[] }
    open.add(entry)
    const end = () => {
      if (!open.delete(entry)) return
      for (const pipe of entry.pipes) pipe.stop()
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    entry.pipes.push(new Pipe(client, upstream, state), new Pipe(upstream, client, state))
    upstream.connect(targetPort, '127.0.0.1')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  let closed: Promise<void> | undefined

  const cut = () => {
    for (const { client, upstream, pipes } of [...open]) {
      for (const pipe of pipes) pipe.stop()
      client.resetAndDestroy()
      upstream.destroy()
    }
    open.clear()
  }
  return {
    port,
    get delay() {
      return state.delay
    },
    set delay(ms: number) {
      state.delay = ms
    },
    get connections() {
      return open.size
    },
    stall() {
      state.stalled = true
    },
    resume() {
      state.stalled = false
      for (const { pipes } of open) for (const pipe of pipes) pipe.pump()
    },
    cut,
    refuse(refusing) {
      state.refusing = refusing
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        cut()
      })
      return closed
    },
  }
}
