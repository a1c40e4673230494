// HTTP to the API of the origin that served the page: bearer tokens, one refresh at a time, one error shape.
import type { Tokens } from "./types";

const STORE = "atendimento.session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface Session extends Tokens {
  expires_at: number;
}

type Listener = (session: Session | null, reason?: string) => void;

export class Api {
  session: Session | null = null;
  private refreshing: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private listeners: Listener[] = [];

  constructor(private readonly storage: Storage | null = typeof sessionStorage === "undefined" ? null : sessionStorage) {}

  onSession(fn: Listener): void {
    this.listeners.push(fn);
  }

  /** The session a reload left in this tab (sessionStorage lives as long as the tab). */
  restore(): boolean {
    const saved = JSON.parse(this.storage?.getItem(STORE) ?? "null") as Session | null;
    if (!saved?.refresh_token) return false;
    this.start(saved);
    return true;
  }

  async login(tenant: string, email: string, password: string): Promise<void> {
    this.start(await this.request<Tokens>("POST", "/api/auth/login", { tenant, email, password }, { auth: false }));
  }

  async logout(reason?: string): Promise<void> {
    const session = this.session;
    if (session && !reason) {
      // Revoke both tokens on the server; a failure here must not keep the user logged in.
      await this.request("POST", "/api/auth/logout", { refresh_token: session.refresh_token }, { retry: false })
        .catch(() => undefined);
    }
    this.end(reason);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }

  async request<T>(method: string, path: string, body?: unknown,
                   { auth = true, retry = true }: { auth?: boolean; retry?: boolean } = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const form = body instanceof FormData; // multipart: the browser sets the Content-Type with its boundary
    if (body !== undefined && !form) headers["Content-Type"] = "application/json";
    if (auth) {
      if (!this.session) throw new ApiError(401, "unauthorized", "Please log in.");
      headers.Authorization = `Bearer ${this.session.access_token}`;
    }
    let resp: Response;
    try {
      resp = await fetch(path, { method, headers, body: body === undefined ? undefined : form ? body : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", "The server cannot be reached.");
    }
    if (resp.status === 401 && auth && retry) {
      await this.refresh();
      return this.request<T>(method, path, body, { auth, retry: false });
    }
    const doc = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (!resp.ok) {
      const e = (doc as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error ?? {};
      throw new ApiError(resp.status, e.code ?? "http_error", e.message ?? `HTTP ${resp.status}`, e.details);
    }
    return doc as T;
  }

  refresh(): Promise<void> {
    const session = this.session;
    if (!session) return Promise.reject(new ApiError(401, "unauthorized", "Please log in."));
    this.refreshing ??= this.request<Tokens>("POST", "/api/auth/refresh", { refresh_token: session.refresh_token },
      { auth: false })
      .then((tokens) => this.start({ ...session, ...tokens }), (err: unknown) => {
        if (err instanceof ApiError && err.status === 401) this.end("expired");
        throw err;
      })
      .finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  private start(tokens: Tokens): void {
    const expires_at = tokens.expires_at ?? Date.now() + (tokens.expires_in ?? 900) * 1000;
    this.session = { ...tokens, expires_at };
    this.storage?.setItem(STORE, JSON.stringify(this.session));
    clearTimeout(this.timer);
    // Refresh a minute early (or at 80 % of a short lifetime): requests and reconnects never carry a stale token.
    const ttl = expires_at - Date.now();
    this.timer = setTimeout(() => { this.refresh().catch(() => undefined); }, Math.max(1000, ttl - Math.min(60_000, ttl * 0.2)));
    for (const fn of this.listeners) fn(this.session);
  }

  private end(reason?: string): void {
    clearTimeout(this.timer);
    this.session = null;
    this.storage?.removeItem(STORE);
    for (const fn of this.listeners) fn(null, reason);
  }
}

export const itemsOf = <T>(doc: T[] | { items?: T[] } | null | undefined): T[] =>
  Array.isArray(doc) ? doc : (doc?.items ?? []);
