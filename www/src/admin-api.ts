// The vendor's management routes (`/api/admin/…`, docs/API.md), typed, with the
// admin token the vendor typed into this dashboard as a Bearer credential. The
// page is served by the usage server itself, so every path is same-origin.

/** A key pair of a licence, without its secret. */
export interface LicenceKey {
  publicKey: string;
  createdAtMs: number;
  /** When a rotated-away pair stops being accepted; `null` for the newest. */
  expiresAtMs: number | null;
}

/** A licence, as the server answers it (never a secret). */
export interface Licence {
  id: number;
  name: string;
  publicKey: string;
  monthlyLimit: number | null;
  allowedOrigins: string[];
  createdAtMs: number;
  revokedAtMs: number | null;
  keys: LicenceKey[];
}

/** A licence and its new key pair: the only time the secret key is shown. */
export interface NewKeys {
  license: Licence;
  publicKey: string;
  secretKey: string;
}

/** What a licence's form sets. */
export interface LicenceFields {
  name: string;
  monthlyLimit: number | null;
  allowedOrigins: string[];
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  /** Empty: every type. */
  eventTypes: string[];
  disabled: boolean;
  createdAtMs: number;
}

export interface WebhookDelivery {
  id: number;
  messageId: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAtMs: number | null;
  lastAttemptAtMs: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAtMs: number | null;
  createdAtMs: number;
}

export interface AuditEntry {
  id: number;
  atMs: number;
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

/** A refused or failed request, with the server's own words when it gave them. */
export class AdminApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status; 0 when no answer came. */
    readonly status: number,
    /** Seconds the server asked to wait (503, 429). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

/** The error in words a vendor can act on. */
export function explain(error: unknown): string {
  if (!(error instanceof AdminApiError)) return `Something went wrong in this page: ${String(error)}.`;
  const said = error.message;
  switch (error.status) {
    case 0:
      return `The usage server cannot be reached right now (${said}). Is it running?`;
    case 401:
      return `The admin token is no longer accepted (${said}). Sign in again with a current token.`;
    case 403:
      return `This token may not do that: ${said}.`;
    case 404:
      return `It is not there any more (${said}): reload to see the current list.`;
    case 409:
      return `That cannot be done: ${said}.`;
    case 429:
    case 503:
      return `The server is busy (${said}). Try again${error.retryAfter ? ` in ${error.retryAfter} s` : ' shortly'}.`;
    default:
      return error.status >= 500 ? `The server failed (${error.status}): ${said}.` : `Not accepted: ${said}.`;
  }
}

const TIMEOUT_MS = 15_000;

/** The admin routes, called with one token. */
export class AdminApi {
  constructor(private readonly token: string) {}

  /** The token's name and whether it may change things. */
  whoAmI(): Promise<{ name: string; readOnly: boolean }> {
    return this.call('GET', '/api/admin/token');
  }

  async licences(): Promise<Licence[]> {
    return (await this.call<{ licenses: Licence[] }>('GET', '/api/admin/licenses')).licenses;
  }

  createLicence(fields: LicenceFields): Promise<NewKeys> {
    return this.call('POST', '/api/admin/licenses', fields);
  }

  async changeLicence(id: number, fields: Partial<LicenceFields>): Promise<Licence> {
    return (await this.call<{ license: Licence }>('PATCH', `/api/admin/licenses/${id}`, fields)).license;
  }

  rotateLicence(id: number, graceSeconds: number): Promise<NewKeys> {
    return this.call('POST', `/api/admin/licenses/${id}/rotate`, { graceSeconds });
  }

  async revokeLicence(id: number): Promise<Licence> {
    return (await this.call<{ license: Licence }>('POST', `/api/admin/licenses/${id}/revoke`)).license;
  }

  audit(before?: number): Promise<{ entries: AuditEntry[]; nextBefore?: number }> {
    const query = new URLSearchParams({ limit: '50' });
    if (before !== undefined) query.set('before', String(before));
    return this.call('GET', `/api/admin/audit?${query}`);
  }

  webhooks(): Promise<{ endpoints: WebhookEndpoint[]; eventTypes: string[] }> {
    return this.call('GET', '/api/admin/webhooks');
  }

  createWebhook(fields: { url: string; description: string; eventTypes: string[] }): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    return this.call('POST', '/api/admin/webhooks', fields);
  }

  async changeWebhook(id: string, fields: { disabled: boolean }): Promise<WebhookEndpoint> {
    return (await this.call<{ endpoint: WebhookEndpoint }>('PATCH', `/api/admin/webhooks/${encodeURIComponent(id)}`, fields)).endpoint;
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.call('DELETE', `/api/admin/webhooks/${encodeURIComponent(id)}`);
  }

  async deliveries(id: string): Promise<WebhookDelivery[]> {
    const path = `/api/admin/webhooks/${encodeURIComponent(id)}/deliveries?limit=50`;
    return (await this.call<{ deliveries: WebhookDelivery[] }>('GET', path)).deliveries;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      throw new AdminApiError(timedOut ? `no answer within ${TIMEOUT_MS / 1000} s` : (error as Error).message, 0);
    }
    const answer = (await response.json().catch(() => null)) as ({ error?: string } & T) | null;
    if (!response.ok || answer === null) {
      const retryAfter = Number(response.headers.get('retry-after')) || null;
      throw new AdminApiError(answer?.error ?? `the server answered ${response.status} ${response.statusText}`, response.status, retryAfter);
    }
    return answer;
  }
}
