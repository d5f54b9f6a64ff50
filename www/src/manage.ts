// The vendor's management views of the dashboard: licences (create, change,
// rotate, revoke), webhook endpoints and their deliveries, and the audit log.
// A read-only token sees all of it and is offered no change: the server would
// refuse each one (403) anyway.
import { AdminApi, explain, type Licence, type WebhookDelivery, type WebhookEndpoint } from './admin-api';
import { $, actions, button, fillTable, type Cell } from './dom';
import { count, dateTime } from './format';

/** The dashboard's views; `usage` is the report the dashboard draws. */
export type View = 'usage' | 'licences' | 'webhooks' | 'changes';

/** Each event type as the form explains it; a type this page does not know shows its name. */
const EVENT_WORDS: Record<string, string> = {
  'license.created': 'a licence is created',
  'license.changed': 'a licence’s name, limit or origins change',
  'license.rotated': 'a licence gets a new key pair',
  'license.revoked': 'a licence is revoked',
  'license.limit_approaching': 'a licence reaches 80 % of its monthly limit',
  'license.limit_reached': 'a licence reaches 100 % of its monthly limit',
  'origin.unlicensed': 'a new site uses the product without a licence',
  'license.origin_not_allowed': 'a key is used on a site it is not allowed on',
};

/** Deliveries are re-read this often at most, and at least this often while some are pending. */
const DELIVERIES_MIN_REFRESH_MS = 2_000;
const DELIVERIES_MAX_REFRESH_MS = 30_000;

export class Management {
  private api: AdminApi | null = null;
  private canChange = false;
  private licences: Licence[] = [];
  private endpoints: WebhookEndpoint[] = [];
  private shownEndpoint: WebhookEndpoint | null = null;
  private deliveriesTimer: ReturnType<typeof setTimeout> | undefined;
  private auditBefore: number | undefined;
  /** What the open confirm dialog does when confirmed. */
  private confirmAction: ((form: HTMLFormElement) => Promise<void>) | null = null;
  private editing: Licence | null = null;

  private readonly main = document.querySelector('main')!;
  private readonly tabs = $<HTMLElement>('tabs');
  private readonly tokenKind = $<HTMLElement>('token-kind');
  private readonly readOnlyNotice = $<HTMLElement>('read-only-notice');
  private readonly errorText = $<HTMLElement>('manage-error');
  private readonly secretCard = $<HTMLElement>('new-secret');
  private readonly licenceForm = $<HTMLFormElement>('licence-create');
  private readonly licenceTable = $<HTMLTableElement>('licence-table');
  private readonly webhookForm = $<HTMLFormElement>('webhook-create');
  private readonly eventChoices = $<HTMLFieldSetElement>('webhook-events');
  private readonly webhookTable = $<HTMLTableElement>('webhook-table');
  private readonly deliveriesCard = $<HTMLElement>('deliveries-card');
  private readonly deliveriesStatus = $<HTMLElement>('deliveries-status');
  private readonly auditTable = $<HTMLTableElement>('audit-table');
  private readonly auditOlder = $<HTMLButtonElement>('audit-older');
  private readonly editDialog = $<HTMLDialogElement>('licence-dialog');
  private readonly confirmDialog = $<HTMLDialogElement>('confirm-dialog');

  /** `onLicencesChanged` redraws the usage report, whose licence table is now stale. */
  constructor(private readonly onLicencesChanged: () => void) {
    for (const tab of this.tabs.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
      tab.addEventListener('click', () => this.select(tab.dataset.tab as View));
    }
    this.licenceForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.createLicence();
    });
    this.webhookForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.createWebhook();
    });
    $('licence-edit').addEventListener('submit', (event) => this.onDialogSubmit(event as SubmitEvent, this.editDialog, () => this.saveLicence()));
    this.confirmDialog.querySelector('form')!.addEventListener('submit', (event) =>
      this.onDialogSubmit(event as SubmitEvent, this.confirmDialog, () => this.confirmAction!(event.target as HTMLFormElement)));
    $('copy-public-key').addEventListener('click', () => void this.copy('new-public-key', 'public key'));
    $('copy-secret').addEventListener('click', () => void this.copy('new-secret-value', $('new-secret-label').textContent!.toLowerCase()));
    $('secret-saved').addEventListener('click', () => this.hideSecret());
    $('deliveries-refresh').addEventListener('click', () => void this.showDeliveries());
    this.auditOlder.addEventListener('click', () => void this.loadAudit(true));
  }

  /** Signed in with an admin token: the tabs, and changes only if the token may make them. */
  async signIn(token: string): Promise<void> {
    const api = new AdminApi(token);
    const who = await api.whoAmI();
    this.api = api;
    this.canChange = !who.readOnly;
    this.tokenKind.textContent = `${who.name} (${who.readOnly ? 'read-only' : 'full'} token)`;
    this.readOnlyNotice.hidden = this.canChange;
    for (const form of document.querySelectorAll<HTMLElement>('[data-change]')) form.hidden = !this.canChange;
    this.tabs.hidden = false;
    const view = (this.main.dataset.view ?? 'usage') as View;
    if (view !== 'usage') await this.load(view);
  }

  /** Signed out, or signed in with a licence's secret key: the usage report only. */
  signOut(): void {
    this.api = null;
    this.tabs.hidden = true;
    this.readOnlyNotice.hidden = true;
    this.errorText.hidden = true;
    this.hideSecret();
    this.closeDeliveries();
    this.select('usage');
  }

  private select(view: View): void {
    this.main.dataset.view = view;
    for (const tab of this.tabs.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
      tab.setAttribute('aria-selected', String(tab.dataset.tab === view));
    }
    this.errorText.hidden = true;
    if (view !== 'webhooks') this.closeDeliveries();
    if (view !== 'usage' && this.api) void this.load(view);
  }

  private async load(view: View): Promise<void> {
    await this.attempt(async () => {
      if (view === 'licences') await this.loadLicences();
      if (view === 'webhooks') await this.loadWebhooks();
      if (view === 'changes') await this.loadAudit(false);
    });
  }

  /** Runs `work`, showing its error in words instead of throwing. */
  private async attempt(work: () => Promise<void>, busy?: HTMLButtonElement): Promise<boolean> {
    this.errorText.hidden = true;
    if (busy) busy.disabled = true;
    try {
      await work();
      return true;
    } catch (error) {
      this.errorText.textContent = explain(error);
      this.errorText.hidden = false;
      return false;
    } finally {
      if (busy) busy.disabled = false;
    }
  }

  // Licences.

  private async loadLicences(): Promise<void> {
    this.licences = await this.api!.licences();
    const header = ['Licence', 'Public key', 'Monthly limit', 'Allowed origins', 'Status'];
    if (this.canChange) header.push('');
    fillTable(this.licenceTable, header, this.licences.map((licence) => this.licenceRow(licence)), 'No licences yet.',
      this.licences.map((licence) => ({ licence: licence.name })));
  }

  private licenceRow(licence: Licence): Cell[] {
    const key = document.createElement('code');
    key.textContent = licence.publicKey;
    const cells: Cell[] = [
      licence.name,
      key,
      licence.monthlyLimit === null ? 'no limit' : count(licence.monthlyLimit),
      licence.allowedOrigins.length ? licence.allowedOrigins.join('\n') : 'any origin',
      licenceStatus(licence),
    ];
    if (this.canChange) {
      cells.push(licence.revokedAtMs === null
        ? actions(
            button('Change', 'licence-change', () => this.openEdit(licence)),
            button('Rotate keys', 'licence-rotate', () => this.openRotate(licence)),
            button('Revoke', 'licence-revoke', () => this.openRevoke(licence), 'danger small'),
          )
        : []);
    }
    return cells;
  }

  private async createLicence(): Promise<void> {
    const form = this.licenceForm;
    const submit = $<HTMLButtonElement>('licence-create-submit');
    await this.attempt(async () => {
      const created = await this.api!.createLicence(licenceFields(form));
      form.reset();
      this.showSecret(`Keys for ${created.license.name}`, created.secretKey, created.publicKey);
      await this.loadLicences();
      this.onLicencesChanged();
    }, submit);
  }

  private openEdit(licence: Licence): void {
    this.editing = licence;
    $('licence-edit-title').textContent = `Change ${licence.name}`;
    $<HTMLInputElement>('edit-name').value = licence.name;
    $<HTMLInputElement>('edit-limit').value = licence.monthlyLimit === null ? '' : String(licence.monthlyLimit);
    $<HTMLTextAreaElement>('edit-origins').value = licence.allowedOrigins.join('\n');
    $('licence-edit-error').hidden = true;
    this.editDialog.showModal();
  }

  private async saveLicence(): Promise<void> {
    const licence = this.editing!;
    const fields = licenceFields($<HTMLFormElement>('licence-edit'));
    // Only what changed: a rename is checked for uniqueness, the rest replaced.
    const change: Partial<typeof fields> = {};
    if (fields.name !== licence.name) change.name = fields.name;
    if (fields.monthlyLimit !== licence.monthlyLimit) change.monthlyLimit = fields.monthlyLimit;
    if (fields.allowedOrigins.join('\n') !== licence.allowedOrigins.join('\n')) change.allowedOrigins = fields.allowedOrigins;
    if (Object.keys(change).length) await this.api!.changeLicence(licence.id, change);
    await this.loadLicences();
    this.onLicencesChanged();
  }

  private openRotate(licence: Licence): void {
    this.openConfirm({
      title: `Rotate the keys of ${licence.name}`,
      text: 'A new public and secret key are made and shown once. The licensee puts them in their pages and backend; '
        + 'the current keys are refused once the time below has passed.',
      ok: 'Rotate keys',
      grace: true,
      action: async (form) => {
        const grace = Number((form.elements.namedItem('grace') as HTMLSelectElement).value);
        const rotated = await this.api!.rotateLicence(licence.id, grace);
        this.showSecret(`New keys for ${rotated.license.name}`, rotated.secretKey, rotated.publicKey);
        await this.loadLicences();
        this.onLicencesChanged();
      },
    });
  }

  private openRevoke(licence: Licence): void {
    this.openConfirm({
      title: `Revoke ${licence.name}?`,
      text: 'Every key of this licence is refused from now on, in pages and backends; its counts stay. '
        + 'A revoked licence cannot be changed or restored.',
      ok: 'Revoke licence',
      danger: true,
      action: async () => {
        await this.api!.revokeLicence(licence.id);
        await this.loadLicences();
        this.onLicencesChanged();
      },
    });
  }

  // Webhooks.

  private async loadWebhooks(): Promise<void> {
    const { endpoints, eventTypes } = await this.api!.webhooks();
    this.endpoints = endpoints;
    if (!this.eventChoices.querySelector('input')) this.fillEventChoices(eventTypes);
    const header = ['URL', 'Description', 'Events', 'Status', ''];
    fillTable(this.webhookTable, header, endpoints.map((endpoint) => this.endpointRow(endpoint)), 'No endpoints yet.',
      endpoints.map((endpoint) => ({ endpoint: endpoint.id })));
  }

  private fillEventChoices(eventTypes: string[]): void {
    for (const type of eventTypes) {
      const label = document.createElement('label');
      label.className = 'choice';
      const box = Object.assign(document.createElement('input'), { type: 'checkbox', name: 'eventTypes', value: type });
      const code = document.createElement('code');
      code.textContent = type;
      label.append(box, code, ` ${EVENT_WORDS[type] ?? ''}`);
      this.eventChoices.append(label);
    }
  }

  private endpointRow(endpoint: WebhookEndpoint): Cell[] {
    const buttons = [button('Deliveries', 'webhook-deliveries', () => void this.showDeliveries(endpoint))];
    if (this.canChange) {
      buttons.push(
        button(endpoint.disabled ? 'Enable' : 'Disable', 'webhook-toggle', () => void this.toggle(endpoint)),
        button('Delete', 'webhook-delete', () => this.openDelete(endpoint), 'danger small'),
      );
    }
    return [
      endpoint.url,
      endpoint.description || '—',
      endpoint.eventTypes.length ? endpoint.eventTypes.join('\n') : 'every event',
      endpoint.disabled ? 'disabled: messages wait' : 'enabled',
      actions(...buttons),
    ];
  }

  private async createWebhook(): Promise<void> {
    const form = this.webhookForm;
    const data = new FormData(form);
    const fields = {
      url: String(data.get('url')).trim(),
      description: String(data.get('description') ?? '').trim(),
      eventTypes: data.getAll('eventTypes').map(String),
    };
    await this.attempt(async () => {
      const created = await this.api!.createWebhook(fields);
      form.reset();
      this.showSecret(`Signing secret for ${created.endpoint.url}`, created.secret);
      await this.loadWebhooks();
    }, $<HTMLButtonElement>('webhook-create-submit'));
  }

  private async toggle(endpoint: WebhookEndpoint): Promise<void> {
    await this.attempt(async () => {
      await this.api!.changeWebhook(endpoint.id, { disabled: !endpoint.disabled });
      await this.loadWebhooks();
    });
  }

  private openDelete(endpoint: WebhookEndpoint): void {
    this.openConfirm({
      title: `Delete the endpoint ${endpoint.url}?`,
      text: 'It gets no more messages, including those still waiting for a retry. To pause it and keep them, disable it instead.',
      ok: 'Delete endpoint',
      danger: true,
      action: async () => {
        await this.api!.deleteWebhook(endpoint.id);
        if (this.shownEndpoint?.id === endpoint.id) this.closeDeliveries();
        await this.loadWebhooks();
      },
    });
  }

  /** Shows the deliveries to `endpoint` (or the one shown), re-reading while some are pending. */
  private async showDeliveries(endpoint = this.shownEndpoint): Promise<void> {
    if (!endpoint) return;
    clearTimeout(this.deliveriesTimer);
    this.shownEndpoint = endpoint;
    $('deliveries-url').textContent = endpoint.url;
    this.deliveriesCard.hidden = false;
    await this.attempt(async () => {
      const deliveries = await this.api!.deliveries(endpoint.id);
      if (this.shownEndpoint?.id !== endpoint.id) return;
      fillTable($<HTMLTableElement>('deliveries-table'),
        ['Made', 'Event', 'Message id', 'Status', 'Attempts', 'Last answer', 'Next attempt / delivered'],
        deliveries.map(deliveryRow), 'Nothing sent to this endpoint yet.');
      const pending = deliveries.filter((d) => d.status === 'pending');
      const nextDue = Math.min(...pending.map((d) => d.nextAttemptAtMs ?? Infinity));
      const state = endpoint.disabled ? ' The endpoint is disabled: they wait until it is enabled.' : '';
      this.deliveriesStatus.textContent = pending.length
        ? `${count(pending.length)} waiting to be delivered.${state} This list refreshes itself.`
        : `Read at ${dateTime(Date.now())}.`;
      if (pending.length) {
        const wait = Math.min(Math.max(nextDue - Date.now() + 500, DELIVERIES_MIN_REFRESH_MS), DELIVERIES_MAX_REFRESH_MS);
        this.deliveriesTimer = setTimeout(() => void this.showDeliveries(), wait);
      }
    });
  }

  private closeDeliveries(): void {
    clearTimeout(this.deliveriesTimer);
    this.shownEndpoint = null;
    this.deliveriesCard.hidden = true;
  }

  // The audit log.

  private async loadAudit(older: boolean): Promise<void> {
    const page = await this.api!.audit(older ? this.auditBefore : undefined);
    const rows = page.entries.map((entry) => [
      dateTime(entry.atMs),
      entry.actor,
      entry.action,
      entry.subject,
      Object.entries(entry.details).map(([name, value]) => `${name}: ${detail(name, value)}`).join('; '),
    ]);
    if (older) {
      const body = this.auditTable.tBodies[0]!;
      const more = document.createElement('table');
      fillTable(more, [], rows);
      body.append(...more.tBodies[0]!.rows);
    } else {
      fillTable(this.auditTable, ['When', 'Who', 'What', 'Licence, token or endpoint', 'Details'], rows, 'No changes yet.');
    }
    this.auditBefore = page.nextBefore;
    this.auditOlder.hidden = page.nextBefore === undefined;
  }

  // Secrets shown once, dialogs.

  private showSecret(title: string, secret: string, publicKey?: string): void {
    $('new-secret-title').textContent = title;
    const isLicence = publicKey !== undefined;
    $('new-secret-label').textContent = isLicence ? 'Secret key' : 'Signing secret';
    $('new-secret-warning').textContent = isLicence
      ? 'Copy the secret key now: it is shown only this once. The server keeps only its hash and cannot show it again; '
        + 'if it is lost, rotate the keys. The public key goes into the licensee’s pages, the secret key only into their backend.'
      : 'Copy the signing secret now: it is shown only this once. The endpoint checks each message’s webhook-signature with it.';
    $('new-public-key-row').hidden = !isLicence;
    $<HTMLInputElement>('new-public-key').value = publicKey ?? '';
    $<HTMLInputElement>('new-secret-value').value = secret;
    $('copy-status').textContent = '';
    this.secretCard.hidden = false;
    this.secretCard.scrollIntoView({ block: 'nearest' });
  }

  private hideSecret(): void {
    $<HTMLInputElement>('new-public-key').value = '';
    $<HTMLInputElement>('new-secret-value').value = '';
    this.secretCard.hidden = true;
  }

  /** Copies a shown key; where the clipboard is not offered (plain http), selects it instead. */
  private async copy(testId: string, what: string): Promise<void> {
    const input = $<HTMLInputElement>(testId);
    const status = $('copy-status');
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = `Copied the ${what}.`;
    } catch {
      input.select();
      status.textContent = `This page cannot use the clipboard here: the ${what} is selected, press Ctrl+C (⌘C) to copy it.`;
    }
  }

  private openConfirm(options: {
    title: string;
    text: string;
    ok: string;
    danger?: boolean;
    grace?: boolean;
    action: (form: HTMLFormElement) => Promise<void>;
  }): void {
    $('confirm-title').textContent = options.title;
    $('confirm-text').textContent = options.text;
    const ok = $<HTMLButtonElement>('confirm-ok');
    ok.textContent = options.ok;
    ok.className = options.danger ? 'danger' : '';
    $('grace-row').hidden = !options.grace;
    $<HTMLSelectElement>('rotate-grace').value = '86400';
    $('confirm-error').hidden = true;
    this.confirmAction = options.action;
    this.confirmDialog.showModal();
  }

  /** A dialog's Cancel closes it; its other button runs `work`, closing it only if that worked. */
  private onDialogSubmit(event: SubmitEvent, dialog: HTMLDialogElement, work: () => Promise<void>): void {
    event.preventDefault();
    const submitter = event.submitter as HTMLButtonElement | null;
    if (submitter?.value === 'cancel') {
      dialog.close();
      return;
    }
    const error = dialog.querySelector<HTMLElement>('.error')!;
    error.hidden = true;
    this.errorText.hidden = true;
    if (submitter) submitter.disabled = true;
    work()
      .then(() => dialog.close())
      .catch((failure: unknown) => {
        error.textContent = explain(failure);
        error.hidden = false;
      })
      .finally(() => {
        if (submitter) submitter.disabled = false;
      });
  }
}

/** A licence form's fields: an empty limit is none, origins one per line. */
function licenceFields(form: HTMLFormElement): { name: string; monthlyLimit: number | null; allowedOrigins: string[] } {
  const data = new FormData(form);
  const limit = String(data.get('monthlyLimit') ?? '').trim();
  return {
    name: String(data.get('name') ?? '').trim(),
    monthlyLimit: limit === '' ? null : Number(limit),
    allowedOrigins: String(data.get('allowedOrigins') ?? '').split('\n').map((line) => line.trim()).filter(Boolean),
  };
}

/** An audit detail in words: a time (`…At`, `…AtMs`) as a date, anything else as JSON. */
function detail(name: string, value: unknown): string {
  return /At(Ms)?$/.test(name) && typeof value === 'number' ? dateTime(value) : JSON.stringify(value);
}

function licenceStatus(licence: Licence): string {
  if (licence.revokedAtMs !== null) return `revoked ${dateTime(licence.revokedAtMs)}`;
  const previous = licence.keys.find((key) => key.expiresAtMs !== null);
  if (previous) return `active; the previous key works until ${dateTime(previous.expiresAtMs!)}`;
  return 'active';
}

function deliveryRow(delivery: WebhookDelivery): Cell[] {
  const lastAnswer = delivery.lastStatusCode !== null
    ? `HTTP ${delivery.lastStatusCode}`
    : delivery.lastError ?? (delivery.attempts ? 'no answer' : '—');
  const when = delivery.status === 'delivered'
    ? `delivered ${dateTime(delivery.deliveredAtMs!)}`
    : delivery.status === 'failed' ? 'gave up'
      : delivery.nextAttemptAtMs === null ? 'being sent' : `next ${dateTime(delivery.nextAttemptAtMs)}`;
  const id = document.createElement('code');
  id.textContent = delivery.messageId;
  return [dateTime(delivery.createdAtMs), delivery.eventType, id, delivery.status, count(delivery.attempts), lastAnswer, when];
}
