// The Webhooks tab: add an endpoint (its signing secret shown once), disable,
// enable or delete it, and follow the deliveries to it.
import type { WebhookDelivery, WebhookEndpoint } from './admin-api';
import { $, actions, button, fillTable, type Cell } from './dom';
import { count, dateTime } from './format';
import type { ManageContext } from './manage-shared';

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

export class WebhooksView {
  private shownEndpoint: WebhookEndpoint | null = null;
  private deliveriesTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly form = $<HTMLFormElement>('webhook-create');
  private readonly eventChoices = $<HTMLFieldSetElement>('webhook-events');
  private readonly table = $<HTMLTableElement>('webhook-table');
  private readonly deliveriesCard = $<HTMLElement>('deliveries-card');
  private readonly deliveriesStatus = $<HTMLElement>('deliveries-status');

  constructor(private readonly context: ManageContext) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    $('deliveries-refresh').addEventListener('click', () => void this.showDeliveries());
  }

  async load(): Promise<void> {
    const { endpoints, eventTypes } = await this.context.api().webhooks();
    if (!this.eventChoices.querySelector('input')) this.fillEventChoices(eventTypes);
    const header = ['URL', 'Description', 'Events', 'Status', ''];
    fillTable(this.table, header, endpoints.map((endpoint) => this.row(endpoint)), 'No endpoints yet.',
      endpoints.map((endpoint) => ({ endpoint: endpoint.id })));
  }

  /** Stops following deliveries (another tab, or signed out). */
  closeDeliveries(): void {
    clearTimeout(this.deliveriesTimer);
    this.shownEndpoint = null;
    this.deliveriesCard.hidden = true;
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

  private row(endpoint: WebhookEndpoint): Cell[] {
    const buttons = [button('Deliveries', 'webhook-deliveries', () => void this.showDeliveries(endpoint))];
    if (this.context.canChange()) {
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

  private async create(): Promise<void> {
    const data = new FormData(this.form);
    const fields = {
      url: String(data.get('url')).trim(),
      description: String(data.get('description') ?? '').trim(),
      eventTypes: data.getAll('eventTypes').map(String),
    };
    await this.context.attempt(async () => {
      const created = await this.context.api().createWebhook(fields);
      this.form.reset();
      this.context.secrets.show(`Signing secret for ${created.endpoint.url}`, created.secret);
      await this.load();
    }, $<HTMLButtonElement>('webhook-create-submit'));
  }

  private async toggle(endpoint: WebhookEndpoint): Promise<void> {
    await this.context.attempt(async () => {
      await this.context.api().changeWebhook(endpoint.id, { disabled: !endpoint.disabled });
      await this.load();
    });
  }

  private openDelete(endpoint: WebhookEndpoint): void {
    this.context.confirm.open({
      title: `Delete the endpoint ${endpoint.url}?`,
      text: 'It gets no more messages, including those still waiting for a retry. To pause it and keep them, disable it instead.',
      ok: 'Delete endpoint',
      danger: true,
      action: async () => {
        await this.context.api().deleteWebhook(endpoint.id);
        if (this.shownEndpoint?.id === endpoint.id) this.closeDeliveries();
        await this.load();
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
    await this.context.attempt(async () => {
      const deliveries = await this.context.api().deliveries(endpoint.id);
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
